-- SQLite mirror of migrations/postgres: same versions, tables, columns and rules.
-- Timestamps are TIMESTAMP holding UTC (SQLite has no time zone type; diesel reads them as UTC).
-- SQLite does not enforce varchar lengths, so CHECKs do.
CREATE TABLE book (
    id INTEGER PRIMARY KEY NOT NULL,
    title VARCHAR(200) NOT NULL CHECK (length(title) <= 200),
    author VARCHAR(100) NOT NULL CHECK (length(author) <= 100),
    publisher VARCHAR(100) NOT NULL CHECK (length(publisher) <= 100),
    year INTEGER NOT NULL
);

CREATE TABLE review (
    id INTEGER PRIMARY KEY NOT NULL,
    reviewer VARCHAR(100) NOT NULL CHECK (length(reviewer) <= 100),
    rate SMALLINT NOT NULL,
    review VARCHAR(500) CHECK (length(review) <= 500),
    book_id INTEGER REFERENCES book (id)
);
