"""PostgreSQL 16 (alpine): the image contract the program relies on and the container's process (pure).

Contract of `postgres:16.x-alpine` (docker-library/postgres 16/alpine3.22, copies in the shared reference
folder): user and group postgres 70:70; PGDATA /var/lib/postgresql/data; STOPSIGNAL SIGINT, Postgres's
"fast" shutdown; the entrypoint applies POSTGRES_PASSWORD(_FILE) only when it initialises an empty data
directory, and runs its chown/step-down steps only when started as root.

The server runs as 70:70 directly: no capability is needed, and the start script shares the server's
uid, so it may signal it (a root shell with every capability dropped may not: no CAP_KILL).
"""

from __future__ import annotations

from pathlib import Path

from render import vault_artifacts as va
from render.app_env import POSTGRES_DB, POSTGRES_USER
from render.datastore_spec import DatastoreSpec
from render.hardening import Stop

SERVICE = "postgres"
USER = "70:70"  # postgres:postgres in the alpine image; the adopted data directory is owned by uid 70
DATA_DIR = "/var/lib/postgresql/data"
STOP = Stop(seconds=60, signal="SIGINT")  # fast shutdown; time for the shutdown checkpoint
# The container's process, a POSIX sh program run by `sh -c` (shellcheck runs on it in CI); @NAME@ is filled in here.
START_SCRIPT = Path(__file__).with_name("postgres_start.sh")


def password_file() -> str:
    return f"{va.secrets_mount_path(SERVICE)}/password"


def healthcheck_command() -> list[str]:
    return ["CMD-SHELL", f"pg_isready -q -h 127.0.0.1 -U {POSTGRES_USER} -d {POSTGRES_DB}"]


def password_sync_input(path: str) -> str:
    """psql input that sets the role's password to the content of `path` without the password ever
    being in an argument, the environment or the statement log (`\\set` reads it through a backtick)."""
    return f"\\set pw `cat {path}`\nALTER ROLE {POSTGRES_USER} PASSWORD :'pw';\n"


def start_script() -> str:
    """Run the image's entrypoint, then align the role's password with the rendered file.

    Postgres applies POSTGRES_PASSWORD(_FILE) only when it initialises an empty data directory, so a
    password changed in Vault would otherwise never reach the database (a known pain of the compose
    deployment). psql reads the password through `\\set ... `cat file``: it never appears in a command
    line or an environment; it connects over the local socket (trusted by the image).

    Docker sends the stop signal to this shell (PID 1): both SIGINT (the image's STOPSIGNAL) and SIGTERM
    are forwarded as SIGINT, Postgres's fast shutdown; SIGTERM would be its "smart" shutdown, which waits
    for pooled connections to close until the grace runs out and Postgres is killed. A failed password
    sync stops the server and exits 1: the container never turns healthy with a password the app does
    not have, and the deploy's health wait fails naming it.
    """
    return (
        START_SCRIPT.read_text()
        .replace("@POSTGRES_USER@", POSTGRES_USER)
        .replace("@POSTGRES_DB@", POSTGRES_DB)
        .replace("@PASSWORD_SYNC@\n", password_sync_input(password_file()))
    )


def spec(kv_mount: str, env: str) -> DatastoreSpec:
    return DatastoreSpec(
        service=SERVICE,
        user=USER,
        data_dir=DATA_DIR,
        password_key="POSTGRES_PASSWORD",
        templates=[va.password_template(kv_mount, env, SERVICE, "POSTGRES_PASSWORD")],
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
