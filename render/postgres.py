"""PostgreSQL 16 (alpine): the image contract the program relies on and the container's process (pure).

Contract of `postgres:16.x-alpine` (docker-library/postgres 16/alpine3.22, copies in the shared reference
folder): user and group postgres 70:70; PGDATA /var/lib/postgresql/data; STOPSIGNAL SIGINT, Postgres's
"fast" shutdown; the entrypoint applies POSTGRES_PASSWORD(_FILE) only when it initialises an empty data
directory, and runs its chown/step-down steps only when started as root.

The server runs as 70:70 directly: no capability is needed, and the start script shares the server's
uid, so it may signal it (a root shell with every capability dropped may not: no CAP_KILL).

Roles: the image's superuser `postgres` is used by this start script alone. The app connects as
APP_ROLE, which owns the app's database and everything in it (its migrations run) and is no superuser
(an SQL injection cannot run programs with `COPY ... TO PROGRAM` nor take over `postgres`). The backup
service connects as BACKUP_ROLE, a member of APP_ROLE that may also create databases (a restore goes into
a new one). Each has a generated password of its own, delivered by the postgres agent to Postgres and by
the app's and the backup's agents to their consumers.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from render import vault_artifacts as va
from render.app_env import APP_DB_USER, POSTGRES_DB, POSTGRES_USER
from render.datastore_spec import DatastoreSpec
from render.hardening import Stop

SERVICE = "postgres"
USER = "70:70"  # postgres:postgres in the alpine image; the adopted data directory is owned by uid 70
DATA_DIR = "/var/lib/postgresql/data"
STOP = Stop(seconds=60, signal="SIGINT")  # fast shutdown; time for the shutdown checkpoint
# The container's process, a POSIX sh program run by `sh -c` (shellcheck runs on it in CI); @NAME@ is filled in here.
START_SCRIPT = Path(__file__).with_name("postgres_start.sh")
# psql inputs of the start script (@NAME@ filled in here): the roles and their passwords, then the handover
# of the app's objects to the app's role.
ROLES_SQL = Path(__file__).with_name("postgres_roles.sql")
HANDOVER_SQL = Path(__file__).with_name("postgres_handover.sql")

APP_ROLE = APP_DB_USER
BACKUP_ROLE = "finance_report_backup"
# KV key of each role's password in the postgres secret -> the file its agent renders it into.
PASSWORD_FILES = {
    "POSTGRES_PASSWORD": "password",
    "APP_DB_PASSWORD": "app-password",
    "BACKUP_DB_PASSWORD": "backup-password",
}
# The role passwords the program generates beside the superuser's (its RandomPassword is the component's
# name + this suffix: postgres-app-password, postgres-backup-password; render/secrets.GENERATED).
ROLE_PASSWORDS = {"APP_DB_PASSWORD": "app-password", "BACKUP_DB_PASSWORD": "backup-password"}


def password_file() -> str:
    return f"{va.secrets_mount_path(SERVICE)}/{PASSWORD_FILES['POSTGRES_PASSWORD']}"


def healthcheck_command() -> list[str]:
    return ["CMD-SHELL", f"pg_isready -q -h 127.0.0.1 -U {POSTGRES_USER} -d {POSTGRES_DB}"]


def _fill(text: str, secrets_dir: str) -> str:
    return (
        text.replace("@SECRETS@", secrets_dir)
        .replace("@SUPERUSER_FILE@", PASSWORD_FILES["POSTGRES_PASSWORD"])
        .replace("@APP_FILE@", PASSWORD_FILES["APP_DB_PASSWORD"])
        .replace("@BACKUP_FILE@", PASSWORD_FILES["BACKUP_DB_PASSWORD"])
        .replace("@SUPERUSER@", POSTGRES_USER)
        .replace("@APP_ROLE@", APP_ROLE)
        .replace("@BACKUP_ROLE@", BACKUP_ROLE)
        .replace("@DB@", POSTGRES_DB)
    )


def password_sync_input(secrets_dir: str) -> str:
    """psql input that makes the app's and the backup's roles (when missing) with exactly their rights,
    and sets each role's password to the content of its file in `secrets_dir` (PASSWORD_FILES) without a
    password ever being in an argument or the environment (`\\set` reads it through a backtick)."""
    return _fill(ROLES_SQL.read_text(), secrets_dir)


def handover_input() -> str:
    """psql input that gives the app's database and the superuser's objects in it to the app's role."""
    return _fill(HANDOVER_SQL.read_text(), "")


def start_script() -> str:
    """Run the image's entrypoint, then make the roles and align their passwords with the rendered files,
    then hand the app's database to the app's role.

    Postgres applies POSTGRES_PASSWORD(_FILE) only when it initialises an empty data directory, so a
    password changed in Vault would otherwise never reach the database (a known pain of the compose
    deployment). psql reads each password through `\\set ... `cat file``: it never appears in a command
    line or an environment; it connects over the local socket (trusted by the image) to the `postgres`
    database, which exists even when the app's does not; the session tells the server never to log its
    statements, so a failed sync cannot write a password into `docker logs`.

    Docker sends the stop signal to this shell (PID 1): both SIGINT (the image's STOPSIGNAL) and SIGTERM
    are forwarded as SIGINT, Postgres's fast shutdown; SIGTERM would be its "smart" shutdown, which waits
    for pooled connections to close until the grace runs out and Postgres is killed. A failed password
    sync stops the server and exits 1: the container never turns healthy with a password the app does
    not have, and the deploy's health wait fails naming it. A failed handover is logged and Postgres keeps
    running.
    """
    return (
        START_SCRIPT.read_text()
        .replace("@ROLES@\n", password_sync_input(va.secrets_mount_path(SERVICE)))
        .replace("@HANDOVER@\n", handover_input())
        .replace("@POSTGRES_USER@", POSTGRES_USER)
        .replace("@POSTGRES_DB@", POSTGRES_DB)
        .replace("@APP_ROLE@", APP_ROLE)
    )


def spec(kv_mount: str, env: str) -> DatastoreSpec:
    return DatastoreSpec(
        service=SERVICE,
        user=USER,
        data_dir=DATA_DIR,
        password_key="POSTGRES_PASSWORD",
        generated=ROLE_PASSWORDS,
        templates=[
            replace(va.password_template(kv_mount, env, SERVICE, key), filename=filename)
            for key, filename in PASSWORD_FILES.items()
        ],
        process={
            "entrypoints": ["sh", "-c"],
            "command": [start_script()],
            "envs": [
                f"POSTGRES_USER={POSTGRES_USER}",
                f"POSTGRES_DB={POSTGRES_DB}",
                f"POSTGRES_PASSWORD_FILE={password_file()}",
            ],
        },
        health=healthcheck_command(),
        stop=STOP,
        start_period=30,
        wait_timeout=300,
    )
