-- Viewing analytics and credit hours (学时). Same SQL on SQLite and PostgreSQL: TEXT ids and
-- keys, BIGINT ms timestamps and durations, BIGINT flags, JSON as TEXT.

-- One playback: a player's mount on a resource or channel, folded from its events.
-- session_key = viewer_key '/' target_kind ':' target_id '/' playback_id.
-- viewer_key = the account id, or 'anon:…' for a signed-out viewer of a public target.
-- started_at / last_seen_at: server time of the first and last accepted event.
CREATE TABLE playback_sessions (
    session_key TEXT PRIMARY KEY,
    viewer_key TEXT NOT NULL,
    playback_id TEXT NOT NULL,
    target_kind TEXT NOT NULL,
    target_id TEXT NOT NULL,
    department_id TEXT,
    user_id TEXT,
    started_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    anchor_at BIGINT NOT NULL,
    first_elapsed_ms BIGINT NOT NULL,
    last_elapsed_ms BIGINT NOT NULL,
    last_seq BIGINT NOT NULL,
    last_position_ms BIGINT NOT NULL,
    playing BIGINT NOT NULL,
    ended BIGINT NOT NULL,
    events BIGINT NOT NULL,
    watched_ms BIGINT NOT NULL,
    credited_ms BIGINT NOT NULL,
    live_ms BIGINT NOT NULL,
    intervals TEXT NOT NULL,
    duration_ms BIGINT
);
CREATE INDEX playback_sessions_started ON playback_sessions (started_at);
CREATE INDEX playback_sessions_target ON playback_sessions (target_kind, target_id, started_at);

-- A learner's watched stretches of a resource over all their playbacks (union).
-- progress_key = user_id '/' resource_id. department_id: the learner's department.
CREATE TABLE learning_progress (
    progress_key TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    department_id TEXT,
    intervals TEXT NOT NULL,
    watched_ms BIGINT NOT NULL,
    duration_ms BIGINT,
    first_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    credited_at BIGINT
);
CREATE INDEX learning_progress_user ON learning_progress (user_id, updated_at);

-- Credit hours earned, once per learner and resource. department_id: the learner's department
-- when they earned it.
CREATE TABLE credit_awards (
    user_id TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    revision_id TEXT,
    credit_hours DOUBLE PRECISION NOT NULL,
    department_id TEXT,
    watched_ms BIGINT NOT NULL,
    duration_ms BIGINT NOT NULL,
    earned_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, resource_id)
);
CREATE INDEX credit_awards_department ON credit_awards (department_id, earned_at);
