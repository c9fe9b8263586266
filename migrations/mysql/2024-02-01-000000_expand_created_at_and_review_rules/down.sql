ALTER TABLE review DROP CONSTRAINT review_book_id_present;
ALTER TABLE review DROP CONSTRAINT review_rate_range;
-- Give the quarantined legacy rows back: without the rules they are valid again.
INSERT INTO review (id, reviewer, rate, review, book_id)
SELECT id, reviewer, rate, review, book_id FROM review_quarantine;
DROP TABLE review_quarantine;
ALTER TABLE review DROP COLUMN created_at;
ALTER TABLE book DROP COLUMN created_at;
