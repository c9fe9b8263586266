-- Brings review.review back, filled from body, and the trigger that keeps them equal.
ALTER TABLE review ADD COLUMN review varchar(500);
UPDATE review SET review = body;
CREATE FUNCTION review_sync_body() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        NEW.body := COALESCE(NEW.body, NEW.review);
        NEW.review := NEW.body;
    ELSIF NEW.body IS DISTINCT FROM OLD.body THEN
        NEW.review := NEW.body;
    ELSIF NEW.review IS DISTINCT FROM OLD.review THEN
        NEW.body := NEW.review;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER review_sync_body BEFORE INSERT OR UPDATE ON review
    FOR EACH ROW EXECUTE FUNCTION review_sync_body();
