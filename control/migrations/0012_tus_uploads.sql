-- Resumable uploads shared by every `serve` node (issue 12, `[uploads] store = "storage"`):
-- the state of each tus upload is this row, its bytes are part objects in the media storage
-- (`uploads/{id}/parts/{index:06}`, `part_size` bytes each but the last). `upload_offset` is
-- the number of bytes durably stored in parts. The node writing the upload holds a lease:
-- `lease_token` set, compared and set with `lease_until` (ms), so two nodes never write one
-- upload at once. `resource_id` remembers what the completed upload became, so a retried
-- completion finds it. Same SQL on SQLite and PostgreSQL.
CREATE TABLE tus_uploads (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    length BIGINT NOT NULL,
    upload_offset BIGINT NOT NULL DEFAULT 0,
    part_size BIGINT NOT NULL,
    metadata TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    completed BIGINT NOT NULL DEFAULT 0,
    completion_headers TEXT,
    resource_id TEXT,
    lease_token TEXT,
    lease_until BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX tus_uploads_expiry ON tus_uploads (completed, expires_at);
