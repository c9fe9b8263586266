-- The tables of migrations/postgres/2024-01-01-000000_create_book_and_review on MySQL and
-- MariaDB: the same columns, types and constraint names (facts.rs maps errors by them).
-- InnoDB with utf8mb4 and a binary collation, so that text compares as PostgreSQL's does:
-- case- and accent-sensitively (`=`, `LIKE 'prefix%'`, the title filter). Binary
-- collations pad with spaces on MySQL 8 and MariaDB: 'a' = 'a ' (docs/migrations.md).
-- MySQL commits every DDL statement on its own; metadata.toml says so.
CREATE TABLE book (
    id int NOT NULL AUTO_INCREMENT PRIMARY KEY,
    title varchar(200) NOT NULL,
    author varchar(100) NOT NULL,
    publisher varchar(100) NOT NULL,
    year int NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- InnoDB indexes a foreign key's columns itself; the index is named after the constraint
-- until 2024-02-01-000002 renames it to PostgreSQL's review_book_id_idx.
CREATE TABLE review (
    id int NOT NULL AUTO_INCREMENT PRIMARY KEY,
    reviewer varchar(100) NOT NULL,
    rate smallint NOT NULL,
    review varchar(500),
    book_id int,
    CONSTRAINT review_book_id_fkey FOREIGN KEY (book_id) REFERENCES book (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
