//! The runner's own session: named, watched for a dead client, timed out, and checked to
//! be a direct session to a writer before it takes the lock.

use std::collections::HashSet;

use super::{MigrationError, RUNNER_APPLICATION_NAME, retry::Budget};
use crate::{
    DbConnection,
    backend::{Dialect as _, RunnerSession, ServerSession, with_conn},
};

/// Names the session after the runner, makes the server notice a dead client within
/// seconds, and sets the run's default timeouts.
pub(crate) fn prepare(conn: &mut DbConnection, budget: &Budget) -> Result<(), MigrationError> {
    let (lock_timeout, statement_timeout) = budget.defaults();
    let session = RunnerSession {
        application_name: RUNNER_APPLICATION_NAME,
        lock_timeout,
        statement_timeout,
    };
    with_conn!(&mut *conn, c => c.prepare_runner_session(&session)).map_err(|source| {
        MigrationError::Database {
            context: "preparing the runner's session",
            source,
        }
    })
}

/// Puts the session's settings back (best effort: closing the session does it too).
pub(crate) fn reset(conn: &mut DbConnection) {
    if let Err(error) = with_conn!(&mut *conn, c => c.reset_runner_session()) {
        tracing::warn!(error = %error, "could not reset the runner's session settings");
    }
}

const PROXY_FIX: &str = "connect the runner straight to the cluster's writer endpoint (DATABASE_URL or DB_HOST), not through RDS Proxy or pgbouncer: a transaction-pooling proxy does not keep the runner's session lock between transactions";
const RELAY_FIX: &str = "connect the runner straight to the cluster's writer endpoint (DATABASE_URL or DB_HOST), not through RDS Proxy or pgbouncer: a transaction-pooling proxy does not keep the runner's session lock between transactions; if this is a plain TCP relay that keeps one server session per client (an SSH tunnel, SSM port forwarding, docker-proxy), allow it explicitly (schema-admin --allow-tcp-relay, SCHEMA_ALLOW_TCP_RELAY=true)";
const WRITER_FIX: &str = "point DATABASE_URL or DB_HOST at the cluster's writer endpoint, not a reader endpoint or a replica";

/// Refuses a session the runner cannot trust with its lock: one on a standby, one whose
/// transactions land on different server sessions (a transaction-pooling proxy), or,
/// unless `allow_tcp_relay`, one the server sees coming from a socket this process does
/// not own (a proxy relaying it, which may hand the next transaction to another session
/// at any time; with one client pgbouncer hands it the same one, so only this check
/// sees it).
pub(crate) fn check_direct_writer(
    conn: &mut DbConnection,
    allow_tcp_relay: bool,
) -> Result<(), MigrationError> {
    let look = |conn: &mut DbConnection| {
        with_conn!(&mut *conn, c => c.server_session()).map_err(|source| MigrationError::Database {
            context: "checking the connection",
            source,
        })
    };
    // Two statements outside a transaction: two transactions.
    let Some(first) = look(conn)? else {
        return Ok(());
    };
    let second = look(conn)?.unwrap_or_else(|| first.clone());
    if first.in_recovery || second.in_recovery {
        return Err(MigrationError::WrongConnection {
            reason: "the server is in recovery (pg_is_in_recovery() is true): a standby cannot apply migrations".into(),
            fix: WRITER_FIX,
        });
    }
    if first.backend_pid != second.backend_pid {
        return Err(MigrationError::WrongConnection {
            reason: format!(
                "two transactions on this connection ran in two server sessions (backend pid {} then {}): a transaction-pooling proxy is in between",
                first.backend_pid, second.backend_pid
            ),
            fix: PROXY_FIX,
        });
    }
    if let ServerSession {
        client_addr: Some(addr),
        client_port: Some(port),
        ..
    } = &first
        && !allow_tcp_relay
        && owns_local_port(*port) == Some(false)
    {
        return Err(MigrationError::WrongConnection {
            reason: format!(
                "the server sees this session coming from {addr} port {port}, a socket this process does not own: a proxy relays it"
            ),
            fix: RELAY_FIX,
        });
    }
    Ok(())
}

/// Whether this process has a TCP socket whose local port is `port` (Linux, from
/// `/proc`); `None` where that cannot be told (no `/proc`, unreadable).
fn owns_local_port(port: i32) -> Option<bool> {
    let inodes: HashSet<u64> = std::fs::read_dir("/proc/self/fd")
        .ok()?
        .filter_map(|entry| {
            let target = std::fs::read_link(entry.ok()?.path()).ok()?;
            let target = target.to_str()?;
            target
                .strip_prefix("socket:[")?
                .strip_suffix(']')?
                .parse()
                .ok()
        })
        .collect();
    let mut read_any = false;
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        read_any = true;
        if sockets_on_port(&text, port).any(|inode| inodes.contains(&inode)) {
            return Some(true);
        }
    }
    read_any.then_some(false)
}

/// The inodes of the sockets in a `/proc/net/tcp` table whose local port is `port`.
fn sockets_on_port(table: &str, port: i32) -> impl Iterator<Item = u64> + '_ {
    table.lines().skip(1).filter_map(move |line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let local_port = fields.get(1)?.rsplit_once(':')?.1;
        let local_port = i32::from_str_radix(local_port, 16).ok()?;
        (local_port == port).then(|| fields.get(9)?.parse().ok())?
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_proc_net_tcp_table_is_read_by_local_port() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
           0: 0100007F:1538 00000000:0000 0A 00000000:00000000 00:00000000 00000000   105        0 21370 1 0000000000000000 100 0 0 10 0\n\
           1: 0100007F:D2F4 0100007F:1538 01 00000000:00000000 02:000A7BBD 00000000     0        0 998877 2 0000000000000000 20 4 30 10 -1\n";
        assert_eq!(sockets_on_port(table, 0xD2F4).collect::<Vec<_>>(), [998877]);
        assert_eq!(sockets_on_port(table, 5432).collect::<Vec<_>>(), [21370]);
        assert_eq!(sockets_on_port(table, 1).count(), 0);
    }

    #[test]
    fn this_process_owns_its_own_listening_socket_and_not_a_free_port() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = i32::from(listener.local_addr().unwrap().port());
        if std::path::Path::new("/proc/net/tcp").exists() {
            assert_eq!(owns_local_port(port), Some(true));
            drop(listener);
            assert_eq!(owns_local_port(port), Some(false));
        }
    }
}
