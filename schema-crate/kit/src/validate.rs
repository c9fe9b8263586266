//! Field rules the API checks before the database does, so that a client hears which
//! field is wrong instead of a constraint name.

use std::{fmt::Display, ops::RangeInclusive};

use crate::error::ApiError;

/// A required text field: not blank, at most `max` characters (not bytes, as
/// PostgreSQL's `varchar(n)` and SQLite's `length()` count), and no NUL, which
/// PostgreSQL cannot store.
pub fn required_text(field: &str, value: &str, max: usize) -> Result<(), ApiError> {
    if value.trim().is_empty() {
        return Err(invalid(field, "must not be empty"));
    }
    optional_text(field, value, max)
}

/// An optional text field: at most `max` characters and no NUL.
pub fn optional_text(field: &str, value: &str, max: usize) -> Result<(), ApiError> {
    if value.chars().count() > max {
        return Err(invalid(field, &format!("must be at most {max} characters")));
    }
    if value.contains('\0') {
        return Err(invalid(field, "must not contain NUL characters"));
    }
    Ok(())
}

/// An integer field within `range`, converted to the column's type `N` (`i16` for a
/// `smallint`): pass the schema's own range (`bookstore_schema::facts::REVIEW_RATE_RANGE`).
pub fn in_range<N>(field: &str, value: i64, range: RangeInclusive<N>) -> Result<N, ApiError>
where
    N: Copy + Display + Into<i64> + TryFrom<i64>,
{
    let (min, max) = (*range.start(), *range.end());
    if !(min.into()..=max.into()).contains(&value) {
        return Err(invalid(field, &format!("must be between {min} and {max}")));
    }
    N::try_from(value).map_err(|_| invalid(field, &format!("must be between {min} and {max}")))
}

fn invalid(field: &str, message: &str) -> ApiError {
    ApiError::invalid_field(field, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_count_characters_not_bytes() {
        let hundred_e_acute = "é".repeat(100);
        assert_eq!(hundred_e_acute.len(), 200);
        assert!(required_text("author", &hundred_e_acute, 100).is_ok());
        let e = required_text("author", &"é".repeat(101), 100).unwrap_err();
        assert_eq!(e.field(), Some("author"));
    }

    #[test]
    fn blank_and_nul_text_is_refused() {
        for value in ["", "   ", "\t\n"] {
            assert_eq!(
                required_text("title", value, 10).unwrap_err().code(),
                "invalid_field"
            );
        }
        assert!(optional_text("review", "", 10).is_ok());
        assert!(optional_text("review", "a\0b", 10).is_err());
    }

    #[test]
    fn integers_outside_the_range_are_refused() {
        assert_eq!(in_range::<i16>("rate", 5, 1..=5).unwrap(), 5);
        assert!(in_range::<i16>("rate", 0, 1..=5).is_err());
        assert!(in_range::<i16>("rate", 70_000, 1..=5).is_err());
        assert_eq!(in_range("year", 1965, 1450..=2100_i64).unwrap(), 1965);
        let e = in_range("id", 99_999_999_999, 1..=i32::MAX).unwrap_err();
        assert_eq!((e.code(), e.field()), ("invalid_field".into(), Some("id")));
    }
}
