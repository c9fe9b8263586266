#!/usr/bin/env bash
# Compiles every feature combination that ships, with `cargo check` (cheap; one shared
# target dir) and warnings denied, because clippy and the tests build with --all-features
# only:
#   - each published crate (workspace packages whose `publish` is not false) with every
#     combination of its features, two at a time (cargo hack --feature-powerset --depth 2,
#     which includes no features and the defaults);
#   - each package with binaries (the deployables) alone, with exactly the features it
#     enables on its dependencies: books and reviews take bookstore-kit's `http` with
#     bookstore-credentials without `secrets-manager`, schema-lambda the kit without its
#     default features and the credentials with `secrets-manager`; an --all-features build
#     compiles neither. One package per cargo run, so that another package's features
#     cannot leak in.
# Dev-dependencies play no part: a library `cargo check` does not build them, and cargo's
# resolver does not unify their features into it.
#
# Needs cargo-hack ($CARGO_HACK_VERSION): `bash scripts/setup.sh release`.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"
require_version "cargo hack --version" "cargo-hack $CARGO_HACK_VERSION" release
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
# A warning fails here as clippy's does: code only one backend's feature reads (dead code
# in a build without it) would otherwise ship in the package unnoticed. Dependencies' lints
# are capped by cargo, so only ours count.
export RUSTFLAGS="${RUSTFLAGS:-} -D warnings"

started=$SECONDS
while read -r crate _ _; do
  say "$crate: every feature combination (cargo hack --feature-powerset --depth 2)"
  cargo hack check --locked -p "$crate" --feature-powerset --depth 2
done < <(published_crates)

# Packages with a binary target, as they are built for deployment.
mapfile -t binary_packages < <(workspace_metadata | python3 -c '
import json, sys
meta = json.load(sys.stdin)
members = set(meta["workspace_members"])
for p in meta["packages"]:
    if p["id"] in members and any("bin" in t["kind"] for t in p["targets"]):
        print(p["name"])
')
for pkg in "${binary_packages[@]}"; do
  say "$pkg: its binaries with the features it enables (cargo check -p $pkg --bins)"
  cargo check --locked --quiet -p "$pkg" --bins
done
say "ok in $((SECONDS - started)) s"
