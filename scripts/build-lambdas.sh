#!/usr/bin/env bash
# Builds Lambda artifacts for provided.al2023 (x86_64), for this workspace or any other crate:
#
#   bash scripts/build-lambdas.sh                      # this workspace's three functions:
#       target/lambda/{schema-lambda,books,reviews}/bootstrap.zip
#   bash scripts/build-lambdas.sh --manifest-path ../my-app/Cargo.toml --bin authors [--out DIR]
#
# Options (shared with scripts/check-artifacts.sh; see parse_lambda_args in scripts/lib.sh):
#   --manifest-path PATH, -p/--package PKG, --bin NAME (repeatable), --features LIST (after
#   -p), --out DIR (default: the manifest's target dir + /lambda). Without -p/--bin: this
#   workspace's three functions, or every binary of the manifest's package.
#
# Each <out>/<bin>/bootstrap.zip holds one file, `bootstrap`: a stripped release binary with
# libpq (pq-sys `bundled`) and OpenSSL (Debian's static libraries) linked in, so it needs
# nothing but the C runtime; the unzipped binary is kept beside it. cargo-lambda links it
# with zig against glibc 2.34, the version provided.al2023 ships, so a symbol newer than
# that fails the link here instead of the cold start there. Everything the artifacts need
# is set here, in the build's environment, so it applies to any manifest and never to a
# plain `cargo build` (a .cargo/config.toml with Debian's paths broke that on a Mac):
#   - OpenSSL: OPENSSL_STATIC, OPENSSL_NO_PKG_CONFIG, OPENSSL_LIB_DIR, OPENSSL_INCLUDE_DIR
#     (`OPENSSL_STATIC=1` alone still links libssl.so through pkg-config);
#   - the release profile, as CARGO_PROFILE_RELEASE_*: opt-level "z" (override with
#     CARGO_PROFILE_RELEASE_OPT_LEVEL), fat LTO, one codegen unit, strip, and panic =
#     "unwind": the unit of work relies on unwinding to roll back, and cargo-lambda's own
#     profile (turned off with --disable-optimizations) would abort.
# Needs Debian's libssl-dev, zip and cargo-lambda: `bash scripts/setup.sh build`.
#
# --mysql builds the MySQL variant (bookstore-schema's `mysql` feature; default --out
# <target>/lambda-mysql): MySQL's client library is C++ and libstdc++ is not on
# provided.al2023, so it is linked in statically. zig cannot build that library (cmake's
# compiler probe crashed under cargo-zigbuild), so this build uses the host's gcc/g++
# against Debian's glibc headers; the glibc <= 2.34 guarantee then comes from
# scripts/check-artifacts.sh, which reads every versioned symbol the binary needs.
#
# Optional: BOOKSTORE_RDS_CA_BUNDLE=/path/to/global-bundle.pem adds that file to every zip
# as `rds-global-bundle.pem` (then DB_SSLROOTCERT=/var/task/rds-global-bundle.pem); see
# docs/deploy.md. Check the result with `bash scripts/check-artifacts.sh` (same options).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# The glibc of provided.al2023; the target directory drops the suffix.
TARGET=x86_64-unknown-linux-gnu.2.34
TARGET_TRIPLE=x86_64-unknown-linux-gnu
OPENSSL_MULTIARCH=/usr/lib/x86_64-linux-gnu

parse_lambda_args "$@"

[ -f "$OPENSSL_MULTIARCH/libssl.a" ] && [ -f /usr/include/openssl/ssl.h ] \
  || die "Debian's static OpenSSL (libssl-dev, $OPENSSL_MULTIARCH/libssl.a) is missing; run: bash scripts/setup.sh build"
require zip build
require_version "cargo lambda --version" "cargo-lambda $CARGO_LAMBDA_VERSION" build

# Fresh outputs only: a stale zip from an earlier build must not pass for this one.
while read -r name; do rm -rf "${LAMBDA_OUT:?}/$name"; done < <(lambda_bins)

# zig compiles the C parts (libpq, ring, openssl-sys' probe) with its own glibc 2.34
# headers and does not search Debian's multiarch folder, where OpenSSL keeps
# opensslconf.h and configuration.h. Hand it one folder with all of OpenSSL's headers and
# nothing else (pointing it at /usr/include would mix in the host's glibc 2.36 headers).
openssl_include=$LAMBDA_TARGET_DIR/lambda-openssl-include
rm -rf "$openssl_include" && mkdir -p "$openssl_include/openssl"
cp /usr/include/openssl/*.h "$openssl_include/openssl/"
cp /usr/include/x86_64-linux-gnu/openssl/*.h "$openssl_include/openssl/"

# The MySQL build: no zig (see above); the C++ standard library of MySQL's client is
# linked statically: CXXSTDLIB_STATIC makes the cc crate (link-cplusplus) ask for
# `static:-bundle=stdc++`, which the final link finds in gcc's own libstdc++.a. (rustc
# links with -nodefaultlibs, so g++'s -static-libstdc++ alone would link no libstdc++.)
# Its own target folder: the same triple's folder would hold zig's objects of the same
# crates, and a build script that does not watch the compiler would reuse them.
toolchain=()
target=$TARGET
build_dir=$LAMBDA_TARGET_DIR
if [ "$LAMBDA_MYSQL" = 1 ]; then
  build_dir=$LAMBDA_TARGET_DIR/lambda-mysql-build
  require g++ test
  require cmake test
  target=$TARGET_TRIPLE
  toolchain=(
    CARGO_TARGET_DIR="$build_dir"
    CXXSTDLIB_STATIC=1
  )
  openssl_include=/usr/include
fi

build() {
  local compiler=()
  [ "$LAMBDA_MYSQL" = 0 ] || compiler=(--compiler cargo)
  env "${toolchain[@]}" \
    OPENSSL_STATIC=1 OPENSSL_NO_PKG_CONFIG=1 \
    OPENSSL_LIB_DIR="$OPENSSL_MULTIARCH" OPENSSL_INCLUDE_DIR="$openssl_include" \
    CARGO_PROFILE_RELEASE_OPT_LEVEL="${CARGO_PROFILE_RELEASE_OPT_LEVEL:-z}" \
    CARGO_PROFILE_RELEASE_LTO=true \
    CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 \
    CARGO_PROFILE_RELEASE_STRIP=true \
    CARGO_PROFILE_RELEASE_PANIC=unwind \
    cargo lambda build --release --locked --disable-optimizations "${compiler[@]}" \
    --manifest-path "$LAMBDA_MANIFEST" --target "$target" \
    --output-format zip --lambda-dir "$LAMBDA_OUT" "$@"
}

started=$SECONDS
# One build per package, not one for all: cargo unifies features across the packages of
# one build, and schema-lambda's bookstore-credentials `secrets-manager` (~2 MB zipped)
# would end up in books and reviews, which only sign IAM tokens.
while IFS=$'\t' read -r pkg features bins; do
  args=(-p "$pkg")
  for b in $bins; do args+=(--bin "$b"); done
  [ "$features" = - ] || args+=(--features "$features")
  say "cargo lambda build ${args[*]}"
  build "${args[@]}"
done <<<"$LAMBDA_BUILDS"
say "built in $((SECONDS - started)) s"

release_dir=$build_dir/$TARGET_TRIPLE/release
while read -r name; do
  dir="$LAMBDA_OUT/$name"
  zip="$dir/bootstrap.zip"
  [ -f "$zip" ] || die "cargo lambda did not write $zip"
  # Keep the unzipped binary beside the zip: the end-to-end tests run it.
  cp "$release_dir/$name" "$dir/bootstrap"
  if [ -n "${BOOKSTORE_RDS_CA_BUNDLE:-}" ]; then
    [ -f "$BOOKSTORE_RDS_CA_BUNDLE" ] || die "BOOKSTORE_RDS_CA_BUNDLE=$BOOKSTORE_RDS_CA_BUNDLE is not a file"
    cp "$BOOKSTORE_RDS_CA_BUNDLE" "$dir/rds-global-bundle.pem"
    (cd "$dir" && zip -q -X bootstrap.zip rds-global-bundle.pem)
  fi
  printf '%s: %-14s %s (%s bytes)\n' "$SCRIPT_NAME" "$name" "$zip" "$(stat -c %s "$zip")"
done < <(lambda_bins)
