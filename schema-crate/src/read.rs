//! Reads that may go to a replica, kept apart from writes by the compiler.
//!
//! The models' read queries (`Book::page`, `Book::find`, `Book::find_with_stats`,
//! `Review::page`, `Review::book_page`) take any [`Read`] connection: a
//! [`DbConnection`] (the writer) or a [`ReadConnection`] (a replica, or the writer lent for
//! reads). Their writes (`Book::create`, `Review::create`, [`crate::transactional`]) take a
//! [`DbConnection`] only, so a write on a reader does not compile:
//!
//! ```compile_fail
//! # fn reader(conn: &mut bookstore_schema::DbConnection) {
//! use bookstore_schema::{Book, NewBook, read::ReadConnection};
//! let mut reader = ReadConnection::new(conn);
//! let new = NewBook { title: "Dune", author: "Frank Herbert", publisher: "Chilton", year: 1965 };
//! Book::create(&mut reader, &new); // expected `&mut DbConnection`, found `&mut ReadConnection<'_>`
//! # }
//! ```
//!
//! while a read compiles on either:
//!
//! ```no_run
//! # fn reader(conn: &mut bookstore_schema::DbConnection) -> diesel::QueryResult<()> {
//! use bookstore_schema::{Book, read::ReadConnection};
//! let mut reader = ReadConnection::new(conn);
//! let page = Book::page(&mut reader, None, 10)?;
//! # Ok(()) }
//! ```
//!
//! [`ReadConnection::backend_connection`] hands out diesel's connection for a read query
//! of an app's own; it could write, but a replica refuses (SQLSTATE 25006, a transient
//! `503`), so the type is a guard for this crate's API, the replica the last word.

use crate::{BackendConnection, DbConnection, pool::PooledConnection};

/// A connection lent for reads only (a replica's, or the writer's).
#[derive(Debug)]
pub struct ReadConnection<'a> {
    conn: &'a mut DbConnection,
}

impl<'a> ReadConnection<'a> {
    /// `conn`, for reads only.
    pub fn new(conn: &'a mut DbConnection) -> Self {
        Self { conn }
    }

    /// diesel's own connection, for a read query of your own (see the module docs).
    pub fn backend_connection(&mut self) -> BackendConnection<'_> {
        self.conn.backend_connection()
    }

    /// Which backend this connection speaks.
    pub fn backend(&self) -> crate::Backend {
        self.conn.backend()
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for crate::DbConnection {}
    impl Sealed for crate::pool::PooledConnection {}
    impl Sealed for super::ReadConnection<'_> {}
}

/// What a read query runs on: [`DbConnection`], a pooled one, or [`ReadConnection`].
/// Sealed: only this crate implements it.
pub trait Read: sealed::Sealed {
    /// The connection underneath, for this crate's read queries.
    #[doc(hidden)]
    fn read_connection(&mut self) -> &mut DbConnection;
}

impl Read for DbConnection {
    fn read_connection(&mut self) -> &mut DbConnection {
        self
    }
}

impl Read for PooledConnection {
    fn read_connection(&mut self) -> &mut DbConnection {
        self
    }
}

impl Read for ReadConnection<'_> {
    fn read_connection(&mut self) -> &mut DbConnection {
        self.conn
    }
}
