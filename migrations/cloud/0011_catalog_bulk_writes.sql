-- The catalog's rows are tied together by the code that writes them, not by foreign keys:
-- a product's tax class, and the product of a barcode or a price, are checked before they are
-- written (`catalog::upsert_product` and `set_price`, and the import's checks against its
-- snapshot of the catalog, taken under a lock that keeps other catalog writers out), and no
-- product or tax class is ever deleted (a product is retired). On PostgreSQL each foreign key
-- cost a row-locking look-up per inserted row, more than half of a large import's time.
--
-- The tables are rebuilt without the keys (the one way both SQLite and PostgreSQL can drop
-- them): the children first, so nothing refers to `product` when it is rebuilt.

CREATE TABLE price_rebuilt (
    sku            TEXT NOT NULL,
    effective_from BIGINT NOT NULL,
    price_minor    BIGINT NOT NULL,
    PRIMARY KEY (sku, effective_from)
);
INSERT INTO price_rebuilt (sku, effective_from, price_minor)
    SELECT sku, effective_from, price_minor FROM price;
DROP TABLE price;
ALTER TABLE price_rebuilt RENAME TO price;

CREATE TABLE barcode_rebuilt (
    code TEXT PRIMARY KEY,
    sku  TEXT NOT NULL
);
INSERT INTO barcode_rebuilt (code, sku) SELECT code, sku FROM barcode;
DROP TABLE barcode;
ALTER TABLE barcode_rebuilt RENAME TO barcode;
CREATE INDEX barcode_by_sku ON barcode (sku);

CREATE TABLE product_rebuilt (
    sku        TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    tax_class  TEXT NOT NULL,
    active     BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
INSERT INTO product_rebuilt (sku, name, tax_class, active, updated_at)
    SELECT sku, name, tax_class, active, updated_at FROM product;
DROP TABLE product;
ALTER TABLE product_rebuilt RENAME TO product;
