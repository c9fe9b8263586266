-- Brings review.review back, filled from body, and the triggers that keep them equal.
ALTER TABLE review ADD COLUMN review varchar(500);
UPDATE review SET review = body;
CREATE TRIGGER review_sync_body_insert BEFORE INSERT ON review FOR EACH ROW
    SET NEW.body = COALESCE(NEW.body, NEW.review), NEW.review = NEW.body;
CREATE TRIGGER review_sync_body_update BEFORE UPDATE ON review FOR EACH ROW
    SET NEW.body = IF(NEW.body <=> OLD.body AND NOT (NEW.review <=> OLD.review), NEW.review, NEW.body),
        NEW.review = NEW.body;
