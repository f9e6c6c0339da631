"""Backup runs on real software: PostgreSQL, restic and an S3-protocol server (moto, signed requests
enforced) on loopback, the program's own agent rendering the program's template from OpenBao, and the
program's job script in a container created from the program's captured inputs (the stand-in of the
backup image; tests/integration/backup_stage.py maps only container names to loopback addresses).

Shown: a backup at start, rows equal after the database is dropped and restored, and the live swap cut or
refused renames nothing; no row, password or key in the stored objects; a wrong repository password fails
the restore clearly; S3 unreachable, wrong S3 credentials, Postgres down and a dump killed midway each
fail the run in one line, keep every earlier backup, never call the heartbeat and fail the health check,
and the next good run recovers; an empty dump is forgotten; retention keeps exactly restic's
daily/weekly selection of verified snapshots of this env, never touches another env's and prunes nothing
when the latest run failed; a sharp drop since the last verified backup is not verified; more than 1,000
snapshots are listed.

The tests of this module share one env (one repository, one container: backup_suite.py) and run in file
order. Restores and the operator commands: test_backup_restores.py, on an env of its own.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from render import backup_job as job
from tests.integration.backup_stage import (
    LOW_COST_KDF,
    BackupStage,
    repository_keys,
    repository_prefix,
    write_kv,
    write_snapshots,
)
from tests.integration.backup_suite import (
    HOSTILE_PG,
    HOSTILE_RESTIC,
    MARKER,
    ledger,
    newest_db,
    reason,
    restic_env,
    stage_fixtures,
    synthetic,
)
from tests.integration.harness import wait_until

pytestmark = pytest.mark.integration


heartbeat, stage = stage_fixtures("bk-runs")  # module fixtures: this file's own env


def snapshot_ids(stage: BackupStage) -> set[str]:
    return {s["id"] for s in stage.snapshots()}


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
    stored = s3_server.objects(repository_prefix(s3_server, stage.envs["RESTIC_REPOSITORY"]))
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


def test_the_stage_repository_has_only_the_harness_s_low_cost_key(stage, s3_server):
    """backup_suite.seeded_stage re-sealed the key the job's `restic init` made (LOW_COST_KDF): one key file,
    named by the SHA-256 of its bytes, which every job run of this file opened."""
    prefix = repository_prefix(s3_server, stage.envs["RESTIC_REPOSITORY"])
    [name] = repository_keys(s3_server, prefix)
    body = s3_server.client().get_object(Bucket=s3_server.bucket, Key=name)["Body"].read()
    assert name == f"{prefix}/keys/{hashlib.sha256(body).hexdigest()}"
    assert {k: json.loads(body)[k] for k in LOW_COST_KDF} == LOW_COST_KDF


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
    write_snapshots(s3_server, repository_prefix(s3_server, repository), stage.kv["RESTIC_PASSWORD"], docs)
    proc = stage.docker.run(
        "exec", "-e", f"RESTIC_REPOSITORY={repository}", stage.cid, job.SCRIPT_PATH, "list", check=False, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-500:]
    rows = backups_of(json.loads(proc.stdout))
    assert len(rows) == 1100 and len({r.run for r in rows}) == 1100
    assert rows[0].time == "2024-01-01 00:00:00Z" and rows[-1].size == 2099
    assert render_backups(rows).endswith("1100 backups, 1100 verified")
