DROP TABLE idempotency_key;
DROP TRIGGER review_stats_apply ON review;
DROP FUNCTION review_stats_apply();
DROP TABLE book_review_stats;
DROP TRIGGER review_sync_body ON review;
DROP FUNCTION review_sync_body();
ALTER TABLE review DROP COLUMN body;
