DROP INDEX review_book_id_idx;
