ALTER TABLE review ADD COLUMN review VARCHAR(500) CHECK (length(review) <= 500);
UPDATE review SET review = body;
CREATE TRIGGER review_sync_body_insert AFTER INSERT ON review
WHEN NEW.body IS NOT NEW.review
BEGIN
    UPDATE review SET body = COALESCE(NEW.body, NEW.review), review = COALESCE(NEW.body, NEW.review)
     WHERE id = NEW.id;
END;
CREATE TRIGGER review_sync_body_update_body AFTER UPDATE OF body ON review
WHEN NEW.body IS NOT OLD.body
BEGIN
    UPDATE review SET review = NEW.body WHERE id = NEW.id;
END;
CREATE TRIGGER review_sync_body_update_review AFTER UPDATE OF review ON review
WHEN NEW.review IS NOT OLD.review AND NEW.body IS OLD.body
BEGIN
    UPDATE review SET body = NEW.review WHERE id = NEW.id;
END;
