#!/usr/bin/env bash
# `cargo semver-checks` for every published crate (workspace packages whose `publish` is not
# false) against its previous release, found from git history alone: the commit that last
# changed the crate's `version =` line to the highest version below the current one (CI's
# clone may have no tags). A crate with no earlier release says so and passes.
#
# The allowed change follows the version: a crate still at its released version, or with a
# minor or patch bump, fails on any breaking change (removed or changed public items, a
# new field in a struct that can be built with a literal, …); a major bump allows them.
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
  read -r base_commit base_version < <(previous_release "$manifest" "$version"; echo) || true
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
