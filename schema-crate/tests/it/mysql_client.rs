//! The MySQL client library the `mysql` feature links (MySQL's own, built from source by
//! `mysqlclient-sys`'s `bundled` feature) against the local MariaDB (127.0.0.1:3306,
//! root, no password, TLS off): it connects, and it refuses to go on without TLS when
//! `ssl_mode` asks for it. Debian's libmariadb connected without TLS here (FACTS.md), so
//! this test fails if the build ever falls back to it.

use diesel::{Connection, MysqlConnection, RunQueryDsl, sql_types::Text};

const SERVER: &str = "mysql://root@127.0.0.1:3306/test";

#[derive(diesel::QueryableByName)]
struct Value {
    #[diesel(sql_type = Text)]
    value: String,
}

fn variable(conn: &mut MysqlConnection, name: &str) -> String {
    diesel::sql_query(format!("SELECT CAST(@@{name} AS CHAR) AS value"))
        .get_result::<Value>(conn)
        .unwrap()
        .value
}

#[test]
fn the_mysql_client_connects_and_refuses_a_server_without_tls_when_tls_is_required() {
    let mut plain = MysqlConnection::establish(SERVER).unwrap();
    assert!(
        variable(&mut plain, "version").contains("MariaDB"),
        "the tests expect the local MariaDB on 127.0.0.1:3306"
    );
    // The proof needs a server that offers no TLS; the local one is configured so.
    assert_eq!(
        variable(&mut plain, "have_ssl"),
        "DISABLED",
        "the local MariaDB offers TLS: this test cannot tell an enforced ssl_mode from an ignored one"
    );
    for mode in ["required", "verify_ca", "verify_identity"] {
        let error = MysqlConnection::establish(&format!("{SERVER}?ssl_mode={mode}"))
            .err()
            .unwrap_or_else(|| {
                panic!(
                    "ssl_mode={mode} connected to a server without TLS: the client ignores ssl_mode"
                )
            });
        let message = error.to_string();
        assert!(
            message.contains("SSL") || message.contains("TLS") || message.contains("ssl"),
            "ssl_mode={mode} failed for another reason: {message}"
        );
    }
}
