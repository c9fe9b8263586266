#!/usr/bin/env bash
# A private Cargo registry on 127.0.0.1 for CI and local trials: scripts/registry-server.py
# (Python standard library; why not kellnr or ktra: docs/release.md). Sparse index over
# HTTP, publish with a token, and it refuses a version that exists. All its state lives in
# one directory.
#
#   dir=$(mktemp -d)
#   url=$(bash scripts/registry.sh start "$dir")   # prints sparse+http://127.0.0.1:PORT/index/
#   bash scripts/registry.sh url "$dir"            # the same URL again
#   bash scripts/registry.sh token-file "$dir"     # the file holding the publish token
#   bash scripts/registry.sh stop "$dir"
#
# Use it without touching ~/.cargo (scripts/publish-local.sh does):
#   CARGO_REGISTRIES_BOOKSTORE_TOKEN=$(cat "$dir/token") \
#     cargo publish --registry bookstore --config "registries.bookstore.index='$url'"
set -euo pipefail
. "$(dirname "$0")/lib.sh"

usage() { die "usage: registry.sh start|stop|url|token-file DIR"; }
[ $# -eq 2 ] || usage
cmd=$1 dir=$2
[ -d "$dir" ] || die "$dir is not a directory"
dir=$(cd "$dir" && pwd)

case "$cmd" in
  start)
    require python3 test
    require curl test
    if [ -f "$dir/pid" ] && kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
      cat "$dir/index-url"; exit 0
    fi
    port=$(free_port)
    # The publish token: random, readable only by us.
    (umask 077 && python3 -c 'import secrets; print(secrets.token_hex(24))' >"$dir/token")
    mkdir -p "$dir/data"
    python3 "$SCRIPTS_DIR/registry-server.py" --root "$dir/data" --port "$port" --token-file "$dir/token" \
      >"$dir/registry.log" 2>&1 </dev/null &
    echo $! >"$dir/pid"
    url="sparse+http://127.0.0.1:$port/index/"
    for _ in $(seq 1 50); do
      if curl -fsS "http://127.0.0.1:$port/index/config.json" >/dev/null 2>&1; then
        echo "$url" >"$dir/index-url"
        say "registry on 127.0.0.1:$port (pid $(cat "$dir/pid"), data in $dir/data, log $dir/registry.log)" >&2
        echo "$url"
        exit 0
      fi
      kill -0 "$(cat "$dir/pid")" 2>/dev/null || break
      sleep 0.2
    done
    tail -n 20 "$dir/registry.log" >&2 || true
    kill "$(cat "$dir/pid")" 2>/dev/null || true
    die "the registry did not answer on 127.0.0.1:$port (log above: $dir/registry.log)"
    ;;
  stop)
    if [ -f "$dir/pid" ]; then
      pid=$(cat "$dir/pid")
      if kill -0 "$pid" 2>/dev/null; then
        kill "$pid"
        for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
        kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
        say "stopped the registry (pid $pid)" >&2
      fi
      rm -f "$dir/pid" "$dir/index-url"
    fi
    ;;
  url) [ -f "$dir/index-url" ] || die "no registry running in $dir"; cat "$dir/index-url" ;;
  token-file) [ -f "$dir/token" ] || die "no registry started in $dir"; echo "$dir/token" ;;
  *) usage ;;
esac
