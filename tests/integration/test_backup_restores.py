"""Backup restores on real software (the stage of test_backup_runs.py, an env of its own: backup_suite.py):
the restore check rejects an empty database, a dump pg_restore refuses, an alembic_version without exactly
one row and corrupted data; `latest` (check, restore, the state a new container recovers, `invoke
restore`) is the newest verified backup, never a newer failed one, and a failed one is restored only with
--unverified; the snapshot id the job names is the tagged one and restores; the safety backup taken before
a restore is tagged, outlives same-day retention and is listed; the operator commands back up, list and
restore through the Docker API, and Ctrl-C during a live restore waits for it, then starts the backend and
runs the gate; `invoke status` shows the last backup's age.

The tests of this module share one env and run in file order; the corruption test is last because it
damages the repository on purpose.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest

from render import backup_job as job
from tests.integration.backup_stage import BackupStage, repository_prefix
from tests.integration.backup_suite import (
    ledger,
    newest_db,
    reason,
    stage_fixtures,
    synthetic,
)
from tests.integration.harness import DOCKER_SOCK, wait_until

pytestmark = pytest.mark.integration


heartbeat, stage = stage_fixtures("bk-restores")  # module fixtures: this file's own env


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


# ------------------------------------------------------------------------------------------------- operator commands


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


def test_the_operator_commands_back_up_list_and_restore_through_the_docker_api(
    stage, docker_engine, agent_image, capsys
):
    from ops import backup_ops

    backend = standin_backend(stage, docker_engine, agent_image, "frh-bk-backend")  # a restore stops and starts it
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
    prefix = repository_prefix(s3_server, stage.envs["RESTIC_REPOSITORY"])
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
