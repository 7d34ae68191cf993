-- Retention: when a resource's online revision was published, and the settings an
-- administrator keeps per resource (premium course, hold, renewal date). Same SQL on SQLite and
-- PostgreSQL.

ALTER TABLE resources ADD COLUMN published_at BIGINT;
-- Resources online before this migration: their revision was last touched when it was published.
UPDATE resources SET published_at = (
    SELECT v.updated_at FROM resource_revisions v WHERE v.id = resources.published_revision_id
) WHERE published_revision_id IS NOT NULL;

CREATE TABLE resource_retention (
    resource_id TEXT PRIMARY KEY REFERENCES resources(id),
    premium BIGINT NOT NULL DEFAULT 0,
    hold BIGINT NOT NULL DEFAULT 0,
    expires_at BIGINT,
    note TEXT,
    updated_at BIGINT NOT NULL,
    updated_by TEXT
);
