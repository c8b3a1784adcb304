-- The pickup queue's facts as columns, so a tab, its counts and a member's ready orders are
-- read by index instead of parsing every order's JSON: `shown_status` is the status this till
-- shows (its own move while the cloud has not confirmed it, else the cloud's), `promised_at`
-- when the order was promised ready, `updated_at` when the cloud last changed it, `member_id`
-- whose order it is. Kept by omnitill_core::pickups with `data` and `local_data`.
ALTER TABLE pickup_order ADD COLUMN shown_status TEXT;
ALTER TABLE pickup_order ADD COLUMN promised_at INTEGER;
ALTER TABLE pickup_order ADD COLUMN updated_at INTEGER;
ALTER TABLE pickup_order ADD COLUMN member_id TEXT;
UPDATE pickup_order SET
    shown_status = coalesce(json_extract(local_data, '$.status'), status),
    promised_at = json_extract(coalesce(local_data, data), '$.promised_at_ms'),
    updated_at = json_extract(data, '$.updated_at_ms'),
    member_id = json_extract(data, '$.member_id');
CREATE INDEX pickup_order_by_shown ON pickup_order (shown_status, promised_at);
CREATE INDEX pickup_order_by_member ON pickup_order (member_id, shown_status);
