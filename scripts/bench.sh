#!/usr/bin/env bash
# The benchmark harness (bookstore-functions/bench, package bookstore-bench): cold start, warm latency,
# throughput, memory, artifact size, migrations and connections, each beside its baseline
# measured in the same run. See docs/benchmarks.md.
#
#   bash scripts/bench.sh --quick   # small counts, a few minutes after the build; CI runs this
#   bash scripts/bench.sh --full    # builds the Lambda zips too; writes docs/benchmarks.md
#
# Other arguments go to the harness (--only cold,warm,throughput,memory,artifacts,
# migrations,connections; --out FILE). Starts PostgreSQL if it is down and installs wrk,
# pgbouncer and hyperfine with apt-get if they are missing. Exits non-zero only when
# something is broken (errors, failed requests, missing writes), never on a timing.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}

mode=--quick
args=()
for arg in "$@"; do
  case "$arg" in
    --quick|--full) mode=$arg ;;
    *) args+=("$arg") ;;
  esac
done

export PGHOST=${PGHOST:-127.0.0.1} PGPORT=${PGPORT:-5432}
if ! pg_isready -q -h "$PGHOST" -p "$PGPORT"; then
  echo "bench: PostgreSQL is down; starting it"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
  for _ in $(seq 1 30); do pg_isready -q -h "$PGHOST" -p "$PGPORT" && break; sleep 1; done
  pg_isready -h "$PGHOST" -p "$PGPORT" || { echo "bench: PostgreSQL did not start; see /var/log/postgresql" >&2; exit 1; }
fi

missing=()
for tool in wrk:wrk pgbouncer:pgbouncer hyperfine:hyperfine pgbench:postgresql-client psql:postgresql-client; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || missing+=("${tool#*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
  # Unique package names, in order.
  mapfile -t pkgs < <(printf '%s\n' "${missing[@]}" | awk '!seen[$0]++')
  if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null 2>&1; then
    echo "bench: missing ${pkgs[*]}; install them: apt-get install ${pkgs[*]}" >&2
    exit 1
  fi
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo=sudo
  echo "bench: apt-get install ${pkgs[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${pkgs[@]}" >/dev/null
  # Debian starts a pgbouncer service on 6432 when it installs one; the harness runs its own.
  if printf '%s\n' "${pkgs[@]}" | grep -qx pgbouncer; then
    $sudo service pgbouncer stop >/dev/null 2>&1 || true
  fi
fi

if [ "$mode" = --full ]; then
  if [ -f scripts/build-lambdas.sh ]; then
    echo "bench: building the Lambda zips (scripts/build-lambdas.sh)"
    bash scripts/build-lambdas.sh
  else
    echo "bench: scripts/build-lambdas.sh is missing; the artifact rows will say so" >&2
  fi
fi

echo "bench: cargo build --release (the functions and the cold-start baseline)"
cargo build --release --locked -p bookstore-functions --bins --example select1
BENCH_COMMAND="bash scripts/bench.sh $mode${args[*]:+ ${args[*]}}" \
  cargo run --release --locked -p bookstore-bench -- "$mode" "${args[@]}"
