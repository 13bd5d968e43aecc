-- Change sequences for live streams: every write that changes a record takes its number from
-- execution_change_seq while holding the one row of execution_changes (locked by the same
-- statement until it commits), so numbers become visible in commit order.
ALTER TABLE executions ADD COLUMN change_seq BIGINT NOT NULL DEFAULT 0;
CREATE INDEX executions_by_change ON executions (change_seq);
CREATE SEQUENCE execution_change_seq;
CREATE TABLE execution_changes (only_row BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (only_row),
                                writes BIGINT NOT NULL DEFAULT 0);
INSERT INTO execution_changes DEFAULT VALUES;
