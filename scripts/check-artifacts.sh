#!/usr/bin/env bash
# Checks the Lambda artifacts that scripts/build-lambdas.sh wrote, as provided.al2023 will
# meet them. Takes the same options as build-lambdas.sh (--manifest-path, -p, --bin, --out),
# so an outside team checks its own zips with the arguments it built them with:
#   bash scripts/check-artifacts.sh --manifest-path ../my-app/Cargo.toml --bin authors
# For each <out>/<bin>/bootstrap.zip it fails when:
#   - the zip is missing, or holds no executable x86-64 ELF `bootstrap`;
#   - `bootstrap` needs a shared library beyond the C runtime's own (libc, libm, libgcc_s,
#     ld-linux and their glibc kin: libpthread, libdl, librt, libutil); libpq and OpenSSL
#     must be linked in;
#   - it references a glibc symbol version newer than 2.34 (what provided.al2023 ships);
#   - the zip is larger than 5 MB (5,000,000 bytes); 8 MB for the --mysql build, whose
#     MySQL client (with its character-set tables) and libstdc++ add about 2 MB zipped.
# It prints each artifact's zipped and unzipped size and its highest GLIBC_ version.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

parse_lambda_args "$@"
mapfile -t FUNCTIONS < <(lambda_bins)
MAX_GLIBC=2.34
MAX_ZIP_BYTES=5000000
[ "$LAMBDA_MYSQL" = 0 ] || MAX_ZIP_BYTES=8000000
ALLOWED_LIBS='^(libc\.so\.6|libm\.so\.6|libgcc_s\.so\.1|ld-linux-x86-64\.so\.2|libpthread\.so\.0|libdl\.so\.2|librt\.so\.1|libutil\.so\.1)$'

for tool in unzip readelf objdump; do
  require "$tool" build
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
fail() { echo "check-artifacts: FAIL $1: $2" >&2; failures=$((failures + 1)); }

printf '%-14s %12s %12s %8s  %s\n' function zipped unzipped glibc 'shared libraries'
for name in "${FUNCTIONS[@]}"; do
  zip="$LAMBDA_OUT/$name/bootstrap.zip"
  if [ ! -f "$zip" ]; then
    fail "$name" "$zip is missing; build it with: bash scripts/build-lambdas.sh $*"
    continue
  fi
  mkdir -p "$work/$name"
  unzip -q -o "$zip" -d "$work/$name"
  bin="$work/$name/bootstrap"
  if [ ! -f "$bin" ] || [ ! -x "$bin" ]; then
    fail "$name" "$zip has no executable bootstrap at its root"
    continue
  fi
  if ! readelf -h "$bin" 2>/dev/null | grep -q 'Machine:.*X86-64'; then
    fail "$name" "bootstrap is not an x86-64 ELF executable"
    continue
  fi
  zipped=$(stat -c %s "$zip")
  unzipped=$(stat -c %s "$bin")
  needed=$(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort -u)
  glibc=$( (objdump -T "$bin" | grep -o 'GLIBC_[0-9][0-9.]*' || true) | sed 's/GLIBC_//' | sort -uV | tail -n 1)
  printf '%-14s %12s %12s %8s  %s\n' "$name" "$zipped" "$unzipped" "${glibc:-none}" "$(echo "$needed" | tr '\n' ' ')"

  extra=$(echo "$needed" | grep -Ev "$ALLOWED_LIBS" | grep -v '^$' || true)
  [ -z "$extra" ] || fail "$name" "needs shared libraries beyond the C runtime: $(echo "$extra" | tr '\n' ' ')"
  if [ -n "$glibc" ] && [ "$(printf '%s\n%s\n' "$glibc" "$MAX_GLIBC" | sort -V | tail -n 1)" != "$MAX_GLIBC" ]; then
    newer=$(objdump -T "$bin" | grep -E "GLIBC_[0-9.]+" | awk -v max="$MAX_GLIBC" '{ for (i = 1; i <= NF; i++) if ($i ~ /GLIBC_/) { v = $i; gsub(/[()]|GLIBC_/, "", v); print v, $NF } }' \
      | sort -V | awk -v max="$MAX_GLIBC" '{ split($1, a, "."); split(max, b, "."); if (a[1] > b[1] || (a[1] == b[1] && a[2] > b[2])) print $2 "@GLIBC_" $1 }' | tr '\n' ' ')
    fail "$name" "references glibc $glibc symbols (provided.al2023 has $MAX_GLIBC): $newer"
  fi
  [ "$zipped" -le "$MAX_ZIP_BYTES" ] || fail "$name" "bootstrap.zip is $zipped bytes, over $MAX_ZIP_BYTES"
done

if [ "$failures" -gt 0 ]; then
  echo "check-artifacts: $failures problem(s)" >&2
  exit 1
fi
echo "check-artifacts: ok (${#FUNCTIONS[@]} artifacts: C runtime only, glibc <= $MAX_GLIBC, zip <= $MAX_ZIP_BYTES bytes)"
