#!/usr/bin/env bash
# The one script that installs anything (apt, pip, cargo install) and starts the local
# PostgreSQL. Idempotent and quiet when everything is there. Versions: scripts/versions.env.
#
#   bash scripts/setup.sh            # test + build: what `bash scripts/test.sh` needs
#   bash scripts/setup.sh all        # everything CI runs (.ci/run)
#   bash scripts/setup.sh GROUP...   # one or more of the groups below
#
# Groups:
#   test     PostgreSQL and MariaDB running; libpq/OpenSSL/SQLite headers; cmake and g++ (the MySQL
#            client bookstore-schema's `mysql` feature builds from source); diesel_cli (schema drift),
#            squawk (migration lint), moto (Secrets Manager emulator), cfn-lint (cdk/ci.sh),
#            pgbouncer (the runner's refusal of a transaction-pooling proxy),
#            schemathesis (scripts/fuzz-api.sh)
#   build    libssl-dev, zip, unzip, binutils and cargo-lambda (brings zig): scripts/build-lambdas.sh
#   release  cargo-hack and cargo-semver-checks: scripts/check-features.sh and
#            scripts/semver-check.sh (cargo builds: several minutes each on 2 cores)
#   bench    wrk, pgbouncer, hyperfine, pgbench: scripts/bench.sh
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"

setup_test() {
  apt_install postgresql libpq-dev libssl-dev pkg-config sqlite3 openssl curl python3-pip cmake g++ mariadb-server
  install_pgbouncer
  start_postgres
  start_mariadb
  if ! diesel --version 2>/dev/null | grep -q "Version: $DIESEL_CLI_VERSION\$"; then
    cargo_install diesel_cli "$DIESEL_CLI_VERSION" "the schema-drift check" --no-default-features --features postgres,sqlite-bundled
  fi
  # The credential tests launch moto_server (schema-crate/testing/src/moto.rs pins the same version).
  if ! command -v moto_server >/dev/null 2>&1 \
    || [ "$(python3 -c 'import moto; print(moto.__version__)' 2>/dev/null)" != "$MOTO_VERSION" ]; then
    pip_install "moto[server]==$MOTO_VERSION" "the Secrets Manager emulator for the credential tests"
  fi
  if ! squawk --version 2>/dev/null | grep -q "$SQUAWK_VERSION"; then
    pip_install "squawk-cli==$SQUAWK_VERSION" "the migration lint"
  fi
  if [ "$(cfn-lint --version 2>/dev/null || true)" != "cfn-lint $CFN_LINT_VERSION" ]; then
    pip_install "cfn-lint==$CFN_LINT_VERSION" "the CloudFormation lint in cdk/ci.sh"
  fi
  if [ "$(python3 -c 'import importlib.metadata as m; print(m.version("schemathesis"))' 2>/dev/null)" != "$SCHEMATHESIS_VERSION" ]; then
    pip_install "schemathesis==$SCHEMATHESIS_VERSION" "the API fuzzer in scripts/fuzz-api.sh"
  fi
}

setup_build() {
  # libssl-dev: the static OpenSSL linked into the zips; zip/unzip: packaging and the
  # artifact check; binutils: readelf/objdump for the artifact check.
  apt_install libssl-dev zip unzip binutils python3-pip
  if ! cargo lambda --version 2>/dev/null | grep -q "cargo-lambda $CARGO_LAMBDA_VERSION"; then
    pip_install "cargo-lambda==$CARGO_LAMBDA_VERSION" "the Lambda build; brings zig"
  fi
}

setup_release() {
  if ! cargo hack --version 2>/dev/null | grep -q "cargo-hack $CARGO_HACK_VERSION"; then
    cargo_install cargo-hack "$CARGO_HACK_VERSION" "the feature-combination check"
  fi
  if ! cargo semver-checks --version 2>/dev/null | grep -q "cargo-semver-checks $CARGO_SEMVER_CHECKS_VERSION"; then
    cargo_install cargo-semver-checks "$CARGO_SEMVER_CHECKS_VERSION" "the semver check against the previous release"
  fi
}

# The tests and the benchmark harness start their own pgbouncer on a free port.
install_pgbouncer() {
  local installed_pgbouncer=false
  dpkg -s pgbouncer >/dev/null 2>&1 || installed_pgbouncer=true
  apt_install pgbouncer
  # Debian starts a pgbouncer service on 6432 when it installs one; nothing here uses it.
  if $installed_pgbouncer; then service pgbouncer stop >/dev/null 2>&1 || true; fi
}

setup_bench() {
  install_pgbouncer
  apt_install wrk hyperfine postgresql-client
}

groups=("$@")
[ ${#groups[@]} -gt 0 ] || groups=(test build)
for group in "${groups[@]}"; do
  case "$group" in
    all) setup_test; setup_build; setup_release; setup_bench ;;
    test|build|release|bench) "setup_$group" ;;
    *) die "unknown group '$group' (test, build, release, bench, all)" ;;
  esac
done
