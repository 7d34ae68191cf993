-- Technical QC reports (black, frozen, silent, loudness, clipping, sync, picture quality) of a
-- revision's media, written by the processing worker that made them (never by API callers),
-- one per processing job, with the SVG plots drawn when the report was made.
-- Same SQL on SQLite and PostgreSQL: TEXT ids, BIGINT ms timestamps, JSON as TEXT.

CREATE TABLE qc_reports (
    job_id TEXT PRIMARY KEY,
    resource_id TEXT NOT NULL REFERENCES resources(id),
    revision_id TEXT NOT NULL REFERENCES resource_revisions(id),
    report TEXT NOT NULL,
    loudness_svg TEXT NOT NULL,
    timeline_svg TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX qc_reports_revision ON qc_reports (revision_id, created_at);
