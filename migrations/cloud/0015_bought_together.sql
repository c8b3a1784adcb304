-- What sells together, version 15 (crates/omnitill-cloud/src/bought_together.rs): each
-- product's most frequent companions in both channels' sales of the last year, as last
-- published to the tills (`data`: JSON of omnitill_protocol::floor::BoughtTogether), and when
-- they were last computed (one row, id 1).
CREATE TABLE bought_together (
    sku  TEXT PRIMARY KEY,
    data TEXT NOT NULL
);

CREATE TABLE bought_together_run (
    id          BIGINT PRIMARY KEY,
    computed_at BIGINT NOT NULL
);
