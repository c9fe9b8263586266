//! PostgreSQL (Aurora PostgreSQL, through RDS Proxy for the functions).

use std::time::Duration;

use diesel::{
    Connection as _, PgConnection, QueryResult, RunQueryDsl,
    connection::{AnsiTransactionManager, CacheSize, SimpleConnection, TransactionManager},
    sql_types::Bool,
};

use super::{AppRole, CatalogQueries, Dialect, RunnerSession, ServerSession};
use crate::connection::SessionSettings;

impl Dialect for PgConnection {
    const TIMESTAMP_DDL: &'static str = "timestamptz NOT NULL DEFAULT now()";

    const CATALOG: Option<CatalogQueries> = Some(CatalogQueries {
        columns: "SELECT table_name::text AS table_name, column_name::text AS column_name, data_type::text AS data_type,
                COALESCE(character_maximum_length, 0)::bigint AS max_length, is_nullable = 'YES' AS nullable,
                COALESCE(column_default, '')::text AS column_default,
                COALESCE(collation_name, '')::text AS collation
         FROM information_schema.columns WHERE table_schema = $1 ORDER BY table_name, ordinal_position",
        keys: "SELECT format('%s %s(%s)%s', CASE con.contype WHEN 'p' THEN 'primary key' ELSE 'foreign key' END,
                       cl.relname, a.attname,
                       CASE WHEN con.contype = 'f' THEN format(' -> %s(%s)', rcl.relname, ra.attname) ELSE '' END) AS description
         FROM pg_constraint con
         JOIN pg_class cl ON cl.oid = con.conrelid
         JOIN pg_namespace n ON n.oid = cl.relnamespace
         JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = ANY (con.conkey)
         LEFT JOIN pg_class rcl ON rcl.oid = con.confrelid
         LEFT JOIN pg_attribute ra ON ra.attrelid = con.confrelid AND ra.attnum = ANY (con.confkey)
         WHERE n.nspname = $1 AND con.contype IN ('p', 'f') ORDER BY 1",
        objects: "SELECT 'constraint'::text AS kind, cl.relname::text AS table_name, con.conname::text AS name,
                replace(pg_get_constraintdef(con.oid), ' NOT VALID', '') AS definition, con.convalidated AS valid
         FROM pg_constraint con
         JOIN pg_class cl ON cl.oid = con.conrelid
         JOIN pg_namespace n ON n.oid = cl.relnamespace
         WHERE n.nspname = $1
         UNION ALL
         SELECT 'index', t.relname::text, c.relname::text,
                regexp_replace(pg_get_indexdef(c.oid), ' ON (ONLY )?[^ .]+\\.', ' ON \\1'), i.indisvalid
         FROM pg_index i
         JOIN pg_class c ON c.oid = i.indexrelid
         JOIN pg_class t ON t.oid = i.indrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = $1
         UNION ALL
         SELECT 'sequence', COALESCE(ot.relname::text, ''), sc.relname::text,
                format('%s increment %s', format_type(sq.seqtypid, NULL), sq.seqincrement), true
         FROM pg_class sc
         JOIN pg_namespace n ON n.oid = sc.relnamespace
         JOIN pg_sequence sq ON sq.seqrelid = sc.oid
         LEFT JOIN pg_depend d ON d.objid = sc.oid AND d.classid = 'pg_class'::regclass
              AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
         LEFT JOIN pg_class ot ON ot.oid = d.refobjid
         WHERE n.nspname = $1 AND sc.relkind = 'S'
         ORDER BY 1, 2, 3",
        grants: "SELECT c.relname::text AS table_name,
                string_agg(p.privilege, ', ' ORDER BY p.ord) AS privileges
         FROM pg_class c
         JOIN pg_namespace n ON n.oid = c.relnamespace
         CROSS JOIN unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER'])
              WITH ORDINALITY AS p(privilege, ord)
         WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm')
           AND CASE WHEN EXISTS (SELECT FROM pg_roles WHERE rolname = $2)
                    THEN has_table_privilege($2, c.oid, p.privilege) ELSE false END
         GROUP BY 1 ORDER BY 1",
        current_schema: "SELECT current_schema()::text AS name",
    });

    const INVALID_INDEXES: Option<&'static str> = Some(
        "SELECT c.relname::text AS index_name, t.relname::text AS table_name
         FROM pg_index i
         JOIN pg_class c ON c.oid = i.indexrelid
         JOIN pg_class t ON t.oid = i.indrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = current_schema() AND NOT i.indisvalid
         ORDER BY 1",
    );

    const LOCKS_HELD: Option<&'static str> = Some(
        "SELECT c.relname::text AS relation,
                CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'table' WHEN 'i' THEN 'index'
                     WHEN 'I' THEN 'index' WHEN 'S' THEN 'sequence' WHEN 'v' THEN 'view'
                     WHEN 'm' THEN 'materialized view' ELSE c.relkind::text END AS kind,
                l.mode::text AS mode,
                pg_total_relation_size(c.oid) AS bytes,
                c.reltuples::bigint AS rows_estimate
         FROM pg_locks l
         JOIN pg_class c ON c.oid = l.relation
         JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE l.pid = pg_backend_pid() AND l.locktype = 'relation' AND l.granted
           AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
         ORDER BY 1, 3",
    );

    fn rehearsal_setup(lock_timeout_ms: u32) -> Option<String> {
        Some(format!("SET LOCAL lock_timeout = '{lock_timeout_ms}ms'"))
    }

    fn prepare_session(&mut self, settings: &SessionSettings) -> QueryResult<()> {
        // Named statements break under pgbouncer's transaction mode (before 1.21);
        // unnamed ones work everywhere.
        if !settings.prepared_statements {
            self.set_prepared_statement_cache_size(CacheSize::Disabled);
        }
        Ok(())
    }

    fn begin_write(&mut self) -> QueryResult<()> {
        AnsiTransactionManager::begin_transaction(self)
    }

    fn table_exists_sql(table: &str) -> String {
        format!("SELECT to_regclass('{table}') IS NOT NULL AS present")
    }

    fn param(n: usize) -> String {
        format!("${n}")
    }

    fn try_lock(&mut self, key: i64) -> QueryResult<bool> {
        diesel::select(diesel::dsl::sql::<Bool>(&format!(
            "pg_try_advisory_lock({key})"
        )))
        .get_result(self)
    }

    fn add_column_if_missing(&mut self, table: &str, column: &str, ddl: &str) -> QueryResult<()> {
        self.batch_execute(&format!(
            "ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column} {ddl}"
        ))
    }

    fn table_columns_sql() -> String {
        "SELECT column_name::text AS name FROM information_schema.columns \
         WHERE table_schema = current_schema() AND table_name = $1"
            .to_owned()
    }

    fn unlock(&mut self, key: i64) -> QueryResult<()> {
        diesel::select(diesel::dsl::sql::<Bool>(&format!(
            "pg_advisory_unlock({key})"
        )))
        .get_result::<bool>(self)
        .map(|_| ())
    }

    fn app_role_sql(app: &AppRole<'_>) -> Option<String> {
        let AppRole {
            name: role,
            tables,
            bookkeeping,
            later_tables,
            settings,
            aws_iam_plugin: _,
        } = app;
        // Set on the role, so every session gets them at login: no `SET` that would pin an
        // RDS Proxy session.
        let settings: String = settings
            .iter()
            .map(|(name, value)| format!("ALTER ROLE {role} SET {name} = '{value}';\n"))
            .collect();
        let sequences: String = tables
            .iter()
            .map(|t| format!("EXECUTE format('GRANT USAGE, SELECT ON SEQUENCE %s TO {role}', pg_get_serial_sequence('{t}', 'id'));"))
            .collect();
        let tables = tables.join(", ");
        let later: String = later_tables
            .iter()
            .map(|(t, privileges)| {
                format!("IF to_regclass('{t}') IS NOT NULL THEN GRANT {privileges} ON {t} TO {role}; END IF;\n")
            })
            .collect();
        // Roles are cluster-wide: two databases provisioning at once may race on CREATE ROLE.
        Some(format!(
            "DO $$ BEGIN
                 IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN
                     BEGIN CREATE ROLE {role} LOGIN;
                     EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END;
                 END IF;
                 IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'rds_iam') THEN GRANT rds_iam TO {role}; END IF;
                 EXECUTE format('GRANT CONNECT ON DATABASE %I TO {role}', current_database());
                 {sequences}
             END $$;
             REVOKE CREATE ON SCHEMA public FROM PUBLIC;
             REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role};
             GRANT USAGE ON SCHEMA public TO {role};
             GRANT SELECT, INSERT, UPDATE, DELETE ON {tables} TO {role};
             GRANT SELECT ON {bookkeeping} TO {role};
             DO $$ BEGIN
                 {later}
             END $$;
             {settings}"
        ))
    }

    fn prepare_runner_session(&mut self, session: &RunnerSession<'_>) -> QueryResult<()> {
        // A migrator killed mid-statement (kill -9, a Lambda timeout) keeps its session, and
        // with it the runner lock, until the server notices: by default only when the
        // statement ends. `client_connection_check_interval` (PostgreSQL 14+) makes the
        // server poll the socket during a statement; the keepalives find a peer that
        // vanished without closing it (a frozen or torn-down sandbox). The client's own
        // keepalives are libpq keywords (`SessionSettings::with_tcp_keepalives`).
        let name = session.application_name.replace('\'', "");
        self.batch_execute(&format!(
            "SET application_name = '{name}';
             SET lock_timeout = {lock};
             SET statement_timeout = {statement};
             SET tcp_keepalives_idle = 5;
             SET tcp_keepalives_interval = 2;
             SET tcp_keepalives_count = 3;
             DO $$ BEGIN
                 IF current_setting('server_version_num')::int >= 140000 THEN
                     PERFORM set_config('client_connection_check_interval', '1s', false);
                 END IF;
             END $$;",
            lock = ms(session.lock_timeout),
            statement = ms(session.statement_timeout),
        ))
    }

    fn set_timeouts(&mut self, lock: Duration, statement: Duration) -> QueryResult<()> {
        self.batch_execute(&format!(
            "SET lock_timeout = {}; SET statement_timeout = {};",
            ms(lock),
            ms(statement)
        ))
    }

    fn reset_runner_session(&mut self) -> QueryResult<()> {
        self.batch_execute(&format!(
            "DO $$ DECLARE s record; BEGIN
                 FOR s IN SELECT name, reset_val FROM pg_settings WHERE name IN ({RUNNER_SETTINGS}) LOOP
                     PERFORM set_config(s.name, s.reset_val, false);
                 END LOOP;
             END $$;"
        ))
    }

    fn server_session(&mut self) -> QueryResult<Option<ServerSession>> {
        diesel::sql_query(
            "SELECT pg_is_in_recovery() AS in_recovery, pg_backend_pid() AS backend_pid, \
             host(inet_client_addr()) AS client_addr, inet_client_port() AS client_port",
        )
        .get_result(self)
        .map(Some)
    }
}

/// libpq's client-side TCP keepalives (`SessionSettings::tcp_keepalives`).
pub(super) const KEEPALIVES: [(&str, &str); 4] = [
    ("keepalives", "1"),
    ("keepalives_idle", "5"),
    ("keepalives_interval", "2"),
    ("keepalives_count", "3"),
];

/// A URL (`postgres://…`) or a conninfo string (`key=value …`) with `keywords` added,
/// except those it already sets (the operator's own choice wins).
pub(super) fn with_keywords(target: &str, keywords: &[(&str, &str)]) -> String {
    let mut out = target.to_owned();
    let is_url = target.starts_with("postgres://") || target.starts_with("postgresql://");
    for (key, value) in keywords {
        if target.contains(&format!("{key}=")) {
            continue;
        }
        if is_url {
            out.push(if out.contains('?') { '&' } else { '?' });
            out.push_str(&format!("{key}={value}"));
        } else {
            out.push_str(&format!(" {key}={value}"));
        }
    }
    out
}

/// The settings [`Dialect::prepare_runner_session`] changes, put back by
/// [`Dialect::reset_runner_session`] (those the server does not know are skipped).
const RUNNER_SETTINGS: &str = "'application_name', 'lock_timeout', 'statement_timeout', \
     'client_connection_check_interval', 'tcp_keepalives_idle', 'tcp_keepalives_interval', \
     'tcp_keepalives_count'";

fn ms(d: Duration) -> u128 {
    d.as_millis()
}

/// A lock wait that gave up (55P03: `lock_timeout`, `NOWAIT`) or a deadlock (40P01).
pub(super) fn is_lock_conflict(message: &str) -> bool {
    message.contains("canceling statement due to lock timeout")
        || message.contains("could not obtain lock")
        || message.contains("deadlock detected")
}

/// A deadlock (40P01), or the statement or lock timeout cancelling a statement (57014,
/// 55P03): diesel reports these as `Unknown`, so they are told by PostgreSQL's message.
pub(super) fn is_busy(message: &str) -> bool {
    message.contains("deadlock detected")
        || message.contains("canceling statement due to statement timeout")
        || message.contains("canceling statement due to lock timeout")
        || message.contains("could not obtain lock")
}

#[cfg(test)]
mod tests {
    use super::with_keywords;

    #[test]
    fn keywords_join_a_url_or_a_conninfo_unless_already_set() {
        let k = [("keepalives", "1"), ("keepalives_idle", "5")];
        assert_eq!(
            with_keywords("postgres://u@h/db", &k),
            "postgres://u@h/db?keepalives=1&keepalives_idle=5"
        );
        assert_eq!(
            with_keywords("postgresql://u@h/db?sslmode=require&keepalives_idle=9", &k),
            "postgresql://u@h/db?sslmode=require&keepalives_idle=9&keepalives=1"
        );
        assert_eq!(
            with_keywords("host='h' port='5432'", &k),
            "host='h' port='5432' keepalives=1 keepalives_idle=5"
        );
    }
}
