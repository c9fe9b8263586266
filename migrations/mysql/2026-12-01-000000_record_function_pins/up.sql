-- migrations/postgres/2026-12-01-000000 on MySQL and MariaDB. MySQL cannot make a key of
-- unbounded text: varchar(255) (a function name, a crate version).
CREATE TABLE IF NOT EXISTS bookstore_function_pins (
    function_name varchar(255) NOT NULL,
    crate_version varchar(255) NOT NULL,
    first_seen datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    last_seen datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (function_name, crate_version)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
