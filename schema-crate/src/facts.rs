//! Facts about the schema that code above it relies on: column limits, the rate range,
//! constraint names. They live here, beside the migrations that create them, so that a
//! migration renaming a constraint or resizing a column must change them too: a test of
//! this crate compares every fact with the live catalog (`pg_constraint`,
//! `information_schema.columns`).
//!
//! App code maps database errors to API errors through these names (a foreign-key
//! violation on [`REVIEW_BOOK_FKEY`] means "the book does not exist") and validates input
//! against these limits before the database would refuse it.

use std::ops::RangeInclusive;

/// Longest `book.title`, in characters (`varchar(200)`).
pub const BOOK_TITLE_MAX_CHARS: usize = 200;
/// Longest `book.author`, in characters (`varchar(100)`).
pub const BOOK_AUTHOR_MAX_CHARS: usize = 100;
/// Longest `book.publisher`, in characters (`varchar(100)`).
pub const BOOK_PUBLISHER_MAX_CHARS: usize = 100;
/// Longest `review.reviewer`, in characters (`varchar(100)`).
pub const REVIEW_REVIEWER_MAX_CHARS: usize = 100;
/// Longest review text (`review.body`), in characters (`varchar(500)`).
pub const REVIEW_TEXT_MAX_CHARS: usize = 500;
/// The rates `review.rate` accepts (the CHECK [`REVIEW_RATE_CHECK`]).
pub const REVIEW_RATE_RANGE: RangeInclusive<i16> = 1..=5;
/// The foreign key from `review.book_id` to `book.id`.
pub const REVIEW_BOOK_FKEY: &str = "review_book_id_fkey";
/// The CHECK that keeps `review.rate` within [`REVIEW_RATE_RANGE`].
pub const REVIEW_RATE_CHECK: &str = "review_rate_range";

/// A text column with a length limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct TextLimit {
    /// The table.
    pub table: &'static str,
    /// The column, as the database names it.
    pub column: &'static str,
    /// Its limit, in characters.
    pub max_chars: usize,
}

/// A foreign key a request can break.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ForeignKey {
    /// The constraint's name.
    pub name: &'static str,
    /// The referencing table.
    pub table: &'static str,
    /// The referencing column (the field a client sent).
    pub column: &'static str,
    /// The referenced table.
    pub references: &'static str,
}

/// A CHECK constraint on one column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Check {
    /// The constraint's name.
    pub name: &'static str,
    /// The table.
    pub table: &'static str,
    /// The column it checks (the field a client sent).
    pub column: &'static str,
}

/// Every length-limited text column a client can write.
pub const TEXT_LIMITS: &[TextLimit] = &[
    TextLimit {
        table: "book",
        column: "title",
        max_chars: BOOK_TITLE_MAX_CHARS,
    },
    TextLimit {
        table: "book",
        column: "author",
        max_chars: BOOK_AUTHOR_MAX_CHARS,
    },
    TextLimit {
        table: "book",
        column: "publisher",
        max_chars: BOOK_PUBLISHER_MAX_CHARS,
    },
    TextLimit {
        table: "review",
        column: "reviewer",
        max_chars: REVIEW_REVIEWER_MAX_CHARS,
    },
    TextLimit {
        table: "review",
        column: "body",
        max_chars: REVIEW_TEXT_MAX_CHARS,
    },
];

/// Every foreign key a client's write can break.
pub const FOREIGN_KEYS: &[ForeignKey] = &[ForeignKey {
    name: REVIEW_BOOK_FKEY,
    table: "review",
    column: "book_id",
    references: "book",
}];

/// Every CHECK constraint a client's write can break.
pub const CHECKS: &[Check] = &[Check {
    name: REVIEW_RATE_CHECK,
    table: "review",
    column: "rate",
}];

/// The foreign key named `name`, if it is one of [`FOREIGN_KEYS`].
pub fn foreign_key(name: &str) -> Option<&'static ForeignKey> {
    FOREIGN_KEYS.iter().find(|fk| fk.name == name)
}

/// The CHECK named `name`, if it is one of [`CHECKS`].
pub fn check(name: &str) -> Option<&'static Check> {
    CHECKS.iter().find(|c| c.name == name)
}
