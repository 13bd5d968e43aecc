-- Change sequences: every write that changes a record stamps it with MAX(change_seq) + 1, so
-- live streams can poll "what changed since N" across every worker sharing the database.
ALTER TABLE executions ADD COLUMN change_seq INTEGER NOT NULL DEFAULT 0;
CREATE INDEX IF NOT EXISTS executions_by_change ON executions (change_seq);
