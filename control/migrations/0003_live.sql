-- Live channels in operation: an on/off switch, the hashes of rotated stream keys (to tell a
-- rotated key from a wrong one), the bounded event history of each channel, and the draft
-- resource made from each live session's recording.
-- Same SQL on SQLite and PostgreSQL: TEXT ids, BIGINT ms timestamps, BIGINT flags, JSON as TEXT.

ALTER TABLE channels ADD COLUMN enabled BIGINT NOT NULL DEFAULT 1;

-- One row per rotation: the hash of the key that stopped working.
CREATE TABLE channel_previous_keys (
    channel_id TEXT NOT NULL REFERENCES channels(id),
    stream_key_hash TEXT NOT NULL,
    retired_at BIGINT NOT NULL
);
CREATE INDEX channel_previous_keys_hash ON channel_previous_keys (channel_id, stream_key_hash);

-- seq orders the events of a channel (insertion order); old ones are pruned on insert.
CREATE TABLE channel_events (
    id TEXT PRIMARY KEY,
    channel_id TEXT NOT NULL REFERENCES channels(id),
    seq BIGINT NOT NULL,
    kind TEXT NOT NULL,
    at BIGINT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX channel_events_channel ON channel_events (channel_id, seq);

-- At most one resource per live session of a channel.
CREATE TABLE live_recordings (
    channel_id TEXT NOT NULL REFERENCES channels(id),
    session_id TEXT NOT NULL,
    resource_id TEXT NOT NULL REFERENCES resources(id),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (channel_id, session_id)
);
