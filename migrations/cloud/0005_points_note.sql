-- A note on a points entry, in words: why customer service adjusted a balance, or which
-- earnings an expiry took. Shown in the member's history in both channels.
ALTER TABLE points_entry ADD COLUMN note TEXT;
