-- SQLite cannot add a constraint or a column with a non-constant default in place, so
-- both tables are rebuilt in this one transaction (foreign keys stay on throughout).
-- It does at once what PostgreSQL does in this and the next migration.
ALTER TABLE review RENAME TO review_old;
ALTER TABLE book RENAME TO book_old;

CREATE TABLE book (
    id INTEGER PRIMARY KEY NOT NULL,
    title VARCHAR(200) NOT NULL CHECK (length(title) <= 200),
    author VARCHAR(100) NOT NULL CHECK (length(author) <= 100),
    publisher VARCHAR(100) NOT NULL CHECK (length(publisher) <= 100),
    year INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE review (
    id INTEGER PRIMARY KEY NOT NULL,
    reviewer VARCHAR(100) NOT NULL CHECK (length(reviewer) <= 100),
    rate SMALLINT NOT NULL CONSTRAINT review_rate_range CHECK (rate BETWEEN 1 AND 5),
    review VARCHAR(500) CHECK (length(review) <= 500),
    book_id INTEGER NOT NULL REFERENCES book (id),
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE review_quarantine (
    id INTEGER PRIMARY KEY NOT NULL,
    reviewer VARCHAR(100) NOT NULL,
    rate SMALLINT NOT NULL,
    review VARCHAR(500),
    book_id INTEGER,
    created_at TIMESTAMP NOT NULL,
    reason TEXT NOT NULL,
    quarantined_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);

INSERT INTO book (id, title, author, publisher, year)
SELECT id, title, author, publisher, year FROM book_old;

INSERT INTO review_quarantine (id, reviewer, rate, review, book_id, created_at, reason)
SELECT id, reviewer, rate, review, book_id, CURRENT_TIMESTAMP,
       CASE WHEN book_id IS NULL THEN 'book_id missing' ELSE 'rate outside 1..5' END
FROM review_old
WHERE rate NOT BETWEEN 1 AND 5 OR book_id IS NULL;

INSERT INTO review (id, reviewer, rate, review, book_id)
SELECT id, reviewer, rate, review, book_id FROM review_old
WHERE rate BETWEEN 1 AND 5 AND book_id IS NOT NULL;

DROP TABLE review_old;
DROP TABLE book_old;
