#!/usr/bin/env bash
# Publishes every published crate of this workspace (packages whose `publish` is not false,
# from cargo metadata, dependencies first) to a private registry on 127.0.0.1, as a release
# to CodeArtifact would, then proves that the registry refuses the same version twice:
#   1. `cargo publish` of the first crate again must fail (cargo sees the version in the index);
#   2. the same .crate uploaded straight to the registry's publish API (what a racing
#      second publisher or an older cargo would send) must be refused by the server.
#
#   bash scripts/publish-local.sh                    # starts a registry in a temp dir, stops it after
#   bash scripts/publish-local.sh --registry-dir DIR # a registry started with scripts/registry.sh
#
# The registry, named `bookstore` as the outside app expects, goes in with --config and the
# token with CARGO_REGISTRIES_BOOKSTORE_TOKEN, so ~/.cargo (config and credentials) is never
# touched. Path dependencies between
# workspace crates need `version = "=X.Y.Z"` (cargo rewrites them to this registry), and no
# crate may restrict `publish = [...]` to other registries.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}

dir="" own=false
case "${1:-}" in
  --registry-dir) dir=${2:?--registry-dir needs a directory} ;;
  "") dir=$(mktemp -d); own=true ;;
  *) die "usage: publish-local.sh [--registry-dir DIR]" ;;
esac
if $own; then
  trap 'bash "$SCRIPTS_DIR/registry.sh" stop "$dir"; rm -rf "$dir"' EXIT
  url=$(bash "$SCRIPTS_DIR/registry.sh" start "$dir")
else
  url=$(bash "$SCRIPTS_DIR/registry.sh" url "$dir")
fi
CARGO_REGISTRIES_BOOKSTORE_TOKEN=$(cat "$(bash "$SCRIPTS_DIR/registry.sh" token-file "$dir")")
export CARGO_REGISTRIES_BOOKSTORE_TOKEN
registry=(--registry bookstore --config "registries.bookstore.index='$url'")

# The patched diesel first (vendor/README.md): app teams outside take it from here with
# `[patch.crates-io] diesel = { version = "=2.3.14", registry = "bookstore" }`. cargo
# rewrites the standalone package's lock file while packaging it; it is put back.
bash "$SCRIPTS_DIR/vendor-diesel.sh" --check
diesel_version=$(sed -n 's/^version = "\(2\.3\.14+bookstore\.[0-9]*\)"$/\1/p' vendor/diesel/Cargo.toml)
say "cargo publish diesel $diesel_version (vendor/diesel) to $url"
CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$REPO_ROOT/target}/vendor-diesel \
  cargo publish --manifest-path vendor/diesel/Cargo.toml --no-verify --allow-dirty "${registry[@]}"
git checkout -- vendor/diesel/Cargo.lock 2>/dev/null || true

mapfile -t crates < <(published_crates)
[ ${#crates[@]} -gt 0 ] || die "no published crate in the workspace"
started=$SECONDS
for line in "${crates[@]}"; do
  read -r crate version _ <<<"$line"
  say "cargo publish $crate $version to $url"
  cargo publish --locked -p "$crate" "${registry[@]}"
done
say "published ${#crates[@]} crate(s) in $((SECONDS - started)) s"

# 1. cargo itself, publishing the same version again.
read -r crate version _ <<<"${crates[0]}"
say "republishing $crate $version must be refused"
out=$(cargo publish --locked -p "$crate" "${registry[@]}" --no-verify 2>&1) && status=0 || status=$?
printf '%s\n' "$out" | sed 's/^/    /'
[ "$status" -ne 0 ] || die "cargo publish of $crate $version succeeded a second time"
grep -qi 'already exists' <<<"$out" || die "cargo publish failed, but not because $crate $version exists (output above)"

# 2. The registry itself: the .crate it serves, uploaded again to PUT /api/v1/crates/new.
api=$(curl -fsS "${url#sparse+}config.json" | python3 -c 'import json, sys; print(json.load(sys.stdin)["api"].rstrip("/"))')
work=$(mktemp -d)
trap 'rm -rf "$work"; if $own; then bash "$SCRIPTS_DIR/registry.sh" stop "$dir"; rm -rf "$dir"; fi' EXIT
crate_file=$work/$crate-$version.crate body=$work/body
curl -fsS -o "$crate_file" "$api/api/v1/crates/$crate/$version/download" \
  || die "the registry does not serve $crate $version, which cargo just published"
# The publish body (cargo's registry web API): u32 LE JSON length, JSON metadata, u32 LE
# .crate length, .crate bytes.
python3 - "$crate" "$version" "$crate_file" "$body" <<'PY'
import json, struct, sys
name, vers, crate_file, out = sys.argv[1:]
meta = json.dumps({
    "name": name, "vers": vers, "deps": [], "features": {}, "authors": [],
    "description": "republish check", "documentation": None, "homepage": None,
    "readme": None, "readme_file": None, "keywords": [], "categories": [],
    "license": "MIT OR Apache-2.0", "license_file": None, "repository": None,
    "badges": {}, "links": None, "rust_version": None,
}).encode()
data = open(crate_file, "rb").read()
with open(out, "wb") as f:
    f.write(struct.pack("<I", len(meta)) + meta + struct.pack("<I", len(data)) + data)
PY
response=$(curl -sS -o - -w '\n%{http_code}' -X PUT "$api/api/v1/crates/new" \
  -H "Authorization: $CARGO_REGISTRIES_BOOKSTORE_TOKEN" -H 'Content-Type: application/octet-stream' \
  --data-binary "@$body")
code=$(tail -n 1 <<<"$response")
answer=$(sed '$d' <<<"$response")
say "the registry answered HTTP $code to a direct upload of $crate $version: $answer"
if [[ "$code" == 2* ]] && ! grep -q '"errors"' <<<"$answer"; then
  die "the registry accepted $crate $version a second time"
fi
# 409 is the registry's answer for an existing version (a bad token would be 403).
[ "$code" = 409 ] || die "the registry refused the upload, but with HTTP $code, not 409 (version exists)"
say "ok: ${#crates[@]} crate(s) published; republishing $crate $version is refused by cargo and by the registry"
