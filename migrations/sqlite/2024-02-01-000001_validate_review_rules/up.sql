-- Nothing to do on SQLite: the table rebuild in the previous migration validated the
-- rules at once. Kept so both backends have the same schema versions.
SELECT 1;
