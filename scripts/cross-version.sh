#!/usr/bin/env bash
# The cross-version gate (docs/migrations.md, "The compatibility window"): an app team's
# function at an earlier release keeps working on a database migrated by HEAD, or, when
# HEAD carries a contract migration whose floor is above that release, refuses it with
# `503 schema_incompatible` naming both versions.
#
# For each earlier schema release that shipped the outside app fixture (2.0.0 on; the last
# two, newest first), as a team outside this repository would have it:
#   1. its crates are published to a private registry from their own release commits
#      (scripts/releases.txt), with the patched diesel its fixture takes from there: the
#      exact code that team pinned;
#   2. a database is migrated by HEAD's schema-admin (migrations and app role);
#   3. the fixture's API tests, from that release's commit, run against a clone of that
#      database (bookstore-testing's TEST_TEMPLATE_DATABASE);
#   4. they must pass, unless a contract migration of HEAD has a floor above the release:
#      then they must fail, and only with `schema_incompatible`.
#
#   bash scripts/cross-version.sh
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
require_history
start_postgres
# Releases older than this have no outside app fixture to run.
FIRST_GATED=2.0.0
MAX_GATED=2

current=$(published_crates | awk '$1 == "bookstore-schema" { print $2 }')
# Earlier schema releases, newest first (recorded ones only: a release is a recorded fact).
mapfile -t releases < <(recorded_releases bookstore-schema | python3 -c '
import sys
key = lambda v: tuple(int(x) for x in v.split("-")[0].split("."))
current, first, most = key(sys.argv[1]), key(sys.argv[2]), int(sys.argv[3])
rows = [l.split() for l in sys.stdin if l.strip()]
rows = [(c, v) for c, v in rows if first <= key(v) < current]
rows.sort(key=lambda r: key(r[1]), reverse=True)
for c, v in rows[:most]:
    print(c, v)
' "$current" "$FIRST_GATED" "$MAX_GATED")
[ ${#releases[@]} -gt 0 ] || die "no recorded bookstore-schema release from $FIRST_GATED below $current to gate"

# HEAD's contract floors, from the migrations' metadata.
floors=$(python3 - migrations/postgres <<'PY'
import pathlib, re, sys
for meta in sorted(pathlib.Path(sys.argv[1]).glob("*/metadata.toml")):
    text = meta.read_text()
    if re.search(r'^phase *= *"contract"', text, re.M):
        floor = re.search(r'^floor *= *"([^"]+)"', text, re.M)
        print(meta.parent.name, floor.group(1) if floor else "?")
PY
)

work=$(mktemp -d)
registry_dir=$work/registry
db="cross_version_$$"
cleanup() {
  bash "$SCRIPTS_DIR/registry.sh" stop "$registry_dir" >/dev/null 2>&1 || true
  dropdb -h 127.0.0.1 -U postgres --if-exists --force "$db" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$registry_dir"
url=$(bash "$SCRIPTS_DIR/registry.sh" start "$registry_dir")
CARGO_REGISTRIES_BOOKSTORE_TOKEN=$(cat "$(bash "$SCRIPTS_DIR/registry.sh" token-file "$registry_dir")")
export CARGO_REGISTRIES_BOOKSTORE_TOKEN CARGO_REGISTRIES_BOOKSTORE_INDEX=$url
# HEAD's schema-admin, built in the workspace's own target directory.
cargo build --locked -q -p schema-lambda --bin schema-admin
schema_admin=$(workspace_metadata | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')/debug/schema-admin
# The fixtures' third-party crates build once for every run here and in scripts/outside-app.sh.
export CARGO_TARGET_DIR=$REPO_ROOT/target/outside-app

say "HEAD is bookstore-schema $current; migrating a database with HEAD's schema-admin"
createdb -h 127.0.0.1 -U postgres "$db"
DATABASE_URL="postgres://postgres@127.0.0.1:5432/$db" "$schema_admin" migrate \
  || die "HEAD's schema-admin could not migrate a fresh database"

published=""
publish_from() { # CRATE VERSION: publish that release from its recorded commit (once)
  local crate=$1 version=$2 commit tree manifest
  case " $published " in *" $crate@$version "*) return 0 ;; esac
  commit=$(recorded_release "$crate" "$version")
  [ -n "$commit" ] || die "$crate $version is not recorded in scripts/releases.txt"
  tree=$work/src-$crate-$version
  mkdir -p "$tree"
  git archive "$commit" | tar -x -C "$tree"
  manifest=$(cd "$tree" && published_crates "$tree/Cargo.toml" | awk -v c="$crate" '$1 == c {print $3}')
  [ -n "$manifest" ] || die "$crate is not a published crate at $commit"
  say "publishing $crate $version from its release commit ${commit:0:12}"
  cargo publish --quiet --no-verify --locked --manifest-path "$manifest" \
    --registry bookstore --config "registries.bookstore.index='$url'"
  published="$published $crate@$version"
}

# The patched diesel (vendor/diesel) as of COMMIT, once per version: a fixture from 3.0.0 on
# takes it from the registry (`[patch.crates-io] diesel = { …, registry = "bookstore" }`).
publish_diesel_from() { # COMMIT
  local commit=$1 tree version
  version=$(git show "$commit:vendor/diesel/Cargo.toml" | sed -n 's/^version = "\(2\.3\.14+bookstore\.[0-9]*\)"$/\1/p')
  [ -n "$version" ] || die "no patched diesel in vendor/diesel at ${commit:0:12}"
  case " $published " in *" diesel@$version "*) return 0 ;; esac
  tree=$work/src-diesel-$version
  mkdir -p "$tree"
  git archive "$commit" vendor/diesel | tar -x -C "$tree" --strip-components=2
  say "publishing diesel $version (vendor/diesel) from ${commit:0:12}"
  cargo publish --quiet --no-verify --allow-dirty --manifest-path "$tree/Cargo.toml" \
    --registry bookstore --config "registries.bookstore.index='$url'"
  published="$published diesel@$version"
}

failures=0
for line in "${releases[@]}"; do
  read -r schema_commit release <<<"$line"
  # The release set: the newest recorded kit release built on this schema release (the kit
  # pins the schema exactly), and the fixture as of that commit.
  set_commit="" kit_version=""
  while read -r commit v; do
    if git show "$commit:Cargo.toml" | grep -Eq "^bookstore-schema = \{.*version = \"=$release\""; then
      set_commit=$commit kit_version=$v
    fi
  done < <(recorded_releases bookstore-kit)
  [ -n "$set_commit" ] || die "no recorded bookstore-kit release pins bookstore-schema =$release"
  git cat-file -e "$set_commit:bookstore-functions/outside-app/Cargo.toml" 2>/dev/null \
    || die "the release set of $release (${set_commit:0:12}) has no outside app fixture"
  # Every crate the fixture pins, at the version the release set pinned it.
  for crate in bookstore-schema bookstore-credentials bookstore-testing bookstore-kit; do
    v=$(git show "$set_commit:Cargo.toml" | sed -n "s/^$crate = {.*version = \"=\([^\"]*\)\".*/\1/p")
    [ -n "$v" ] && publish_from "$crate" "$v"
  done
  if git show "$set_commit:bookstore-functions/outside-app/Cargo.toml" | grep -Eq '^diesel = \{.*registry = "bookstore"'; then
    publish_diesel_from "$set_commit"
  fi
  # The gate only means something if that release's test kit clones our database.
  testing_version=$(git show "$set_commit:Cargo.toml" | sed -n 's/^bookstore-testing = {.*version = "=\([^"]*\)".*/\1/p')
  grep -q TEST_TEMPLATE_DATABASE <(git show "$(recorded_release bookstore-testing "$testing_version"):schema-crate/testing/src/lib.rs") \
    || die "bookstore-testing $testing_version cannot run on a given database (no TEST_TEMPLATE_DATABASE)"
  fixture=$work/fixture-$release
  mkdir -p "$fixture"
  git archive "$set_commit" bookstore-functions/outside-app | tar -x -C "$fixture" --strip-components=2
  refresh_our_crates "$fixture"

  above=$(awk -v r="$release" 'BEGIN { split(r, a, ".") }
    { split($2, f, "."); for (i = 1; i <= 3; i++) { if (f[i] + 0 > a[i] + 0) { print; next } if (f[i] + 0 < a[i] + 0) next } }' <<<"$floors")
  say "release $release (kit $kit_version, fixture at ${set_commit:0:12}) on HEAD's schema: $( [ -n "$above" ] && echo "expects schema_incompatible (contract above it: ${above//$'\n'/, })" || echo "expects to pass")"
  log=$work/test-$release.log
  if TEST_TEMPLATE_DATABASE=$db cargo test --manifest-path "$fixture/Cargo.toml" >"$log" 2>&1; then status=0; else status=$?; fi
  if [ -z "$above" ]; then
    if [ "$status" -eq 0 ]; then
      say "release $release: its consumer tests pass on HEAD's schema"
    else
      sed 's/^/    /' "$log" | tail -60
      say "release $release: its consumer tests FAIL on HEAD's schema, which no contract allows"
      failures=$((failures + 1))
    fi
  else
    # Failing is not enough: every test must have failed on a 503 (the assertion's left
    # side), and the 503's body must name schema_incompatible.
    incompatible=$(grep -c 'schema_incompatible' "$log" || true)
    panics=$(grep -c 'panicked at' "$log" || true)
    on_503=$(grep -cE '^ *left: .*\b503\b' "$log" || true)
    if [ "$status" -ne 0 ] && [ "$incompatible" -gt 0 ] && [ "$panics" -gt 0 ] && [ "$panics" -eq "$on_503" ]; then
      say "release $release: refused with schema_incompatible, as HEAD's contract requires"
      grep -m1 -o '"message": *"[^"]*"' "$log" | sed 's/^/    /' || true
    else
      sed 's/^/    /' "$log" | tail -60
      say "release $release: expected every test to fail on 503 schema_incompatible (exit $status, $panics failure(s), $on_503 on a 503, $incompatible mention(s))"
      failures=$((failures + 1))
    fi
  fi
done
[ "$failures" -eq 0 ] || die "$failures release(s) broke on HEAD's schema"
say "every gated release behaves as HEAD's migrations promise"
