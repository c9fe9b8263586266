#!/usr/bin/env bash
# Runs every test: the Rust workspace against the real PostgreSQL, SQLite and MariaDB (and the
# built Lambda zips through a Runtime API), then the CDK app's offline tests. Starts and installs what it needs first.
# --all-features turns the `mysql` features on: the API, runner and schema suites also run on
# the MariaDB at TEST_MYSQL_URL (default mysql://root@127.0.0.1:3306/test), one database per test.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"
bash scripts/setup.sh test build
# The Runtime API tests run the real bootstrap zips (PostgreSQL's and the MySQL build):
# build them when they are missing.
if ! ls target/lambda/{schema-lambda,books,reviews}/bootstrap.zip >/dev/null 2>&1; then bash scripts/build-lambdas.sh; fi
if ! ls target/lambda-mysql/{schema-lambda,books,reviews}/bootstrap.zip >/dev/null 2>&1; then bash scripts/build-lambdas.sh --mysql; fi
cargo test --workspace --all-features --locked
if [ -f cdk/ci.sh ]; then bash cdk/ci.sh; fi
