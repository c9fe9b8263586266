//! The bookstore's rows and the queries on them.
//!
//! Every function takes the connection first and returns [`QueryResult`]; none of
//! them opens a transaction of its own (wrap calls in [`crate::transactional`]).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use crate::{
    DbConnection,
    backend::with_conn,
    read::Read,
    schema::{book, book_review_stats, review},
};

/// Largest page size the list functions accept.
pub const MAX_PAGE_SIZE: i64 = 200;

/// A book.
///
/// Loaded by column name (`Selectable`), so a column a later migration adds does not
/// move these fields; `#[non_exhaustive]` so that this crate can add a field for it
/// without breaking code that builds or destructures a `Book`.
#[derive(Queryable, Selectable, Serialize, Debug, Clone, PartialEq, Eq)]
#[diesel(table_name = book, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
#[non_exhaustive]
pub struct Book {
    /// Primary key.
    pub id: i32,
    /// Title, at most 200 characters.
    pub title: String,
    /// Author, at most 100 characters.
    pub author: String,
    /// Publisher, at most 100 characters.
    pub publisher: String,
    /// Year of publication.
    pub year: i32,
    /// When the row was created (UTC).
    pub created_at: NaiveDateTime,
}

/// A book to insert.
#[derive(Insertable, Debug, Clone, Copy)]
#[diesel(table_name = book, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct NewBook<'a> {
    /// Title.
    pub title: &'a str,
    /// Author.
    pub author: &'a str,
    /// Publisher.
    pub publisher: &'a str,
    /// Year of publication.
    pub year: i32,
}

/// Changes to a book; `None` leaves the field as it is.
#[derive(AsChangeset, Debug, Clone, Copy, Default)]
#[diesel(table_name = book, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct BookChanges<'a> {
    /// New title.
    pub title: Option<&'a str>,
    /// New author.
    pub author: Option<&'a str>,
    /// New publisher.
    pub publisher: Option<&'a str>,
    /// New year of publication.
    pub year: Option<i32>,
}

impl BookChanges<'_> {
    /// Whether nothing would change (diesel refuses an empty `SET`).
    pub fn is_empty(&self) -> bool {
        self.title.is_none()
            && self.author.is_none()
            && self.publisher.is_none()
            && self.year.is_none()
    }
}

/// A review of a book (loaded by column name, `#[non_exhaustive]` like [`Book`]).
#[derive(Queryable, Selectable, Serialize, Debug, Clone, PartialEq, Eq)]
#[diesel(table_name = review, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
#[non_exhaustive]
pub struct Review {
    /// Primary key.
    pub id: i32,
    /// Who wrote it, at most 100 characters.
    pub reviewer: String,
    /// 1 to 5.
    pub rate: i16,
    /// The text, at most 500 characters (the column `body`).
    #[diesel(column_name = body)]
    pub review: Option<String>,
    /// The book reviewed.
    pub book_id: i32,
    /// When the row was created (UTC).
    pub created_at: NaiveDateTime,
}

/// A review to insert.
#[derive(Insertable, Debug, Clone, Copy)]
#[diesel(table_name = review, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct NewReview<'a> {
    /// The book reviewed; it must exist.
    pub book_id: i32,
    /// Who wrote it.
    pub reviewer: &'a str,
    /// 1 to 5.
    pub rate: i16,
    /// Optional text (the column `body`).
    #[diesel(column_name = body)]
    pub review: Option<&'a str>,
}

/// Changes to a review; `None` leaves the field as it is, `review: Some(None)` empties
/// the text.
#[derive(AsChangeset, Debug, Clone, Copy, Default)]
#[diesel(table_name = review, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct ReviewChanges<'a> {
    /// New reviewer.
    pub reviewer: Option<&'a str>,
    /// New rate, 1 to 5.
    pub rate: Option<i16>,
    /// New text, or `Some(None)` for none (written to `body`, like [`NewReview::review`]).
    #[diesel(column_name = body)]
    pub review: Option<Option<&'a str>>,
}

impl ReviewChanges<'_> {
    /// Whether nothing would change (diesel refuses an empty `SET`).
    pub fn is_empty(&self) -> bool {
        self.reviewer.is_none() && self.rate.is_none() && self.review.is_none()
    }
}

/// How a book's reviews add up.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ReviewStats {
    /// How many reviews the book has.
    pub count: i64,
    /// Their mean rate, `None` without reviews.
    pub average_rate: Option<f64>,
}

/// One page of a keyset-paginated list, ordered by id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Page<T> {
    /// The rows on this page.
    pub items: Vec<T>,
    /// Pass as `after` to get the next page; `None` on the last page.
    pub next_after: Option<i32>,
}

impl<T> Page<T> {
    /// Builds a page from up to `limit + 1` rows: the extra row only says there is more.
    fn from_rows(mut rows: Vec<T>, limit: i64, id: impl Fn(&T) -> i32) -> Self {
        let limit = usize::try_from(limit).unwrap_or(0);
        let next_after = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(&id)
        } else {
            None
        };
        Self {
            items: rows,
            next_after,
        }
    }
}

fn clamp_limit(limit: i64) -> i64 {
    limit.clamp(1, MAX_PAGE_SIZE)
}

/// Which books a list shows: every field `None` is every book.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BookFilter<'a> {
    /// Only books by exactly this author (the index `book (author, id)`).
    pub author: Option<&'a str>,
    /// Only books whose title starts with this, case-sensitively (the title prefix index).
    pub title_prefix: Option<&'a str>,
}

impl<'a> BookFilter<'a> {
    /// Only books by exactly `author`.
    pub fn author(mut self, author: &'a str) -> Self {
        self.author = Some(author);
        self
    }

    /// Only books whose title starts with `prefix` (case-sensitive; `%` and `_` are
    /// literal).
    pub fn title_prefix(mut self, prefix: &'a str) -> Self {
        self.title_prefix = Some(prefix);
        self
    }
}

diesel::define_sql_function! {
    /// `substr(text, start, length)`, counting characters on both backends.
    fn substr(text: diesel::sql_types::Text, start: diesel::sql_types::Integer, length: diesel::sql_types::Integer) -> diesel::sql_types::Text;
}

#[cfg(feature = "mysql")]
diesel::define_sql_function! {
    /// MySQL's `LAST_INSERT_ID()`: the id the session's last `INSERT` generated.
    #[sql_name = "LAST_INSERT_ID"]
    fn last_insert_id() -> diesel::sql_types::Integer;
}

/// `prefix` as a `LIKE` pattern with `\` as the escape character: `prefix%`, with `%`,
/// `_` and `\` in it matching themselves.
fn like_prefix(prefix: &str) -> String {
    let mut pattern = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

impl Book {
    /// Books with `id > after`, in id order, at most `limit` (clamped to 1..=200).
    pub fn page(conn: &mut impl Read, after: Option<i32>, limit: i64) -> QueryResult<Page<Book>> {
        let limit = clamp_limit(limit);
        let after = after.unwrap_or(i32::MIN);
        let rows = with_conn!(conn.read_connection(), c => book::table
            .filter(book::id.gt(after))
            .order(book::id)
            .limit(limit + 1)
            .select(Book::as_select())
            .load(c))?;
        Ok(Page::from_rows(rows, limit, |b| b.id))
    }

    /// [`Book::page`] of the books `filter` lets through.
    ///
    /// The title prefix is a `LIKE 'prefix%'`, which PostgreSQL answers from the
    /// `varchar_pattern_ops` index, and the same comparison by characters
    /// (`substr(title, 1, n) = prefix`), which keeps it case-sensitive on SQLite too
    /// (SQLite's `LIKE` ignores ASCII case).
    pub fn page_where(
        conn: &mut impl Read,
        filter: &BookFilter<'_>,
        after: Option<i32>,
        limit: i64,
    ) -> QueryResult<Page<Book>> {
        let limit = clamp_limit(limit);
        let after = after.unwrap_or(i32::MIN);
        let pattern = filter.title_prefix.map(like_prefix);
        let prefix_chars = filter
            .title_prefix
            .map(|p| i32::try_from(p.chars().count()).unwrap_or(i32::MAX));
        let rows = with_conn!(conn.read_connection(), c => {
            let mut query = book::table
                .filter(book::id.gt(after))
                .order(book::id)
                .limit(limit + 1)
                .select(Book::as_select())
                .into_boxed();
            if let Some(author) = filter.author {
                query = query.filter(book::author.eq(author));
            }
            if let (Some(prefix), Some(pattern), Some(chars)) =
                (filter.title_prefix, pattern.as_deref(), prefix_chars)
            {
                query = query
                    .filter(book::title.like(pattern).escape('\\'))
                    .filter(substr(book::title, 1, chars).eq(prefix));
            }
            query.load(c)
        })?;
        Ok(Page::from_rows(rows, limit, |b| b.id))
    }

    /// The book with this id, if any.
    pub fn find(conn: &mut impl Read, id: i32) -> QueryResult<Option<Book>> {
        with_conn!(conn.read_connection(), c => book::table.find(id).select(Book::as_select()).first(c).optional())
    }

    /// Inserts a book and returns it as stored. One statement (`INSERT … RETURNING`),
    /// except on MySQL, which has no `RETURNING`: there the row is read back by
    /// `LAST_INSERT_ID()`, so call it in a unit of work.
    pub fn create(conn: &mut DbConnection, new: &NewBook<'_>) -> QueryResult<Book> {
        with_conn!(conn, c => diesel::insert_into(book::table)
            .values(new)
            .returning(Book::as_returning())
            .get_result(c),
        mysql c => {
            diesel::insert_into(book::table).values(new).execute(c)?;
            book::table
                .filter(book::id.eq(last_insert_id()))
                .select(Book::as_select())
                .first(c)
        })
    }

    /// Applies `changes` to the book `current` was read as, only if its row still holds
    /// `current`'s values (a compare-and-swap: one statement, no lock held between the
    /// read and the write). `None` when the row changed or went away since; then nothing
    /// is written. `changes` must not be empty.
    pub fn update_if_unchanged(
        conn: &mut DbConnection,
        current: &Book,
        changes: &BookChanges<'_>,
    ) -> QueryResult<Option<Book>> {
        let same = book::table
            .filter(book::id.eq(current.id))
            .filter(book::title.eq(&current.title))
            .filter(book::author.eq(&current.author))
            .filter(book::publisher.eq(&current.publisher))
            .filter(book::year.eq(current.year));
        with_conn!(conn, c => diesel::update(same)
        .set(changes)
        .returning(Book::as_returning())
        .get_result(c)
        .optional(),
        // No RETURNING: the update, then the row it locked (found rows, not changed rows,
        // are counted: diesel connects with CLIENT_FOUND_ROWS).
        mysql c => {
            if diesel::update(same).set(changes).execute(c)? == 0 {
                return Ok(None);
            }
            book::table.find(current.id).select(Book::as_select()).first(c).optional()
        })
    }

    /// Deletes the book `current` was read as, only if its row still holds `current`'s
    /// values; `false` when it changed or went away since. A book with reviews fails with
    /// the foreign-key violation `review_book_id_fkey`.
    pub fn delete_if_unchanged(conn: &mut DbConnection, current: &Book) -> QueryResult<bool> {
        let deleted = with_conn!(conn, c => diesel::delete(
            book::table
                .filter(book::id.eq(current.id))
                .filter(book::title.eq(&current.title))
                .filter(book::author.eq(&current.author))
                .filter(book::publisher.eq(&current.publisher))
                .filter(book::year.eq(current.year)),
        )
        .execute(c))?;
        Ok(deleted > 0)
    }

    /// Whether any review refers to the book with this id.
    pub fn has_reviews(conn: &mut DbConnection, id: i32) -> QueryResult<bool> {
        with_conn!(conn, c => diesel::select(diesel::dsl::exists(
            review::table.filter(review::book_id.eq(id)),
        ))
        .get_result(c))
    }

    /// The book with this id and how its reviews add up, in one statement: the book
    /// left-joined to its row of `book_review_stats`, which a trigger keeps up to date on
    /// every review written, so the cost does not grow with the number of reviews.
    pub fn find_with_stats(
        conn: &mut impl Read,
        id: i32,
    ) -> QueryResult<Option<(Book, ReviewStats)>> {
        let row: Option<(Book, Option<i64>, Option<i64>)> = with_conn!(conn.read_connection(), c => book::table
            .left_join(book_review_stats::table)
            .filter(book::id.eq(id))
            .select((
                Book::as_select(),
                book_review_stats::review_count.nullable(),
                book_review_stats::rate_sum.nullable(),
            ))
            .first(c)
            .optional())?;
        Ok(row.map(|(book, count, sum)| {
            (
                book,
                ReviewStats::from_count_and_sum(count.unwrap_or(0), sum),
            )
        }))
    }
}

impl ReviewStats {
    fn from_count_and_sum(count: i64, sum: Option<i64>) -> Self {
        #[expect(
            clippy::cast_precision_loss,
            reason = "review counts and rate sums are far below 2^52"
        )]
        let average_rate = sum
            .filter(|_| count > 0)
            .map(|sum| sum as f64 / count as f64);
        Self {
            count,
            average_rate,
        }
    }
}

impl Review {
    /// Reviews with `id > after` (of one book when `book_id` is given), in id order.
    pub fn page(
        conn: &mut impl Read,
        book_id: Option<i32>,
        after: Option<i32>,
        limit: i64,
    ) -> QueryResult<Page<Review>> {
        let limit = clamp_limit(limit);
        let after = after.unwrap_or(i32::MIN);
        let rows = with_conn!(conn.read_connection(), c => {
            let mut query = review::table
                .filter(review::id.gt(after))
                .order(review::id)
                .limit(limit + 1)
                .select(Review::as_select())
                .into_boxed();
            if let Some(book_id) = book_id {
                query = query.filter(review::book_id.eq(book_id));
            }
            query.load(c)
        })?;
        Ok(Page::from_rows(rows, limit, |r| r.id))
    }

    /// One page of a book's reviews, or `None` when the book does not exist. The page is
    /// one range scan of `review (book_id, id)` that stops at the page's end; only an
    /// empty page takes a second statement (does the book exist?), so call it inside a
    /// unit of work.
    pub fn book_page(
        conn: &mut impl Read,
        book_id: i32,
        after: Option<i32>,
        limit: i64,
    ) -> QueryResult<Option<Page<Review>>> {
        let page = Self::page(conn, Some(book_id), after, limit)?;
        if !page.items.is_empty() {
            // A review references an existing book (foreign key).
            return Ok(Some(page));
        }
        Ok(Book::find(conn, book_id)?.map(|_| page))
    }

    /// The review with this id, if any.
    pub fn find(conn: &mut DbConnection, id: i32) -> QueryResult<Option<Review>> {
        with_conn!(conn, c => review::table.find(id).select(Review::as_select()).first(c).optional())
    }

    /// Applies `changes` to the review `current` was read as, only if its row still holds
    /// `current`'s values (see [`Book::update_if_unchanged`]). `changes` must not be empty.
    pub fn update_if_unchanged(
        conn: &mut DbConnection,
        current: &Review,
        changes: &ReviewChanges<'_>,
    ) -> QueryResult<Option<Review>> {
        let same = review::table
            .filter(review::id.eq(current.id))
            .filter(review::book_id.eq(current.book_id))
            .filter(review::reviewer.eq(&current.reviewer))
            .filter(review::rate.eq(current.rate));
        match current.review.as_deref() {
            Some(text) => {
                with_conn!(conn, c => diesel::update(same.filter(review::body.eq(text)))
                .set(changes)
                .returning(Review::as_returning())
                .get_result(c)
                .optional(),
                mysql c => {
                    if diesel::update(same.filter(review::body.eq(text))).set(changes).execute(c)? == 0 {
                        return Ok(None);
                    }
                    review::table.find(current.id).select(Review::as_select()).first(c).optional()
                })
            }
            None => {
                with_conn!(conn, c => diesel::update(same.filter(review::body.is_null()))
                .set(changes)
                .returning(Review::as_returning())
                .get_result(c)
                .optional(),
                mysql c => {
                    if diesel::update(same.filter(review::body.is_null())).set(changes).execute(c)? == 0 {
                        return Ok(None);
                    }
                    review::table.find(current.id).select(Review::as_select()).first(c).optional()
                })
            }
        }
    }

    /// Deletes the review `current` was read as, only if its row still holds `current`'s
    /// values; `false` when it changed or went away since.
    pub fn delete_if_unchanged(conn: &mut DbConnection, current: &Review) -> QueryResult<bool> {
        let same = review::table
            .filter(review::id.eq(current.id))
            .filter(review::book_id.eq(current.book_id))
            .filter(review::reviewer.eq(&current.reviewer))
            .filter(review::rate.eq(current.rate));
        let deleted = match current.review.as_deref() {
            Some(text) => {
                with_conn!(conn, c => diesel::delete(same.filter(review::body.eq(text))).execute(c))
            }
            None => {
                with_conn!(conn, c => diesel::delete(same.filter(review::body.is_null())).execute(c))
            }
        }?;
        Ok(deleted > 0)
    }

    /// Inserts a review and returns it as stored. A missing book fails with the
    /// foreign-key violation `review_book_id_fkey`.
    /// On MySQL two statements, as [`Book::create`].
    pub fn create(conn: &mut DbConnection, new: &NewReview<'_>) -> QueryResult<Review> {
        with_conn!(conn, c => diesel::insert_into(review::table)
            .values(new)
            .returning(Review::as_returning())
            .get_result(c),
        mysql c => {
            diesel::insert_into(review::table).values(new).execute(c)?;
            review::table
                .filter(review::id.eq(last_insert_id()))
                .select(Review::as_select())
                .first(c)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_reports_a_cursor_only_when_more_rows_exist() {
        let page = Page::from_rows(vec![1, 2, 3], 2, |n| *n);
        assert_eq!(
            page,
            Page {
                items: vec![1, 2],
                next_after: Some(2)
            }
        );
        let page = Page::from_rows(vec![1, 2], 2, |n| *n);
        assert_eq!(
            page,
            Page {
                items: vec![1, 2],
                next_after: None
            }
        );
    }

    #[test]
    fn a_title_prefix_matches_percent_underscore_and_backslash_literally() {
        assert_eq!(like_prefix("Dune"), "Dune%");
        assert_eq!(like_prefix("100%_a\\b"), "100\\%\\_a\\\\b%");
    }

    #[test]
    fn limits_are_clamped_to_the_allowed_range() {
        assert_eq!(clamp_limit(0), 1);
        assert_eq!(clamp_limit(10_000), MAX_PAGE_SIZE);
        assert_eq!(clamp_limit(50), 50);
    }
}
