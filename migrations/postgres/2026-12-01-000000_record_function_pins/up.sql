-- Which bookstore-schema version each function runs, and when it was last seen. Each
-- function records itself at cold start (its DML-only role may write here); the runner
-- refuses a contract migration while a function pinned below its floor was seen within
-- the window (docs/migrations.md, "The compatibility window").
-- The table is new and empty, so no lock or statement can wait long:
-- squawk-ignore-file require-lock-timeout, require-statement-timeout
CREATE TABLE IF NOT EXISTS bookstore_function_pins (
    function_name text NOT NULL,
    crate_version text NOT NULL,
    first_seen timestamptz NOT NULL DEFAULT now(),
    last_seen timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (function_name, crate_version)
);
