#!/usr/bin/env bash
# `cargo semver-checks` for every published crate (workspace packages whose `publish` is not
# false) against a release found without tags (CI's clone may have none):
#   - the release of its *current* version, when scripts/releases.txt records one: the
#     version was released, so any breaking change since fails (bump it);
#   - else the release of the highest version below it (recorded, or else the commit that
#     changed the `version =` line to it): a major bump allows breaking changes, a minor or
#     patch bump does not.
# A crate with no release to compare says so and passes.
#
#   bash scripts/semver-check.sh             # every published crate
#   bash scripts/semver-check.sh CRATE...    # some of them
#
# Needs cargo-semver-checks ($CARGO_SEMVER_CHECKS_VERSION): `bash scripts/setup.sh release`.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"
require_version "cargo semver-checks --version" "cargo-semver-checks $CARGO_SEMVER_CHECKS_VERSION" release
require_history

wanted=" $* "
failures=() checked=0
while read -r crate version manifest; do
  [ $# -eq 0 ] || [[ "$wanted" == *" $crate "* ]] || continue
  manifest=${manifest#"$REPO_ROOT"/}
  base_commit=$(recorded_release "$crate" "$version") base_version=$version
  if [ -z "$base_commit" ] || [ "$base_commit" = "$(git rev-parse HEAD)" ]; then
    read -r base_commit base_version < <(previous_release "$manifest" "$version" "$crate"; echo) || true
  fi
  if [ -z "${base_commit:-}" ]; then
    say "$crate $version: no earlier release in history ($manifest); nothing to compare"
    continue
  fi
  say "$crate $version against $base_version (${base_commit:0:9}, $(git log -1 --format=%s "$base_commit"))"
  checked=$((checked + 1))
  # --baseline-rev: semver-checks checks the whole repository out at that commit (in
  # target/semver-checks) and builds the crate's rustdoc JSON there.
  if ! cargo semver-checks check-release --manifest-path Cargo.toml -p "$crate" --baseline-rev "$base_commit"; then
    failures+=("$crate $version (against $base_version)")
  fi
done < <(published_crates)

if [ ${#failures[@]} -gt 0 ]; then
  die "breaking changes not allowed by the version: ${failures[*]}; bump the major version (and write the CHANGELOG entry) or restore the API"
fi
say "ok: $checked crate(s) compared with their previous release"
