-- The search indexes (product_fts, product_short_fts) are brought up to date after product
-- writes rather than inside them, so a first download of a large catalog makes products
-- sellable by barcode at the speed of plain row writes, and indexing follows in short
-- transactions the till's sales can pass between (crates/omnitill-core/src/catalog.rs,
-- `index_pending`).
--
-- Invariant: a product is in both search indexes, under its current name and SKU, exactly
-- when it is not in search_backlog. Core puts every product it inserts in the backlog in the
-- same transaction (an AFTER INSERT trigger would cost a third of a download's time); the
-- triggers below keep the rule when a product is renamed or deleted; core's indexer takes
-- products out of the backlog as it indexes them; search reads backlog products directly.
-- (The triggers test for a row rather than use INSERT OR IGNORE: a statement inside a trigger
-- takes the conflict rule of the statement that fired it.)
CREATE TABLE search_backlog (
    product_id INTEGER PRIMARY KEY
);

DROP TRIGGER product_fts_insert;
DROP TRIGGER product_fts_delete;
DROP TRIGGER product_fts_update;

CREATE TRIGGER product_search_update AFTER UPDATE OF name, sku ON product
WHEN old.name IS NOT new.name OR old.sku IS NOT new.sku BEGIN
    INSERT INTO product_fts (product_fts, rowid, name, sku)
        SELECT 'delete', old.id, old.name, old.sku
        WHERE NOT EXISTS (SELECT 1 FROM search_backlog WHERE product_id = old.id);
    DELETE FROM product_short_fts
        WHERE rowid = old.id
        AND NOT EXISTS (SELECT 1 FROM search_backlog WHERE product_id = old.id);
    INSERT INTO search_backlog (product_id) SELECT new.id
        WHERE NOT EXISTS (SELECT 1 FROM search_backlog WHERE product_id = new.id);
END;

CREATE TRIGGER product_search_delete AFTER DELETE ON product BEGIN
    INSERT INTO product_fts (product_fts, rowid, name, sku)
        SELECT 'delete', old.id, old.name, old.sku
        WHERE NOT EXISTS (SELECT 1 FROM search_backlog WHERE product_id = old.id);
    DELETE FROM product_short_fts
        WHERE rowid = old.id
        AND NOT EXISTS (SELECT 1 FROM search_backlog WHERE product_id = old.id);
    DELETE FROM search_backlog WHERE product_id = old.id;
END;
