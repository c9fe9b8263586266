-- InnoDB indexed review.book_id when the foreign key was created (the index
-- review_book_id_fkey): give it PostgreSQL's name instead of building a second one.
-- Renaming an index is metadata-only.
ALTER TABLE review RENAME INDEX review_book_id_fkey TO review_book_id_idx;
