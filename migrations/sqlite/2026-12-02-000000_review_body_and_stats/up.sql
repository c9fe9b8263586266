-- SQLite mirror of migrations/postgres: review.body beside review.review (kept in step by
-- triggers), the trigger-maintained book_review_stats and the idempotency_key table.
ALTER TABLE review ADD COLUMN body VARCHAR(500) CHECK (length(body) <= 500);

-- Whichever column a writer sets, the other follows (SQLite's triggers do not recurse by
-- default, so each update below fires no further sync).
CREATE TRIGGER review_sync_body_insert AFTER INSERT ON review
WHEN NEW.body IS NOT NEW.review
BEGIN
    UPDATE review SET body = COALESCE(NEW.body, NEW.review), review = COALESCE(NEW.body, NEW.review)
     WHERE id = NEW.id;
END;

CREATE TRIGGER review_sync_body_update_body AFTER UPDATE OF body ON review
WHEN NEW.body IS NOT OLD.body
BEGIN
    UPDATE review SET review = NEW.body WHERE id = NEW.id;
END;

CREATE TRIGGER review_sync_body_update_review AFTER UPDATE OF review ON review
WHEN NEW.review IS NOT OLD.review AND NEW.body IS OLD.body
BEGIN
    UPDATE review SET body = NEW.review WHERE id = NEW.id;
END;

UPDATE review SET body = review WHERE body IS NULL AND review IS NOT NULL;

CREATE TABLE book_review_stats (
    book_id INTEGER PRIMARY KEY NOT NULL REFERENCES book (id) ON DELETE CASCADE,
    review_count BIGINT NOT NULL DEFAULT 0 CHECK (review_count >= 0),
    rate_sum BIGINT NOT NULL DEFAULT 0 CHECK (rate_sum >= 0)
);

CREATE TRIGGER review_stats_insert AFTER INSERT ON review
BEGIN
    INSERT INTO book_review_stats (book_id, review_count, rate_sum)
    VALUES (NEW.book_id, 1, NEW.rate)
    ON CONFLICT (book_id) DO UPDATE
        SET review_count = review_count + 1, rate_sum = rate_sum + excluded.rate_sum;
END;

CREATE TRIGGER review_stats_delete AFTER DELETE ON review
BEGIN
    UPDATE book_review_stats
       SET review_count = review_count - 1, rate_sum = rate_sum - OLD.rate
     WHERE book_id = OLD.book_id;
END;

CREATE TRIGGER review_stats_update AFTER UPDATE OF rate, book_id ON review
BEGIN
    UPDATE book_review_stats
       SET review_count = review_count - 1, rate_sum = rate_sum - OLD.rate
     WHERE book_id = OLD.book_id;
    INSERT INTO book_review_stats (book_id, review_count, rate_sum)
    VALUES (NEW.book_id, 1, NEW.rate)
    ON CONFLICT (book_id) DO UPDATE
        SET review_count = review_count + 1, rate_sum = rate_sum + excluded.rate_sum;
END;

INSERT INTO book_review_stats (book_id, review_count, rate_sum)
SELECT book_id, count(*), sum(rate) FROM review WHERE true GROUP BY book_id;

CREATE TABLE idempotency_key (
    scope TEXT NOT NULL CHECK (length(scope) BETWEEN 1 AND 64),
    key TEXT NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    request_hash TEXT NOT NULL CHECK (length(request_hash) BETWEEN 1 AND 128),
    status_code INTEGER CHECK (status_code BETWEEN 100 AND 599),
    response_body TEXT,
    resource_id INTEGER,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    expires_at TIMESTAMP NOT NULL,
    PRIMARY KEY (scope, key)
);

CREATE INDEX idempotency_key_expires_at_idx ON idempotency_key (expires_at);
