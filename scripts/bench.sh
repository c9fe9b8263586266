#!/usr/bin/env bash
# The benchmark harness (bookstore-functions/bench, package bookstore-bench): cold start, warm latency,
# throughput, memory, artifact size, migrations and connections, each beside its baseline
# measured in the same run. See docs/benchmarks.md.
#
#   bash scripts/bench.sh --quick   # small counts, a few minutes after the build; CI runs this
#   bash scripts/bench.sh --full    # builds the Lambda zips too; writes docs/benchmarks.md
#
# Other arguments go to the harness (--only cold,warm,throughput,memory,artifacts,
# migrations,connections; --out FILE). Starts PostgreSQL if it is down; wrk, pgbouncer and
# hyperfine come from `bash scripts/setup.sh bench`. Exits non-zero only when something is
# broken (errors, failed requests, missing writes), never on a timing.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}

mode=--quick
args=()
for arg in "$@"; do
  case "$arg" in
    --quick|--full) mode=$arg ;;
    *) args+=("$arg") ;;
  esac
done

start_postgres
for tool in wrk pgbouncer hyperfine pgbench psql; do require "$tool" bench; done

if [ "$mode" = --full ]; then
  if [ -f scripts/build-lambdas.sh ]; then
    echo "bench: building the Lambda zips (scripts/build-lambdas.sh)"
    bash scripts/build-lambdas.sh
  else
    echo "bench: scripts/build-lambdas.sh is missing; the artifact rows will say so" >&2
  fi
fi

echo "bench: cargo build --release (the functions, the cold-start baseline, the throughput baseline)"
cargo build --release --locked -p bookstore-functions --bins --example select1
cargo build --release --locked -p bookstore-bench --bin reference-server
BENCH_COMMAND="bash scripts/bench.sh $mode${args[*]:+ ${args[*]}}" \
  cargo run --release --locked -p bookstore-bench -- "$mode" "${args[@]}"
