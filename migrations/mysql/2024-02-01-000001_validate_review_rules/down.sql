ALTER TABLE review ADD CONSTRAINT review_book_id_present CHECK (book_id IS NOT NULL);
ALTER TABLE review MODIFY book_id int NULL;
-- Quarantined rows stay in review_quarantine; reverting the previous migration returns them.
