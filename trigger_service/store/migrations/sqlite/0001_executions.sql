-- The first schema: records with the columns the service queries.
CREATE TABLE IF NOT EXISTS executions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    workflow TEXT NOT NULL,
    status TEXT NOT NULL,
    idempotency_key TEXT UNIQUE,
    attempts INTEGER NOT NULL,
    upload_id TEXT,
    created_at TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS executions_by_created ON executions (created_at, seq);
CREATE INDEX IF NOT EXISTS executions_by_status ON executions (status, created_at, seq);
CREATE INDEX IF NOT EXISTS executions_by_workflow ON executions (workflow, created_at, seq);
