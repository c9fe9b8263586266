#!/usr/bin/env bash
# Runs every test: the Rust workspace against the real PostgreSQL and SQLite, then the
# CDK app's offline tests. Starts and installs what it needs first.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo test --workspace --all-features --locked
if [ -f cdk/ci.sh ]; then bash cdk/ci.sh; fi
