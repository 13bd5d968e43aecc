-- Execution records with their lease. created_at is the fixed-width UTC text of the record's
-- creation time (text order is time order; list cursors carry it as is).
CREATE TABLE executions (
    seq BIGSERIAL PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    workflow TEXT NOT NULL,
    status TEXT NOT NULL,
    source TEXT NOT NULL,
    idempotency_key TEXT UNIQUE,
    attempts INTEGER NOT NULL,
    upload_id TEXT,
    worker TEXT,
    lease_expires_at TIMESTAMPTZ,
    created_at TEXT NOT NULL,
    record JSONB NOT NULL
);
CREATE INDEX executions_by_created ON executions (created_at, seq);
CREATE INDEX executions_by_status ON executions (status, created_at, seq);
CREATE INDEX executions_by_workflow ON executions (workflow, created_at, seq);
CREATE INDEX executions_by_lease ON executions (lease_expires_at)
    WHERE status IN ('queued', 'running');
