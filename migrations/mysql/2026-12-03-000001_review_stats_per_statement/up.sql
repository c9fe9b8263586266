-- migrations/postgres/2026-12-03-000001 replaces PostgreSQL's row trigger with statement
-- triggers, because each of a bulk insert's updates of one book's statistics row added a
-- row version the next had to walk. MySQL has no statement triggers, and InnoDB updates a
-- row in place, so the row triggers of 2026-12-02-000000 stay: nothing to do here but
-- keep the versions of every backend in step.
DO 0;
