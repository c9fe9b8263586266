CREATE INDEX review_book_id_idx ON review (book_id);
