-- psql input run by Postgres's start script (render/postgres.py) on every start, as the image's superuser
-- over the local socket, connected to the `postgres` database (it exists whatever happened to the app's).
-- Passwords come from the files the postgres vault-agent renders, through psql's backtick \set: never in
-- an argument, the environment or the statement text the client sends before interpolation.
\set pw `cat @SECRETS@/@SUPERUSER_FILE@`
\set app_pw `cat @SECRETS@/@APP_FILE@`
\set backup_pw `cat @SECRETS@/@BACKUP_FILE@`
SELECT format('CREATE ROLE %I', role) FROM unnest(ARRAY['@APP_ROLE@', '@BACKUP_ROLE@']) AS role
WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = role) \gexec
-- The app's role: may log in and own what it creates, nothing more.
ALTER ROLE @APP_ROLE@ WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT PASSWORD :'app_pw';
-- The backup's role: dumps and restores the app's database with the rights of the app's role (a member of
-- it), and may create the database a restore goes into.
ALTER ROLE @BACKUP_ROLE@ WITH LOGIN NOSUPERUSER CREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT PASSWORD :'backup_pw';
-- A membership is the member's rights too (SET ROLE postgres is a superuser session): none for the app's
-- role, the app's role alone for the backup's, whoever granted any other.
SELECT format('REVOKE %I FROM %I GRANTED BY %I', pg_catalog.pg_get_userbyid(m.roleid),
              pg_catalog.pg_get_userbyid(m.member), pg_catalog.pg_get_userbyid(m.grantor))
FROM pg_catalog.pg_auth_members m
WHERE m.member IN ('@APP_ROLE@'::regrole, '@BACKUP_ROLE@'::regrole)
  AND NOT (m.member = '@BACKUP_ROLE@'::regrole AND m.roleid = '@APP_ROLE@'::regrole) \gexec
SELECT 'GRANT @APP_ROLE@ TO @BACKUP_ROLE@' WHERE NOT pg_catalog.pg_has_role('@BACKUP_ROLE@', '@APP_ROLE@', 'MEMBER') \gexec
ALTER ROLE @SUPERUSER@ PASSWORD :'pw';
