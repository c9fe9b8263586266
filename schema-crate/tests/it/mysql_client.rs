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

/// The database given as `DB_ENGINE=mysql` and parts, with a password full of URL
/// delimiters (an IAM token has `%`, `&` and `=`): each part reaches the server intact,
/// and a wrong password's error shows none of it.
#[test]
fn parts_with_a_password_full_of_url_delimiters_sign_in() {
    use bookstore_schema::{DbConnection, DbTarget, SessionSettings};

    let db = bookstore_testing::TestDb::mysql_empty("mysql_parts_login");
    let password = "p@ss:w/rd?%41&x=1#+ 'q";
    let user = format!("parts_{}", std::process::id());
    let mut admin = MysqlConnection::establish(&bookstore_testing::mysql_admin_url()).unwrap();
    diesel::sql_query(format!(
        "CREATE OR REPLACE USER '{user}'@'%' IDENTIFIED BY '{}'",
        password.replace('\'', "''")
    ))
    .execute(&mut admin)
    .unwrap();
    let mut vars: Vec<(String, String)> = db
        .db_vars()
        .into_iter()
        .filter(|(k, _)| k != "DB_USER" && k != "DB_PASSWORD")
        .collect();
    let (_, dbname) = vars.iter().find(|(k, _)| k == "DB_NAME").unwrap();
    diesel::sql_query(format!("GRANT SELECT ON `{dbname}`.* TO '{user}'@'%'"))
        .execute(&mut admin)
        .unwrap();
    vars.push(("DB_USER".into(), user.clone()));
    let connect = |password: &str| {
        let mut vars = vars.clone();
        vars.push(("DB_PASSWORD".into(), password.to_owned()));
        let pairs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let target = DbTarget::from_lookup(bookstore_testing::lookup(&pairs)).unwrap();
        DbConnection::establish(&target, None, SessionSettings::default())
    };
    let mut conn = connect(password).expect("the password reaches the server intact");
    let who = diesel::sql_query("SELECT CAST(CURRENT_USER() AS CHAR) AS value")
        .get_result::<Value>(match conn.backend_connection() {
            bookstore_schema::BackendConnection::Mysql(c) => c,
            _ => unreachable!("a MySQL target"),
        })
        .unwrap()
        .value;
    assert_eq!(who, format!("{user}@%"));
    let wrong = connect("hunter2-very-secret").expect_err("a wrong password is refused");
    let message = wrong.to_string();
    assert!(
        !message.contains("hunter2") && !message.contains("p@ss"),
        "leaked: {message}"
    );
    diesel::sql_query(format!("DROP USER '{user}'@'%'"))
        .execute(&mut admin)
        .unwrap();
}
