"""The backup service's job script and its settings (pure builders; program/backup.py declares the
container that runs it, docs/backups.md explains the design).

One POSIX sh script, uploaded into the backup container at SCRIPT_PATH, is the container's process
(`fr-backup loop`), its health check (`fr-backup health`) and what the operator commands run in it
through the Docker API (`run`, `list`, `restore`). The integration tests run this exact text, taken from
the program's captured inputs, on real PostgreSQL, restic and an S3-protocol server.

How a run goes (`fr-backup run`): `pg_dumpall --globals-only` and `pg_dump --format=custom` of the env's
database are streamed into restic (`backup --stdin`: no plaintext dump is ever written to disk) as two
snapshots tagged with the run; a dump that fails or comes out empty is forgotten at once. The database
snapshot is then restored into a throwaway PostgreSQL server the job starts inside its own container on
the scratch volume (no Docker socket, no second container), and checked: pg_restore exits 0, the
`alembic_version` table holds one row; the table count and the row counts of the largest tables are
recorded, and compared with the previous verified backup's: a table count or a large table's rows more
than backupMaxDropPercent below them fails the check (an emptied database is no backup to keep in place
of the good ones; `--accept-drop` accepts a wanted drop). Only a snapshot that passed is tagged
`verified` (`safety-verified` for the safety backup before a restore); only then does `restic check` run
and, after it, retention (`forget --keep-daily/--keep-weekly --prune`) over verified snapshots of this
env's host alone, so a failed or unverified run never prunes, and the newest verified backup is always
kept; safety backups are kept backupKeepSafetyDays days apart from that.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from render import vault_artifacts as va

SERVICE = "backup"
SCRIPT_PATH = "/usr/local/bin/fr-backup"
SCRATCH = "/scratch"
USER = "70:70"  # postgres:postgres of the postgres:16-alpine base: initdb/postgres refuse to run as root
GID = 70
ENV_FILE = "backup.env"
DUMP_FILE = "finance_report.dump"
GLOBALS_FILE = "globals.sql"

# Keys of the backup service's KV secret (secret/data/finance_report/<env>/backup), rendered into ENV_FILE.
# S3 credentials of the backup repository, the repository password, the database password (the job's
# own copy: its policy reads no other path) and the optional heartbeat URL ("" when off).
SECRET_KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "RESTIC_PASSWORD", "PGPASSWORD", "HEARTBEAT_URL")


@dataclass(frozen=True)
class JobSettings:
    """What the job reads from its container's environment (nothing secret)."""

    repository: str
    """restic repository, `s3:<endpoint>/<bucket>/<prefix>`."""
    host_tag: str
    """restic `--host` of every snapshot: stable across container replacements, so retention groups stay one."""
    time: str
    """HH:MM (UTC) of the first backup of the day."""
    interval_hours: int
    """Hours between two scheduled backups, counted from `time`."""
    keep_daily: int
    keep_weekly: int
    keep_safety_days: int
    """Days a safety backup (the one before a restore) is kept, counted from the newest one."""
    max_drop_percent: int
    """The largest drop since the previous verified backup (table count, a large table's rows) a backup may
    show and still be verified (100: any)."""
    pg_host: str
    pg_port: int
    pg_user: str
    """The backup's database role: dumps and restores with the rights of `db_owner`, whose member it is."""
    pg_database: str
    db_owner: str
    """The app's role: owns the database and every restored one (pg_restore --role)."""


def job_envs(settings: JobSettings) -> list[str]:
    """The container's `envs`. The script refuses to start without any of them (`set -u`)."""
    values: Mapping[str, object] = {
        "RESTIC_REPOSITORY": settings.repository,
        "BACKUP_HOST": settings.host_tag,
        "BACKUP_TIME": settings.time,
        "BACKUP_INTERVAL_HOURS": settings.interval_hours,
        "BACKUP_KEEP_DAILY": settings.keep_daily,
        "BACKUP_KEEP_WEEKLY": settings.keep_weekly,
        "BACKUP_KEEP_SAFETY_DAYS": settings.keep_safety_days,
        "BACKUP_MAX_DROP_PERCENT": settings.max_drop_percent,
        "PGHOST": settings.pg_host,
        "PGPORT": settings.pg_port,
        "PGUSER": settings.pg_user,
        "PGDATABASE": settings.pg_database,
        "DB_OWNER": settings.db_owner,
    }
    return [f"{key}={value}" for key, value in values.items()]


def healthcheck_command(report_only: bool = False) -> list[str]:
    """The health check: it fails on a failed last run or stale backups. `report_only` prints the same line
    and flags but passes: for a runtime that acts on health (Swarm replaces an unhealthy task and holds an
    update until it is healthy: facts.providers.SWARM_TASK_HEALTH), where a failed backup must not restart
    the service nor block a deploy; `invoke status` reads the line either way."""
    return ["CMD", SCRIPT_PATH, "health", *(["--report-only"] if report_only else [])]


# Tables with fewer rows than this in the previous verified backup are not compared with it: a small
# table's churn (a queue emptied) is no sign of lost data.
DROP_MIN_ROWS = 100

# Row counts of the five largest tables, each printed as `schema.table=count` by psql's \gexec.
_LARGEST_TABLES_SQL = (
    "SELECT format('SELECT %L || ''='' || count(*) FROM %I.%I', n.nspname || '.' || c.relname, n.nspname, c.relname) "
    "FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname "
    "NOT LIKE 'pg_toast%' "
    "ORDER BY pg_catalog.pg_total_relation_size(c.oid) DESC, 1 LIMIT 5"
)
_TABLE_COUNT_SQL = (
    "SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
)


# The job itself, a POSIX sh program (shellcheck runs on it in CI); @NAME@ marks what is filled in here.
SCRIPT_FILE = Path(__file__).with_name("backup_job.sh")


def script() -> str:
    """The job (see the module docstring). Busybox ash and dash both run it (alpine's /bin/sh is ash)."""
    secrets = va.secrets_mount_path(SERVICE)
    return (
        SCRIPT_FILE.read_text()
        .replace("@SECRETS@", secrets)
        .replace("@ENV_FILE@", ENV_FILE)
        .replace("@SCRATCH@", SCRATCH)
        .replace("@DUMP@", DUMP_FILE)
        .replace("@GLOBALS@", GLOBALS_FILE)
        .replace("@LARGEST_SQL@", _LARGEST_TABLES_SQL)
        .replace("@TABLES_SQL@", _TABLE_COUNT_SQL)
        .replace("@DROP_MIN_ROWS@", str(DROP_MIN_ROWS))
    )
