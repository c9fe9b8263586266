#!/usr/bin/env bash
# The outside app (bookstore-functions/outside-app): a function from another repository,
# built on the published crates only. As its team would, from a copy of the fixture outside
# this workspace:
#   1. pinned =X.Y.Z from the registry in DIR (filled by scripts/publish-local.sh): run its
#      tests against PostgreSQL, build its Lambda zip with scripts/build-lambdas.sh and pass
#      scripts/check-artifacts.sh; then, as a team on Aurora MySQL would, with its own
#      `mysql` feature: its API tests on PostgreSQL and MariaDB, and the MySQL zip
#      (build-lambdas.sh --mysql) through check-artifacts.sh --mysql;
#   2. pinned by git tag from a file:// clone of this repository: run its tests again. The
#      tags (`schema-vX.Y.Z`, … for each crate's current version) are created in the clone
#      at HEAD, the code under test, so CI needs no tags of its own.
#
#   bash scripts/outside-app.sh --registry-dir DIR
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}

[ "${1:-}" = "--registry-dir" ] && [ -n "${2:-}" ] || die "usage: outside-app.sh --registry-dir DIR"
registry_dir=$2
url=$(bash "$SCRIPTS_DIR/registry.sh" url "$registry_dir")
fixture=$REPO_ROOT/bookstore-functions/outside-app
[ -f "$fixture/Cargo.toml" ] || die "no fixture at $fixture"
start_postgres
start_mariadb

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# One target directory for every run: third-party crates build once.
export CARGO_TARGET_DIR=$REPO_ROOT/target/outside-app
# The team's registry, named `bookstore` in its manifest, is this one.
export CARGO_REGISTRIES_BOOKSTORE_INDEX=$url


say "1/2: from the registry $url"
cp -r "$fixture" "$work/registry"
refresh_our_crates "$work/registry"
cargo test --manifest-path "$work/registry/Cargo.toml"
bash "$SCRIPTS_DIR/build-lambdas.sh" --manifest-path "$work/registry/Cargo.toml" --bin author-books --out "$work/dist"
bash "$SCRIPTS_DIR/check-artifacts.sh" --manifest-path "$work/registry/Cargo.toml" --bin author-books --out "$work/dist"
say "1/2: the same app on Aurora MySQL (its \`mysql\` feature): API tests on MariaDB, the MySQL zip"
cargo test --manifest-path "$work/registry/Cargo.toml" --features mysql --test api
mysql_zip=(--mysql --manifest-path "$work/registry/Cargo.toml" -p author-books --features mysql --out "$work/dist-mysql")
bash "$SCRIPTS_DIR/build-lambdas.sh" "${mysql_zip[@]}"
bash "$SCRIPTS_DIR/check-artifacts.sh" "${mysql_zip[@]}"

say "2/2: by git tag from a file:// clone"
git clone --quiet --no-local "$REPO_ROOT" "$work/repo"
declare -A tag_of
while read -r crate version _; do
  tag="$(tag_prefix "$crate")-v$version"
  git -C "$work/repo" tag -f "$tag" HEAD >/dev/null
  tag_of[$crate]=$tag
done < <(published_crates)
cp -r "$fixture" "$work/git"
# All three from the schema release's tag: crates of one repository must come from one git
# reference, or cargo sees the kit's bookstore-schema (a path inside its checkout) and the
# app's as two different crates. The `version` beside each tag checks what the tag holds.
python3 - "$work/git/Cargo.toml" "file://$work/repo" "${tag_of[bookstore-schema]}" <<'PY'
import re, sys
path, repo, tag = sys.argv[1:]
text = open(path).read()
def pin(m):
    return f'{m.group(1)} = {{ git = "{repo}", tag = "{tag}", '
count = 0
text, count = re.subn(r'^(bookstore-schema|bookstore-kit|bookstore-testing) = \{ ', pin, text, flags=re.M)
text = text.replace(', registry = "bookstore"', '')
assert count == 3, f"expected three pins, rewrote {count}"
# The patched diesel from the same tag (vendor/diesel in the repository).
text, patched = re.subn(r'^diesel = \{ version = "=2\.3\.14" \}$', f'diesel = {{ git = "{repo}", tag = "{tag}" }}', text, flags=re.M)
assert patched == 1, "expected the [patch.crates-io] diesel line"
open(path, "w").write(text)
PY
grep -E '^(bookstore-|diesel = \{ git)' "$work/git/Cargo.toml"
refresh_our_crates "$work/git"
# A team that pins by git has no registry of ours, only the placeholder its docs give it
# (docs/outside-functions.md): our crates' manifests name the `bookstore` registry, and
# cargo wants an index for every name it reads, even one it never contacts. Run from the
# app's own folder, so that this repository's .cargo/config.toml does not apply.
mkdir -p "$work/git/.cargo"
cat >"$work/git/.cargo/config.toml" <<'TOML'
[registries.bookstore]
index = "sparse+https://bookstore-registry.invalid/index/"
TOML
(cd "$work/git" && env -u CARGO_REGISTRIES_BOOKSTORE_INDEX cargo test)
say "the outside app builds, tests and zips from the registry (PostgreSQL and MySQL), and tests from git tags"
