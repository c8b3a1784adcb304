-- PostgreSQL only (SQLite's single writer makes its rowids an arrival order): the sales the
-- bought-together count has not taken yet. A sequence or a transaction id is not an arrival
-- order here: two pushes commit in either order, so a run that counted up to a key could
-- miss a sale with a smaller key that commits after it. Instead every new sale is queued
-- here by a trigger, in its own transaction, and a run takes what the queue holds (a delete
-- in the run's transaction) and counts exactly that. Sales recorded before this migration
-- are not queued: the first run counts them in full.
CREATE TABLE bought_pending (
    sale_id TEXT PRIMARY KEY
);

CREATE FUNCTION bought_pending_queue() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO bought_pending (sale_id) VALUES (NEW.id);
    RETURN NULL;
END
$$;

CREATE TRIGGER sale_queues_bought_pending AFTER INSERT ON sale
    FOR EACH ROW EXECUTE FUNCTION bought_pending_queue();
