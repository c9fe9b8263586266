#!/usr/bin/env bash
# Builds the three Lambda artifacts for provided.al2023 (x86_64):
#
#   target/lambda/schema-lambda/bootstrap.zip
#   target/lambda/books/bootstrap.zip
#   target/lambda/reviews/bootstrap.zip
#
# Each zip holds one file, `bootstrap`: a stripped release binary with libpq (diesel's
# bundled build, pq-sys `bundled`) and OpenSSL (Debian's static libraries, see
# .cargo/config.toml) linked in, so it needs nothing but the C runtime. cargo-lambda links
# it with zig against glibc 2.34, the version provided.al2023 ships, so a symbol newer than
# that fails the link here instead of the cold start there. The release profile (root
# Cargo.toml) is the size-tuned one: opt-level "s", fat LTO, one codegen unit, strip.
#
# Optional: BOOKSTORE_RDS_CA_BUNDLE=/path/to/global-bundle.pem adds that file to every zip
# as `rds-global-bundle.pem` (then DB_SSLROOTCERT=/var/task/rds-global-bundle.pem); see
# docs/deploy.md. Check the result with `bash scripts/check-artifacts.sh`.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"

TARGET=x86_64-unknown-linux-gnu.2.34
FUNCTIONS=(schema-lambda books reviews)

# libssl-dev (the static OpenSSL), zip and cargo-lambda come from `bash scripts/setup.sh build`.
[ -f /usr/include/openssl/ssl.h ] || die "OpenSSL headers are missing; run: bash scripts/setup.sh build"
require zip build
require_version "cargo lambda --version" "cargo-lambda $CARGO_LAMBDA_VERSION" build

# Fresh outputs only: a stale zip from an earlier build must not pass for this one.
for name in "${FUNCTIONS[@]}"; do rm -rf "target/lambda/$name"; done

# zig compiles the C parts (libpq, ring, openssl-sys' probe) with its own glibc 2.34
# headers and does not search Debian's multiarch folder, where OpenSSL keeps
# opensslconf.h and configuration.h. Hand it one folder with all of OpenSSL's headers and
# nothing else (pointing it at /usr/include would mix in the host's glibc 2.36 headers).
openssl_include=target/lambda-openssl-include
rm -rf "$openssl_include" && mkdir -p "$openssl_include/openssl"
cp /usr/include/openssl/*.h "$openssl_include/openssl/"
cp /usr/include/x86_64-linux-gnu/openssl/*.h "$openssl_include/openssl/"
export OPENSSL_INCLUDE_DIR="$PWD/$openssl_include"

started=$SECONDS
# --disable-optimizations: keep the workspace's release profile (cargo-lambda would
# otherwise override it, with panic = "abort" among others; the unit of work relies on
# unwinding to roll back), with opt-level "z" on top for these artifacts.
# Two builds, not one: cargo unifies features across the packages of one build, and
# schema-lambda's bookstore-schema `aws` (Secrets Manager, ~2 MB zipped) would end up in
# books and reviews, which only need `aws-iam`.
build() {
  CARGO_PROFILE_RELEASE_OPT_LEVEL=${CARGO_PROFILE_RELEASE_OPT_LEVEL:-z} \
    cargo lambda build --release --locked --disable-optimizations \
    --target "$TARGET" --output-format zip "$@"
}
build -p schema-lambda --bin schema-lambda
build -p bookstore-functions --bin books --bin reviews
echo "build-lambdas: built in $((SECONDS - started)) s"

release_dir=target/x86_64-unknown-linux-gnu/release
for name in "${FUNCTIONS[@]}"; do
  dir="target/lambda/$name"
  zip="$dir/bootstrap.zip"
  [ -f "$zip" ] || { echo "build-lambdas: cargo lambda did not write $zip" >&2; exit 1; }
  # Keep the unzipped binary beside the zip: the end-to-end tests run it.
  cp "$release_dir/$name" "$dir/bootstrap"
  if [ -n "${BOOKSTORE_RDS_CA_BUNDLE:-}" ]; then
    [ -f "$BOOKSTORE_RDS_CA_BUNDLE" ] || { echo "build-lambdas: BOOKSTORE_RDS_CA_BUNDLE=$BOOKSTORE_RDS_CA_BUNDLE is not a file" >&2; exit 1; }
    cp "$BOOKSTORE_RDS_CA_BUNDLE" "$dir/rds-global-bundle.pem"
    (cd "$dir" && zip -q -X bootstrap.zip rds-global-bundle.pem)
  fi
  printf 'build-lambdas: %-14s %s (%s bytes)\n' "$name" "$zip" "$(stat -c %s "$zip")"
done
