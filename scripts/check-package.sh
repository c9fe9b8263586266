#!/usr/bin/env bash
# `cargo package` the schema crate (with its verify build), then build a throwaway crate
# that depends on the packaged .crate (not the workspace) and let it migrate a fresh
# PostgreSQL database: the embedded migrations travel inside the package.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"
start_postgres
root=$PWD
cargo package -p bookstore-schema --locked --quiet
crate=$(ls target/package/bookstore-schema-*.crate | sort | tail -n 1)
work=$(mktemp -d)
db="package_check_$$"
trap 'dropdb -h 127.0.0.1 -U postgres --if-exists "$db" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
tar -xzf "$crate" -C "$work"
unpacked=$(ls -d "$work"/bookstore-schema-*)
mkdir -p "$work/consumer/src"
cat > "$work/consumer/Cargo.toml" <<TOML
[package]
name = "consumer"
version = "0.0.0"
edition = "2024"
publish = false
[dependencies]
bookstore-schema = { path = "$unpacked" }
[workspace]
TOML
cat > "$work/consumer/src/main.rs" <<'RS'
use bookstore_schema::{DbConnection, DbTarget, SessionSettings, migrate::{RunOptions, Runner, SchemaCheck, check_schema}};
fn main() {
    let url = std::env::var("DATABASE_URL").expect("DATABASE_URL");
    let mut conn = DbConnection::establish(&DbTarget::from_url(&url).expect("url"), None, SessionSettings::default()).expect("connect");
    let report = Runner::new(RunOptions::default()).migrate(&mut conn).expect("migrate from the packaged crate");
    assert!(!report.steps.is_empty(), "the packaged crate embeds no migration");
    assert!(matches!(check_schema(&mut conn).expect("check"), SchemaCheck::Current { .. }));
    println!("packaged bookstore-schema applied {} migrations", report.steps.len());
}
RS
createdb -h 127.0.0.1 -U postgres "$db"
cp Cargo.lock "$work/consumer/Cargo.lock"
CARGO_TARGET_DIR="$root/target/package-consumer" DATABASE_URL="postgres://postgres@127.0.0.1:5432/$db" \
  cargo run --quiet --manifest-path "$work/consumer/Cargo.toml"
