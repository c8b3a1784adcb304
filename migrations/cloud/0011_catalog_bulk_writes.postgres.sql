-- PostgreSQL only (SQLite compares text byte by byte already, its BINARY collation): the
-- catalog's and the feed's text keys compare byte by byte, as on SQLite. Both backends then
-- order SKUs, barcodes and feed keys alike, and an index comparison is a memcmp instead of the
-- locale's strcoll, which was a large part of writing a big catalog's indexes.
ALTER TABLE product ALTER COLUMN sku TYPE TEXT COLLATE "C";
ALTER TABLE barcode ALTER COLUMN code TYPE TEXT COLLATE "C";
ALTER TABLE barcode ALTER COLUMN sku TYPE TEXT COLLATE "C";
ALTER TABLE price ALTER COLUMN sku TYPE TEXT COLLATE "C";
ALTER TABLE feed ALTER COLUMN scope TYPE TEXT COLLATE "C";
ALTER TABLE feed ALTER COLUMN entity TYPE TEXT COLLATE "C";
ALTER TABLE feed ALTER COLUMN entity_key TYPE TEXT COLLATE "C";
