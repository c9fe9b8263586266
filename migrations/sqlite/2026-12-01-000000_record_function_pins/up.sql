CREATE TABLE IF NOT EXISTS bookstore_function_pins (
    function_name TEXT NOT NULL,
    crate_version TEXT NOT NULL,
    first_seen TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    last_seen TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (function_name, crate_version)
);
