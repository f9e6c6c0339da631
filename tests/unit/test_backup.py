"""The backup service as the program declares it (mocks), its pure builders and the operator tools' pure
parts. The job script itself runs on real PostgreSQL, restic and S3 in tests/integration/test_backup_runs.py
and test_backup_restores.py; here only its schedule arithmetic runs (under sh), and its syntax is checked
by the shells it targets."""

from __future__ import annotations

import itertools
import json
import shutil
import signal
import struct
import subprocess
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from config.errors import ConfigError
from config.stack_config import load_config
from facts.services import Service
from ops import backup_health
from ops import backup_ops as ops
from ops.command import OperatorError
from ops.program_run import contains_secret, unwrap_secrets
from render import backup_job as job
from tests.conftest import run_stack

CONTAINER = "docker:index/container:Container"


def inputs(run, name: str) -> dict:
    return unwrap_secrets(run.one(CONTAINER, name).inputs)


# ------------------------------------------------------------------------------------------ the program


def test_production_declares_the_backup_container_with_its_schedule_repository_and_hardening(production):
    c = inputs(production, "backup-container")
    assert c["name"] == "finance_report-backup"
    assert c["envs"] == [
        "RESTIC_REPOSITORY=s3:https://minio.zitian.party/finance-report-production-backups/finance_report/production/postgres",
        "BACKUP_HOST=finance_report-backup",
        "BACKUP_TIME=02:30",
        "BACKUP_INTERVAL_HOURS=24",
        "BACKUP_KEEP_DAILY=7",
        "BACKUP_KEEP_WEEKLY=4",
        "BACKUP_KEEP_SAFETY_DAYS=14",
        "BACKUP_MAX_DROP_PERCENT=50",
        "PGHOST=finance_report-postgres",
        "PGPORT=5432",
        "PGUSER=finance_report_backup",
        "PGDATABASE=finance_report",
        "DB_OWNER=finance_report_app",
    ]
    assert c["user"] == "70:70" and c["entrypoints"] == ["/usr/local/bin/fr-backup"] and c["command"] == ["loop"]
    networks = {r.name: r.inputs["name"] for r in production.by_type("docker:index/network:Network")}
    assert networks["backup-egress"].startswith("finance_report-backup-egress-") and networks["internal"].startswith(
        "finance_report-internal-"
    )
    assert sorted(n["name"] for n in c["networksAdvanced"]) == sorted([networks["backup-egress"], networks["internal"]])
    assert [(m["target"], m.get("readOnly", False)) for m in c["mounts"]] == [
        ("/run/secrets/backup", True),
        ("/scratch", False),
    ]
    assert c["mounts"][1]["source"] == "finance_report-backup-scratch"
    assert c["healthcheck"] == {
        "tests": ["CMD", "/usr/local/bin/fr-backup", "health"],
        "interval": "30s",
        "timeout": "10s",
        "retries": 2,
        "startPeriod": "15m0s",
    }
    assert c["memory"] == 1024 and c["capabilities"] == {"drops": ["ALL"], "adds": []} and c["stopSignal"] == "SIGTERM"
    assert c["uploads"] == [{"file": "/usr/local/bin/fr-backup", "content": job.script(), "permissions": "0755"}]
    labels = {i["label"]: i["value"] for i in c["labels"]}
    assert (
        labels["finance-report.service"] == "backup"
        and labels["finance-report.env"] == "production"
        and labels["traefik.enable"] == "false"
    )


def test_staging_backs_up_under_its_own_names_prefix_and_host_tag(staging):
    c = inputs(staging, "backup-container")
    envs = dict(e.split("=", 1) for e in c["envs"])
    assert (
        envs["RESTIC_REPOSITORY"]
        == "s3:https://minio.zitian.party/finance-report-staging/finance_report/staging/postgres"
    )
    assert (
        envs["BACKUP_HOST"] == c["name"] == "finance_report-backup-staging"
        and envs["PGHOST"] == "finance_report-postgres-staging"
    )
    assert staging.outputs["backup_repository"] == envs["RESTIC_REPOSITORY"]
    assert staging.outputs["containers"]["backup"] == "finance_report-backup-staging"


def test_the_image_is_built_on_the_host_from_the_envs_postgres_image_and_pinned_restic(production):
    image = unwrap_secrets(production.one("docker:index/remoteImage:RemoteImage", "backup-image").inputs)
    assert image["build"]["context"] == "program/backup_image" and image["build"]["dockerfile"] == "Dockerfile"
    assert image["build"]["buildArgs"] == {
        "POSTGRES_IMAGE": "postgres:16.10-alpine",
        "RESTIC_IMAGE": "restic/restic:0.18.0",
    }
    assert image["name"].startswith("finance_report-backup:") and image["keepLocally"] is True
    other = run_stack("production", {"backupResticImage": "restic/restic:0.18.1"})
    assert (
        unwrap_secrets(other.one("docker:index/remoteImage:RemoteImage", "backup-image").inputs)["name"]
        != image["name"]
    ), "a new base is a new tag"
    from program.backup import image_name

    base = ("production", "postgres:16.10-alpine", "restic/restic:0.18.0", b"FROM x\n")
    names = {
        image_name(*base),
        image_name(base[0], "postgres:16.11-alpine", *base[2:]),
        image_name(*base[:3], b"FROM x\nRUN true\n"),
    }
    assert len(names) == 3, "a new Postgres base or a new Dockerfile is a new tag too"


def test_credentials_reach_only_the_backup_kv_and_the_rendered_file(production):
    kv = production.one("vault:kv/secretV2:SecretV2", "backup-vault-kv")
    assert kv.inputs["name"] == "finance_report/production/backup" and contains_secret(kv.inputs["dataJson"])
    data = json.loads(unwrap_secrets(kv.inputs["dataJson"]))
    assert sorted(data) == sorted(job.SECRET_KEYS) and len(data["RESTIC_PASSWORD"]) == 48
    postgres = json.loads(
        unwrap_secrets(production.one("vault:kv/secretV2:SecretV2", "postgres-vault-kv").inputs["dataJson"])
    )
    assert data["PGPASSWORD"] == postgres["BACKUP_DB_PASSWORD"] and data["HEARTBEAT_URL"] == ""
    assert data["PGPASSWORD"] not in (postgres["POSTGRES_PASSWORD"], postgres["APP_DB_PASSWORD"])
    policy = production.one("vault:index/policy:Policy", "backup-vault-policy").inputs["policy"]
    assert 'path "secret/data/finance_report/production/backup"' in policy and policy.count('path "') == 2
    app_policy = production.one("vault:index/policy:Policy", "app-vault-policy").inputs["policy"]
    assert "backup" not in app_policy, "the app can never read the repository password"
    exposed = json.dumps(
        {
            k: inputs(production, "backup-container").get(k)
            for k in ("envs", "labels", "command", "entrypoints", "healthcheck")
        }
    )
    assert not [v for v in data.values() if v and v in exposed]
    template = next(
        u for u in inputs(production, "backup-vault-agent")["uploads"] if u["file"].endswith("backup.env.ctmpl")
    )["content"]
    assert all(f"{k}='{{{{ .Data.data.{k} |" in template for k in job.SECRET_KEYS)


def test_dedicated_backup_credentials_and_heartbeat_replace_the_apps(production):
    run = run_stack(
        "production",
        secret_overrides={
            "backupS3AccessKey": "backup-only-access",
            "backupS3SecretKey": "backup-only-secret",
            "backupHeartbeatUrl": "https://hc.example.org/ping/abc",
        },
    )
    data = json.loads(unwrap_secrets(run.one("vault:kv/secretV2:SecretV2", "backup-vault-kv").inputs["dataJson"]))
    assert (data["AWS_ACCESS_KEY_ID"], data["AWS_SECRET_ACCESS_KEY"], data["HEARTBEAT_URL"]) == (
        "backup-only-access",
        "backup-only-secret",
        "https://hc.example.org/ping/abc",
    )


def test_the_backup_container_waits_for_postgres_and_its_agent_and_is_in_the_rollout_gate(production):
    deps = production.one(CONTAINER, "backup-container").options["dependsOn"]
    urns = {c.name: c.urn for c in production.by_type(CONTAINER)}
    assert {urns["postgres-container"], urns["backup-vault-agent"]} <= set(deps)
    gate = production.one("command:local:Command", "rollout-gate")
    assert "finance_report-backup" in gate.inputs["create"].split()


def test_a_deploy_waits_for_the_backup_service_to_run_not_for_its_backups_to_be_healthy(production):
    """Backup health is its own signal (`invoke status`, the health line): one S3 outage makes the backup
    container unhealthy until the next good run, and must not block every deploy meanwhile. The gate
    still requires it running and its agent healthy; the provider does not wait for its health either."""
    import shlex

    argv = shlex.split(production.one("command:local:Command", "rollout-gate").inputs["create"])
    pairs = set(itertools.pairwise(argv))
    assert ("--running", "finance_report-backup") in pairs, argv
    assert ("--healthy", "finance_report-backup") not in pairs
    assert {("--healthy", "finance_report-backup-vault-agent"), ("--healthy", "finance_report-postgres")} <= pairs
    c = inputs(production, "backup-container")
    assert c.get("wait") is not True and "waitTimeout" not in c, c.get("wait")


# ------------------------------------------------------------------------------------------ config


def _raw(**overrides: str) -> dict[str, str]:
    raw = {
        "env": "staging",
        "domain": "example.org",
        "dockerHost": "ssh://deploy@host.example.org",
        "vaultAddress": "https://vault.example.org",
        "imageTag": "abc1234",
        "s3Endpoint": "https://s3.example.org",
        "s3AccessKey": "a",
        "s3SecretKey": "b",
    }
    raw.update(overrides)
    return raw


KEYS = frozenset({"s3AccessKey", "s3SecretKey", "backupHeartbeatUrl"})


def test_backup_settings_default_to_the_apps_storage_and_a_daily_schedule():
    s = load_config(_raw(), "staging", KEYS).backup
    assert (s.endpoint, s.bucket, s.prefix, s.time, s.interval_hours, s.keep_daily, s.keep_weekly) == (
        "https://s3.example.org",
        "finance-report-staging",
        "finance_report/staging/postgres",
        "02:30",
        24,
        7,
        4,
    )
    assert (s.keep_safety_days, s.max_drop_percent) == (14, 50)


@pytest.mark.parametrize(
    "key,value,message",
    [
        (
            "backupTime",
            "25:00",
            'config finance-report:backupTime = "25:00" is invalid: expected a UTC time HH:MM such as 02:30',
        ),
        (
            "backupKeepDaily",
            "0",
            'config finance-report:backupKeepDaily = "0" is invalid: expected an integer from 1 to 366',
        ),
        (
            "backupIntervalHours",
            "200",
            'config finance-report:backupIntervalHours = "200" is invalid: expected an integer from 1 to 168',
        ),
        (
            "backupS3Prefix",
            "finance_report/shared",
            'config finance-report:backupS3Prefix = "finance_report/shared" is invalid: expected a prefix of '
            "this env's own, containing the path segment staging",
        ),
        (
            "backupS3Prefix",
            "finance_report/staging2/postgres",
            'config finance-report:backupS3Prefix = "finance_report/staging2/postgres" is invalid: expected '
            "a prefix of this env's own, containing the path segment staging",
        ),
        (
            "backupS3Prefix",
            "finance_report/staging/../production",
            'config finance-report:backupS3Prefix = "finance_report/staging/../production" is invalid: '
            "expected a key prefix such as finance_report/<env>/postgres (no leading or trailing /)",
        ),
        (
            "backupS3Prefix",
            "/x/staging/",
            'config finance-report:backupS3Prefix = "/x/staging/" is invalid: expected a key prefix such as '
            "finance_report/<env>/postgres (no leading or trailing /)",
        ),
        (
            "backupS3Endpoint",
            "https://minio.example.org/bucket",
            'config finance-report:backupS3Endpoint = "https://minio.example.org/bucket" is invalid: '
            "expected an endpoint URL without a path (the bucket and prefix are their own keys)",
        ),
        (
            "backupHeartbeatUrl",
            "not a url",
            "config finance-report:backupHeartbeatUrl = [secret] is invalid: expected an http(s) URL the "
            "backup service calls after each verified backup, or empty",
        ),
        (
            "backupMaxDropPercent",
            "0",
            'config finance-report:backupMaxDropPercent = "0" is invalid: expected an integer from 1 to 100',
        ),
        (
            "backupKeepSafetyDays",
            "0",
            'config finance-report:backupKeepSafetyDays = "0" is invalid: expected an integer from 1 to 366',
        ),
        (
            "backupResticImage",
            "restic/restic:latest",
            'config finance-report:backupResticImage = "restic/restic:latest" is invalid: expected a pinned '
            "image: a release tag or a sha256 digest, never `latest` or no tag",
        ),
    ],
)
def test_bad_backup_settings_are_one_line_naming_key_value_and_expectation(key, value, message):
    with pytest.raises(ConfigError) as err:
        load_config(_raw(**{key: value}), "staging", KEYS)
    assert str(err.value) == message


@pytest.mark.parametrize("key", ["backupS3AccessKey", "backupS3SecretKey"])
def test_production_refuses_to_back_up_with_the_apps_s3_key(key):
    """Production's backups need an S3 key of their own (limited to their bucket): with the app's, the
    backend, or anyone holding its key, could delete every backup."""
    own = {"backupS3AccessKey": "backup-access", "backupS3SecretKey": "backup-secret"}
    raw = _raw(env="production", backupS3Bucket="finance-report-production-backups", **own)
    del raw[key]
    with pytest.raises(ConfigError) as err:
        load_config(raw, "production", KEYS | set(own))
    assert str(err.value) == (
        f"config finance-report:{key} = (not set) is invalid: expected a secret in production: an S3 key of the "
        "backups' own, limited to their bucket, so the app's key cannot delete them (docs/backups.md): run "
        f"`pulumi config set --secret {key}`"
    )
    assert load_config({**raw, key: own[key]}, "production", KEYS | set(own)).backup.bucket == (
        "finance-report-production-backups"
    )
    assert load_config(_raw(), "staging", KEYS).backup.bucket == "finance-report-staging", "other envs may share"


def test_the_offline_plan_fills_productions_backup_key_with_placeholders_of_its_own():
    from config.stack_file import read_stack_file
    from ops.program_run import with_missing_secrets
    from tests.conftest import ROOT

    config, keys = with_missing_secrets(*read_stack_file(ROOT / "Pulumi.production.yaml"))
    assert {"finance-report:backupS3AccessKey", "finance-report:backupS3SecretKey"} <= set(keys)
    assert config["finance-report:backupS3AccessKey"] != config["finance-report:s3AccessKey"]
    _staging, staging_keys = with_missing_secrets(*read_stack_file(ROOT / "Pulumi.staging.yaml"))
    assert "finance-report:backupS3AccessKey" not in staging_keys


def test_an_env_named_backup_is_refused():
    with pytest.raises(ConfigError, match="not a service or network word"):
        load_config(_raw(env="backup"), "backup", KEYS)


# ------------------------------------------------------------------------------------------ the script


@pytest.mark.parametrize("shell", ["sh", "dash", "busybox"])
def test_the_job_script_parses_in_the_shells_it_targets(shell):
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed")
    argv = [shell, "sh", "-n"] if shell == "busybox" else [shell, "-n"]
    proc = subprocess.run(argv, input=job.script(), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def next_run_in_sh(now: int, at: str, hours: int) -> int:
    env = {"BACKUP_TIME": at, "BACKUP_INTERVAL_HOURS": str(hours), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        ["sh", "-c", job.script(), "fr-backup", "next-run", str(now)],
        env=env,
        capture_output=True,
        text=True,
        timeout=10,
    )
    assert proc.returncode == 0, proc.stderr
    return int(proc.stdout)


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def expected_next(now: datetime, at: str, hours: int) -> datetime:
    """The first run after `now` of the series at + k * hours, k any integer, counted from `at` on the
    epoch's day: one fixed series, so every gap is the interval (across midnight and restarts too), and
    an interval that divides 24 runs at `at` every day."""
    h, m = map(int, at.split(":"))
    step = timedelta(hours=hours)
    anchor = EPOCH + timedelta(hours=h, minutes=m)
    return anchor + ((now - anchor) // step + 1) * step


@given(
    now=st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2035, 1, 1)).map(
        lambda d: d.replace(microsecond=0, tzinfo=UTC)
    ),
    at=st.sampled_from(["00:00", "02:30", "08:05", "23:59"]),
    hours=st.integers(1, 168),  # every interval config allows (program/backup.py: backupIntervalHours)
)
def test_the_schedule_runs_next_at_the_configured_utc_time_and_interval(now, at, hours):
    first = next_run_in_sh(int(now.timestamp()), at, hours)
    assert first == int(expected_next(now, at, hours).timestamp())
    # what the loop does after that run: the next one is exactly one interval later
    assert next_run_in_sh(first, at, hours) == first + hours * 3600


@pytest.mark.parametrize("hours", [1, 5, 24, 48, 168])
def test_a_restart_at_any_moment_plans_the_same_next_run(hours):
    """The container's loop recomputes the next run from the clock after every run and every restart:
    the plan must not depend on the day it is computed on (5 h across midnight, 48 h across a day)."""
    start = int(datetime(2026, 3, 1, 23, 0, tzinfo=UTC).timestamp())
    planned = next_run_in_sh(start, "02:30", hours)
    for later in range(start, planned, max(600, (planned - start) // 40)):
        assert next_run_in_sh(later, "02:30", hours) == planned, datetime.fromtimestamp(later, UTC)


def health_line_in_sh(hours: int) -> str:
    """`fr-backup health`'s line (Docker keeps it, `invoke status` parses it), with the maximum age the
    script computes. Its state files (under /scratch, absent here) only change the ages, not max_age."""
    env = {"BACKUP_INTERVAL_HOURS": str(hours), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        ["sh", "-c", job.script(), "fr-backup", "health"], env=env, capture_output=True, text=True, timeout=10
    )
    return proc.stdout


@given(hours=st.integers(1, 168))
def test_the_health_allows_two_intervals(hours):
    ages = backup_health.parse_health_output(health_line_in_sh(hours))
    assert ages is not None and ages.max_age == 2 * hours * 3600


def health_in_sh(
    tmp_path, result: str, backup_age: int, verified_age: int, hours: int = 24, argv: tuple[str, ...] = ("health",)
) -> tuple[int, str]:
    """`fr-backup health` (or `argv`) as Docker runs it, on state files of a given age (the script's scratch
    volume mapped to `tmp_path`, nothing else changed)."""
    import time

    now = int(time.time())
    state = tmp_path / "state"
    state.mkdir(exist_ok=True)
    (state / "last-backup").write_text(f"{now - backup_age}\n")
    (state / "last-verified").write_text(f"{now - verified_age}\n")
    (state / "last-result").write_text(result + "\n")
    script = job.script().replace(f"SCRATCH={job.SCRATCH}\n", f"SCRATCH={tmp_path}\n", 1)
    env = {"BACKUP_INTERVAL_HOURS": str(hours), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(["sh", "-c", script, "fr-backup", *argv], env=env, capture_output=True, text=True)
    return proc.returncode, proc.stdout


def test_the_health_fails_on_a_failed_last_run_however_recent_the_last_success(tmp_path):
    assert health_in_sh(tmp_path, "ok 1 run=x snapshot=abc", 3600, 3600)[0] == 0
    code, out = health_in_sh(tmp_path, "failed 2 repository: connection refused", 3600, 3600)
    assert code == 1 and "LAST BACKUP FAILED" in out, out


def test_the_health_line_says_stale_loudly(tmp_path):
    code, out = health_in_sh(tmp_path, "ok 1 run=x snapshot=abc", 50 * 3600, 50 * 3600)
    assert code == 1
    assert out.splitlines()[1] == "BACKUPS STALE: the last verified backup is 50h old; the schedule allows 48h", out
    ages = backup_health.parse_health_output(out)
    assert ages is not None and backup_health.ages_line(ages).startswith("STALE: last backup 2d 2h ago"), ages


def test_under_swarm_a_failed_or_stale_backup_is_reported_but_does_not_fail_the_tasks_health(tmp_path):
    """Swarm acts on a task's health (moby's container executor: a new task counts as running only once
    healthy, so an update waits for it; an unhealthy one is shut down and replaced): a health check that
    failed on a failed backup would restart the backup task over and over and block every deploy that
    updates it through one S3 outage. Its probe must still print the line `invoke status` reads and flags.
    The containers runtime keeps the failing check (nothing acts on it but the operator's eye)."""
    from tests.conftest import run_stack

    def probe(run, type_: str, name: str) -> tuple[str, ...]:
        inputs = unwrap_secrets(run.one(type_, name).inputs)
        spec = inputs["taskSpec"]["containerSpec"] if type_ == "docker:index/service:Service" else inputs
        test = spec["healthcheck"]["tests"]
        assert test[:2] == ["CMD", job.SCRIPT_PATH], test
        return tuple(test[2:])

    swarm = run_stack("staging", {"runtime": "swarm", "swarmDataNode": "dokploy"})
    assert swarm.error is None, swarm.error
    swarm_argv = probe(swarm, "docker:index/service:Service", "backup-service")
    containers_argv = probe(run_stack("staging"), "docker:index/container:Container", "backup-container")
    for result, backup_age, flag in (
        ("failed 2 repository: connection refused", 3600, "LAST BACKUP FAILED"),
        ("ok 1 run=x snapshot=abc", 50 * 3600, "BACKUPS STALE"),
    ):
        code, out = health_in_sh(tmp_path, result, backup_age, backup_age, argv=swarm_argv)
        assert code == 0 and flag in out, (code, out)
        ages = backup_health.parse_health_output(out)
        assert ages is not None and backup_health.age_problems(ages), out
        code, out = health_in_sh(tmp_path, result, backup_age, backup_age, argv=containers_argv)
        assert code == 1 and flag in out, (code, out)


# ------------------------------------------------------------------------------------------ operator tools (pure)


def snapshot(i: int, tags: list[str]) -> dict:
    return {
        "time": f"2026-01-0{i}T02:30:0{i}.123Z",
        "short_id": f"abcdef0{i}",
        "id": f"abcdef0{i}" + "0" * 56,
        "tags": tags,
    }


def test_the_listing_has_one_row_per_database_snapshot_with_size_and_verification():
    rows = ops.backups_of(
        [
            snapshot(3, ["kind=db", "run=r3", "verify-failed"]),
            snapshot(1, ["kind=db", "run=r1", "verified", "bytes=2048", "tables=12"]),
            snapshot(2, ["kind=globals", "run=r1", "verified"]),
            snapshot(4, ["kind=db", "run=r4"]),
            snapshot(5, ["kind=db", "run=r5", "safety", "safety-verified", "bytes=1024", "tables=12"]),
            snapshot(6, ["kind=db", "run=r6", "safety", "verify-failed"]),
        ]
    )
    assert [(r.id, r.verification, r.size, r.tables, r.kind) for r in rows] == [
        ("abcdef01", "verified", 2048, 12, ""),
        ("abcdef03", "failed", None, None, ""),
        ("abcdef04", "unverified", None, None, ""),
        ("abcdef05", "verified", 1024, 12, "safety"),
        ("abcdef06", "failed", None, None, "safety"),
    ]
    assert ops.render_backups(rows).splitlines() == [
        "time (UTC)            snapshot        size  restore check tables kind",
        "2026-01-01 02:30:01Z  abcdef01     2.0 KiB  verified      12",
        "2026-01-03 02:30:03Z  abcdef03           ?  failed        -",
        "2026-01-04 02:30:04Z  abcdef04           ?  unverified    -",
        "2026-01-05 02:30:05Z  abcdef05     1.0 KiB  verified      12     safety",
        "2026-01-06 02:30:06Z  abcdef06           ?  failed        -      safety",
        "5 backups (2 of them safety backups before a restore), 2 verified",
    ]


def test_ages_come_from_the_health_probe_and_stale_ones_are_problems():
    ok = backup_health.parse_health_output(
        "last_backup=1000 last_verified=900 max_age=172800 now=8200 result: ok 1000 run=x"
    )
    assert (ok.backup, ok.verified) == (7200, 7300) and backup_health.age_problems(ok) == []
    assert backup_health.ages_line(ok) == "last backup 2h 0m ago, last verified restore 2h 1m ago (allowed: 48h)"
    stale = backup_health.parse_health_output(
        "last_backup=0 last_verified=0 max_age=172800 now=9999999 result: failed 9 repository: Fatal: wrong password"
    )
    assert backup_health.age_problems(stale) == [
        "last backup never, older than the 48h the schedule allows",
        "last verified restore never, older than the 48h the schedule allows",
        "last backup run: failed 9 repository: Fatal: wrong password",
    ]
    assert backup_health.parse_health_output("") is None


def test_the_exec_stream_is_split_into_stdout_and_stderr():
    frame = lambda kind, text: bytes([kind, 0, 0, 0]) + struct.pack(">I", len(text)) + text  # noqa: E731
    assert ops.demultiplex(frame(1, b"out ") + frame(2, b"err") + frame(1, b"more")) == ("out more", "err")


LISTED = ops.backups_of(
    [
        snapshot(1, ["kind=db", "run=r1", "verified"]),
        snapshot(2, ["kind=db", "run=r2", "verified"]),
        snapshot(3, ["kind=db", "run=r3", "verify-failed"]),
        snapshot(4, ["kind=db", "run=r4"]),
    ]
)


def test_latest_is_the_newest_verified_backup_even_when_newer_ones_failed_their_check():
    assert ops.resolve_source(LISTED, "latest", "staging") == "abcdef02"
    with pytest.raises(OperatorError, match=r"^env staging has no verified backup to restore$") as none:
        ops.resolve_source(LISTED[2:], "latest", "staging")
    assert none.value.exit_code == 1  # nothing to restore: the command failed, the input was fine


def test_a_backup_that_failed_or_never_passed_its_restore_check_is_refused_unless_asked_for():
    with pytest.raises(OperatorError) as failed:
        ops.resolve_source(LISTED, "abcdef03", "staging")
    assert (
        str(failed.value)
        == "--from abcdef03: snapshot abcdef03 failed its restore check; pass --unverified to restore it anyway "
        "(with --into-scratch to inspect it)"
    )
    with pytest.raises(OperatorError) as unchecked:
        ops.resolve_source(LISTED, "abcdef04" + "0" * 56, "staging")
    assert (
        str(unchecked.value)
        == "--from abcdef04" + "0" * 56
        + ": snapshot abcdef04 has not passed a restore check; pass --unverified to restore it anyway (with "
        "--into-scratch to inspect it)"
    )
    assert failed.value.exit_code == unchecked.value.exit_code == 2
    assert ops.resolve_source(LISTED, "abcdef03", "staging", unverified=True) == "abcdef03"
    assert ops.resolve_source(LISTED, "abcdef01", "staging") == "abcdef01"
    with pytest.raises(OperatorError, match="no backup of env staging has this id") as unknown:
        ops.resolve_source(LISTED, "abcdef09", "staging", unverified=True)
    assert unknown.value.exit_code == 2


def test_restore_refuses_a_bad_source_before_touching_anything(capsys):
    assert ops.main("restore", "staging", docker_host="unix:///nonexistent.sock", yes=True, source="../etc") == 2
    assert capsys.readouterr().err.startswith("restore: --from '../etc': expected latest or a snapshot id")
    assert ops.main("backups", "") == 2


def closed_stdin(monkeypatch):
    """Standard input at its end, as with `</dev/null` or a CI step: input() raises EOFError."""
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO(""))


def test_a_declined_or_unanswerable_confirmation_is_exit_1_not_done(monkeypatch, capsys, staging, tmp_path):
    """Both mean "not done" (exit 1), never "bad input" (2): nothing ran, nothing was wrong with the flags.
    The question comes once the host showed its backup service (a fake engine), before anything runs."""
    from tests.unit.fake_docker import Engine, backup_row, fake_docker

    engine = Engine(containers=[backup_row(staging)])
    with fake_docker(tmp_path / "docker.sock", engine) as host:
        assert ops.main("backup", "staging", docker_host=host, read=lambda _q: "n") == 1
        assert capsys.readouterr().err == "backup: not confirmed; nothing changed\n"
        closed_stdin(monkeypatch)
        assert ops.main("backup", "staging", docker_host=host) == 1
    out = capsys.readouterr()
    assert out.err == (
        "backup: no confirmation (standard input is closed): pass --yes to run without asking; nothing changed\n"
    )
    assert out.out == "Back up env staging now? [y/N] "
    assert engine.commands == [], "nothing ran in the backup container"


def test_an_id_is_matched_in_full_and_an_ambiguous_one_is_refused():
    """The listing shows 8 characters, but `--from` is matched against the whole id: a longer id that only
    starts like a backup is not that backup, and two backups sharing the 8 characters need more of it."""
    longer_wrong = "abcdef01" + "f" * 8
    with pytest.raises(OperatorError, match="no backup of env staging has this id"):
        ops.resolve_source(LISTED, longer_wrong, "staging")
    twins = ops.backups_of(
        [
            {**snapshot(1, ["kind=db", "run=a", "verified"]), "short_id": "abcdef01", "id": "abcdef01" + "1" * 56},
            {**snapshot(2, ["kind=db", "run=b", "verify-failed"]), "short_id": "abcdef01", "id": "abcdef01" + "2" * 56},
        ]
    )
    with pytest.raises(OperatorError) as ambiguous:
        ops.resolve_source(twins, "abcdef01", "staging")
    assert (
        str(ambiguous.value)
        == "--from abcdef01: 2 backups of env staging start with it; give more of the id (restic snapshots "
        "--json shows it whole)"
    )
    assert ambiguous.value.exit_code == 2
    assert ops.resolve_source(twins, "abcdef011", "staging") == "abcdef011"
    with pytest.raises(OperatorError, match="failed its restore check"):
        ops.resolve_source(twins, "abcdef012", "staging")


class FakeDocker:
    """The Docker API calls `invoke restore` makes, answered from a table; records every write."""

    def __init__(self, stop_status: dict[str, int], exit_code: object = 0, exit_codes: dict[str, int] | None = None):
        # The containers of production's plan, named and labelled as the program declares them.
        self.rows = []
        for c in run_stack("production").by_type("docker:index/container:Container"):
            name = unwrap_secrets(c.inputs)["name"]
            labels = {entry["label"]: entry["value"] for entry in c.inputs.get("labels", [])}
            self.rows.append({"Id": name, "Names": [f"/{name}"], "State": "running", "Labels": labels})
        self.stop_status, self.exit_code, self.writes, self.execs = stop_status, exit_code, [], []
        # per backup-job verb ("run", "restore", "list"): the exit code of that exec, else exit_code
        self.exit_codes = exit_codes or {}

    def containers(self, labels):
        wanted = dict(label.split("=", 1) for label in labels)
        return [r for r in self.rows if all(r["Labels"].get(k) == v for k, v in wanted.items())]

    def request(self, method, path, query=None, body=None, **_):
        from clients.docker_api import Response

        if path.endswith("/exec"):
            self.execs.append(body["Cmd"])
            return Response(201, json.dumps({"Id": str(len(self.execs))}).encode())
        if method == "GET" and path.endswith("/json"):  # the health gate: every container healthy again
            return Response(
                200,
                json.dumps({"State": {"Running": True, "Health": {"Status": "healthy"}}, "RestartCount": 0}).encode(),
            )
        if path.startswith("/exec/"):
            # a safety backup, once taken, is the newest verified snapshot in the listing, as in restic
            safety_taken = any(cmd[1:2] == ["run"] and "--safety" in cmd for cmd in self.execs)
            listed = [snapshot(1, ["kind=db", "run=r1", "verified"])] + (
                [snapshot(2, ["kind=db", "run=r2", "safety", "safety-verified"])] if safety_taken else []
            )
            out = json.dumps(listed).encode() if self.execs[-1][1:2] == ["list"] else b""
            return Response(200, bytes([1, 0, 0, 0]) + struct.pack(">I", len(out)) + out)
        self.writes.append(f"{method} {path}")
        action, name = path.rsplit("/", 1)[1], path.split("/")[2]
        return Response(self.stop_status.get(name, 204) if action == "stop" else 204, b"")

    def get(self, path, **query):
        state = {"Running": False}
        cmd = self.execs[int(path.split("/")[2]) - 1] if path.startswith("/exec/") else []
        verb = cmd[1] if len(cmd) > 1 else ""
        code = self.exit_codes.get(verb, self.exit_code)
        if code is not None:
            state["ExitCode"] = code
        return state


def ctx_of(api) -> ops.Context:
    import io

    return ops.Context(
        env="production",
        api=api,
        site="https://report-staging.example",
        public_gate=False,
        out=io.StringIO(),
        confirm=lambda _q: None,
    )


def test_a_stop_that_fails_starts_again_what_was_stopped_and_restores_nothing():
    from render import labels as L

    # the backend and the worker in the order the API lists them: the second one's stop fails
    first, second = [
        r["Id"] for r in FakeDocker({}).rows if r["Labels"].get(L.SERVICE) in (Service.BACKEND, Service.PREFECT_WORKER)
    ]
    api = FakeDocker({second: 500})
    with pytest.raises(OperatorError) as failed:
        ops.cmd_restore(ctx_of(api), "latest", into_scratch=False)
    assert str(failed.value) == f"stopping {second} failed (500); nothing was restored"
    assert failed.value.exit_code == 1
    assert api.writes == [
        f"POST /containers/{first}/stop",
        f"POST /containers/{second}/stop",
        f"POST /containers/{first}/start",
    ]
    assert not [cmd for cmd in api.execs if cmd[1] == "restore"]


FAKE_SSH = """#!/bin/sh
# answers one Docker API request with the SIGINT disposition it was started with (SigIgn bit 2)
while IFS= read -r line && [ "$(printf %s "$line" | tr -d '\\r')" != "" ]; do :; done
mask=$(sed -n 's/^SigIgn:[[:space:]]*//p' /proc/$$/status)
body="{\\"sigign\\": \\"$mask\\"}"
printf 'HTTP/1.1 200 OK\\r\\nContent-Type: application/json\\r\\nContent-Length: %s\\r\\n\\r\\n%s' "${#body}" "$body"
"""


def test_ctrl_c_in_the_operators_terminal_does_not_reach_the_ssh_connection(tmp_path, monkeypatch):
    """A Ctrl-C during `invoke restore` is deferred until the restore's exec ends (ops/backup_ops.py); the
    ssh process carrying the exec's stream is in the terminal's process group too and must not die of it."""
    from clients.docker_api import DockerAPI

    (tmp_path / "ssh").write_text(FAKE_SSH)
    (tmp_path / "ssh").chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{__import__('os').environ['PATH']}")
    # As in an operator's terminal: SIGINT handled here. A run in the background (.ci/run's mutation check) may
    # inherit it ignored, and exec keeps an ignored signal ignored: ssh would be immune without the program.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        mask = int(DockerAPI("ssh://deploy@host.example.org").get("/version")["sigign"], 16)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert mask & (1 << (2 - 1)), f"ssh starts with SIGINT not ignored (SigIgn {mask:x})"


def test_a_restore_whose_backend_does_not_come_back_healthy_fails_naming_it(monkeypatch):
    """After the swap the backend and worker start again; the restore counts as done only when the health
    gate (the rollout gate's checks) passes. A gate shortened to half a second: the backend stays
    unhealthy; the backup container, unhealthy too, need only run."""
    from dataclasses import dataclass

    from clients.docker_api import Response
    from render import labels as L
    from runtime import rollout_gate

    @dataclass
    class QuickGate(rollout_gate.Gate):
        def __post_init__(self) -> None:
            super().__post_init__()
            self.timeout, self.interval = 0.5, 0.1

    monkeypatch.setattr(rollout_gate, "Gate", QuickGate)
    api = FakeDocker({})
    backend = next(r["Id"] for r in api.rows if r["Labels"].get(L.SERVICE) == Service.BACKEND)
    backup = next(r["Id"] for r in api.rows if r["Labels"].get(L.SERVICE) == Service.BACKUP)
    answer = api.request

    def request(method, path, query=None, body=None, **kw):
        if method == "GET" and path in (f"/containers/{backend}/json", f"/containers/{backup}/json"):
            state = {"Running": True, "Health": {"Status": "unhealthy", "Log": [{"Output": "no answer"}]}}
            return Response(200, json.dumps({"State": state, "RestartCount": 0}).encode())
        return answer(method, path, query, body, **kw)

    api.request = request
    ctx = ctx_of(api)
    with pytest.raises(ops.OperatorError) as failed:
        ops.cmd_restore(ctx, "latest", into_scratch=False)
    assert str(failed.value) == (
        f"health gate: {backend} is unhealthy, not healthy, after 0s (last check: no answer)"
    ), ctx.out.getvalue()
    assert f"started {backend}" in ctx.out.getvalue()


def test_an_exec_without_an_exit_code_is_not_a_success():
    with pytest.raises(ops.DockerError, match="no exit code"):
        ops.exec_run(FakeDocker({}, exit_code=None), "fr-backup", ["true"])


def test_a_restore_first_takes_a_safety_backup_that_prunes_nothing_then_stops_and_restores():
    """The safety backup runs before anything is stopped, tagged safety and with --no-prune: the snapshot about
    to be restored may be one the day's retention would forget (docs/backups.md)."""
    from render import labels as L

    api = FakeDocker({})
    ops.cmd_restore(ctx_of(api), "latest", into_scratch=False)
    verbs = [cmd[1:] for cmd in api.execs if cmd[1] in ("run", "restore")]
    assert verbs[0] == ["run", "before restore", "--no-prune", "--safety"], verbs
    assert [v[0] for v in verbs] == ["run", "restore"] and verbs[1][-1] == "--live", verbs
    # `latest` is resolved before the safety backup, which would otherwise be the newest verified snapshot
    assert verbs[1][1] == snapshot(1, [])["short_id"], verbs
    stopped = [w for w in api.writes if w.endswith("/stop")]
    app = {r["Id"] for r in api.rows if r["Labels"].get(L.SERVICE) in (Service.BACKEND, Service.PREFECT_WORKER)}
    assert {w.split("/")[2] for w in stopped} == app


def test_a_failed_safety_backup_stops_the_restore_before_anything_is_stopped():
    api = FakeDocker({}, exit_codes={"run": 3})
    with pytest.raises(OperatorError) as failed:
        ops.cmd_restore(ctx_of(api), "latest", into_scratch=False)
    assert str(failed.value) == "backup of env production failed: exit 3; nothing was restored"
    assert failed.value.exit_code == 1
    assert api.writes == [], "nothing may be stopped when the safety backup failed"
    assert [cmd[1] for cmd in api.execs if cmd[1] in ("run", "restore")] == ["run"]


def test_a_safety_backup_that_fails_before_a_scratch_restore_restores_nothing_either():
    api = FakeDocker({}, exit_codes={"run": 3})
    with pytest.raises(OperatorError, match=r"; nothing was restored$"):
        ops.cmd_restore(ctx_of(api), "latest", into_scratch=True)
    assert [cmd[1] for cmd in api.execs if cmd[1] in ("run", "restore")] == ["run"]
