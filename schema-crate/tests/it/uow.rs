use std::panic::{AssertUnwindSafe, catch_unwind};

use bookstore_schema::{Book, NewBook, one_statement, transactional};
use bookstore_testing::TestDb;

use crate::count;

const BOOK: NewBook<'static> = NewBook {
    title: "T",
    author: "A",
    publisher: "P",
    year: 2000,
};

/// How many books there are.
fn books(conn: &mut bookstore_schema::DbConnection) -> i64 {
    count(conn, "SELECT count(*) AS n FROM book")
}

#[derive(Debug)]
struct Failed;
impl From<diesel::result::Error> for Failed {
    fn from(_: diesel::result::Error) -> Self {
        Failed
    }
}

#[test]
fn ok_commits_err_and_panic_roll_back_and_nested_calls_join_on_both_backends() {
    for db in [TestDb::migrated("uow"), TestDb::sqlite_migrated("uow")] {
        let mut conn = db.connect();
        transactional(&mut conn, |c| Book::create(c, &BOOK).map(|_| ())).unwrap();
        assert_eq!(books(&mut conn), 1);

        let result: Result<(), Failed> = transactional(&mut conn, |c| {
            Book::create(c, &BOOK)?;
            Err(Failed)
        });
        assert!(result.is_err());
        assert_eq!(books(&mut conn), 1, "{:?}: Err rolled back", db.backend());

        let panicked = catch_unwind(AssertUnwindSafe(|| {
            let _: Result<(), Failed> = transactional(&mut conn, |c| {
                Book::create(c, &BOOK)?;
                panic!("handler bug");
            });
        }));
        assert!(panicked.is_err());
        assert_eq!(books(&mut conn), 1, "{:?}: panic rolled back", db.backend());
        assert!(
            !bookstore_schema::uow::in_transaction(&mut conn).unwrap(),
            "no transaction left open after a panic"
        );

        // The inner call joins: when the outer fails, the inner write goes too.
        let nested: Result<(), Failed> = transactional(&mut conn, |c| {
            transactional(c, |c| Book::create(c, &BOOK).map(|_| ()))?;
            assert!(bookstore_schema::uow::in_transaction(c).unwrap());
            Err(Failed)
        });
        assert!(nested.is_err());
        assert_eq!(
            books(&mut conn),
            1,
            "{:?}: nested write rolled back",
            db.backend()
        );

        // And when the outer succeeds, both commit together.
        let joined: Result<(), Failed> = transactional(&mut conn, |c| {
            transactional(c, |c| Book::create(c, &BOOK).map(|_| ()))?;
            Book::create(c, &BOOK)?;
            Ok(())
        });
        joined.unwrap();
        assert_eq!(books(&mut conn), 3);
    }
}

#[test]
fn one_statement_sends_no_begin_or_commit_and_refuses_a_second_statement_in_debug_builds() {
    for db in [
        TestDb::migrated("uow_one"),
        TestDb::sqlite_migrated("uow_one"),
    ] {
        let mut conn = db.connect();
        let before = conn.statements_sent().unwrap();
        let book = one_statement(&mut conn, |c| Book::create(c, &BOOK)).unwrap();
        assert_eq!(
            conn.statements_sent().unwrap() - before,
            1,
            "{:?}: the insert alone, no BEGIN/COMMIT",
            db.backend()
        );
        assert_eq!(books(&mut conn), 1);

        // A failing statement writes nothing: the database rolled it back on its own.
        let failed = one_statement(&mut conn, |c| {
            Book::create(
                c,
                &NewBook {
                    title: &"x".repeat(300),
                    ..BOOK
                },
            )
        });
        assert!(failed.is_err(), "{:?}: a 300-character title", db.backend());
        assert_eq!(books(&mut conn), 1);

        // Inside a transaction it joins, like `transactional`.
        let joined: Result<(), Failed> = transactional(&mut conn, |c| {
            one_statement(c, |c| Book::create(c, &BOOK))?;
            Err(Failed)
        });
        assert!(joined.is_err());
        assert_eq!(books(&mut conn), 1);

        // Two statements are a bug: debug builds panic (after the fact: both ran).
        let two = catch_unwind(AssertUnwindSafe(|| {
            one_statement(&mut conn, |c| {
                Book::find(c, book.id)?;
                Book::find(c, book.id)
            })
        }));
        assert_eq!(
            two.is_err(),
            cfg!(debug_assertions),
            "{:?}: panics exactly in debug builds",
            db.backend()
        );
        assert!(!bookstore_schema::uow::in_transaction(&mut conn).unwrap());
    }
}

/// MySQL has no `RETURNING`: a write that returns its row is two statements there, so
/// `one_statement` runs its work as a transaction (no debug panic, and a failure after the
/// write takes the write back, which a lone statement on the other backends needs no
/// transaction for).
#[cfg(feature = "mysql")]
#[test]
fn one_statement_is_a_transaction_on_mysql_so_a_write_that_reads_back_is_atomic() {
    let db = TestDb::mysql_migrated("uow_one_mysql");
    let mut conn = db.connect();
    let book = one_statement(&mut conn, |c| Book::create(c, &BOOK)).unwrap();
    assert_eq!((book.title.as_str(), book.year), ("T", 2000));
    assert_eq!(books(&mut conn), 1);

    let failed: Result<Book, Failed> = one_statement(&mut conn, |c| {
        Book::create(c, &BOOK)?;
        Err(Failed)
    });
    assert!(failed.is_err());
    assert_eq!(
        books(&mut conn),
        1,
        "the insert before the error rolled back"
    );
    assert!(!bookstore_schema::uow::in_transaction(&mut conn).unwrap());
}

/// Puts diesel's transaction manager of `conn` in its error state, as a failed
/// `ROLLBACK` leaves it.
fn break_transaction_manager(conn: &mut bookstore_schema::DbConnection) {
    use bookstore_schema::BackendConnection;
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    match conn.backend_connection() {
        BackendConnection::Postgres(c) => {
            AnsiTransactionManager::transaction_manager_status_mut(c).set_in_error();
        }
        BackendConnection::Sqlite(c) => {
            AnsiTransactionManager::transaction_manager_status_mut(c).set_in_error();
        }
        _ => unreachable!("a backend this test does not know"),
    }
}

#[test]
fn a_broken_transaction_manager_is_an_error_never_a_transaction_to_join_on_both_backends() {
    for db in [
        TestDb::migrated("uow_broken"),
        TestDb::sqlite_migrated("uow_broken"),
    ] {
        let mut conn = db.connect();
        break_transaction_manager(&mut conn);
        assert!(
            matches!(
                bookstore_schema::uow::in_transaction(&mut conn),
                Err(diesel::result::Error::BrokenTransactionManager)
            ),
            "{:?}",
            db.backend()
        );
        let mut ran = false;
        let mut work = |c: &mut bookstore_schema::DbConnection| {
            ran = true;
            Book::create(c, &BOOK).map(|_| ())
        };
        let results = [
            ("transactional", transactional(&mut conn, &mut work)),
            ("one_statement", one_statement(&mut conn, &mut work)),
        ];
        for (name, result) in results {
            assert!(
                matches!(result, Err(diesel::result::Error::BrokenTransactionManager)),
                "{:?} {name}: {result:?}",
                db.backend()
            );
        }
        assert!(
            !ran,
            "{:?}: the work ran without its transaction",
            db.backend()
        );
        assert_eq!(
            books(&mut db.connect()),
            0,
            "{:?}: nothing was written",
            db.backend()
        );
    }
}
