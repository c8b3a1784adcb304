-- What sells together, counted as sales arrive, version 17
-- (crates/omnitill-cloud/src/bought_together/). The daily job no longer counts a year of
-- sales again: it keeps every pair's count and adds the sales that arrived since its last
-- run, takes away those that left the one-year window, and ranks again only the products
-- whose counts changed.

-- For every ordered pair of different products, how many counted sales held both (a sale
-- with a product on two lines counts once). Both directions are kept, (a, b) and (b, a), so a
-- product's companions are one range of the key. A count that falls to 0 is deleted.
CREATE TABLE bought_pair (
    sku       TEXT NOT NULL,
    companion TEXT NOT NULL,
    sales     BIGINT NOT NULL,
    PRIMARY KEY (sku, companion)
);

-- What `bought_pair` holds (one row, id 1): the pairs of every counted sale made at or after
-- `window_from` (NULL: nothing counted yet; the next run counts in full). A sale is counted
-- once it has arrived: on SQLite, every sale whose rowid is at most `counted_to` (the sale
-- with that rowid is `counted_sale`, a check that rowids never moved); on PostgreSQL, every
-- sale not waiting in `bought_pending` (0017_bought_pairs.postgres.sql). Each run changes
-- the pairs and this row in one transaction, and takes this row's lock first, so two runs
-- never count the same sale.
CREATE TABLE bought_count (
    id           BIGINT PRIMARY KEY,
    window_from  BIGINT,
    counted_to   BIGINT NOT NULL,
    counted_sale TEXT,
    counted_at   BIGINT
);
INSERT INTO bought_count (id, window_from, counted_to, counted_sale, counted_at)
VALUES (1, NULL, 0, NULL, NULL);

-- A run's changes to `bought_pair` before they are applied: empty outside a run's
-- transaction.
CREATE TABLE bought_delta (
    sku       TEXT NOT NULL,
    companion TEXT NOT NULL,
    sales     BIGINT NOT NULL,
    PRIMARY KEY (sku, companion)
);

-- The sales that leave the window on a day are found by their time.
CREATE INDEX sale_by_time ON sale (created_at);
