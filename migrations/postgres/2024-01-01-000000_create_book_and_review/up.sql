-- Exactly the tables the Python bookstore created, so its databases can be adopted
-- with `schema-admin baseline` (which compares the live tables with this file).
-- So the legacy types stay (varchar, serial, integer, smallint), whatever squawk prefers:
-- squawk-ignore-file prefer-text-field, prefer-bigint-over-int, prefer-bigint-over-smallint, prefer-identity, prefer-robust-stmts
-- Both tables are new and empty, so no lock or statement can wait long:
-- squawk-ignore-file require-lock-timeout, require-statement-timeout
CREATE TABLE book (
    id serial PRIMARY KEY,
    title varchar(200) NOT NULL,
    author varchar(100) NOT NULL,
    publisher varchar(100) NOT NULL,
    year integer NOT NULL
);

CREATE TABLE review (
    id serial PRIMARY KEY,
    reviewer varchar(100) NOT NULL,
    rate smallint NOT NULL,
    review varchar(500),
    book_id integer REFERENCES book (id)
);
