#!/usr/bin/env bash
# Fuzzes the API from its own document: schemathesis (pinned in versions.env) generates
# requests from docs/openapi.json and sends them to bookstore-local, once on SQLite and once
# on PostgreSQL (a fresh database each), and fails unless both runs have no server error,
# every response conforms to the document, and each backend got at least MIN_CASES cases.
#
#   bash scripts/fuzz-api.sh                  # both backends, 75 examples per operation
#   FUZZ_MAX_EXAMPLES=300 bash scripts/fuzz-api.sh sqlite
#
# Checks: all of schemathesis' checks except
#   - positive_data_acceptance: a request valid for the document may still be refused by
#     state the document cannot describe (412 for a stale ETag, 422 for a book that does not
#     exist) and by one rule JSON Schema cannot say: `"integer"` accepts 5.0, which this API
#     refuses on purpose (docs/api.md);
#   - ignored_auth, object_level_authorization: the API has no authentication.
# missing_required_header expects 428 (scripts/schemathesis.toml). Reports (JUnit) go to
# target/fuzz/<backend>/. Needs `bash scripts/setup.sh test` (schemathesis, PostgreSQL).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"

require_version "schemathesis --version" "version $SCHEMATHESIS_VERSION" test
require psql test
MAX_EXAMPLES=${FUZZ_MAX_EXAMPLES:-75}
MIN_CASES=${FUZZ_MIN_CASES:-1000}
WORKERS=${FUZZ_WORKERS:-2}
SEED=${FUZZ_SEED:-$RANDOM}
backends=("$@")
[ ${#backends[@]} -gt 0 ] || backends=(sqlite postgres)

cargo build --locked --quiet -p bookstore-functions --bin bookstore-local
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
server_bin=$target_dir/debug/bookstore-local

work=$(mktemp -d)
server_pid=""
pg_db=""
cleanup() {
  [ -z "$server_pid" ] || kill "$server_pid" 2>/dev/null || true
  [ -z "$pg_db" ] || dropdb -h 127.0.0.1 -U postgres --if-exists --force "$pg_db" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

fuzz() {
  local backend=$1 url
  case "$backend" in
    sqlite) url="sqlite://$work/fuzz.db" ;;
    postgres)
      start_postgres
      pg_db="fuzz_api_$$"
      createdb -h 127.0.0.1 -U postgres "$pg_db"
      url="postgres://postgres@127.0.0.1:5432/$pg_db"
      ;;
    *) die "unknown backend '$backend' (sqlite, postgres)" ;;
  esac
  local port report_dir="$target_dir/fuzz/$backend" log="$work/$backend.out"
  port=$(free_port)
  rm -rf "$report_dir" && mkdir -p "$report_dir"
  DATABASE_URL="$url" PORT="$port" RUST_LOG=warn "$server_bin" >"$report_dir/server.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$port/book" >/dev/null 2>&1 && break
    kill -0 "$server_pid" 2>/dev/null || die "bookstore-local ($backend) exited: $(tail -5 "$report_dir/server.log")"
    sleep 0.1
  done
  # The committed document is what clients get; its freshness is a Rust test's job.
  cmp -s docs/openapi.json <(curl -sf "http://127.0.0.1:$port/openapi.json") \
    || die "the server's /openapi.json differs from docs/openapi.json: regenerate it (see docs/architecture.md)"
  say "$backend: schemathesis $SCHEMATHESIS_VERSION, seed $SEED, $MAX_EXAMPLES examples per operation"
  local status=0
  # From the scratch directory: schemathesis keeps a cache (.schemathesis/) where it runs.
  (cd "$work" && NO_COLOR=1 schemathesis --config-file "$REPO_ROOT/scripts/schemathesis.toml" run "$REPO_ROOT/docs/openapi.json" \
    --url "http://127.0.0.1:$port" \
    --checks all \
    --exclude-checks positive_data_acceptance,ignored_auth,object_level_authorization \
    --max-examples "$MAX_EXAMPLES" --seed "$SEED" --workers "$WORKERS" \
    --report junit --report-dir "$report_dir") >"$log" 2>&1 || status=$?
  cp "$log" "$report_dir/schemathesis.out"
  if [ "$status" -ne 0 ]; then cat "$log"; else grep -E 'generated|^=+ .* in ' "$log" || true; fi
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
  if grep -qiE 'panicked|internal error' "$report_dir/server.log"; then
    die "$backend: the server logged a panic or an internal error (see $report_dir/server.log)"
  fi
  if [ -n "$pg_db" ]; then dropdb -h 127.0.0.1 -U postgres --force "$pg_db"; pg_db=""; fi
  [ "$status" -eq 0 ] || die "$backend: schemathesis found failures (output above; reports in $report_dir)"
  local cases
  cases=$(grep -oE '[0-9]+ generated' "$log" | tail -1 | cut -d' ' -f1)
  [ "${cases:-0}" -ge "$MIN_CASES" ] || die "$backend: only ${cases:-0} cases generated, fewer than $MIN_CASES"
  say "$backend: $cases cases, 0 failures"
}

for backend in "${backends[@]}"; do fuzz "$backend"; done
