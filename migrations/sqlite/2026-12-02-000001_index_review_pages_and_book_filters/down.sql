DROP INDEX book_title_prefix_idx;
DROP INDEX book_author_id_idx;
DROP INDEX review_book_id_id_idx;
