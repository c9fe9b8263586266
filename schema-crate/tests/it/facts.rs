//! The schema facts app code relies on, checked against the live catalog of a database
//! migrated to head: a migration that renames a constraint or resizes a column fails here.

use bookstore_schema::{BackendConnection, DbConnection, facts};
use bookstore_testing::TestDb;
use diesel::{
    QueryableByName, RunQueryDsl,
    sql_types::{Nullable, Text},
};

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Nullable<Text>)]
    value: Option<String>,
}

fn one(conn: &mut DbConnection, sql: &str, binds: [&str; 3]) -> Option<String> {
    let BackendConnection::Postgres(c) = conn.backend_connection() else {
        panic!("the catalog checks run on PostgreSQL");
    };
    let rows: Vec<Row> = diesel::sql_query(sql)
        .bind::<Text, _>(binds[0])
        .bind::<Text, _>(binds[1])
        .bind::<Text, _>(binds[2])
        .load(c)
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    assert!(rows.len() <= 1, "{sql} {binds:?}: {} rows", rows.len());
    rows.into_iter().next().and_then(|r| r.value)
}

#[test]
fn every_text_limit_matches_the_column_on_postgres() {
    let db = TestDb::migrated("facts_text_limits");
    let mut conn = db.connect();
    for limit in facts::TEXT_LIMITS {
        let max = one(
            &mut conn,
            "SELECT character_maximum_length::text AS value FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1 AND column_name = $2 AND $3 = $3",
            [limit.table, limit.column, ""],
        );
        assert_eq!(
            max.as_deref(),
            Some(limit.max_chars.to_string().as_str()),
            "{}.{}: the column's limit differs from bookstore_schema::facts",
            limit.table,
            limit.column
        );
    }
}

#[test]
fn every_constraint_name_exists_on_its_table_and_column_on_postgres() {
    let db = TestDb::migrated("facts_constraints");
    let mut conn = db.connect();
    let sql = "SELECT pg_get_constraintdef(c.oid) AS value FROM pg_constraint c \
               JOIN pg_class t ON t.oid = c.conrelid \
               JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = ANY (c.conkey) \
               WHERE t.relnamespace = current_schema()::regnamespace \
                 AND c.conname = $1 AND t.relname = $2 AND a.attname = $3";
    for fk in facts::FOREIGN_KEYS {
        let def = one(&mut conn, sql, [fk.name, fk.table, fk.column])
            .unwrap_or_else(|| panic!("no constraint {} on {}.{}", fk.name, fk.table, fk.column));
        assert!(
            def.starts_with("FOREIGN KEY")
                && def.contains(&format!("REFERENCES {}(", fk.references)),
            "{}: {def}",
            fk.name
        );
    }
    for check in facts::CHECKS {
        let def =
            one(&mut conn, sql, [check.name, check.table, check.column]).unwrap_or_else(|| {
                panic!(
                    "no constraint {} on {}.{}",
                    check.name, check.table, check.column
                )
            });
        assert!(def.starts_with("CHECK"), "{}: {def}", check.name);
    }
    let rate = one(
        &mut conn,
        "SELECT pg_get_constraintdef(c.oid) AS value FROM pg_constraint c \
         WHERE c.conname = $1 AND c.conrelid = ($2 || '.' || $3)::regclass",
        [facts::REVIEW_RATE_CHECK, "public", "review"],
    )
    .unwrap();
    let (lo, hi) = (
        facts::REVIEW_RATE_RANGE.start(),
        facts::REVIEW_RATE_RANGE.end(),
    );
    assert!(
        rate.contains(&format!(">= {lo}")) && rate.contains(&format!("<= {hi}")),
        "the rate CHECK is `{rate}`, the facts say {lo}..={hi}"
    );
}
