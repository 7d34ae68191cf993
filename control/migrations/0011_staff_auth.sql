-- Staff authentication (issue 13): TOTP second factor, recovery codes, the second sign-in
-- step, password age and reuse, sign-in history, restricted sessions, and the key id of each
-- audit record (key rotation). Same SQL on SQLite and PostgreSQL.

-- One TOTP authenticator per account. The secret is encrypted with the installation's secret
-- key (`<key id>:<base64 nonce+ciphertext>`); it is never returned after enrolment.
-- `confirmed_at` is NULL while the enrolment waits for its first valid code; `last_step` is
-- the last accepted RFC 6238 time step, so that a code is never accepted twice.
CREATE TABLE mfa_totp (
    user_id TEXT PRIMARY KEY REFERENCES users(id),
    secret_enc TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    confirmed_at BIGINT,
    last_step BIGINT
);

-- Single-use recovery codes, argon2id hashes only.
CREATE TABLE mfa_recovery_codes (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    code_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX mfa_recovery_codes_user ON mfa_recovery_codes (user_id);

-- The short-lived challenge between the password and the second factor (hash of the
-- challenge token only).
CREATE TABLE login_challenges (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    source_addr TEXT NOT NULL,
    user_agent TEXT,
    used_at BIGINT
);
CREATE INDEX login_challenges_user ON login_challenges (user_id);

-- Every password an account has had (argon2id hashes), for the reuse rule.
CREATE TABLE password_history (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    password_hash TEXT NOT NULL,
    set_at BIGINT NOT NULL
);
CREATE INDEX password_history_user ON password_history (user_id, set_at);

-- When the current password was set (NULL: at account creation).
ALTER TABLE users ADD COLUMN password_changed_at BIGINT;

-- What a session may do: NULL everything; 'mfa_enrolment' only enrol a second factor;
-- 'password_change' only change the expired password.
ALTER TABLE credentials ADD COLUMN restriction TEXT;

-- Sign-in history: every attempt on a known account, successful or not.
CREATE TABLE sign_ins (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    at BIGINT NOT NULL,
    source_addr TEXT NOT NULL,
    user_agent TEXT,
    outcome TEXT NOT NULL,
    reason TEXT,
    new_address BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX sign_ins_user ON sign_ins (user_id, at);

-- The audit key that hashed each record (NULL: the installation's first key, id "0").
ALTER TABLE audit_log ADD COLUMN key_id TEXT;
