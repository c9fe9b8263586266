ALTER TABLE review RENAME TO review_new;
ALTER TABLE book RENAME TO book_new;

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

INSERT INTO book (id, title, author, publisher, year)
SELECT id, title, author, publisher, year FROM book_new;
INSERT INTO review (id, reviewer, rate, review, book_id)
SELECT id, reviewer, rate, review, book_id FROM review_new;
INSERT INTO review (id, reviewer, rate, review, book_id)
SELECT id, reviewer, rate, review, book_id FROM review_quarantine;

DROP TABLE review_new;
DROP TABLE book_new;
DROP TABLE review_quarantine;
