#!/usr/bin/env bash
# Compiles every feature combination that ships, with `cargo check` (cheap; one shared
# target dir), failing on a warning in our code, because clippy and the tests build with
# --all-features only:
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
# A warning in our code fails here as clippy's does: code that only one backend's feature
# reads (dead code in a build without it) would otherwise ship in the package unnoticed.
# Not RUSTFLAGS="-D warnings": that also denies the vendored diesel's own warnings (a path
# dependency, so cargo does not cap its lints). Short diagnostics name their file; ours are
# every file outside vendor/ (registry crates' lints are capped, so they print none).
log=$(mktemp)
trap 'rm -f "$log"' EXIT

started=$SECONDS
while read -r crate _ _; do
  say "$crate: every feature combination (cargo hack --feature-powerset --depth 2)"
  cargo hack check --locked -p "$crate" --feature-powerset --depth 2 --message-format short 2>&1 | tee -a "$log"
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
  cargo check --locked --quiet -p "$pkg" --bins --message-format short 2>&1 | tee -a "$log"
done
if grep -E '^[^ ]+:[0-9]+:[0-9]+: warning' "$log" | grep -v '^vendor/' | sort -u | grep .; then
  die "the warnings above, in a feature combination that ships: fix them (clippy's --all-features build does not see them)"
fi
say "ok in $((SECONDS - started)) s"
