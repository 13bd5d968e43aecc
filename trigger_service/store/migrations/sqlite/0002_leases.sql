-- Leases: the owning worker and until when (seconds since the epoch); the event source, so
-- the sweep can leave SQS executions to their redelivered messages.
ALTER TABLE executions ADD COLUMN source TEXT NOT NULL DEFAULT 'api';
ALTER TABLE executions ADD COLUMN worker TEXT;
ALTER TABLE executions ADD COLUMN lease_expires_at REAL;
UPDATE executions SET source = COALESCE(json_extract(record, '$.source'), 'api');
-- Executions a previous version left unfinished are recovered at the next start.
UPDATE executions SET lease_expires_at = 0 WHERE status IN ('queued', 'running');
CREATE INDEX IF NOT EXISTS executions_by_lease ON executions (lease_expires_at)
    WHERE status IN ('queued', 'running');
