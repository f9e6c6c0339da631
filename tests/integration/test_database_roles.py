"""The app's database roles on real PostgreSQL (the stand-in of postgres:16-alpine), Postgres and its agent
created from the program's captured inputs, the app's DATABASE_URL rendered by the app's own agent, the
backup role taken from the backup container's declared PGUSER.

Shown: the role in DATABASE_URL can migrate (create tables, types, indexes; alter what it owns) but is no
superuser: `COPY ... TO PROGRAM` (a shell in the container) and `ALTER ROLE postgres` are refused. A
database made by the compose deployment (everything owned by `postgres`) is handed to that role when
Postgres starts, system objects untouched, and the backup role can dump it. Postgres starts and syncs its
passwords while `finance_report` does not exist (an interrupted restore must not crash-loop it), and a
password sync that fails leaves no password in the server's log.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

import pytest

from tests.conftest import run_stack
from tests.integration import provider
from tests.integration.datastore_deployment import DatastoreDeployment
from tests.integration.harness import wait_until
from tests.integration.sidecar import Artifacts, apply_vault

pytestmark = pytest.mark.integration

# Objects as the compose deployment's migrations left them: made by the superuser, so owned by it.
LEGACY_SCHEMA = """
CREATE TYPE legacy_mood AS ENUM ('calm', 'busy');
CREATE DOMAIN legacy_amount AS numeric CHECK (VALUE >= 0);
CREATE TABLE legacy (id serial PRIMARY KEY, ident bigint GENERATED ALWAYS AS IDENTITY, mood legacy_mood,
                     amount legacy_amount);
CREATE INDEX legacy_mood_idx ON legacy (mood);
CREATE SEQUENCE legacy_counter;
CREATE VIEW legacy_view AS SELECT id, mood FROM legacy;
CREATE MATERIALIZED VIEW legacy_totals AS SELECT count(*) AS n FROM legacy;
CREATE FUNCTION legacy_fn(i int) RETURNS int LANGUAGE sql AS 'SELECT i + 1';
CREATE SCHEMA legacy_reports;
CREATE TABLE legacy_reports.monthly (month date PRIMARY KEY, total numeric);
CREATE TABLE legacy_parted (id int, at date) PARTITION BY RANGE (at);
CREATE TABLE legacy_parted_2026 PARTITION OF legacy_parted FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
INSERT INTO legacy (mood, amount) VALUES ('calm', 1), ('busy', 2);
"""

# What a migration of the app does to those objects: each needs ownership.
MIGRATION = """
ALTER TABLE legacy ADD COLUMN note text;
ALTER TYPE legacy_mood ADD VALUE 'away';
ALTER DOMAIN legacy_amount SET DEFAULT 0;
ALTER SEQUENCE legacy_counter RESTART WITH 10;
CREATE OR REPLACE VIEW legacy_view AS SELECT id, mood, note FROM legacy;
REFRESH MATERIALIZED VIEW legacy_totals;
CREATE OR REPLACE FUNCTION legacy_fn(i int) RETURNS int LANGUAGE sql AS 'SELECT i + 2';
ALTER TABLE legacy_reports.monthly ADD COLUMN closed boolean;
CREATE TABLE legacy_reports.yearly (year int PRIMARY KEY);
ALTER TABLE legacy_parted_2026 ADD CONSTRAINT legacy_parted_2026_id CHECK (id > 0);
INSERT INTO legacy (mood, amount, note) VALUES ('busy', 3, 'migrated');
"""


@pytest.fixture(scope="module")
def deployment(docker_engine, agent_image, postgres_image, openbao, program):
    artifacts = Artifacts(
        run_stack("staging", {"vaultAddress": openbao.address, "postgresDataPath": None, "redisDataPath": None})
    )
    apply_vault(openbao, artifacts)
    deployment = DatastoreDeployment(
        docker_engine, agent_image, postgres_image, openbao, artifacts, "postgres", "roles"
    )
    try:
        deployment.up()
        yield deployment
    finally:
        apply_vault(openbao, program["staging"])
        docker_engine.cleanup()


def app_url(deployment: DatastoreDeployment) -> tuple[str, str]:
    """(user, password) of the DATABASE_URL the app's agent renders for the backend."""
    url = urlsplit(deployment.rendered_url())
    return unquote(url.username or ""), unquote(url.password or "")


def backup_role(deployment: DatastoreDeployment) -> tuple[str, str]:
    """(PGUSER, PGPASSWORD) the backup job connects with: its container's env and its own KV copy."""
    envs = dict(e.split("=", 1) for e in deployment.artifacts.consumer("backup-container")["envs"])
    return envs["PGUSER"], deployment.artifacts.kv()["backup"][1]["PGPASSWORD"]


def as_superuser(deployment: DatastoreDeployment, sql: str, db: str = "finance_report") -> str:
    """psql inside the Postgres container over its local socket, as the image's superuser."""
    proc = deployment.docker.run(
        "exec", deployment.container, "psql", "-X", "-v", "ON_ERROR_STOP=1", "-tA", "-U", "postgres", "-d", db,
        "-c", sql,
    )  # fmt: skip
    return proc.stdout.decode().strip()


def restart(deployment: DatastoreDeployment) -> None:
    """Stop as the provider stops it, start again (the start script runs again on the same data)."""
    provider.stop_for_delete(deployment.api, deployment.container, deployment.inputs)
    stopped = deployment.docker.inspect(deployment.container)["State"]["FinishedAt"]
    deployment.docker.run("start", deployment.container)
    deployment.docker.wait_healthy(deployment.container, 180, "postgres again", stopped_last=stopped)


def test_the_apps_role_can_migrate_but_cannot_run_programs_or_touch_the_superuser(deployment):
    user, password = app_url(deployment)
    assert user and user != "postgres", f"DATABASE_URL connects as {user!r}"
    code, out, err = deployment.psql(
        user,
        password,
        "CREATE TYPE status AS ENUM ('new', 'done'); CREATE TABLE alembic_version (version_num varchar(32) "
        "PRIMARY KEY); CREATE TABLE entries (id serial PRIMARY KEY, status status); CREATE INDEX entries_status "
        "ON entries (status); ALTER TABLE entries ADD COLUMN memo text; INSERT INTO alembic_version VALUES "
        "('0001'); SELECT rolsuper::text FROM pg_roles WHERE rolname = current_user",
    )
    assert code == 0 and out.strip() == "false", err

    code, _out, err = deployment.psql(user, password, "COPY (SELECT 1) TO PROGRAM 'id'")
    assert code != 0 and "pg_execute_server_program" in err, f"COPY TO PROGRAM as the app's role: {code} {err}"
    code, _out, err = deployment.psql(user, password, "ALTER ROLE postgres PASSWORD 'taken-over'")
    assert code != 0 and "must be superuser" in err, f"ALTER ROLE postgres as the app's role: {code} {err}"
    code, _out, err = deployment.psql(user, password, "SET ROLE postgres")
    assert code != 0 and "permission denied" in err, err
    assert as_superuser(deployment, "SELECT count(*) FROM pg_auth_members WHERE member = current_user::regrole") == "0"


def test_a_database_owned_by_postgres_is_handed_to_the_apps_role_when_postgres_starts(deployment):
    as_superuser(deployment, LEGACY_SCHEMA)
    system = "SELECT count(*) FROM pg_class WHERE relnamespace = 'pg_catalog'::regnamespace AND relowner = 10"
    system_before = as_superuser(deployment, system)
    restart(deployment)

    user, password = app_url(deployment)
    assert user != "postgres", f"DATABASE_URL connects as {user!r}"
    code, _out, err = deployment.psql(user, password, MIGRATION)
    assert code == 0, f"a migration of the adopted objects as {user}: {err}"
    owners = as_superuser(
        deployment,
        "SELECT string_agg(DISTINCT pg_get_userbyid(relowner), ',') FROM pg_class WHERE relname LIKE 'legacy%' "
        "UNION ALL SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'finance_report' "
        "UNION ALL SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'legacy_reports'",
    )
    assert owners.split("\n") == [user, user, user], owners
    assert as_superuser(deployment, system) == system_before, "system catalogs keep their owner"

    backup_user, backup_password = backup_role(deployment)
    assert backup_user not in ("postgres", user)
    code, out, err = deployment.run_tool(
        "pg_dump", backup_user, backup_password, "--format=plain", "--table=legacy", "--data-only"
    )
    assert code == 0 and "migrated" in out, f"pg_dump as {backup_user}: {err}"


def test_postgres_starts_and_syncs_its_passwords_while_finance_report_does_not_exist(deployment):
    """A restore cut between its two renames once left no `finance_report`; the sync then connected to
    it, failed, and Postgres crash-looped with the restore tools inside it unreachable."""
    as_superuser(deployment, "ALTER DATABASE finance_report RENAME TO finance_report_away", db="postgres")
    try:
        restart(deployment)
        user, password = app_url(deployment)
        code, out, err = deployment.psql(user, password, "SELECT 1", db="postgres")
        assert code == 0 and out.strip() == "1", err
    finally:
        as_superuser(deployment, "ALTER DATABASE finance_report_away RENAME TO finance_report", db="postgres")


def test_a_failed_password_sync_leaves_no_password_in_the_servers_log(deployment):
    """Last: the server is made read-only, so every statement of the next start's sync fails."""
    as_superuser(deployment, "ALTER SYSTEM SET default_transaction_read_only = on", db="postgres")
    provider.stop_for_delete(deployment.api, deployment.container, deployment.inputs)
    deployment.docker.run("update", "--restart", "no", deployment.container)
    deployment.docker.run("start", deployment.container)
    wait_until(lambda: not deployment.docker.inspect(deployment.container)["State"]["Running"], 120, "the failed sync")
    logs = deployment.logs()
    assert "password sync failed" in logs and "read-only transaction" in logs, logs[-2000:]
    passwords = {k: v for k, v in deployment.artifacts.kv()["postgres"][1].items() if v}
    assert len(passwords) >= 1
    leaked = [key for key, value in passwords.items() if value in logs]
    assert not leaked, f"the server logged the value of {leaked} (the failed statement's text)"
