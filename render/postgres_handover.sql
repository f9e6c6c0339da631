-- psql input run by Postgres's start script (render/postgres.py) after the roles are in place: the app's
-- database and every object in it that the superuser owns (a database made by the compose deployment, or
-- restored by hand as the superuser) go to the app's role, so its migrations can alter them. System
-- objects (pg_catalog, information_schema, pg_toast) and extension members keep their owner. `REASSIGN
-- OWNED BY postgres` cannot do this: PostgreSQL refuses it for the bootstrap superuser ("required by the
-- database system"). Nothing happens when the database does not exist (a restore cut short).
SELECT EXISTS (SELECT FROM pg_catalog.pg_database WHERE datname = '@DB@') AS app_db_exists \gset
\if :app_db_exists
ALTER DATABASE @DB@ OWNER TO @APP_ROLE@;
\c @DB@
DO $handover$
DECLARE
  item record;
BEGIN
  FOR item IN
    SELECT format('ALTER SCHEMA %I OWNER TO @APP_ROLE@', n.nspname) AS statement
    FROM pg_catalog.pg_namespace n
    WHERE n.nspowner = '@SUPERUSER@'::regrole AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\_%'
      AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_namespace'::regclass
                      AND d.objid = n.oid AND d.deptype = 'e')
    UNION ALL
    -- indexes, TOAST tables and the sequences of serial and identity columns follow their table
    SELECT format('ALTER %s %s OWNER TO @APP_ROLE@',
                  CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'f' THEN 'FOREIGN TABLE'
                                 WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, c.oid::regclass)
    FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relowner = '@SUPERUSER@'::regrole AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
      AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\_%'
      AND NOT (c.relkind = 'S' AND EXISTS (SELECT FROM pg_catalog.pg_depend d
               WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid
                 AND d.refclassid = 'pg_catalog.pg_class'::regclass AND d.deptype IN ('a', 'i')))
      AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_class'::regclass
                      AND d.objid = c.oid AND d.deptype = 'e')
    UNION ALL
    SELECT format('ALTER ROUTINE %s OWNER TO @APP_ROLE@', p.oid::regprocedure)
    FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
    WHERE p.proowner = '@SUPERUSER@'::regrole AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\_%'
      AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_proc'::regclass
                      AND d.objid = p.oid AND d.deptype = 'e')
    UNION ALL
    -- enums, domains, ranges, multiranges, composite and base types; array types follow their element,
    -- row types their table
    SELECT format('ALTER %s %s OWNER TO @APP_ROLE@', CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END,
                  t.oid::regtype)
    FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
    WHERE t.typowner = '@SUPERUSER@'::regrole AND t.typtype IN ('b', 'c', 'd', 'e', 'r', 'm')
      AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\_%'
      AND (t.typrelid = 0 OR (SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid = t.typrelid) = 'c')
      AND NOT EXISTS (SELECT FROM pg_catalog.pg_type e WHERE e.typarray = t.oid)
      AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_type'::regclass
                      AND d.objid = t.oid AND d.deptype = 'e')
  LOOP
    EXECUTE item.statement;
  END LOOP;
END
$handover$;
\endif
