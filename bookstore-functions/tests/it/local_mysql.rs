//! `bookstore-local` serving from `DATABASE_URL=mysql://…` (the `mysql` feature): the real
//! binary migrates an empty MariaDB database at start and answers over HTTP.

use std::{
    io::{Read, Write},
    net::TcpStream,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use bookstore_testing::TestDb;

use crate::support::{book_json, closed_port};

/// Kills the server when the test ends, however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One HTTP/1.1 request on a new connection: the status and the body.
fn request(port: u16, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {response}"));
    let body = response
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    (status, body)
}

#[test]
fn bookstore_local_serves_from_a_mysql_database_url() {
    let db = TestDb::mysql_empty("local_mysql");
    let port = closed_port();
    let mut server = Server(
        Command::new(env!("CARGO_BIN_EXE_bookstore-local"))
            .env("DATABASE_URL", db.url())
            .env("PORT", port.to_string())
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            server.0.try_wait().unwrap().is_none(),
            "bookstore-local exited before listening"
        );
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "bookstore-local did not listen within 60 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let (status, body) = request(port, "POST", "/book", &book_json("Dune").to_string());
    assert_eq!(status, 201, "{body}");
    let (status, body) = request(port, "GET", "/book", "");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"Dune\""), "{body}");
    // It migrated the empty database to the head of migrations/mysql.
    let mut conn = db.connect();
    assert!(matches!(
        bookstore_schema::migrate::check_schema(&mut conn).unwrap(),
        bookstore_schema::migrate::SchemaCheck::Current { .. }
    ));
}
