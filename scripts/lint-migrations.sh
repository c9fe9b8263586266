#!/usr/bin/env bash
# Lints the PostgreSQL migrations for operations unsafe on a live database (squawk).
# The runner wraps transactional migrations in a transaction, so squawk is told so;
# migrations marked run_in_transaction = false are linted without that assumption.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"
require_version "squawk --version" "$SQUAWK_VERSION" test
in_tx=() no_tx=()
for dir in migrations/postgres/*/; do
  if grep -qs 'run_in_transaction *= *false' "$dir/metadata.toml"; then no_tx+=("$dir/up.sql"); else in_tx+=("$dir/up.sql"); fi
done
squawk --pg-version 15.0 --assume-in-transaction "${in_tx[@]}"
[ ${#no_tx[@]} -eq 0 ] || squawk --pg-version 15.0 "${no_tx[@]}"
echo "squawk: ${#in_tx[@]} transactional and ${#no_tx[@]} non-transactional migrations clean"
