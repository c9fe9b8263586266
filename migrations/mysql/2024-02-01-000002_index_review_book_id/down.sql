-- The foreign key needs an index on book_id: dropping it would fail, so it gets its old
-- name back.
ALTER TABLE review RENAME INDEX review_book_id_idx TO review_book_id_fkey;
