-- Learners' feedback on resources: a rating (1-5 stars) with an optional comment, one per
-- learner and resource, hidden until a moderator approves it. status: pending | approved |
-- rejected. Same SQL on SQLite and PostgreSQL.
CREATE TABLE resource_feedback (
    id TEXT PRIMARY KEY,
    resource_id TEXT NOT NULL REFERENCES resources(id),
    user_id TEXT NOT NULL REFERENCES users(id),
    stars BIGINT NOT NULL,
    comment TEXT,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    moderator_id TEXT,
    moderation_note TEXT,
    moderated_at BIGINT,
    UNIQUE (resource_id, user_id)
);
CREATE INDEX resource_feedback_status ON resource_feedback (status, updated_at);
CREATE INDEX resource_feedback_resource ON resource_feedback (resource_id, status);
