-- Complaints about resources and the retirement of resources (after a complaint, at the end of
-- their retention, or for low use). Same SQL on SQLite and PostgreSQL.

-- status: open | taken_down | restored | retired | dismissed.
-- revision_id: the revision taken down (restored on a successful re-review).
CREATE TABLE complaints (
    id TEXT PRIMARY KEY,
    resource_id TEXT NOT NULL REFERENCES resources(id),
    complainant_id TEXT NOT NULL REFERENCES users(id),
    category TEXT NOT NULL,
    detail TEXT NOT NULL,
    status TEXT NOT NULL,
    revision_id TEXT,
    handler_id TEXT,
    outcome_comment TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    taken_down_at BIGINT,
    resolved_at BIGINT
);
CREATE INDEX complaints_status ON complaints (status, created_at);
CREATE INDEX complaints_resource ON complaints (resource_id, status);
CREATE INDEX complaints_complainant ON complaints (complainant_id, created_at);

-- A retired resource is offline for good: its stored objects are removed (objects_removed_at
-- once done), its metadata, reviews and audit records stay.
ALTER TABLE resources ADD COLUMN retired_at BIGINT;
ALTER TABLE resources ADD COLUMN retire_reason TEXT;
ALTER TABLE resources ADD COLUMN objects_removed_at BIGINT;
