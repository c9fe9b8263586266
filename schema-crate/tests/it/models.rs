use bookstore_schema::{Book, NewBook, NewReview, Review};
use bookstore_testing::TestDb;

fn both(test: &str) -> [TestDb; 2] {
    [TestDb::migrated(test), TestDb::sqlite_migrated(test)]
}

const DUNE: NewBook<'static> = NewBook {
    title: "Dune",
    author: "Frank Herbert",
    publisher: "Chilton",
    year: 1965,
};

#[test]
fn books_are_created_found_and_paged_by_id_on_both_backends() {
    for db in both("books_paged") {
        let mut conn = db.connect();
        let created: Vec<Book> = (0..5)
            .map(|i| {
                Book::create(
                    &mut conn,
                    &NewBook {
                        year: 2000 + i,
                        ..DUNE
                    },
                )
                .unwrap()
            })
            .collect();
        assert_eq!(
            Book::find(&mut conn, created[2].id).unwrap().as_ref(),
            Some(&created[2]),
            "{:?}",
            db.backend()
        );
        assert_eq!(Book::find(&mut conn, 999_999).unwrap(), None);
        let first = Book::page(&mut conn, None, 2).unwrap();
        assert_eq!(first.items, created[..2].to_vec());
        assert_eq!(first.next_after, Some(created[1].id));
        let rest = Book::page(&mut conn, first.next_after, 10).unwrap();
        assert_eq!(rest.items, created[2..].to_vec());
        assert_eq!(rest.next_after, None);
        assert!(
            created[0].created_at.and_utc().timestamp() > 1_700_000_000,
            "created_at is set by the database"
        );
    }
}

#[test]
fn reviews_page_per_book_and_stats_add_up_on_both_backends() {
    for db in both("reviews_stats") {
        let mut conn = db.connect();
        let a = Book::create(&mut conn, &DUNE).unwrap();
        let b = Book::create(&mut conn, &DUNE).unwrap();
        for (book, rate) in [(a.id, 5), (a.id, 2), (b.id, 4)] {
            Review::create(
                &mut conn,
                &NewReview {
                    book_id: book,
                    reviewer: "r",
                    rate,
                    review: Some("ok"),
                },
            )
            .unwrap();
        }
        let page = Review::page(&mut conn, Some(a.id), None, 50).unwrap();
        assert_eq!(
            page.items.iter().map(|r| r.rate).collect::<Vec<_>>(),
            vec![5, 2]
        );
        assert_eq!(page.items[0].review.as_deref(), Some("ok"));
        assert_eq!(
            Review::page(&mut conn, None, None, 50).unwrap().items.len(),
            3
        );
        let (found, stats) = Book::find_with_stats(&mut conn, a.id).unwrap().unwrap();
        assert_eq!(found, a);
        assert_eq!((stats.count, stats.average_rate), (2, Some(3.5)));
        let c = Book::create(&mut conn, &DUNE).unwrap();
        let (found, stats) = Book::find_with_stats(&mut conn, c.id).unwrap().unwrap();
        assert_eq!(found, c);
        assert_eq!((stats.count, stats.average_rate), (0, None), "no reviews");
        assert_eq!(Book::find_with_stats(&mut conn, 999_999).unwrap(), None);

        type Paged = fn(
            &mut bookstore_schema::DbConnection,
            i32,
            Option<i32>,
            i64,
        ) -> diesel::QueryResult<Option<bookstore_schema::Page<Review>>>;
        let forms: [(&str, Paged); 1] = [("book_page", Review::book_page)];
        for (form, paged) in forms {
            let first = paged(&mut conn, a.id, None, 1).unwrap().unwrap();
            assert_eq!(
                first.items,
                page.items[..1].to_vec(),
                "{form} {:?}",
                db.backend()
            );
            assert_eq!(first.next_after, Some(page.items[0].id));
            let rest = paged(&mut conn, a.id, first.next_after, 10)
                .unwrap()
                .unwrap();
            assert_eq!(rest.items, page.items[1..].to_vec(), "{form}");
            assert_eq!(rest.next_after, None);
            let past_the_end = paged(&mut conn, a.id, Some(i32::MAX), 10).unwrap().unwrap();
            assert!(
                past_the_end.items.is_empty(),
                "an existing book, no more reviews"
            );
            let empty = paged(&mut conn, c.id, None, 10).unwrap().unwrap();
            assert!(empty.items.is_empty() && empty.next_after.is_none());
            assert_eq!(
                paged(&mut conn, 999_999, None, 10).unwrap(),
                None,
                "a missing book"
            );
        }
    }
}

#[test]
fn the_database_enforces_rates_lengths_and_existing_books_on_both_backends() {
    for db in both("constraints") {
        let mut conn = db.connect();
        let book = Book::create(&mut conn, &DUNE).unwrap();
        let bad_rate = Review::create(
            &mut conn,
            &NewReview {
                book_id: book.id,
                reviewer: "r",
                rate: 6,
                review: None,
            },
        );
        assert!(bad_rate.is_err(), "{:?}: rate 6 accepted", db.backend());
        let no_book = Review::create(
            &mut conn,
            &NewReview {
                book_id: 424_242,
                reviewer: "r",
                rate: 3,
                review: None,
            },
        );
        assert!(
            no_book.is_err(),
            "{:?}: review of a missing book accepted",
            db.backend()
        );
        let long = "x".repeat(201);
        assert!(
            Book::create(
                &mut conn,
                &NewBook {
                    title: &long,
                    ..DUNE
                }
            )
            .is_err(),
            "{:?}",
            db.backend()
        );
    }
}
