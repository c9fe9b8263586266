SET LOCAL lock_timeout = '5s';
ALTER TABLE review ADD CONSTRAINT review_book_id_present CHECK (book_id IS NOT NULL) NOT VALID;
ALTER TABLE review ALTER COLUMN book_id DROP NOT NULL;
-- Quarantined rows stay in review_quarantine; reverting the previous migration returns them.
