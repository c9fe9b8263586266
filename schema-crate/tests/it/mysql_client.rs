//! The MySQL client library the `mysql` feature links (MySQL's own, built from source by
//! `mysqlclient-sys`'s `bundled` feature) reaches the local MariaDB (`TEST_MYSQL_URL`).
//! That it enforces TLS is `mysql_tls`'s proof, on servers of its own.

use diesel::{Connection, MysqlConnection, RunQueryDsl, sql_types::Text};

#[derive(diesel::QueryableByName)]
struct Value {
    #[diesel(sql_type = Text)]
    value: String,
}

#[test]
fn the_mysql_client_connects_to_the_local_mariadb() {
    let url = bookstore_testing::mysql_admin_url();
    let mut conn = MysqlConnection::establish(&url).unwrap();
    let version = diesel::sql_query("SELECT CAST(VERSION() AS CHAR) AS value")
        .get_result::<Value>(&mut conn)
        .unwrap()
        .value;
    assert!(
        version.contains("MariaDB") || version.starts_with('8') || version.starts_with('9'),
        "{version}"
    );
}
