-- Caption tracks of a revision (WebVTT, one per language): a JSON array of
-- {language, label, key, cues, bytes, source_format, uploaded_by, uploaded_at}. The
-- files live in the media storage under `captions/{resource}/…`; a new revision starts with
-- the captions of the one it was opened from. Same SQL on SQLite and PostgreSQL.
ALTER TABLE resource_revisions ADD COLUMN captions TEXT;
