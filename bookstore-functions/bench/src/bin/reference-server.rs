//! The throughput baseline: `GET /book/{id}` from a minimal axum + tokio-postgres server,
//! the fastest stack measured for this route on this machine (issue 14). It answers with
//! the same JSON and `ETag` as `bookstore-local`, from the same SQL, over TLS, so that the
//! difference between the two rows is what our design costs: sync diesel + r2d2, the
//! request deadline, the schema gate, logging and the kit's middleware.
//!
//! ```sh
//! DATABASE_URL=postgres://postgres@127.0.0.1:5432/db?sslmode=require PORT=3001 DB_POOL_SIZE=4 \
//!   target/release/reference-server
//! ```
//!
//! `DB_POOL_SIZE` connections, each with the statement prepared once, taken in turn
//! (tokio-postgres pipelines the requests that share one). Not a product: no errors beyond
//! 404 and 503, no logging, no configuration beyond these three variables.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};

use anyhow::Context as _;
use axum::{
    Json, Router,
    extract::{Path, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use chrono::{DateTime, Utc};
use openssl::ssl::{SslConnector, SslMethod, SslVerifyMode};
use postgres_openssl::MakeTlsConnector;
use serde::Serialize;
use sha2::{Digest as _, Sha256};
use tokio_postgres::{Client, Statement};

const SELECT_BOOK: &str = "SELECT b.id, b.title, b.author, b.publisher, b.year, b.created_at, \
     s.review_count, s.rate_sum \
     FROM book b LEFT JOIN book_review_stats s ON s.book_id = b.id WHERE b.id = $1 LIMIT 1";

struct Connection {
    client: Client,
    select: Statement,
}

struct Shared {
    connections: Vec<Connection>,
    next: AtomicUsize,
}

/// The book's own fields, as `bookstore-local` serializes them (and hashes for its ETag).
#[derive(Serialize)]
struct BookBody {
    id: i32,
    title: String,
    author: String,
    publisher: String,
    year: i32,
    created_at: DateTime<Utc>,
}

#[derive(Serialize)]
struct BookDetail<'a> {
    #[serde(flatten)]
    book: &'a BookBody,
    review_count: i64,
    average_rate: Option<f64>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let url = std::env::var("DATABASE_URL").context("DATABASE_URL is not set")?;
    let port: u16 = std::env::var("PORT")
        .unwrap_or_else(|_| "3001".to_owned())
        .parse()
        .context("PORT is not a port number")?;
    let size: usize = std::env::var("DB_POOL_SIZE")
        .unwrap_or_else(|_| "4".to_owned())
        .parse()
        .context("DB_POOL_SIZE is not a number")?;
    // Encrypted, not verified: the local server's certificate is self-signed, as with
    // libpq's `sslmode=require` on the other side of the comparison.
    let mut tls = SslConnector::builder(SslMethod::tls()).context("TLS")?;
    tls.set_verify(SslVerifyMode::NONE);
    let tls = MakeTlsConnector::new(tls.build());
    let mut connections = Vec::with_capacity(size);
    for _ in 0..size.max(1) {
        let (client, connection) = tokio_postgres::connect(&url, tls.clone())
            .await
            .context("connecting to the database")?;
        tokio::spawn(connection);
        let select = client.prepare(SELECT_BOOK).await.context("preparing")?;
        connections.push(Connection { client, select });
    }
    let shared = Arc::new(Shared {
        connections,
        next: AtomicUsize::new(0),
    });
    let router = Router::new()
        .route("/book/{id}", get(show))
        .with_state(shared);
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port)))
        .await
        .context("listening")?;
    axum::serve(listener, router).await.context("serving")
}

async fn show(State(shared): State<Arc<Shared>>, Path(id): Path<i32>) -> Response {
    let n = shared.next.fetch_add(1, Ordering::Relaxed) % shared.connections.len();
    let conn = &shared.connections[n];
    let row = match conn.client.query_opt(&conn.select, &[&id]).await {
        Ok(Some(row)) => row,
        Ok(None) => return StatusCode::NOT_FOUND.into_response(),
        Err(_) => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
    };
    let book = BookBody {
        id: row.get(0),
        title: row.get(1),
        author: row.get(2),
        publisher: row.get(3),
        year: row.get(4),
        created_at: row.get(5),
    };
    let count: i64 = row.get::<_, Option<i64>>(6).unwrap_or(0);
    let sum: Option<i64> = row.get(7);
    #[expect(
        clippy::cast_precision_loss,
        reason = "review counts and rate sums are far below 2^52"
    )]
    let average_rate = sum
        .filter(|_| count > 0)
        .map(|s| ((s as f64 / count as f64) * 100.0).round() / 100.0);
    let etag = serde_json::to_vec(&book)
        .map(|bytes| {
            let digest = Sha256::digest(&bytes);
            let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
            format!("\"{hex}\"")
        })
        .unwrap_or_default();
    let mut response = Json(BookDetail {
        book: &book,
        review_count: count,
        average_rate,
    })
    .into_response();
    if let Ok(value) = HeaderValue::from_str(&etag) {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}
