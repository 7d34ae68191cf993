-- Settings changed at run time by the system administrator (password rules, lockout, session
-- limits, retention, upload limit), one row per changed section; the config file gives the
-- rest. Same SQL on SQLite and PostgreSQL.
CREATE TABLE runtime_settings (
    section TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by TEXT NOT NULL
);
