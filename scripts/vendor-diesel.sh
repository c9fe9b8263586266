#!/usr/bin/env bash
# vendor/diesel is diesel 2.3.14 from crates.io plus vendor/diesel.patch (why, and the
# upstream write-up: vendor/README.md). This script is the only way that folder changes:
#
#   bash scripts/vendor-diesel.sh          # rebuild vendor/diesel from the .crate + the patch
#   bash scripts/vendor-diesel.sh --check  # fail if vendor/diesel differs from that (CI)
#   bash scripts/vendor-diesel.sh --diff   # rewrite vendor/diesel.patch from vendor/diesel
#
# The .crate comes from cargo's cache, else from static.crates.io, and must have the
# checksum crates.io's index records for diesel 2.3.14.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"

version=2.3.14
sha256=ebe9f7eaef33febd60290c5a9f3b0571d03c4c04a24739cd64808ce30e65a5d3
mode=${1:-build}
case "$mode" in build | --check | --diff) ;; *) die "usage: vendor-diesel.sh [--check|--diff]" ;; esac

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
crate=$(ls "${CARGO_HOME:-$HOME/.cargo}"/registry/cache/*/diesel-$version.crate 2>/dev/null | head -n 1 || true)
if [ -z "$crate" ]; then
  require curl test
  crate=$work/diesel-$version.crate
  curl -fsSL -o "$crate" "https://static.crates.io/crates/diesel/diesel-$version.crate"
fi
echo "$sha256  $crate" | sha256sum -c --quiet - || die "$crate does not have crates.io's checksum"
tar xzf "$crate" -C "$work"
mv "$work/diesel-$version" "$work/diesel"

case "$mode" in
  --diff)
    (cd "$work" && cp -r "$REPO_ROOT/vendor/diesel" patched \
      && { diff -ruN diesel patched || true; }) \
      | sed -e 's#^\(---\|+++\) \([^	]*\)	.*#\1 \2#' -e 's#^--- diesel/#--- a/#' -e 's#^+++ patched/#+++ b/#' -e 's#^diff -ruN diesel/\([^ ]*\) patched/.*#diff -ruN a/\1 b/\1#' \
      | grep -v '^Only in' >vendor/diesel.patch
    say "wrote vendor/diesel.patch ($(grep -c '^+++ ' vendor/diesel.patch) files)"
    ;;
  *)
    (cd "$work/diesel" && patch -p1 --quiet --no-backup-if-mismatch <"$REPO_ROOT/vendor/diesel.patch")
    if [ "$mode" = --check ]; then
      diff -r "$work/diesel" vendor/diesel >"$work/out" \
        || { cat "$work/out" >&2; die "vendor/diesel is not diesel $version + vendor/diesel.patch; run: bash scripts/vendor-diesel.sh"; }
      say "vendor/diesel is diesel $version from crates.io + vendor/diesel.patch"
    else
      rm -rf vendor/diesel
      mv "$work/diesel" vendor/diesel
      say "rebuilt vendor/diesel from diesel $version + vendor/diesel.patch"
    fi
    ;;
esac
