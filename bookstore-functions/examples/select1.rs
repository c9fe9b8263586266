//! The cold-start floor the benchmark harness measures `books` against: a process that
//! opens one PostgreSQL connection with the same libpq and the same session set-up as
//! the functions (`bookstore_schema::DbConnection`), runs `SELECT 1`, says `ok` on
//! stdout and exits. `DATABASE_URL` names the database.
//!
//! Built by `scripts/bench.sh` (`cargo build --release --example select1`); see
//! `docs/benchmarks.md`.

use std::io::Write as _;

use anyhow::Context as _;
use bookstore_schema::{DbConnection, DbTarget, SessionSettings};

fn main() -> anyhow::Result<()> {
    let url = std::env::var("DATABASE_URL").context("DATABASE_URL is not set")?;
    let target = DbTarget::from_url(&url).context("DATABASE_URL is invalid")?;
    let mut conn = DbConnection::establish(&target, None, SessionSettings::default())
        .context("connecting to the database")?;
    conn.ping().context("running SELECT 1")?;
    // The harness stops its clock on this line, as it does on `books`' first response.
    let mut out = std::io::stdout().lock();
    writeln!(out, "ok").context("writing to stdout")?;
    out.flush().context("writing to stdout")?;
    Ok(())
}
