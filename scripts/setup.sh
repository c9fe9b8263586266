#!/usr/bin/env bash
# Starts and installs what the tests need on a fresh machine (idempotent, quiet when
# everything is there): PostgreSQL running, diesel_cli for the schema-drift check,
# squawk for the migration lint.
set -euo pipefail
cd "$(dirname "$0")/.."

export PGHOST=${PGHOST:-127.0.0.1} PGPORT=${PGPORT:-5432}
if ! pg_isready -q -h "$PGHOST" -p "$PGPORT"; then
  echo "setup: PostgreSQL is down; starting it"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
  for _ in $(seq 1 30); do pg_isready -q -h "$PGHOST" -p "$PGPORT" && break; sleep 1; done
  pg_isready -h "$PGHOST" -p "$PGPORT" || { echo "setup: PostgreSQL did not start; see /var/log/postgresql" >&2; exit 1; }
fi

apt_install() {
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: apt-get install ${missing[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}
apt_install libpq-dev libssl-dev sqlite3 zip unzip openssl

if ! diesel --version 2>/dev/null | grep -q '2\.3\.'; then
  echo "setup: cargo install diesel_cli 2.3.7 (for the schema-drift check)"
  cargo install diesel_cli --version 2.3.7 --locked --quiet --no-default-features --features postgres,sqlite-bundled
fi
if ! python3 -c "import moto" 2>/dev/null; then
  echo "setup: pip install moto[server]==5.2.1 (the Secrets Manager emulator for the credential tests)"
  pip install --quiet --disable-pip-version-check --root-user-action=ignore "moto[server]==5.2.1"
fi
if ! squawk --version 2>/dev/null | grep -q '2\.70\.0'; then
  echo "setup: pip install squawk-cli==2.70.0 (for the migration lint)"
  pip install --quiet --disable-pip-version-check --root-user-action=ignore squawk-cli==2.70.0
fi
