-- Whether a channel also offers an HEVC source as it came (an `hvc1` rendition beside the
-- H.264 ladder) for players that take HEVC: off unless its organiser turns it on. Same SQL on
-- SQLite and PostgreSQL.
ALTER TABLE channels ADD COLUMN hevc_passthrough BIGINT NOT NULL DEFAULT 0;
