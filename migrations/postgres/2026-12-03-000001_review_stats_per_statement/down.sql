DROP TRIGGER review_stats_update ON review;
DROP TRIGGER review_stats_delete ON review;
DROP TRIGGER review_stats_insert ON review;
DROP FUNCTION review_stats_replace();
DROP FUNCTION review_stats_remove();
DROP FUNCTION review_stats_add();
CREATE FUNCTION review_stats_apply() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE public.book_review_stats
           SET review_count = review_count - 1, rate_sum = rate_sum - OLD.rate
         WHERE book_id = OLD.book_id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO public.book_review_stats AS s (book_id, review_count, rate_sum)
        VALUES (NEW.book_id, 1, NEW.rate)
        ON CONFLICT (book_id) DO UPDATE
            SET review_count = s.review_count + 1, rate_sum = s.rate_sum + NEW.rate;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER review_stats_apply AFTER INSERT OR DELETE OR UPDATE OF rate, book_id ON review
    FOR EACH ROW EXECUTE FUNCTION review_stats_apply();
