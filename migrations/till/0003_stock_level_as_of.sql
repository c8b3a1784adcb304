-- A stock level pulled from the cloud includes this till's operations up to the write
-- checkpoint of the pull page that brought it, and the pages of one download can carry
-- different checkpoints: a download that stops between pages (the link drops) leaves levels
-- from older pages beside a newer checkpoint. So each level keeps its own checkpoint, and the
-- till shows it plus its own movements past that checkpoint. NULL, for a level pulled before
-- this column existed, means sync_state.last_applied_seq.
ALTER TABLE stock_level ADD COLUMN as_of_seq INTEGER;
