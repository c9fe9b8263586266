DROP TABLE idempotency_key;
DROP TRIGGER review_stats_update;
DROP TRIGGER review_stats_delete;
DROP TRIGGER review_stats_insert;
DROP TABLE book_review_stats;
DROP TRIGGER review_sync_body_update;
DROP TRIGGER review_sync_body_insert;
ALTER TABLE review DROP COLUMN body;
