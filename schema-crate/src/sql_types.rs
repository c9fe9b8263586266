//! SQL types this crate adds to diesel's, so that one `schema.rs` serves every backend.

use chrono::NaiveDateTime;
use diesel::{
    deserialize::{self, FromSql},
    pg::Pg,
    serialize::{self, ToSql},
    sql_types,
    sqlite::Sqlite,
};

/// A point in time in UTC: PostgreSQL's `timestamptz`, SQLite's `TIMESTAMP` text, MySQL's
/// `datetime(6)` (diesel's MySQL sessions run in UTC).
///
/// diesel names these two types differently (`Timestamptz` on PostgreSQL, `Timestamp` on
/// SQLite), so a schema written with either compiles for one backend only. This type is
/// both: PostgreSQL sees `timestamptz` (its OIDs, so no type lookup at run time) and
/// SQLite its timestamp text; values are `chrono::NaiveDateTime` in UTC. A new backend
/// adds its own `…_type` attribute and the two impls below.
#[derive(
    Debug, Clone, Copy, Default, diesel::sql_types::SqlType, diesel::query_builder::QueryId,
)]
#[diesel(postgres_type(oid = 1184, array_oid = 1185))]
#[diesel(sqlite_type(name = "Text"))]
#[diesel(mysql_type(name = "DateTime"))]
pub struct Timestamptz;

impl FromSql<Timestamptz, Pg> for NaiveDateTime {
    fn from_sql(
        bytes: <Pg as diesel::backend::Backend>::RawValue<'_>,
    ) -> deserialize::Result<Self> {
        <Self as FromSql<sql_types::Timestamptz, Pg>>::from_sql(bytes)
    }
}

impl ToSql<Timestamptz, Pg> for NaiveDateTime {
    fn to_sql<'b>(&'b self, out: &mut serialize::Output<'b, '_, Pg>) -> serialize::Result {
        <Self as ToSql<sql_types::Timestamptz, Pg>>::to_sql(self, out)
    }
}

impl FromSql<Timestamptz, Sqlite> for NaiveDateTime {
    fn from_sql(
        value: <Sqlite as diesel::backend::Backend>::RawValue<'_>,
    ) -> deserialize::Result<Self> {
        <Self as FromSql<sql_types::Timestamp, Sqlite>>::from_sql(value)
    }
}

impl ToSql<Timestamptz, Sqlite> for NaiveDateTime {
    fn to_sql<'b>(&'b self, out: &mut serialize::Output<'b, '_, Sqlite>) -> serialize::Result {
        <Self as ToSql<sql_types::Timestamp, Sqlite>>::to_sql(self, out)
    }
}

// `table!` gives date/time columns `+` and `-` with an interval, as diesel's own
// `Timestamptz` has.
impl sql_types::ops::Add for Timestamptz {
    type Rhs = sql_types::Interval;
    type Output = Timestamptz;
}

impl sql_types::ops::Sub for Timestamptz {
    type Rhs = sql_types::Interval;
    type Output = Timestamptz;
}

/// A [`Timestamptz`] value this crate binds as a query parameter (diesel's own
/// `NaiveDateTime` binds only to diesel's own timestamp types).
#[derive(Debug, Clone, Copy, diesel::expression::AsExpression)]
#[diesel(sql_type = Timestamptz)]
pub(crate) struct At(pub(crate) NaiveDateTime);

impl ToSql<Timestamptz, Pg> for At {
    fn to_sql<'b>(&'b self, out: &mut serialize::Output<'b, '_, Pg>) -> serialize::Result {
        <NaiveDateTime as ToSql<Timestamptz, Pg>>::to_sql(&self.0, out)
    }
}

impl ToSql<Timestamptz, Sqlite> for At {
    fn to_sql<'b>(&'b self, out: &mut serialize::Output<'b, '_, Sqlite>) -> serialize::Result {
        <NaiveDateTime as ToSql<Timestamptz, Sqlite>>::to_sql(&self.0, out)
    }
}

#[cfg(feature = "mysql")]
mod mysql {
    use chrono::NaiveDateTime;
    use diesel::{
        deserialize::{self, FromSql},
        mysql::Mysql,
        serialize::{self, ToSql},
        sql_types,
    };

    use super::{At, Timestamptz};

    impl FromSql<Timestamptz, Mysql> for NaiveDateTime {
        fn from_sql(
            value: <Mysql as diesel::backend::Backend>::RawValue<'_>,
        ) -> deserialize::Result<Self> {
            <Self as FromSql<sql_types::Datetime, Mysql>>::from_sql(value)
        }
    }

    impl ToSql<Timestamptz, Mysql> for NaiveDateTime {
        fn to_sql<'b>(&'b self, out: &mut serialize::Output<'b, '_, Mysql>) -> serialize::Result {
            <Self as ToSql<sql_types::Datetime, Mysql>>::to_sql(self, out)
        }
    }

    impl ToSql<Timestamptz, Mysql> for At {
        fn to_sql<'b>(&'b self, out: &mut serialize::Output<'b, '_, Mysql>) -> serialize::Result {
            <NaiveDateTime as ToSql<Timestamptz, Mysql>>::to_sql(&self.0, out)
        }
    }
}
