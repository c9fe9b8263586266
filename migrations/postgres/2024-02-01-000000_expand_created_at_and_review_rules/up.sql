-- Expand step, safe on a live table: every statement here is metadata-only.
-- review_quarantine copies review's legacy column types on purpose:
-- squawk-ignore-file prefer-text-field, prefer-bigint-over-int, prefer-bigint-over-smallint
-- Wait at most 5 s for a lock rather than queueing every other query behind us.
SET LOCAL lock_timeout = '5s';
-- Every statement is metadata-only: none should take more than a moment.
SET LOCAL statement_timeout = '5s';

-- PostgreSQL >= 11 stores a non-volatile default in the catalog: no table rewrite.
-- Existing rows all get the time this migration ran.
ALTER TABLE book ADD COLUMN created_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE review ADD COLUMN created_at timestamptz NOT NULL DEFAULT now();

-- NOT VALID: enforced for every new or updated row from now on, without scanning the
-- rows already there. The next migration moves legacy offenders aside and validates.
ALTER TABLE review ADD CONSTRAINT review_rate_range CHECK (rate BETWEEN 1 AND 5) NOT VALID;
ALTER TABLE review ADD CONSTRAINT review_book_id_present CHECK (book_id IS NOT NULL) NOT VALID;

-- Legacy reviews that break the new rules are moved here, never deleted. Same column types
-- as review, so every row fits (see the squawk-ignore-file at the top).
CREATE TABLE review_quarantine (
    id integer PRIMARY KEY,
    reviewer varchar(100) NOT NULL,
    rate smallint NOT NULL,
    review varchar(500),
    book_id integer,
    created_at timestamptz NOT NULL,
    reason text NOT NULL,
    quarantined_at timestamptz NOT NULL DEFAULT now()
);
