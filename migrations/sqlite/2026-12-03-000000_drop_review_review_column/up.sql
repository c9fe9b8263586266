DROP TRIGGER review_sync_body_update_review;
DROP TRIGGER review_sync_body_update_body;
DROP TRIGGER review_sync_body_insert;
ALTER TABLE review DROP COLUMN review;
