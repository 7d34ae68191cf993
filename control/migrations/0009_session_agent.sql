-- The browser's user agent of an interactive session, kept at sign-in so that the security
-- administrator can tell sessions apart (address, browser). At most 256 characters, control
-- characters dropped. Same SQL on SQLite and PostgreSQL.
ALTER TABLE credentials ADD COLUMN user_agent TEXT;
