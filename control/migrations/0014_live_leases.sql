-- Which `serve` node holds each live channel: a lease renewed by the holder while the
-- channel's session runs (publishing, or waiting out its reconnect window) and released when
-- it ends. A publish reaching another node while the lease is held is refused there; viewers
-- on other nodes are proxied to `node_url`. An expired lease may be taken by anyone (its
-- holder died). Same SQL on SQLite and PostgreSQL.
CREATE TABLE live_leases (
    channel_id TEXT PRIMARY KEY,
    node_id TEXT NOT NULL,
    node_url TEXT NOT NULL,
    acquired_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
