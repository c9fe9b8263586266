-- Expand step of renaming review.review to review.body (the contract step drops
-- review.review once no function pinned below 2.1.0 is live), the review statistics kept
-- on write, and the store for idempotent creates.
-- New tables and functions use the types squawk prefers; review.body copies review.review:
-- squawk-ignore-file prefer-text-field
-- book_id and resource_id hold book and review ids (integer, from serial); status_code is
-- an HTTP status:
-- squawk-ignore-file prefer-bigint-over-int
-- Wait at most 5 s for a lock rather than queueing every other query behind us.
SET LOCAL lock_timeout = '5s';
-- The backfills below touch every review once: allow them a minute (run the migration
-- off-peak on a table far past a million reviews).
SET LOCAL statement_timeout = '60s';

-- Metadata-only: a nullable column without a default rewrites nothing.
ALTER TABLE review ADD COLUMN body varchar(500);

-- Whichever column a writer sets, the other follows: versions up to 2.0.0 write
-- review.review, 2.1.0 on write review.body.
CREATE FUNCTION review_sync_body() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        NEW.body := COALESCE(NEW.body, NEW.review);
        NEW.review := NEW.body;
    ELSIF NEW.body IS DISTINCT FROM OLD.body THEN
        NEW.review := NEW.body;
    ELSIF NEW.review IS DISTINCT FROM OLD.review THEN
        NEW.body := NEW.review;
    END IF;
    RETURN NEW;
END $$;

-- The trigger takes a SHARE ROW EXCLUSIVE lock on review until this transaction commits:
-- writes wait (at most the lock timeout above), so the backfills see every row.
CREATE TRIGGER review_sync_body BEFORE INSERT OR UPDATE ON review
    FOR EACH ROW EXECUTE FUNCTION review_sync_body();

UPDATE review SET body = review WHERE body IS NULL AND review IS NOT NULL;

-- How a book's reviews add up, one row per reviewed book, so GET /book/{id} reads one
-- row instead of aggregating every review of the book.
CREATE TABLE book_review_stats (
    book_id integer PRIMARY KEY REFERENCES book (id) ON DELETE CASCADE,
    review_count bigint NOT NULL DEFAULT 0 CHECK (review_count >= 0),
    rate_sum bigint NOT NULL DEFAULT 0 CHECK (rate_sum >= 0)
);

-- SECURITY DEFINER: the app role may read the statistics but not write them; only this
-- trigger (owned by the migrating role) does, on every insert, update and delete.
CREATE FUNCTION review_stats_apply() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE public.book_review_stats
           SET review_count = review_count - 1, rate_sum = rate_sum - OLD.rate
         WHERE book_id = OLD.book_id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO public.book_review_stats AS s (book_id, review_count, rate_sum)
        VALUES (NEW.book_id, 1, NEW.rate)
        ON CONFLICT (book_id) DO UPDATE
            SET review_count = s.review_count + 1, rate_sum = s.rate_sum + NEW.rate;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER review_stats_apply AFTER INSERT OR DELETE OR UPDATE OF rate, book_id ON review
    FOR EACH ROW EXECUTE FUNCTION review_stats_apply();

INSERT INTO book_review_stats (book_id, review_count, rate_sum)
SELECT book_id, count(*), sum(rate) FROM review GROUP BY book_id;

-- Idempotent creates: the key a client sent with a POST or PUT, a hash of its request and
-- the response it got, written in the same transaction as the row it created.
-- status_code and response_body are NULL only inside that transaction (the key row is
-- inserted first, so a concurrent duplicate waits on it).
CREATE TABLE idempotency_key (
    scope text NOT NULL CHECK (char_length(scope) BETWEEN 1 AND 64),
    key text NOT NULL CHECK (char_length(key) BETWEEN 1 AND 255),
    request_hash text NOT NULL CHECK (char_length(request_hash) BETWEEN 1 AND 128),
    status_code integer CHECK (status_code BETWEEN 100 AND 599),
    response_body text,
    resource_id integer,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (scope, key)
);

-- The purge deletes by expiry.
CREATE INDEX idempotency_key_expires_at_idx ON idempotency_key (expires_at);
