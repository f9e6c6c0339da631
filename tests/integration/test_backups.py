"""The backup service on real software: PostgreSQL, restic and an S3-protocol server (moto, signed
requests enforced) on loopback, the program's own agent rendering the program's template from OpenBao,
and the program's job script in a container created from the program's captured inputs (the stand-in of
the backup image; tests/integration/backup_stage.py maps only container names to loopback addresses).

The Postgres password and the repository password are hostile (quotes, `$`, backticks, spaces, `@`,
`%`, non-ASCII): they are the program's own generated values as a stack's state would hold them.

Shown: a backup at start, rows equal after the database is dropped and restored; no row, password or key
in the stored objects; a wrong repository password fails the restore clearly; S3 unreachable, wrong S3
credentials, Postgres down and a dump killed midway each fail the run in one line, keep every earlier
backup, never call the heartbeat and fail the health check, and the next good run recovers; an empty
dump is forgotten; retention keeps exactly restic's daily/weekly selection of verified snapshots of this
env, never touches another env's and prunes nothing when the latest run failed; the restore check
rejects an empty database, a dump pg_restore refuses, an alembic_version without exactly one row and
corrupted data; `latest` (check, restore, the state a new container recovers, `invoke restore`) is the
newest verified backup, never a newer failed one, and a failed one is restored only with --unverified;
more than 1,000 snapshots are listed; the operator commands back up, list and restore through the
Docker API.

The tests of this module share one env (one repository, one container) and run in file order; the
corruption test is last because it damages the repository on purpose.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from render import backup_job as job
from tests.integration.backup_stage import BackupStage, Heartbeat, write_kv, write_snapshots
from tests.integration.harness import DOCKER_SOCK, wait_until

pytestmark = pytest.mark.integration

HOSTILE_PG = 'pg\'pw "q" $HOME `id` a b@c:d/e%20f é中🔑\\z'
HOSTILE_RESTIC = 're\'st $PATH "ic" @%41 ß 漢字 pass'
MARKER = "row-marker-7f3a9c"  # in every known row: must never appear in the stored bytes
CONTAINER = "docker:index/container:Container"


@pytest.fixture(scope="module")
def heartbeat():
    beat = Heartbeat()
    yield beat
    beat.stop()


@pytest.fixture(scope="module")
def stage(docker_engine, openbao, s3_server, agent_image, backup_image, heartbeat):
    stage = BackupStage(
        docker_engine,
        openbao,
        s3_server,
        agent_image,
        backup_image,
        "bk",
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
        stage.wait_first_backup()  # the service's own catch-up backup at start
        yield stage
    finally:
        stage.remove()
        stage.stop()
        docker_engine.cleanup()


def ledger(stage: BackupStage, db: str = "finance_report") -> list[tuple]:
    return stage.sql(db, "SELECT id, memo, amount FROM ledger ORDER BY id")


def snapshot_ids(stage: BackupStage) -> set[str]:
    return {s["id"] for s in stage.snapshots()}


def reason(stderr: str) -> str:
    return [line for line in stderr.splitlines() if "FAILED" in line][-1]


# -------------------------------------------------------------------------------------------------------- round trip


def test_the_service_backs_up_at_start_and_a_dropped_database_comes_back_equal(stage, heartbeat):
    code, line = stage.health()
    assert code == 0 and "result: ok" in line and "tables=2" in line and "public.ledger=5000" in line, line
    assert heartbeat.calls >= 1, f"a verified backup calls the heartbeat: {stage.logs()[-1500:]}"
    before = ledger(stage)
    assert len(before) == 5000

    stage.sql("postgres", "DROP DATABASE finance_report")
    code, out, err = stage.job("restore", "latest", "finance_report_restore_t1", "--live")
    assert code == 0, err
    assert out.strip().endswith("into finance_report (finance_report did not exist)")
    assert ledger(stage) == before
    assert stage.sql("finance_report", "SELECT version_num FROM alembic_version") == [("0042_head",)]


# A psql first on the job's PATH that runs the real one, but when its input holds a rename, feeds it only
# up to the first rename and then dies as if killed (SIGKILL), as a restore cut short between its renames.
CUT_PSQL = """#!/bin/sh
input=$(mktemp)
cat > "$input"
if grep -q 'RENAME TO' "$input"; then
  sed -n '1,/RENAME TO/p' "$input" | {real} "$@"
  rm -f "$input"
  kill -9 $$
fi
{real} "$@" < "$input"
status=$?
rm -f "$input"
exit $status
"""


def test_a_swap_cut_after_its_first_rename_renames_nothing_and_the_kept_name_comes_first(stage):
    """`restore --live` renames the live database away and the restored one into place. Cut between the
    two, `finance_report` must still be there, unchanged; the restored copy stays for another try; the
    job said where each database would go before it touched any."""
    before = ledger(stage)
    target = "finance_report_restore_cut"
    real = stage.docker.run("exec", stage.cid, "sh", "-c", "command -v psql").stdout.decode().strip()
    fault = f"{job.SCRATCH}/tmp/cut-psql"
    stage.docker.run("exec", stage.cid, "mkdir", "-p", fault)
    stage.docker.copy_in(stage.cid, {f"{fault}/psql": CUT_PSQL.replace("{real}", real)}, mode=0o755)
    path = stage.docker.run("exec", stage.cid, "sh", "-c", "echo $PATH").stdout.decode().strip()
    try:
        proc = stage.docker.run(
            "exec", "-e", f"PATH={fault}:{path}", stage.cid, job.SCRIPT_PATH, "restore", "latest", target, "--live",
            check=False, timeout=600,
        )  # fmt: skip
        err = proc.stderr.decode(errors="replace")
        assert proc.returncode == 1, err
        databases = {r[0] for r in stage.sql("postgres", "SELECT datname FROM pg_database")}
        assert "finance_report" in databases, f"the live database is gone after a cut swap: {sorted(databases)}"
        assert ledger(stage) == before and target in databases, err
        assert not [d for d in databases if d.startswith("finance_report_before_")], "nothing was renamed"
        announced = [line for line in err.splitlines() if "kept as finance_report_before_" in line]
        assert announced and err.index(announced[0]) < err.index("failed"), err
        assert (
            err.strip()
            .splitlines()[-1]
            .startswith(f"restore: swapping {target} in as finance_report failed and renamed nothing")
        ), err
    finally:
        stage.docker.run("exec", stage.cid, "rm", "-rf", fault)
        stage.sql("postgres", f'DROP DATABASE IF EXISTS "{target}"')


def test_a_swap_refused_by_postgres_fails_and_renames_nothing(stage):
    """A rename PostgreSQL refuses (a superuser's session on the live database, which the job may not end)
    must fail the job: without ON_ERROR_STOP psql would go on to COMMIT, which rolls back with exit 0, and
    the job would say it restored while nothing moved."""
    import psycopg

    before = ledger(stage)
    target = "finance_report_restore_refused"
    held = psycopg.connect(
        host="127.0.0.1", port=stage.pg.port, user="postgres", password=stage.pg.password, dbname="finance_report"
    )
    try:
        code, out, err = stage.job("restore", "latest", target, "--live")
        assert code == 1, out + err
        assert (
            err.strip()
            .splitlines()[-1]
            .startswith(f"restore: swapping {target} in as finance_report failed and renamed nothing")
        ), err
        databases = {r[0] for r in stage.sql("postgres", "SELECT datname FROM pg_database")}
        assert target in databases and not [d for d in databases if d.startswith("finance_report_before_")]
    finally:
        held.close()
        stage.sql("postgres", f'DROP DATABASE IF EXISTS "{target}"', superuser=True)
    assert ledger(stage) == before


def test_the_stored_objects_hold_no_row_and_no_secret(stage, s3_server):
    stored = s3_server.objects(stage.envs["RESTIC_REPOSITORY"].split(f"/{s3_server.bucket}/", 1)[1])
    assert any("/data/" in key for key in stored) and len(stored) > 5
    blob = b"".join(stored.values())
    needles = {
        "row marker": MARKER,
        "a row": f"{MARKER}-4999",
        "Postgres password": HOSTILE_PG,
        "repository password": HOSTILE_RESTIC,
        "S3 secret key": s3_server.secret_key,
        "heartbeat URL": stage.kv["HEARTBEAT_URL"],
    }
    for what, text in needles.items():
        for encoding in ("utf-8", "utf-16-le"):
            assert text.encode(encoding) not in blob, f"{what} found in plaintext in the repository"


def test_a_wrong_repository_password_fails_the_restore_clearly(stage, openbao):
    try:
        write_kv(openbao, stage.artifacts, "backup", {**stage.kv, "RESTIC_PASSWORD": "not-the-repository-password"})
        restart_agent(stage)
        code, _out, err = stage.job("restore", "latest", "finance_report_wrong_pw")
        assert code == 1 and "wrong password" in err, err
        assert len(err.strip().splitlines()) == 1, err
        assert stage.sql("postgres", "SELECT count(*) FROM pg_database WHERE datname = 'finance_report_wrong_pw'") == [
            (0,)
        ]
    finally:
        write_kv(openbao, stage.artifacts, "backup", stage.kv)
        restart_agent(stage)
    assert stage.job("run", "after the password test")[0] == 0


def restart_agent(stage: BackupStage) -> None:
    """The agent re-renders at start (its command empties the volume first), as after a KV change."""
    stage.docker.run("restart", "-t", "1", stage.agent)
    wait_until(lambda: stage.docker.health(stage.agent) == "healthy", 60, "backup agent", interval=0.2)


# ---------------------------------------------------------------------------------------------------------- failures


def _s3_unreachable(stage, openbao):
    stage.proxy.close()
    return stage.proxy.open


def _wrong_s3_credentials(stage, openbao):
    write_kv(
        openbao,
        stage.artifacts,
        "backup",
        {**stage.kv, "AWS_SECRET_ACCESS_KEY": "wrong" + stage.kv["AWS_SECRET_ACCESS_KEY"][5:]},
    )
    restart_agent(stage)

    def undo():
        write_kv(openbao, stage.artifacts, "backup", stage.kv)
        restart_agent(stage)

    return undo


def _postgres_down(stage, openbao):
    argv = stage.pg.process.proc.args
    stage.pg.process.stop()

    def undo():
        from tests.integration.harness import start_process

        stage.pg.process = start_process("postgres-backup-tests", argv)
        wait_until(lambda: stage.sql("postgres", "SELECT 1") == [(1,)], 60, "Postgres again", interval=0.2)

    return undo


def _dump_fails_midway(stage, openbao):
    """A big table, and the dump's server session terminated while its COPY streams (as a crash, an
    OOM kill or an admin would): pg_dump has written part of the dump when it fails."""
    stage.sql(
        "finance_report",
        "CREATE TABLE bulk AS SELECT g AS id, repeat(md5(g::text), 8) AS filler FROM generate_series(1, 400000) g",
    )
    stop = threading.Event()

    def killer():
        while not stop.is_set():
            rows = stage.sql(
                "postgres",
                "SELECT pid FROM pg_stat_activity WHERE query LIKE 'COPY public.bulk%%' AND pid <> pg_backend_pid()",
                superuser=True,
            )
            if rows:
                time.sleep(0.3)  # well inside the table's data
                stage.sql("postgres", "SELECT pg_terminate_backend(%s)", (rows[0][0],), superuser=True)
                return
            time.sleep(0.02)

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()

    def undo():
        stop.set()
        thread.join(5)
        stage.sql("finance_report", "DROP TABLE bulk")

    return undo


FAILURES = [
    ("s3-unreachable", _s3_unreachable, "repository"),
    ("wrong-s3-credentials", _wrong_s3_credentials, "repository"),
    ("postgres-down", _postgres_down, "dump of the globals"),
    ("dump-fails-midway", _dump_fails_midway, "dump of finance_report"),
]


@pytest.mark.parametrize("case,induce,step", FAILURES, ids=[f[0] for f in FAILURES])
def test_a_failed_run_keeps_earlier_backups_fails_the_health_check_and_calls_no_heartbeat(
    stage, openbao, heartbeat, case, induce, step
):
    earlier, calls = snapshot_ids(stage), heartbeat.calls
    undo = induce(stage, openbao)
    try:
        code, _out, err = stage.job("run", case)
        assert code == 1, err
        line = reason(err)
        assert f"backup FAILED at {step}:" in line, err
        health, probe = stage.health()
        assert health == 1 and "result: failed" in probe and step in probe, probe
    finally:
        undo()
    assert snapshot_ids(stage) == earlier, "a failed run leaves the repository as it was"
    assert heartbeat.calls == calls
    code, _out, err = stage.job("run", f"after {case}")
    assert code == 0, err
    assert stage.health()[0] == 0


def newest_db(stage: BackupStage) -> dict:
    return max((s for s in stage.snapshots() if "kind=db" in s["tags"]), key=lambda s: s["time"])


@pytest.mark.parametrize(
    "tool,kind,step", [("pg_dumpall", "globals", "dump of the globals"), ("pg_dump", "db", "dump of finance_report")]
)
def test_an_empty_dump_is_forgotten_and_fails_the_run(stage, heartbeat, tool, kind, step):
    """A dump that exits 0 having written nothing (a broken binary or wrapper; no real pg_dump can be
    made to): injected as an executable of the tool's name that only exits 0, first on the job's PATH.
    An empty globals dump is never restore-checked, so without this check it would be tagged verified."""
    earlier, calls = snapshot_ids(stage), heartbeat.calls
    fault = f"{job.SCRATCH}/tmp/empty-{tool}"
    stage.docker.run(
        "exec",
        stage.cid,
        "sh",
        "-c",
        f"mkdir -p {fault} && printf '#!/bin/sh\\nexit 0\\n' > {fault}/{tool} && chmod 0755 {fault}/{tool}",
    )
    path = stage.docker.run("exec", stage.cid, "sh", "-c", "echo $PATH").stdout.decode().strip()
    try:
        proc = stage.docker.run(
            "exec",
            "-e",
            f"PATH={fault}:{path}",
            stage.cid,
            job.SCRIPT_PATH,
            "run",
            f"empty {kind}",
            check=False,
            timeout=600,
        )
        err = proc.stderr.decode(errors="replace")
        assert proc.returncode == 1, err
        assert reason(err).endswith(f"backup FAILED at {step}: the {kind} dump was empty"), err
        assert stage.health()[0] == 1
    finally:
        stage.docker.run("exec", stage.cid, "rm", "-rf", fault)
    assert snapshot_ids(stage) == earlier, "the empty snapshot (and a globals one of the same run) is forgotten"
    assert heartbeat.calls == calls
    assert stage.job("run", f"after an empty {kind} dump")[0] == 0


# --------------------------------------------------------------------------------------------------------- retention


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


def restic_keeps(times: list[datetime], daily: int, weekly: int) -> set[datetime]:
    """restic's keep-daily/keep-weekly over one group (internal/restic/snapshot_policy.go): newest first,
    a rule keeps a snapshot when its bucket differs from the last one that rule kept, N buckets at most."""
    rules = [[daily, None, lambda t: t.strftime("%Y-%m-%d")], [weekly, None, lambda t: t.isocalendar()[:2]]]
    kept = set()
    for t in sorted(times, reverse=True):
        for rule in rules:
            if rule[0] > 0 and rule[2](t) != rule[1]:
                rule[1], rule[0] = rule[2](t), rule[0] - 1
                kept.add(t)
    return kept


def test_retention_prunes_exactly_restics_selection_and_nothing_after_a_failed_run(stage, openbao):
    host = stage.envs["BACKUP_HOST"]
    now = datetime.now(UTC).replace(microsecond=0)
    history = [now - timedelta(days=d, hours=3) for d in range(1, 45)] + [
        now - timedelta(days=2, hours=9),
        now - timedelta(days=9, hours=1),
    ]
    for when in history:
        synthetic(stage, when, ["finance-report", "kind=db", "run=synthetic", "verified"], host)
    synthetic(
        stage, now - timedelta(days=60), ["finance-report", "kind=db", "verify-failed"], host
    )  # never counted, never pruned
    # Another env's verified history in the same repository, more than the keep policy would keep of it
    # (same-day duplicates and more days than keep-daily): forgetting with --group-by host alone would
    # prune some of it; --host keeps forget away from it entirely.
    other = "finance_report-backup-production"
    foreign = [now - timedelta(days=61 + d, hours=1) for d in range(12)] + [
        now - timedelta(days=61, hours=h) for h in (5, 9)
    ]
    for when in foreign:
        synthetic(stage, when, ["finance-report", "kind=db", "verified"], other)
    assert len(
        restic_keeps(foreign, int(stage.envs["BACKUP_KEEP_DAILY"]), int(stage.envs["BACKUP_KEEP_WEEKLY"]))
    ) < len(foreign)
    before = stage.snapshots()

    undo = _postgres_down(stage, openbao)
    try:
        assert stage.job("run", "retention after a failure")[0] == 1
    finally:
        undo()
    assert stage.snapshots() == before, "a failed run prunes nothing"

    code, _out, err = stage.job("run", "retention")
    assert code == 0, err
    after = stage.snapshots()
    parse = lambda s: datetime.fromisoformat(s["time"][:19]).replace(tzinfo=UTC)  # noqa: E731
    verified_db = [
        s for s in before + after if host == s["hostname"] and "verified" in s["tags"] and "kind=db" in s["tags"]
    ]
    times = sorted({parse(s) for s in verified_db})
    expected = restic_keeps(times, int(stage.envs["BACKUP_KEEP_DAILY"]), int(stage.envs["BACKUP_KEEP_WEEKLY"]))
    kept_db = {parse(s) for s in after if s["hostname"] == host and "verified" in s["tags"] and "kind=db" in s["tags"]}
    assert kept_db == expected
    assert len(expected) >= 8 and len(kept_db) < len(times), "dailies plus older weeklies kept, the rest pruned"
    assert any("verify-failed" in s["tags"] for s in after), "an unverified snapshot is not subject to retention"
    everything = json.loads(
        subprocess.run(
            ["restic", "snapshots", "--json"], env=restic_env(stage), capture_output=True, check=True, timeout=120
        ).stdout
    )
    assert sorted(parse(s) for s in everything if s["hostname"] == other) == sorted(foreign), (
        "another env's snapshots are never pruned"
    )


# ----------------------------------------------------------------------------------------------------- restore check


def test_the_restore_check_rejects_a_backup_without_the_schema(stage):
    stage.sql("finance_report", "ALTER TABLE alembic_version RENAME TO alembic_version_moved")
    try:
        code, _out, err = stage.job("run", "empty schema")
        assert code == 1 and "restore check of" in reason(err) and "no alembic_version table" in reason(err), err
        assert stage.health()[0] == 1
        latest = max((s for s in stage.snapshots() if "kind=db" in s["tags"]), key=lambda s: s["time"])
        assert "verify-failed" in latest["tags"] and "verified" not in latest["tags"]
    finally:
        stage.sql("finance_report", "ALTER TABLE alembic_version_moved RENAME TO alembic_version")
    assert stage.job("run", "schema back")[0] == 0


def test_the_restore_check_rejects_a_backup_pg_restore_cannot_restore(stage):
    """A dump that restic returns intact and pg_restore rejects: a CHECK constraint calls a function
    that reads an unqualified table, which a restore (pg_dump's search_path is '') cannot see, so the
    COPY of that table fails. Its data comes before the ledger's: pg_restore stops with most of the
    stream unread, and restic, cut off, is not the reason given."""
    stage.sql(
        "finance_report",
        """
        CREATE FUNCTION ledger_has(i int) RETURNS boolean LANGUAGE plpgsql AS $$ BEGIN RETURN EXISTS (SELECT 1 FROM ledger WHERE id = i); END $$;
        CREATE TABLE a_guarded (id int CHECK (ledger_has(id)));
        INSERT INTO a_guarded VALUES (1);
    """,
    )
    try:
        code, _out, err = stage.job("run", "unrestorable")
        assert code == 1, err
        assert "restore check of" in reason(err) and 'relation "ledger" does not exist' in reason(err), err
        db = newest_db(stage)
        assert "verify-failed" in db["tags"] and "verified" not in db["tags"], db["tags"]
        assert stage.health()[0] == 1
        # the same snapshot restored by hand fails the same way, in one line, and leaves no database
        code, _out, err = stage.job("restore", db["id"], "finance_report_unrestorable")
        assert code == 1 and 'relation "ledger" does not exist' in err and len(err.strip().splitlines()) == 1, err
        assert stage.sql(
            "postgres", "SELECT count(*) FROM pg_database WHERE datname = 'finance_report_unrestorable'"
        ) == [(0,)]
    finally:
        stage.sql("finance_report", "DROP TABLE a_guarded; DROP FUNCTION ledger_has(int)")
    assert stage.job("run", "restorable again")[0] == 0


def set_alembic_rows(stage: BackupStage, versions: list[str]) -> None:
    stage.sql("finance_report", "DELETE FROM alembic_version")
    for version in versions:
        stage.sql("finance_report", "INSERT INTO alembic_version VALUES (%s)", (version,))


@pytest.mark.parametrize("versions", [[], ["0042_head", "0043_other_head"]], ids=["no-row", "two-rows"])
def test_the_restore_check_requires_exactly_one_alembic_version_row(stage, versions):
    set_alembic_rows(stage, versions)
    try:
        code, _out, err = stage.job("run", f"{len(versions)} alembic rows")
        assert code == 1 and f"alembic_version holds {len(versions)} rows, expected 1" in reason(err), err
        db = newest_db(stage)
        assert "verify-failed" in db["tags"] and "verified" not in db["tags"], db["tags"]
        assert stage.health()[0] == 1
    finally:
        set_alembic_rows(stage, ["0042_head"])
    assert stage.job("run", "one alembic row again")[0] == 0


def test_latest_is_the_newest_verified_backup_never_a_newer_failed_one(stage, capsys):
    """V verified, then F newer and failed (no alembic_version row): `check latest`, `restore latest`,
    the state a new container recovers from the repository, and `invoke restore --from latest` all take
    V; `invoke restore --from F` is refused unless --unverified."""
    from ops import backup_ops

    stage.sql("finance_report", "INSERT INTO ledger VALUES (700001, 'in-V', 1)")
    assert stage.job("run", "verified V")[0] == 0
    v = newest_db(stage)
    assert "verified" in v["tags"]
    set_alembic_rows(stage, [])
    stage.sql("finance_report", "INSERT INTO ledger VALUES (700002, 'in-F', 2)")
    try:
        assert stage.job("run", "failed F")[0] == 1
        f = newest_db(stage)
        assert f["id"] != v["id"] and "verify-failed" in f["tags"]

        code, out, err = stage.job("check", "latest")
        assert code == 0 and f"restore check of {v['id']} passed" in out, out + err
        code, out, err = stage.job("restore", "latest", "finance_report_latest")
        assert code == 0 and out.strip() == f"restored snapshot {v['id']} into database finance_report_latest", (
            out + err
        )
        assert stage.sql("finance_report_latest", "SELECT id FROM ledger WHERE id > 700000") == [(700001,)]
        stage.sql("postgres", "DROP DATABASE finance_report_latest")

        # a new container (empty scratch state) takes its ages from the newest verified snapshot
        stage.docker.run("exec", stage.cid, "sh", "-c", f"rm -rf {job.SCRATCH}/state/*")
        stage.docker.run("restart", "-t", "10", stage.cid)
        wait_until(
            lambda: "found in the repository" in stage.health()[1], 120, "the state recovered at start", interval=0.5
        )
        code, line = stage.health()
        assert code == 0 and f"snapshot={v['id']} (found in the repository)" in line, line
    finally:
        set_alembic_rows(stage, ["0042_head"])  # the safety backups below must pass their check

    host = f"unix://{DOCKER_SOCK}"
    scratch = "SELECT datname FROM pg_database WHERE datname LIKE 'finance_report_scratch_%%' ORDER BY datname"
    assert (
        backup_ops.main(
            "restore", "staging", docker_host=host, yes=True, source="latest", into_scratch=True, no_http=True
        )
        == 0
    )
    (restored,) = [r[0] for r in stage.sql("postgres", scratch)]
    assert stage.sql(restored, "SELECT id FROM ledger WHERE id > 700000") == [(700001,)], "latest is V, not the newer F"
    stage.sql("postgres", f'DROP DATABASE "{restored}"')
    capsys.readouterr()

    assert (
        backup_ops.main(
            "restore", "staging", docker_host=host, yes=True, source=f["short_id"], into_scratch=True, no_http=True
        )
        == 2
    )
    assert (
        capsys.readouterr().err.strip()
        == f"restore: --from {f['short_id']}: snapshot {f['short_id']} failed its restore check; pass "
        "--unverified to restore it anyway (with --into-scratch to inspect it)"
    )
    assert stage.sql("postgres", scratch) == []
    assert (
        backup_ops.main(
            "restore",
            "staging",
            docker_host=host,
            yes=True,
            source=f["short_id"],
            into_scratch=True,
            unverified=True,
            no_http=True,
        )
        == 0
    )
    (inspected,) = [r[0] for r in stage.sql("postgres", scratch)]
    assert stage.sql(inspected, "SELECT count(*) FROM alembic_version") == [(0,)], (
        "the failed backup itself, on request"
    )
    stage.sql("postgres", f'DROP DATABASE "{inspected}"')
    stage.sql("finance_report", "DELETE FROM ledger WHERE id > 700000")
    assert stage.job("run", "after the latest test")[0] == 0


def test_run_with_only_no_prune_is_an_on_demand_run_that_prunes_nothing(stage):
    """`fr-backup run --no-prune` typed by hand: the flag is not taken for the reason (which then pruned
    the day's earlier backup anyway)."""
    before = stage.snapshots()
    code, _out, err = stage.job("run", "--no-prune")
    assert code == 0, err
    assert "(on demand)" in err and "(--no-prune)" not in err, err
    after = stage.snapshots()
    assert {s["id"] for s in before} <= {s["id"] for s in after} and len(after) == len(before) + 2, (
        "db and globals added, nothing forgotten"
    )
    assert stage.job("run", "pruning again")[0] == 0


def test_the_snapshot_named_in_the_log_and_the_health_line_is_the_tagged_one_and_restores(stage):
    """`restic tag` rewrites a snapshot under a new id: the id the job names after tagging (its last log
    line, the health line) must be one that exists, and `invoke restore --from` it must work. So must the
    id a failed restore check names, once `verify-failed` is tagged."""
    import re

    from ops import backup_ops

    code, _out, err = stage.job("run", "named snapshot")
    assert code == 0, err
    ids = {s["id"] for s in stage.snapshots()}
    done = re.search(r"backup \S+ done: snapshot ([0-9a-f]{64})", err)
    shown = re.search(r"snapshot=([0-9a-f]{64})", stage.health()[1])
    assert done and shown and done.group(1) == shown.group(1), (err, stage.health()[1])
    assert shown.group(1) in ids, "the health line names a snapshot that no longer exists (tagging replaced it)"
    host = f"unix://{DOCKER_SOCK}"
    assert (
        backup_ops.main(
            "restore", "staging", docker_host=host, yes=True, source=shown.group(1), into_scratch=True, no_http=True
        )
        == 0
    )
    scratch = "SELECT datname FROM pg_database WHERE datname LIKE 'finance_report_scratch_%%'"
    for (name,) in stage.sql("postgres", scratch):
        assert ledger(stage, name) == ledger(stage)
        stage.sql("postgres", f'DROP DATABASE "{name}"')

    set_alembic_rows(stage, [])
    try:
        code, _out, err = stage.job("run", "named failure")
        assert code == 1, err
        named = re.search(r"restore check of ([0-9a-f]{64})", reason(err))
        assert named and named.group(1) in {s["id"] for s in stage.snapshots()}, reason(err)
    finally:
        set_alembic_rows(stage, ["0042_head"])
    assert stage.job("run", "after the named failure")[0] == 0


def test_the_safety_backup_is_tagged_safety_outlives_same_day_retention_and_is_listed(stage, capsys):
    """`invoke restore` takes a safety backup first; the day's next run prunes with keep-daily (one per
    day): the safety backup must stay, for backupKeepSafetyDays days counted from the newest one, and
    `invoke backups` must show it as such."""
    from ops import backup_ops

    assert stage.job("run", "regular, before the safety backup")[0] == 0
    code, _out, err = stage.job("run", "before restore", "--no-prune", "--safety")
    assert code == 0, err
    safety = newest_db(stage)
    assert "safety" in safety["tags"] and "verified" not in safety["tags"], safety["tags"]
    code, _out, err = stage.job("run", "regular, after the safety backup")  # prunes the day's older regular ones
    assert code == 0, err
    runs = {t for s in stage.snapshots() for t in s["tags"] if t.startswith("run=")}
    assert next(t for t in safety["tags"] if t.startswith("run=")) in runs, "the safety backup was pruned"

    days = int(stage.envs["BACKUP_KEEP_SAFETY_DAYS"])
    host = stage.envs["BACKUP_HOST"]
    now = datetime.now(UTC).replace(microsecond=0)
    tags = ["finance-report", "kind=db", "safety", "safety-verified"]
    synthetic(stage, now - timedelta(days=days + 2), [*tags, "run=safety-old"], host)
    synthetic(stage, now - timedelta(days=days - 1), [*tags, "run=safety-recent"], host)
    assert stage.job("run", "regular, pruning old safety backups")[0] == 0
    runs = {t for s in stage.snapshots() for t in s["tags"] if t.startswith("run=")}
    assert "run=safety-recent" in runs and "run=safety-old" not in runs, sorted(runs)

    assert backup_ops.main("backups", "staging", docker_host=f"unix://{DOCKER_SOCK}") == 0
    listing = capsys.readouterr().out
    row = next(line for line in listing.splitlines() if line.split()[2:3] == [safety["short_id"]])
    assert row.split()[-1] == "safety" and "verified" in row, listing


def test_a_restore_from_an_earlier_same_day_backup_survives_its_own_safety_backup(stage):
    """The safety backup prunes nothing: the snapshot about to be restored may be one the day's retention
    would forget (an earlier backup of today, kept so far because the later one pruned nothing)."""
    from ops import backup_ops

    stage.sql("finance_report", "INSERT INTO ledger VALUES (800001, 'in-S', 1)")
    assert stage.job("run", "source S")[0] == 0
    source = newest_db(stage)
    stage.sql("finance_report", "DELETE FROM ledger WHERE id = 800001")
    assert stage.job("run", "later, pruning nothing", "--no-prune")[0] == 0
    host = f"unix://{DOCKER_SOCK}"
    assert (
        backup_ops.main(
            "restore", "staging", docker_host=host, yes=True, source=source["id"], into_scratch=True, no_http=True
        )
        == 0
    ), "the source was pruned by the safety backup taken before restoring it"
    scratch = "SELECT datname FROM pg_database WHERE datname LIKE 'finance_report_scratch_%%'"
    (restored,) = [r[0] for r in stage.sql("postgres", scratch)]
    assert stage.sql(restored, "SELECT id FROM ledger WHERE id > 800000") == [(800001,)]
    stage.sql("postgres", f'DROP DATABASE "{restored}"')
    assert stage.job("run", "after the same-day restore")[0] == 0


@pytest.mark.parametrize("how", ["rows", "tables"])
def test_a_sharp_drop_since_the_last_verified_backup_is_not_verified_and_prunes_nothing(stage, how):
    """An emptied database restores fine; verified, it would push every good backup out of retention
    within weeks. Compared with the previous verified backup: the table count, and the rows of its largest
    tables. Refused with a reason in the log and the health line; accepted on purpose with --accept-drop."""
    if how == "tables":
        for i in range(8):
            stage.sql("finance_report", f"CREATE TABLE extra_{i} (id int PRIMARY KEY)")
    assert stage.job("run", f"before the {how} drop")[0] == 0
    before = snapshot_ids(stage)
    saved = ledger(stage)
    if how == "rows":
        stage.sql("finance_report", "DELETE FROM ledger")
        expected = "public.ledger has 0 rows, the previous verified backup"
    else:
        for i in range(8):
            stage.sql("finance_report", f"DROP TABLE extra_{i}")
        expected = "tables, the previous verified backup"
    try:
        code, _out, err = stage.job("run", f"after the {how} drop")
        assert code == 1, err
        line = reason(err)
        assert "restore check of" in line and expected in line and "--accept-drop" in line, line
        health, probe = stage.health()
        assert health == 1 and expected in probe, probe
        db = newest_db(stage)
        assert "verify-failed" in db["tags"] and "verified" not in db["tags"], db["tags"]
        assert before <= snapshot_ids(stage), "a refused backup prunes nothing"
        # The safety backup before a restore captures the state as it is (a restore is what a drop calls
        # for), and is no baseline: the next regular backup is still compared with the last regular one.
        code, _out, err = stage.job("run", "before restore", "--no-prune", "--safety")
        assert code == 0 and "safety-verified" in newest_db(stage)["tags"], err
        code, _out, err = stage.job("run", f"after the {how} drop, again")
        assert code == 1 and expected in reason(err), err
        code, _out, err = stage.job("run", "the drop is wanted", "--accept-drop")
        assert code == 0 and "verified" in newest_db(stage)["tags"], err
    finally:
        if how == "rows":
            columns = [list(c) for c in zip(*saved, strict=True)]
            stage.sql(
                "finance_report",
                "INSERT INTO ledger SELECT * FROM unnest(%s::int[], %s::text[], %s::numeric[])",
                tuple(columns),
            )
    assert ledger(stage) == saved
    assert stage.job("run", f"after the {how} drop test")[0] == 0


def test_check_latest_without_a_verified_backup_says_so(stage):
    proc = stage.docker.run(
        "exec",
        "-e",
        "BACKUP_HOST=finance_report-backup-none",
        stage.cid,
        job.SCRIPT_PATH,
        "check",
        "latest",
        check=False,
        timeout=300,
    )
    err = proc.stderr.decode(errors="replace").strip()
    assert (proc.returncode, err) == (1, f"check: no verified backup in {stage.envs['RESTIC_REPOSITORY']}")


def test_more_than_1000_snapshots_are_listed_and_counted(stage, s3_server):
    from ops.backup_ops import backups_of, render_backups

    repository = stage.envs["RESTIC_REPOSITORY"] + "-listing"
    env = {**restic_env(stage), "RESTIC_REPOSITORY": repository}
    assert subprocess.run(["restic", "init"], env=env, capture_output=True, timeout=60).returncode == 0
    tree = "0" * 64
    start = datetime(2024, 1, 1, tzinfo=UTC)
    docs = [
        {
            "time": (start + timedelta(hours=i)).isoformat().replace("+00:00", "Z"),
            "tree": tree,
            "paths": [f"/{job.DUMP_FILE}"],
            "hostname": stage.envs["BACKUP_HOST"],
            "username": "postgres",
            "tags": ["finance-report", "kind=db", f"run=s{i}", "verified", f"bytes={1000 + i}", "tables=3"],
        }
        for i in range(1100)
    ]
    write_snapshots(s3_server, repository.split(f"/{s3_server.bucket}/", 1)[1], stage.kv["RESTIC_PASSWORD"], docs)
    proc = stage.docker.run(
        "exec", "-e", f"RESTIC_REPOSITORY={repository}", stage.cid, job.SCRIPT_PATH, "list", check=False, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-500:]
    rows = backups_of(json.loads(proc.stdout))
    assert len(rows) == 1100 and len({r.run for r in rows}) == 1100
    assert rows[0].time == "2024-01-01 00:00:00Z" and rows[-1].size == 2099
    assert render_backups(rows).endswith("1100 backups, 1100 verified")


# ------------------------------------------------------------------------------------------------- operator commands


def test_the_operator_commands_back_up_list_and_restore_through_the_docker_api(
    stage, docker_engine, agent_image, capsys
):
    from ops import backup_ops

    # a stand-in backend with the program's labels: the restore stops it and starts it again
    labels = {i["label"]: i["value"] for i in stage.artifacts.consumer("app-backend")["labels"]}
    flags = [arg for k, v in labels.items() for arg in ("--label", f"{k}={v}")]
    backend = docker_engine.track("container", "frh-bk-backend")
    docker_engine.run(
        "run",
        "-d",
        "--name",
        backend,
        "--network",
        "none",
        *flags,
        "--health-cmd",
        "true",
        "--health-interval",
        "1s",
        agent_image,
        "sleep",
        "3600",
    )
    wait_until(
        lambda: (
            docker_engine.health(backend) == "healthy"
            and docker_engine.health(stage.agent) == "healthy"
            and docker_engine.health(stage.cid) == "healthy"
        ),
        120,
        "env containers healthy",
        interval=1,
    )
    host = f"unix://{DOCKER_SOCK}"

    assert backup_ops.main("backup", "staging", docker_host=host, yes=True) == 0
    out = capsys.readouterr().out
    assert "backup of env staging done and verified" in out
    # the job's lines, streamed from the exec as they came, with the time since the command started
    assert re.search(r"(?m)^\+\d+:\d\d:\d\d \S+ fr-backup: stored \S+: snapshot \S+ \(\d+ bytes\)", out), out
    assert backup_ops.main("backups", "staging", docker_host=host) == 0
    listing = capsys.readouterr().out
    assert "verified" in listing and listing.strip().splitlines()[-1].endswith("verified")

    full = ledger(stage)  # the latest verified backup holds these rows
    stage.sql("finance_report", "DELETE FROM ledger WHERE id > 10")
    deleted = ledger(stage)
    assert backup_ops.main("restore", "staging", docker_host=host, yes=True, source="latest", no_http=True) == 0
    out = capsys.readouterr().out
    assert (
        "safety backup of env staging first" in out
        and f"stopped {backend}" in out
        and f"started {backend}" in out
        and "health gate:" in out
    ), out
    assert ledger(stage) == full, "latest means the newest verified backup before the safety backup"
    kept = sorted(
        r[0]
        for r in stage.sql("postgres", "SELECT datname FROM pg_database WHERE datname LIKE 'finance_report_before_%'")
    )
    assert kept and ledger(stage, kept[-1]) == deleted, "the replaced database is kept, not dropped"

    assert (
        backup_ops.main(
            "restore", "staging", docker_host=host, yes=True, source="latest", into_scratch=True, no_http=True
        )
        == 0
    )
    scratch = [
        r[0]
        for r in stage.sql("postgres", "SELECT datname FROM pg_database WHERE datname LIKE 'finance_report_scratch_%'")
    ]
    assert len(scratch) == 1 and ledger(stage) == full, "the live database is untouched"
    assert ledger(stage, scratch[0]) == deleted, "latest is now the safety backup, taken before the restore"
    capsys.readouterr()

    assert backup_ops.main("restore", "staging", docker_host=host, source="latest", read=lambda _q: "n") == 1
    assert capsys.readouterr().err.strip() == "restore: not confirmed; nothing changed"
    assert backup_ops.main("restore", "staging", docker_host=host, yes=True, source="../x") == 2
    docker_engine.run("rm", "-f", backend)


def standin_backend(stage: BackupStage, docker_engine, image: str, name: str) -> str:
    """A container with the program's backend labels (a restore stops it and starts it again), healthy."""
    labels = {i["label"]: i["value"] for i in stage.artifacts.consumer("app-backend")["labels"]}
    flags = [arg for k, v in labels.items() for arg in ("--label", f"{k}={v}")]
    backend = docker_engine.track("container", name)
    docker_engine.run(
        "run", "-d", "--name", backend, "--network", "none", *flags, "--health-cmd", "true", "--health-interval",
        "1s", image, "sleep", "3600",
    )  # fmt: skip
    wait_until(lambda: docker_engine.health(backend) == "healthy", 60, "stand-in backend", interval=0.5)
    return backend


# Every DDL statement of a restore (pg_restore creating tables, constraints) waits 2 s: an event trigger in
# template1, which the restore's new database is copied from. The restore then runs long enough to be
# interrupted while it runs.
SLOW_DDL = (
    "CREATE FUNCTION frh_slow_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(2); END $$; "
    "CREATE EVENT TRIGGER frh_slow_ddl ON ddl_command_end EXECUTE FUNCTION frh_slow_ddl()"
)
NO_SLOW_DDL = "DROP EVENT TRIGGER IF EXISTS frh_slow_ddl; DROP FUNCTION IF EXISTS frh_slow_ddl()"


def restoring(stage: BackupStage) -> bool:
    rows = stage.sql(
        "postgres", "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pg_restore'", superuser=True
    )
    return rows == [(1,)]


def test_ctrl_c_during_a_live_restore_waits_for_it_then_starts_the_backend_and_runs_the_gate(
    stage, docker_engine, agent_image
):
    """The restore runs inside the backup container (a Docker exec): Ctrl-C on the operator's machine does
    not stop it. Starting the backend meanwhile would serve, and migrate, a database being swapped."""
    from tests.conftest import ROOT

    backend = standin_backend(stage, docker_engine, agent_image, "frh-bk-backend-int")
    command = (
        "import sys; from ops import backup_ops; sys.exit(backup_ops.main('restore', 'staging', docker_host="
        f"'unix://{DOCKER_SOCK}', yes=True, source='latest', no_http=True))"
    )
    since = time.time()
    stage.sql("template1", SLOW_DDL, superuser=True)
    proc = subprocess.Popen(
        [sys.executable, "-c", command], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        wait_until(lambda: restoring(stage), 600, "pg_restore of the live restore", interval=0.2)
        proc.send_signal(signal.SIGINT)  # what Ctrl-C in the operator's terminal does
        time.sleep(3)
        assert restoring(stage), "the restore ended within 3 s of the Ctrl-C: this test cannot tell"
        assert not docker_engine.inspect(backend)["State"]["Running"], (
            "the backend was started while the restore was still running in the backup container"
        )
        out, err = proc.communicate(timeout=900)
    finally:
        if proc.poll() is None:
            proc.kill()
        for db in ("template1", "finance_report"):  # the swapped-in database was copied from template1 too
            stage.sql(db, NO_SLOW_DDL, superuser=True)
    assert proc.returncode == 1, out + err
    assert "interrupted" in err and f"started {backend}" in out and "health gate:" in out, out + err
    assert out.index(f"started {backend}") < out.index("health gate:"), out

    def all_events(container: str) -> list[dict]:
        answer = stage.api.request(
            "GET", "/events", {"since": f"{since:.0f}", "until": f"{time.time():.0f}",
                               "filters": json.dumps({"container": [container]})},
        )  # fmt: skip
        return [json.loads(line) for line in answer.body.decode().splitlines()]

    def events(container: str, action: str) -> list[int]:
        return [e["timeNano"] for e in all_events(container) if e["Action"] == action]

    # The restore's own exec, by its id: Docker's health checks of the backup container are execs too, and
    # one may end after the backend started (exec_start's Action carries the command, exec_die the id).
    backup_events = all_events(stage.cid)
    restore_ids = {
        e["Actor"]["Attributes"].get("execID")
        for e in backup_events
        if e["Action"].startswith("exec_start") and " restore " in e["Action"] and "--live" in e["Action"]
    }
    assert restore_ids, [e["Action"] for e in backup_events]
    restore_ended = max(
        e["timeNano"]
        for e in backup_events
        if e["Action"] == "exec_die" and e["Actor"]["Attributes"].get("execID") in restore_ids
    )
    assert min(events(backend, "start")) > restore_ended, "the backend started before the restore's exec ended"
    docker_engine.run("rm", "-f", backend)


def test_the_status_shows_the_age_of_the_last_backup_and_verified_restore(stage, capsys):
    from ops.status import main

    wait_until(lambda: stage.docker.inspect(stage.cid)["State"]["Health"]["Log"], 90, "a health probe", interval=1)
    main("staging", docker_host=f"unix://{DOCKER_SOCK}", http=False)
    out = capsys.readouterr().out
    assert "backups: last backup " in out and "last verified restore " in out and "(allowed: 48h)" in out, out


# ------------------------------------------------------------------------------------- last: corrupts the repository


def test_the_restore_check_detects_corrupted_data(stage, s3_server):
    prefix = stage.envs["RESTIC_REPOSITORY"].split(f"/{s3_server.bucket}/", 1)[1]
    before = set(s3_server.objects(f"{prefix}/data/"))
    stage.sql("finance_report", "INSERT INTO ledger SELECT g, md5(g::text), g FROM generate_series(100001, 160000) g")
    assert stage.job("run", "before corruption")[0] == 0
    new_packs = set(s3_server.objects(f"{prefix}/data/")) - before
    assert new_packs
    client = s3_server.client()
    for key in new_packs:
        body = bytearray(client.get_object(Bucket=s3_server.bucket, Key=key)["Body"].read())
        body[len(body) // 2] ^= 0xFF
        client.put_object(Bucket=s3_server.bucket, Key=key, Body=bytes(body))
    code, _out, err = stage.job("check", "latest")
    assert code == 1 and "restore check of" in err, err
    assert any(word in err for word in ("ciphertext verification failed", "Fatal", "error")), err
