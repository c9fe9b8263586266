DROP INDEX book_title_prefix_idx ON book;
DROP INDEX book_author_id_idx ON book;
DROP INDEX review_book_id_id_idx ON review;
