-- Control plane schema. The same file runs on SQLite and PostgreSQL:
-- ids are TEXT (UUID v4), times are BIGINT milliseconds since the Unix epoch (UTC),
-- flags are BIGINT 0/1, JSON documents are TEXT.

CREATE TABLE departments (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

CREATE TABLE projects (
    id TEXT PRIMARY KEY,
    department_id TEXT NOT NULL REFERENCES departments(id),
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (department_id, name)
);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    department_id TEXT REFERENCES departments(id),
    disabled_at BIGINT,
    failed_attempts BIGINT NOT NULL DEFAULT 0,
    locked_until BIGINT,
    created_at BIGINT NOT NULL
);

CREATE TABLE user_roles (
    user_id TEXT NOT NULL REFERENCES users(id),
    role TEXT NOT NULL,
    granted_at BIGINT NOT NULL,
    granted_by TEXT,
    PRIMARY KEY (user_id, role)
);

CREATE TABLE audiences (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    department_id TEXT REFERENCES departments(id),
    project_id TEXT REFERENCES projects(id),
    created_at BIGINT NOT NULL
);

CREATE TABLE audience_members (
    audience_id TEXT NOT NULL REFERENCES audiences(id),
    user_id TEXT NOT NULL REFERENCES users(id),
    added_at BIGINT NOT NULL,
    PRIMARY KEY (audience_id, user_id)
);

-- kind = 'session' (interactive login) or 'api_token' (automation).
CREATE TABLE credentials (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    kind TEXT NOT NULL,
    name TEXT,
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at BIGINT,
    revoked_at BIGINT,
    revoke_reason TEXT,
    source_addr TEXT
);
CREATE INDEX credentials_user ON credentials (user_id, kind);

CREATE TABLE channels (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    department_id TEXT NOT NULL REFERENCES departments(id),
    project_id TEXT REFERENCES projects(id),
    owner_id TEXT NOT NULL REFERENCES users(id),
    stream_name TEXT NOT NULL UNIQUE,
    stream_key_hash TEXT NOT NULL,
    state TEXT NOT NULL,
    audience_kind TEXT NOT NULL,
    audience_id TEXT REFERENCES audiences(id),
    record_to_vod BIGINT NOT NULL,
    latency_mode TEXT NOT NULL,
    scheduled_start BIGINT,
    scheduled_end BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    deleted_at BIGINT
);

CREATE TABLE resources (
    id TEXT PRIMARY KEY,
    department_id TEXT NOT NULL REFERENCES departments(id),
    owner_id TEXT NOT NULL REFERENCES users(id),
    published_revision_id TEXT,
    latest_revision_id TEXT,
    created_at BIGINT NOT NULL,
    deleted_at BIGINT
);

CREATE TABLE resource_revisions (
    id TEXT PRIMARY KEY,
    resource_id TEXT NOT NULL REFERENCES resources(id),
    number BIGINT NOT NULL,
    state TEXT NOT NULL,
    project_name TEXT NOT NULL,
    undertaking_unit TEXT NOT NULL,
    name TEXT NOT NULL,
    lecturer_name TEXT NOT NULL,
    lecturer_unit TEXT NOT NULL,
    lecturer_title TEXT NOT NULL,
    summary TEXT NOT NULL,
    credit_hours DOUBLE PRECISION NOT NULL,
    openness TEXT NOT NULL,
    audience_id TEXT REFERENCES audiences(id),
    resource_type TEXT NOT NULL,
    category1 TEXT,
    category2 TEXT,
    display_order BIGINT NOT NULL,
    source_url TEXT,
    media_ref TEXT,
    processing_status TEXT NOT NULL,
    qc_report TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (resource_id, number)
);

CREATE TABLE review_records (
    id TEXT PRIMARY KEY,
    resource_id TEXT NOT NULL REFERENCES resources(id),
    revision_id TEXT NOT NULL REFERENCES resource_revisions(id),
    level TEXT NOT NULL,
    decision TEXT NOT NULL,
    reviewer_id TEXT NOT NULL REFERENCES users(id),
    reviewer_name TEXT NOT NULL,
    reviewer_role TEXT NOT NULL,
    comment TEXT NOT NULL,
    qc_report TEXT,
    decided_at BIGINT NOT NULL
);
CREATE INDEX review_records_revision ON review_records (revision_id, decided_at);

-- Append-only, hash-chained. No API deletes or updates a row.
CREATE TABLE audit_log (
    seq BIGINT PRIMARY KEY,
    at BIGINT NOT NULL,
    actor_id TEXT,
    actor_name TEXT NOT NULL,
    actor_role TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    result TEXT NOT NULL,
    source_addr TEXT NOT NULL,
    detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at);

-- The chain head: seq and hash of the last appended record, updated in the same transaction.
CREATE TABLE audit_head (
    id BIGINT PRIMARY KEY,
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);
