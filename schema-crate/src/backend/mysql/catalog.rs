//! What `baseline` and structural drift read on MySQL and MariaDB, and the database of
//! its own their replay of the migrations runs in.
//!
//! Everything comes from `information_schema` (MariaDB 10.2+, MySQL 8.0.16+: CTEs and
//! `CHECK_CONSTRAINTS`). Each query names its bind parameters once, in a CTE, because a
//! `?` is bound once per occurrence; comparing an `information_schema` column with the
//! CTE's column still lets MariaDB read one database's directory instead of all of them.
//! Probe and live database are read by the same server, so what a server spells its own
//! way (MariaDB's `int(11)` and quoted defaults, MySQL 8's `DEFAULT_GENERATED`) is the
//! same on both sides; the queries only drop what would make a report harder to read.

use diesel::{
    MysqlConnection, QueryResult, QueryableByName, RunQueryDsl,
    connection::SimpleConnection,
    sql_types::{BigInt, Nullable, Text},
};

use super::super::{CatalogQueries, Dialect};

/// The catalog queries (see [`CatalogQueries`]). Names differ from PostgreSQL's where
/// MySQL's do: an index or a constraint is named `table.name` (index names are per table,
/// MariaDB's CHECK names too), the primary key is the index `table.PRIMARY`, and an
/// `AUTO_INCREMENT` column's default reads `auto_increment`. Triggers are objects too:
/// MySQL keeps the review statistics with them.
pub(super) const QUERIES: CatalogQueries = CatalogQueries {
    // The type as PostgreSQL's `data_type` gives it (no display width, no length, which
    // `max_length` has), but with what else makes a type: `unsigned`, a time's fraction
    // digits, a decimal's scale. `extra` adds `auto_increment` and `on update …`.
    columns: "WITH a AS (SELECT CAST(? AS CHAR) AS s)
        SELECT CAST(c.table_name AS CHAR) AS table_name, CAST(c.column_name AS CHAR) AS column_name,
               CAST(CASE WHEN c.data_type IN ('tinyint', 'smallint', 'mediumint', 'int', 'bigint')
                         THEN CONCAT(c.data_type, IF(c.column_type LIKE '%unsigned%', ' unsigned', ''))
                         WHEN c.character_maximum_length IS NOT NULL THEN c.data_type
                         ELSE c.column_type END AS CHAR) AS data_type,
               CAST(COALESCE(c.character_maximum_length, 0) AS SIGNED) AS max_length,
               c.is_nullable = 'YES' AS nullable,
               CAST(TRIM(CONCAT(COALESCE(NULLIF(c.column_default, 'NULL'), ''), ' ',
                                REPLACE(c.extra, 'DEFAULT_GENERATED', ''))) AS CHAR) AS column_default,
               CAST(COALESCE(c.collation_name, '') AS CHAR) AS collation
        FROM a JOIN information_schema.columns c ON c.table_schema = a.s
        ORDER BY c.table_name, c.ordinal_position",
    keys: "WITH a AS (SELECT CAST(? AS CHAR) AS s)
        SELECT CAST(CONCAT(IF(k.constraint_name = 'PRIMARY', 'primary key', 'foreign key'), ' ',
                           k.table_name, '(', k.column_name, ')',
                           IF(k.referenced_table_name IS NULL, '',
                              CONCAT(' -> ', k.referenced_table_name, '(', k.referenced_column_name, ')')))
                    AS CHAR) AS description
        FROM a JOIN information_schema.key_column_usage k ON k.table_schema = a.s
        WHERE k.constraint_name = 'PRIMARY' OR k.referenced_table_name IS NOT NULL
        ORDER BY 1",
    // CHECK_CONSTRAINTS has a TABLE_NAME on MariaDB (where CHECK names are per table) and
    // none on MySQL 8 (where they are per database): the NATURAL JOIN with
    // TABLE_CONSTRAINTS matches on it exactly where it exists.
    objects: "WITH a AS (SELECT CAST(? AS CHAR) AS s)
        SELECT CAST('constraint' AS CHAR) AS kind, CAST(rc.table_name AS CHAR) AS table_name,
               CAST(CONCAT(rc.table_name, '.', rc.constraint_name) AS CHAR) AS name,
               CAST(CONCAT('FOREIGN KEY (',
                           GROUP_CONCAT(k.column_name ORDER BY k.ordinal_position SEPARATOR ', '),
                           ') REFERENCES ', rc.referenced_table_name, ' (',
                           GROUP_CONCAT(k.referenced_column_name ORDER BY k.ordinal_position SEPARATOR ', '),
                           ') ON UPDATE ', rc.update_rule, ' ON DELETE ', rc.delete_rule) AS CHAR) AS definition,
               TRUE AS valid
        FROM a JOIN information_schema.referential_constraints rc ON rc.constraint_schema = a.s
        JOIN information_schema.key_column_usage k ON k.table_schema = a.s
             AND k.table_name = rc.table_name AND k.constraint_name = rc.constraint_name
        GROUP BY rc.table_name, rc.constraint_name, rc.referenced_table_name, rc.update_rule, rc.delete_rule
        UNION ALL
        SELECT 'constraint', tc.table_name, CONCAT(tc.table_name, '.', tc.constraint_name),
               CONCAT('CHECK (', cc.check_clause, ')'), TRUE
        FROM a JOIN information_schema.check_constraints cc ON cc.constraint_schema = a.s
        NATURAL JOIN information_schema.table_constraints tc
        WHERE tc.table_schema = a.s AND tc.constraint_type = 'CHECK'
        UNION ALL
        SELECT 'index', st.table_name, CONCAT(st.table_name, '.', st.index_name),
               CONCAT(IF(MAX(st.non_unique) = 0, 'UNIQUE ', ''), st.index_type, ' (',
                      GROUP_CONCAT(CONCAT(COALESCE(st.column_name, '<expression>'),
                                          IF(st.sub_part IS NULL, '', CONCAT('(', st.sub_part, ')')),
                                          IF(st.collation = 'D', ' DESC', ''))
                                   ORDER BY st.seq_in_index SEPARATOR ', '), ')'),
               TRUE
        FROM a JOIN information_schema.statistics st ON st.table_schema = a.s
        GROUP BY st.table_name, st.index_name, st.index_type
        UNION ALL
        SELECT 'trigger', tr.event_object_table, CONCAT(tr.event_object_table, '.', tr.trigger_name),
               CONCAT(tr.action_timing, ' ', tr.event_manipulation, ' FOR EACH ', tr.action_orientation, ' ',
                      tr.action_statement),
               TRUE
        FROM a JOIN information_schema.triggers tr ON tr.event_object_schema = a.s
        ORDER BY 1, 2, 3",
    // What the user may do on each table, from wherever the grant was made: on the table,
    // on the database or globally. Only privileges that apply to a table count (not
    // global ones like PROCESS). Privileges a MySQL 8 or MariaDB *role* brings are not
    // seen. The runner's user sees other users' grants with SELECT on the `mysql`
    // database (an RDS master user has it).
    grants: "WITH a AS (SELECT CAST(? AS CHAR) AS s, CONCAT('''', CAST(? AS CHAR), '''@''%''') AS grantee),
        p AS (
            SELECT tp.table_name AS t, tp.privilege_type AS privilege
            FROM a JOIN information_schema.table_privileges tp
                 ON tp.table_schema = a.s AND tp.grantee = a.grantee
            UNION ALL
            SELECT NULL, sp.privilege_type
            FROM a JOIN information_schema.schema_privileges sp
                 ON sp.table_schema = a.s AND sp.grantee = a.grantee
            UNION ALL
            SELECT NULL, up.privilege_type
            FROM a JOIN information_schema.user_privileges up ON up.grantee = a.grantee
        )
        SELECT CAST(t.table_name AS CHAR) AS table_name,
               CAST(GROUP_CONCAT(DISTINCT p.privilege
                                 ORDER BY FIELD(p.privilege, 'DELETE', 'UPDATE', 'INSERT', 'SELECT') DESC,
                                          p.privilege
                                 SEPARATOR ', ') AS CHAR) AS privileges
        FROM a JOIN information_schema.tables t ON t.table_schema = a.s
        JOIN p ON p.t IS NULL OR p.t = t.table_name
        WHERE p.privilege IN ('SELECT', 'INSERT', 'UPDATE', 'DELETE', 'CREATE', 'DROP', 'REFERENCES',
                              'INDEX', 'ALTER', 'CREATE VIEW', 'SHOW VIEW', 'TRIGGER', 'DELETE HISTORY')
        GROUP BY t.table_name ORDER BY 1",
    current_schema: "SELECT CAST(DATABASE() AS CHAR) AS name",
};

/// Between the live database's name (cut to fit) and the probe's own part.
const PROBE_INFIX: &str = "_bookstore_probe_";

/// A probe database older than this (seconds) is a crashed run's: a replay of the
/// migrations on empty tables takes seconds.
const STALE_AFTER_SECS: i64 = 3600;

/// MySQL's longest database name, in characters.
const MAX_NAME: usize = 64;

#[derive(QueryableByName)]
struct Facts {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = BigInt)]
    now: i64,
    #[diesel(sql_type = Nullable<Text>)]
    charset: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    collation: Option<String>,
}

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

/// `<live>_bookstore_probe_<unix time>_<connection id>`, `live` cut so that the name
/// fits: unique on the server while this session lives, and dated for the clean-up.
fn probe_name(live: &str, now: i64, id: i64) -> String {
    let tail = format!("{PROBE_INFIX}{now}_{id}");
    let head: String = live
        .chars()
        .take(MAX_NAME.saturating_sub(tail.chars().count()))
        .collect();
    format!("{head}{tail}")
}

/// When `name` is a probe database of `live` (as [`probe_name`] makes them), the time
/// in its name.
fn probe_created(name: &str, live: &str) -> Option<i64> {
    let (head, tail) = name.rsplit_once(PROBE_INFIX)?;
    let (created, id) = tail.split_once('_')?;
    id.parse::<u64>().ok()?;
    // `live` itself, or cut to fit (a name of the longest length).
    let ours = head == live || (name.chars().count() == MAX_NAME && live.starts_with(head));
    ours.then(|| created.parse().ok()).flatten()
}

/// A character set or collation name, safe to write into `CREATE DATABASE`.
fn plain(name: Option<&str>) -> Option<&str> {
    name.filter(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
}

/// See [`Dialect::open_probe_database`]: the probe gets the live database's character
/// set and collation (what a migration's `CREATE TABLE` without its own inherits).
pub(super) fn open(conn: &mut MysqlConnection, live: &str) -> QueryResult<String> {
    let facts: Facts = diesel::sql_query(
        "SELECT CAST(CONNECTION_ID() AS SIGNED) AS id, CAST(UNIX_TIMESTAMP() AS SIGNED) AS now,
                (SELECT CAST(default_character_set_name AS CHAR) FROM information_schema.schemata
                 WHERE schema_name = ?) AS charset,
                (SELECT CAST(default_collation_name AS CHAR) FROM information_schema.schemata
                 WHERE schema_name = ?) AS collation",
    )
    .bind::<Text, _>(live)
    .bind::<Text, _>(live)
    .get_result(conn)?;
    let probe = probe_name(live, facts.now, facts.id);
    drop_stale(conn, live, &probe, facts.now);
    let quoted = <MysqlConnection as Dialect>::quote(&probe);
    let mut create = format!("CREATE DATABASE {quoted}");
    if let (Some(charset), Some(collation)) = (
        plain(facts.charset.as_deref()),
        plain(facts.collation.as_deref()),
    ) {
        create.push_str(&format!(" CHARACTER SET {charset} COLLATE {collation}"));
    }
    // The same name after a server restart (connection ids start again) in the same second.
    conn.batch_execute(&format!("DROP DATABASE IF EXISTS {quoted}"))?;
    conn.batch_execute(&create)?;
    if let Err(error) = conn.batch_execute(&format!("USE {quoted}")) {
        let _ = conn.batch_execute(&format!("DROP DATABASE IF EXISTS {quoted}"));
        return Err(error);
    }
    Ok(probe)
}

/// Drops the probe databases of `live` that a crashed run left behind, except `probe`;
/// one that cannot be dropped is logged and left.
fn drop_stale(conn: &mut MysqlConnection, live: &str, probe: &str, now: i64) {
    let names = diesel::sql_query(
        "SELECT CAST(schema_name AS CHAR) AS name FROM information_schema.schemata
         WHERE LOCATE(?, schema_name) > 0",
    )
    .bind::<Text, _>(PROBE_INFIX)
    .load::<Name>(conn);
    let names = match names {
        Ok(names) => names,
        Err(error) => {
            tracing::warn!(error = %error, "could not list stale probe databases");
            return;
        }
    };
    for Name { name } in names {
        let stale = probe_created(&name, live).is_some_and(|t| now - t > STALE_AFTER_SECS);
        if name == probe || !stale {
            continue;
        }
        let quoted = <MysqlConnection as Dialect>::quote(&name);
        match conn.batch_execute(&format!("DROP DATABASE IF EXISTS {quoted}")) {
            Ok(()) => tracing::info!(database = %name, "dropped a stale probe database"),
            Err(error) => {
                tracing::warn!(database = %name, error = %error, "could not drop a stale probe database");
            }
        }
    }
}

/// See [`Dialect::close_probe_database`]: the probe is dropped even when the session
/// cannot go back (the first error is returned).
pub(super) fn close(conn: &mut MysqlConnection, probe: &str, live: &str) -> QueryResult<()> {
    let back = conn.batch_execute(&format!(
        "USE {}",
        <MysqlConnection as Dialect>::quote(live)
    ));
    let dropped = conn.batch_execute(&format!(
        "DROP DATABASE IF EXISTS {}",
        <MysqlConnection as Dialect>::quote(probe)
    ));
    back.and(dropped)
}

#[cfg(test)]
mod tests {
    use super::{MAX_NAME, probe_created, probe_name};

    #[test]
    fn probe_names_fit_mysql_and_are_known_again_only_for_their_database() {
        let name = probe_name("bookstore", 1_700_000_000, 42);
        assert_eq!(name, "bookstore_bookstore_probe_1700000000_42");
        assert_eq!(probe_created(&name, "bookstore"), Some(1_700_000_000));
        assert_eq!(probe_created(&name, "other"), None);
        assert_eq!(
            probe_created("bookstore_bookstore_probe_x_1", "bookstore"),
            None
        );
        assert_eq!(probe_created("bookstore", "bookstore"), None);

        let long = "d".repeat(70);
        let name = probe_name(&long, 1_700_000_000, i64::MAX);
        assert_eq!(name.chars().count(), MAX_NAME);
        assert_eq!(probe_created(&name, &long), Some(1_700_000_000));
        // A shorter database's probe is not one of a longer name's that starts like it.
        assert_eq!(probe_created(&probe_name("book", 1, 2), "bookstore"), None);
    }
}
