-- How many feed rows each scope holds in each block of 1,024 cursors (block = cursor / 1024),
-- kept in the same transaction as every feed write (crates/omnitill-cloud/src/feed.rs). A pull
-- counts the entries left after its cursor from these totals plus the rows of one block,
-- instead of reading every remaining row.
CREATE TABLE feed_block (
    scope TEXT NOT NULL,
    block BIGINT NOT NULL,
    rows  BIGINT NOT NULL,
    PRIMARY KEY (scope, block)
);

INSERT INTO feed_block (scope, block, rows)
SELECT scope, cursor / 1024, COUNT(*) FROM feed GROUP BY scope, cursor / 1024;
