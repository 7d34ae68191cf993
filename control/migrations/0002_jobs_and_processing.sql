-- Durable jobs (probe, validate, transcode…) shared by the workers of `yanxiu serve` and of
-- `yanxiu worker`, and the processing results of a resource revision's media.
-- Same SQL on SQLite and PostgreSQL: TEXT ids, BIGINT ms timestamps, JSON as TEXT.

CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    resource_id TEXT,
    payload TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    max_attempts BIGINT NOT NULL,
    run_at BIGINT NOT NULL,
    worker_id TEXT,
    claim_id TEXT,
    lease_until BIGINT,
    progress TEXT,
    result TEXT,
    error_code TEXT,
    error_message TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    started_at BIGINT,
    finished_at BIGINT
);
CREATE INDEX jobs_runnable ON jobs (state, run_at);
CREATE INDEX jobs_lease ON jobs (state, lease_until);
CREATE INDEX jobs_resource ON jobs (resource_id, created_at);

-- What the media pipeline learned and produced for a revision's file.
ALTER TABLE resource_revisions ADD COLUMN processing_job_id TEXT;
ALTER TABLE resource_revisions ADD COLUMN probe_report TEXT;
ALTER TABLE resource_revisions ADD COLUMN validation TEXT;
ALTER TABLE resource_revisions ADD COLUMN renditions TEXT;
ALTER TABLE resource_revisions ADD COLUMN ladder_prefix TEXT;
ALTER TABLE resource_revisions ADD COLUMN poster_key TEXT;
ALTER TABLE resource_revisions ADD COLUMN storyboard_key TEXT;
ALTER TABLE resource_revisions ADD COLUMN processing_error TEXT;
CREATE INDEX resource_revisions_job ON resource_revisions (processing_job_id);
