-- The feed floor in force when the device last began a download from cursor zero. A device
-- below the floor is told to download again only when the floor rose after that start: a
-- download that began after a prune never held the pruned rows' products, so it goes on
-- page by page (crates/omnitill-cloud/src/sync.rs, `pull`).
ALTER TABLE device ADD COLUMN floor_seen BIGINT NOT NULL DEFAULT 0;
