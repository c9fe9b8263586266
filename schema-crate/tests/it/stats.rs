//! The review statistics a trigger keeps on write, and the `review.review` → `review.body`
//! rename window. The window tests migrate only the embedded migrations up to the expand
//! step that opened it (`20261202000000`), so later migrations (the contract that closes
//! the window) change nothing here.

use bookstore_schema::{
    Backend, Book, DbConnection, NewBook, NewReview, Review,
    migrate::{Migration, RunOptions, Runner, embedded},
};
use bookstore_testing::TestDb;

use crate::{BACKENDS, count};

/// The expand migration that adds `review.body`, `book_review_stats` and their triggers.
const WINDOW_OPENED: &str = "20261202000000";

fn book(conn: &mut DbConnection, title: &str) -> Book {
    let new = NewBook {
        title,
        author: "A. Author",
        publisher: "P",
        year: 2001,
    };
    Book::create(conn, &new).unwrap()
}

/// Every book's statistics equal what aggregating its reviews gives.
fn assert_stats_match_reviews(conn: &mut DbConnection, books: &[i32], context: &str) {
    for &id in books {
        let (_, stats) = Book::find_with_stats(conn, id).unwrap().unwrap();
        let n = count(
            conn,
            &format!("SELECT count(*) AS n FROM review WHERE book_id = {id}"),
        );
        // MySQL's sum() is a DECIMAL and its integer cast is SIGNED.
        let bigint = if conn.backend() == Backend::Mysql {
            "SIGNED"
        } else {
            "BIGINT"
        };
        let sum = count(
            conn,
            &format!(
                "SELECT CAST(COALESCE(sum(rate), 0) AS {bigint}) AS n FROM review WHERE book_id = {id}"
            ),
        );
        assert_eq!(stats.count, n, "{context}: count of book {id}");
        #[expect(clippy::cast_precision_loss, reason = "tiny test numbers")]
        let mean = (n > 0).then(|| sum as f64 / n as f64);
        assert_eq!(stats.average_rate, mean, "{context}: mean of book {id}");
    }
}

#[test]
fn review_statistics_follow_every_insert_update_and_delete_on_both_backends() {
    for backend in BACKENDS {
        let db = TestDb::migrated_on(backend, "review_stats_follow");
        let mut conn = db.connect();
        let (a, b) = (book(&mut conn, "A").id, book(&mut conn, "B").id);
        let books = [a, b];
        assert_stats_match_reviews(&mut conn, &books, "no reviews");
        for rate in [5, 4, 1] {
            let new = NewReview {
                book_id: a,
                reviewer: "r",
                rate,
                review: None,
            };
            Review::create(&mut conn, &new).unwrap();
        }
        assert_stats_match_reviews(&mut conn, &books, "after inserts");
        conn.batch_execute(&format!(
            "UPDATE review SET rate = 2 WHERE book_id = {a} AND rate = 5"
        ))
        .unwrap();
        assert_stats_match_reviews(&mut conn, &books, "after a rate changed");
        conn.batch_execute(&format!(
            "UPDATE review SET book_id = {b} WHERE book_id = {a} AND rate = 4"
        ))
        .unwrap();
        assert_stats_match_reviews(&mut conn, &books, "after a review moved");
        // Statements touching many reviews of both books at once.
        conn.batch_execute(&format!(
            "INSERT INTO review (reviewer, rate, book_id) \
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300) \
             SELECT 'bulk', 1 + i % 5, CASE i % 3 WHEN 0 THEN {a} ELSE {b} END FROM n"
        ))
        .unwrap();
        assert_stats_match_reviews(&mut conn, &books, "after a bulk insert");
        conn.batch_execute(&format!(
            "UPDATE review SET rate = 6 - rate, book_id = CASE book_id WHEN {a} THEN {b} ELSE {a} END \
             WHERE reviewer = 'bulk' AND id % 2 = 0"
        ))
        .unwrap();
        assert_stats_match_reviews(&mut conn, &books, "after a bulk update");
        conn.batch_execute("DELETE FROM review WHERE reviewer = 'bulk' AND id % 3 = 0")
            .unwrap();
        assert_stats_match_reviews(&mut conn, &books, "after a bulk delete");
        conn.batch_execute(&format!("DELETE FROM review WHERE book_id = {a}"))
            .unwrap();
        assert_stats_match_reviews(&mut conn, &books, "after deletes");
        let (_, stats) = Book::find_with_stats(&mut conn, a).unwrap().unwrap();
        assert_eq!((stats.count, stats.average_rate), (0, None), "{backend:?}");
    }
}

/// The embedded migrations up to and including the one that opened the window.
fn window_set(backend: Backend) -> &'static [Migration] {
    let all = embedded(backend);
    let end = all
        .iter()
        .position(|m| m.version == WINDOW_OPENED)
        .unwrap_or_else(|| panic!("no embedded migration {WINDOW_OPENED} for {backend:?}"));
    &all[..=end]
}

#[test]
fn reviews_written_before_the_expand_are_counted_and_carried_to_body() {
    for backend in BACKENDS {
        let db = TestDb::empty_on(backend, "review_stats_backfill");
        let mut conn = db.connect();
        let set = window_set(backend);
        let before = &set[..set.len() - 1];
        Runner::with_migrations(before, RunOptions::default())
            .migrate(&mut conn)
            .unwrap();
        conn.batch_execute(
            "INSERT INTO book (id, title, author, publisher, year) VALUES (1, 'A', 'a', 'p', 2000);
             INSERT INTO review (reviewer, rate, review, book_id) VALUES ('r', 4, 'old text', 1);
             INSERT INTO review (reviewer, rate, review, book_id) VALUES ('s', 1, NULL, 1);",
        )
        .unwrap();
        Runner::with_migrations(set, RunOptions::default())
            .migrate(&mut conn)
            .unwrap();
        assert_eq!(
            count(
                &mut conn,
                "SELECT count(*) AS n FROM book_review_stats WHERE book_id = 1 AND review_count = 2 AND rate_sum = 5"
            ),
            1,
            "{backend:?}: backfilled statistics"
        );
        assert_eq!(
            count(
                &mut conn,
                "SELECT count(*) AS n FROM review WHERE body = 'old text' AND review = 'old text'"
            ),
            1,
            "{backend:?}: backfilled body"
        );
    }
}

#[test]
fn in_the_rename_window_a_write_to_either_column_is_read_from_both() {
    for backend in BACKENDS {
        let db = TestDb::empty_on(backend, "review_body_window");
        let mut conn = db.connect();
        Runner::with_migrations(window_set(backend), RunOptions::default())
            .migrate(&mut conn)
            .unwrap();
        let both = |conn: &mut DbConnection, text: &str| {
            count(
                conn,
                &format!(
                    "SELECT count(*) AS n FROM review WHERE body = '{text}' AND review = '{text}'"
                ),
            )
        };
        conn.batch_execute(
            "INSERT INTO book (id, title, author, publisher, year) VALUES (1, 'A', 'a', 'p', 2000);
             INSERT INTO review (id, reviewer, rate, review, book_id) VALUES (1, 'old', 4, 'by 2.0.0', 1);
             INSERT INTO review (id, reviewer, rate, body, book_id) VALUES (2, 'new', 4, 'by 2.1.0', 1);",
        )
        .unwrap();
        assert_eq!(both(&mut conn, "by 2.0.0"), 1, "{backend:?}: old insert");
        assert_eq!(both(&mut conn, "by 2.1.0"), 1, "{backend:?}: new insert");
        conn.batch_execute("UPDATE review SET review = 'edited old' WHERE id = 1")
            .unwrap();
        conn.batch_execute("UPDATE review SET body = 'edited new' WHERE id = 2")
            .unwrap();
        assert_eq!(both(&mut conn, "edited old"), 1, "{backend:?}: old update");
        assert_eq!(both(&mut conn, "edited new"), 1, "{backend:?}: new update");
        conn.batch_execute("UPDATE review SET body = NULL WHERE id = 2")
            .unwrap();
        assert_eq!(
            count(
                &mut conn,
                "SELECT count(*) AS n FROM review WHERE id = 2 AND body IS NULL AND review IS NULL"
            ),
            1,
            "{backend:?}: cleared text"
        );
    }
}
