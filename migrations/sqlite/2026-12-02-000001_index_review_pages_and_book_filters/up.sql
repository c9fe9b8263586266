CREATE INDEX review_book_id_id_idx ON review (book_id, id);
CREATE INDEX book_author_id_idx ON book (author, id);
CREATE INDEX book_title_prefix_idx ON book (title);
