-- Exactly the tables the Python bookstore created, so its databases can be adopted
-- with `schema-admin baseline` (which compares the live tables with this file).
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
