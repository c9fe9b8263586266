//! A book with many reviews: `GET /book/{id}`'s statement (`Book::find_with_stats`, which
//! reads the trigger-kept `book_review_stats` row since schema 2.1.0) beside the statement
//! 2.0.0 ran (aggregating every review of the book) in the same run, on the same data; and
//! the first page of the book's reviews (`Review::book_page`, on `review (book_id, id)`).

use std::{
    fmt::Write as _,
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail};
use bookstore_schema::{BackendConnection, Book, DbConnection, NewBook, Review};
use bookstore_testing::TestDb;
use diesel::{
    RunQueryDsl as _,
    sql_types::{BigInt, Integer, Nullable},
};

use crate::{
    report::{Row, Section, Verdict},
    stats::{Samples, fmt_dur},
};

#[derive(diesel::QueryableByName)]
struct Aggregate {
    #[diesel(sql_type = BigInt)]
    n: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    total: Option<i64>,
}

/// What 2.0.0's `Book::find_with_stats` sent: the book left-joined to all its reviews,
/// grouped.
const AGGREGATE_2_0: &str = "SELECT count(review.id) AS n, sum(review.rate) AS total \
     FROM book LEFT JOIN review ON review.book_id = book.id WHERE book.id = $1 GROUP BY book.id";

fn aggregate(conn: &mut DbConnection, id: i32) -> anyhow::Result<(i64, Option<i64>)> {
    let BackendConnection::Postgres(c) = conn.backend_connection() else {
        bail!("the reviews benchmark runs on PostgreSQL");
    };
    let row = diesel::sql_query(AGGREGATE_2_0)
        .bind::<Integer, _>(id)
        .get_result::<Aggregate>(c)?;
    Ok((row.n, row.total))
}

#[derive(diesel::QueryableByName)]
struct ReviewId {
    #[diesel(sql_type = Nullable<Integer>)]
    #[expect(dead_code, reason = "loaded as 2.0.0 loaded it, not read")]
    id: Option<i32>,
}

/// What 2.0.0's `Review::page_of_book` sent for a first page of 20: the book left-joined
/// to its reviews, which keeps PostgreSQL from reading the page off the index.
const PAGE_2_0: &str = "SELECT review.id, review.reviewer, review.rate, review.body, review.book_id, \
     review.created_at FROM book LEFT JOIN review ON review.book_id = book.id AND review.id > -2147483648 \
     WHERE book.id = $1 ORDER BY review.id LIMIT 21";

fn old_page(conn: &mut DbConnection, id: i32) -> anyhow::Result<usize> {
    let BackendConnection::Postgres(c) = conn.backend_connection() else {
        bail!("the reviews benchmark runs on PostgreSQL");
    };
    let rows = diesel::sql_query(PAGE_2_0)
        .bind::<Integer, _>(id)
        .load::<ReviewId>(c)?;
    Ok(rows.len())
}

fn time<T>(runs: usize, mut f: impl FnMut() -> anyhow::Result<T>) -> anyhow::Result<Samples> {
    f()?; // warm the plan and the cache
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        f()?;
        samples.push(started.elapsed());
    }
    Ok(Samples::new(samples))
}

struct Measured {
    stats: Samples,
    aggregate: Samples,
    page: Samples,
    old_page: Samples,
    seed: Duration,
}

fn measure(reviews: usize, runs: usize) -> anyhow::Result<Measured> {
    let db = TestDb::migrated("bench_reviews");
    let mut conn = db.connect();
    let new = NewBook {
        title: "Much reviewed",
        author: "A. Author",
        publisher: "P",
        year: 2001,
    };
    let book = Book::create(&mut conn, &new)?;
    let started = Instant::now();
    conn.batch_execute(&format!(
        "INSERT INTO review (reviewer, rate, body, book_id) \
         SELECT 'reader ' || g, 1 + g % 5, 'text', {} FROM generate_series(1, {reviews}) AS g; \
         ANALYZE review; ANALYZE book_review_stats;",
        book.id
    ))
    .context("seeding reviews")?;
    let seed = started.elapsed();
    let (_, stats) = Book::find_with_stats(&mut conn, book.id)?.context("the book")?;
    let (n, total) = aggregate(&mut conn, book.id)?;
    #[expect(clippy::cast_precision_loss, reason = "counts far below 2^52")]
    let mean = total.map(|t| t as f64 / n as f64);
    if stats.count != n || stats.average_rate != mean {
        bail!(
            "book_review_stats ({}, {:?}) disagrees with the reviews ({n}, {mean:?})",
            stats.count,
            stats.average_rate
        );
    }
    Ok(Measured {
        stats: time(runs, || Ok(Book::find_with_stats(&mut conn, book.id)?))?,
        aggregate: time(runs, || aggregate(&mut conn, book.id))?,
        page: time(runs, || {
            Ok(Review::book_page(&mut conn, book.id, None, 20)?)
        })?,
        old_page: time(runs, || old_page(&mut conn, book.id))?,
        seed,
    })
}

/// The rows: `GET /book/{id}`'s statement against 2.0.0's, and a review page.
pub fn run(reviews: usize, runs: usize) -> Section {
    let mut section = Section::default();
    match measure(reviews, runs) {
        Ok(m) => {
            let speedup = m.aggregate.p50().as_secs_f64() / m.stats.p50().as_secs_f64().max(1e-9);
            section.rows.push(Row::new(
                format!("`GET /book/{{id}}` statement, a book with {reviews} reviews"),
                format!(
                    "median {} (p99 {}, n={})",
                    fmt_dur(m.stats.p50()),
                    fmt_dur(m.stats.p99()),
                    m.stats.len()
                ),
                format!(
                    "2.0.0's aggregate: median {} (p99 {}): {speedup:.0}× slower",
                    fmt_dur(m.aggregate.p50()),
                    fmt_dur(m.aggregate.p99())
                ),
                "independent of the review count",
                Verdict::from_ok(m.stats.p50() < m.aggregate.p50()),
            ));
            section.rows.push(Row::new(
                format!("first page of 20 of that book's reviews ({reviews})"),
                format!(
                    "median {} (p99 {}, n={})",
                    fmt_dur(m.page.p50()),
                    fmt_dur(m.page.p99()),
                    m.page.len()
                ),
                format!(
                    "2.0.0's `page_of_book` statement: median {} (p99 {})",
                    fmt_dur(m.old_page.p50()),
                    fmt_dur(m.old_page.p99())
                ),
                "stops at the page's end",
                Verdict::from_ok(m.page.p50() < m.old_page.p50()),
            ));
            let _ = writeln!(
                section.notes,
                "One book with {reviews} reviews inserted in one statement ({} including the statistics trigger \
                 on every row), then `ANALYZE`. Each figure is one statement on one connection over TLS, \
                 repeated; the baseline is the statement 2.0.0's `Book::find_with_stats` sent (every review of \
                 the book joined and aggregated), on the same data in the same run.",
                fmt_dur(m.seed)
            );
        }
        Err(e) => section.rows.push(Row::broken(
            "reviews",
            "independent of the review count",
            &e,
        )),
    }
    section
}
