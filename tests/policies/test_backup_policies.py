"""The backup policies beyond one changed property (tests/policies/test_policies.py has those): the exact
messages, a stack without a backup service, and the real plans of both stacks with a repository on the
Docker host or a short retention seeded into the program's config."""

from __future__ import annotations

import copy

from policies.backups import on_host_reason
from policies.registry import POLICIES
from tests.policies.test_policies import PACK_CONFIG, backup_env, compliant_stack, mutate
from tools.offline_plan import evaluate, evaluate_resources


def violations(resources):
    return [(v.policy, v.message) for v in evaluate_resources(resources, PACK_CONFIG, POLICIES)]


def test_a_stack_whose_postgres_has_no_backup_service_is_refused_naming_it():
    resources = [r for r in copy.deepcopy(compliant_stack()) if r.name != "backup"]
    assert violations(resources) == [
        ("stack-enforce-database-backup", "Postgres finance_report-postgres has no backup service: no container labelled finance-report.service=backup dumps it (PGHOST=finance_report-postgres).")
    ]


def test_the_messages_name_the_container_the_value_and_the_fix():
    on_host = mutate("backup", backup_env("RESTIC_REPOSITORY", "s3:https://dokploy.zitian.party/b/p"))
    assert violations(on_host) == [
        ("backup-disallow-on-host-repository", "Backup container backup: its repository s3:https://dokploy.zitian.party/b/p is on the Docker host dokploy.zitian.party itself; backups must leave the host.")
    ]
    short = mutate("backup", backup_env("BACKUP_KEEP_DAILY", "3"))
    assert violations(short) == [("backup-enforce-minimum-retention", "Backup container backup keeps 3 daily backups; keep at least 7 (backupKeepDaily).")]


def test_what_counts_as_the_docker_host():
    hosts = {"dokploy.zitian.party"}
    assert on_host_reason("s3:https://minio.zitian.party/b/p", hosts) is None
    assert on_host_reason("s3:https://10.0.0.9:9000/b/p", hosts) is None
    for repository in ("s3:http://localhost:9000/b/p", "s3:http://[::1]:9000/b/p", "s3:http://127.0.0.2/b/p", "s3:http://host.docker.internal/b/p", "s3:https://DOKPLOY.zitian.party/b/p"):
        assert on_host_reason(repository, hosts), repository
    assert on_host_reason("local:/srv/backups", hosts) == "is local, not S3-compatible storage"
    assert on_host_reason("sftp:dokploy.zitian.party:/b", hosts) == "is sftp, not S3-compatible storage"


def test_the_real_program_with_its_repository_on_the_docker_host_fails_the_plan():
    from tests.conftest import run_stack
    from tools.offline_plan import load_policy_config
    from tests.conftest import ROOT

    pack = load_policy_config(ROOT / "policies" / "config.production.json")
    clean = run_stack("production")
    assert [v for v in evaluate(clean, pack, POLICIES) if v.policy.startswith(("backup-", "stack-enforce-database"))] == []
    seeded = run_stack("production", {"backupS3Endpoint": "https://dokploy.zitian.party", "backupKeepDaily": "3"})
    fired = sorted({v.policy for v in evaluate(seeded, pack, POLICIES) if v.enforcementLevel == "mandatory"})
    assert fired == ["backup-disallow-on-host-repository", "backup-enforce-minimum-retention"]
