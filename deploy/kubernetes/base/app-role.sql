-- The application's own PostgreSQL role: it reads and writes every table of yanxiu but may
-- never change or remove an audit record (等保三级: audit records protected from deletion,
-- modification and overwriting). The append-only triggers stop even the owner; this role
-- stops the application twice over.
--
-- 1. As a superuser, once:   CREATE ROLE yanxiu_app LOGIN PASSWORD '…';
-- 2. Start yanxiu once as the database's OWNER role (it creates the tables and triggers).
-- 3. As the owner, run this file:   psql "$OWNER_URL" -f deploy/postgres/app-role.sql
--    (again after an upgrade that adds tables).
-- 4. Run `yanxiu serve` and `yanxiu worker` with YANXIU_DATABASE_URL naming yanxiu_app;
--    `yanxiu audit verify` then reports "application role cannot change audit records".
GRANT USAGE ON SCHEMA public TO yanxiu_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO yanxiu_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO yanxiu_app;
REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM yanxiu_app;
REVOKE DELETE, TRUNCATE ON audit_head FROM yanxiu_app;
