"""What both backup test files share (test_backup_runs.py, test_backup_restores.py): one env's backup service
seeded with a ledger of hostile rows, and the helpers that read it back. Each file gets a stage of its own
(its own Postgres, container and repository prefix), so xdist can run the two on two workers.

The Postgres password and the repository password are hostile (quotes, `$`, backticks, spaces, `@`,
`%`, non-ASCII): they are the program's own generated values as a stack's state would hold them."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from render import backup_job as job
from tests.integration.backup_stage import BackupStage, Heartbeat, repository_prefix, use_low_cost_key
from tests.integration.harness import Docker, OpenBao, S3Server

HOSTILE_PG = 'pg\'pw "q" $HOME `id` a b@c:d/e%20f é中🔑\\z'
HOSTILE_RESTIC = 're\'st $PATH "ic" @%41 ß 漢字 pass'
MARKER = "row-marker-7f3a9c"  # in every known row: must never appear in the stored bytes


@contextlib.contextmanager
def seeded_stage(
    docker_engine: Docker,
    openbao: OpenBao,
    s3_server: S3Server,
    agent_image: str,
    backup_image: str,
    heartbeat: Heartbeat,
    tag: str,
) -> Iterator[BackupStage]:
    """The staging env's backup service with its repository under finance_report/staging/<tag>: alembic at
    0042_head and 5,000 ledger rows carrying MARKER, started, its catch-up backup at start taken."""
    stage = BackupStage(
        docker_engine,
        openbao,
        s3_server,
        agent_image,
        backup_image,
        tag,
        overrides={"backupS3Prefix": f"finance_report/staging/{tag}"},
        state={"postgres-backup-password": HOSTILE_PG, "backup-restic-password": HOSTILE_RESTIC},
        heartbeat=heartbeat,
    )
    try:
        assert stage.kv["PGPASSWORD"] == HOSTILE_PG and stage.kv["RESTIC_PASSWORD"] == HOSTILE_RESTIC
        stage.sql(
            "finance_report",
            "CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY); INSERT INTO alembic_version "
            "VALUES ('0042_head')",
        )
        stage.sql("finance_report", "CREATE TABLE ledger (id int PRIMARY KEY, memo text, amount numeric)")
        stage.sql(
            "finance_report",
            "INSERT INTO ledger SELECT g, %s || '-' || g || ' it''s $5 @ 100%% é', g * 1.5 FROM "
            "generate_series(1, 5000) g",
            (MARKER,),
        )
        stage.start()
        stage.wait_first_backup()  # the service's own catch-up backup at start, which created the repository
        # From here on, restic opens it in milliseconds instead of half a second of CPU (LOW_COST_KDF).
        use_low_cost_key(
            s3_server, repository_prefix(s3_server, stage.envs["RESTIC_REPOSITORY"]), stage.kv["RESTIC_PASSWORD"]
        )
        yield stage
    finally:
        stage.remove()
        stage.stop()
        docker_engine.cleanup()


def stage_fixtures(tag: str) -> tuple[Any, Any]:
    """A test file's module fixtures `heartbeat` and `stage`: `heartbeat, stage = stage_fixtures("bk-x")`."""

    @pytest.fixture(scope="module", name="heartbeat")
    def heartbeat_fixture():
        beat = Heartbeat()
        yield beat
        beat.stop()

    @pytest.fixture(scope="module", name="stage")
    def stage_fixture(docker_engine, openbao, s3_server, agent_image, backup_image, heartbeat):
        with seeded_stage(docker_engine, openbao, s3_server, agent_image, backup_image, heartbeat, tag) as stage:
            yield stage

    return heartbeat_fixture, stage_fixture


def ledger(stage: BackupStage, db: str = "finance_report") -> list[tuple]:
    return stage.sql(db, "SELECT id, memo, amount FROM ledger ORDER BY id")


def reason(stderr: str) -> str:
    return [line for line in stderr.splitlines() if "FAILED" in line][-1]


def newest_db(stage: BackupStage) -> dict:
    return max((s for s in stage.snapshots() if "kind=db" in s["tags"]), key=lambda s: s["time"])


def restic_env(stage: BackupStage) -> dict[str, str]:
    """restic on the host, for the synthetic history (the test's own writes, not the job's)."""
    return {
        **os.environ,
        "RESTIC_REPOSITORY": stage.envs["RESTIC_REPOSITORY"],
        "RESTIC_PASSWORD": stage.kv["RESTIC_PASSWORD"],
        "AWS_ACCESS_KEY_ID": stage.kv["AWS_ACCESS_KEY_ID"],
        "AWS_SECRET_ACCESS_KEY": stage.kv["AWS_SECRET_ACCESS_KEY"],
        "RESTIC_CACHE_DIR": "/dev/shm/frh-restic-cache",
    }


def synthetic(stage: BackupStage, when: datetime, tags: list[str], host: str) -> None:
    argv = [
        "restic",
        "backup",
        "--stdin",
        "--stdin-filename",
        job.DUMP_FILE,
        "--host",
        host,
        "--time",
        when.strftime("%Y-%m-%d %H:%M:%S"),
        "--quiet",
    ]
    for tag in tags:
        argv += ["--tag", tag]
    proc = subprocess.run(
        argv, input=f"synthetic {when}".encode(), env=restic_env(stage), capture_output=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
