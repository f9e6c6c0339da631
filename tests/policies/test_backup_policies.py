"""The backup policies beyond one changed property (tests/policies/test_policies.py has those): the exact
messages, a stack without a backup service, and the real plans of both stacks with a repository on the
Docker host or a short retention seeded into the program's config."""

from __future__ import annotations

import copy
import json

from ci.offline_plan import evaluate, evaluate_resources
from policies.backups import on_host_reason
from policies.registry import POLICIES
from tests.policies.test_policies import PACK_CONFIG, backup_env, compliant_stack, mutate


def violations(resources):
    return [(v.policy, v.message) for v in evaluate_resources(resources, PACK_CONFIG, POLICIES)]


def test_a_stack_whose_postgres_has_no_backup_service_is_refused_naming_it():
    resources = [r for r in copy.deepcopy(compliant_stack()) if r.name != "backup"]
    assert violations(resources) == [
        (
            "stack-enforce-database-backup",
            "Postgres finance_report-postgres has no backup service: no container labelled "
            "finance-report.service=backup dumps it (PGHOST=finance_report-postgres).",
        )
    ]


def test_the_messages_name_the_container_the_value_and_the_fix():
    on_host = mutate("backup", backup_env("RESTIC_REPOSITORY", "s3:https://dokploy.zitian.party/b/p"))
    assert violations(on_host) == [
        (
            "backup-disallow-on-host-repository",
            "Backup container backup: its repository s3:https://dokploy.zitian.party/b/p is on the Docker "
            "host dokploy.zitian.party itself; backups must leave the host.",
        )
    ]
    short = mutate("backup", backup_env("BACKUP_KEEP_DAILY", "3"))
    assert violations(short) == [
        (
            "backup-enforce-minimum-retention",
            "Backup container backup keeps 3 daily backups; keep at least 7 (backupKeepDaily).",
        )
    ]


SEPARATE = "backup-enforce-separate-storage"
FIX = (
    "Set backupS3Bucket, and backupS3AccessKey/backupS3SecretKey to a key limited to the backup prefix; enable "
    "versioning or object lock on the backup bucket."
)


def test_a_backup_sharing_the_apps_bucket_or_key_is_reported_naming_what_and_the_fix():
    same_bucket = backup_env(
        "RESTIC_REPOSITORY",
        "s3:https://minio.zitian.party/finance-report-production/finance_report/production/postgres",
    )

    def same_key(r):
        r.props["dataJson"] = json.dumps(
            {"AWS_ACCESS_KEY_ID": "app-access", "AWS_SECRET_ACCESS_KEY": "generated-app-secret"}
        )

    both = copy.deepcopy(compliant_stack())
    same_bucket(next(r for r in both if r.name == "backup"))
    same_key(next(r for r in both if r.name == "backup-kv"))
    what = {
        "the app's bucket finance-report-production and the app's S3 key": both,
        "the app's bucket finance-report-production": mutate("backup", same_bucket),
        "the app's S3 key": mutate("backup-kv", same_key),
    }
    # the app's endpoint written with its scheme's default port is the same endpoint
    what["the app's bucket finance-report-production (port 443 written)"] = mutate(
        "backup",
        backup_env(
            "RESTIC_REPOSITORY",
            "s3:https://minio.zitian.party:443/finance-report-production/finance_report/production/postgres",
        ),
    )
    for shared, resources in what.items():
        shared = shared.removesuffix(" (port 443 written)")
        assert violations(resources) == [
            (
                SEPARATE,
                f"Backup container backup: its repository shares {shared}, so the backend, or anyone holding "
                f"the app's S3 key, can delete every backup. {FIX}",
            )
        ]
        assert "generated-app-secret" not in str(violations(resources)) and "app-access" not in str(
            violations(resources)
        )


def test_the_same_bucket_name_on_another_endpoint_and_unknown_values_are_not_reported():
    elsewhere = mutate(
        "backup",
        backup_env(
            "RESTIC_REPOSITORY",
            "s3:https://backups.example.org/finance-report-production/finance_report/production/postgres",
        ),
    )
    assert violations(elsewhere) == []
    unknown = mutate("backup-kv", lambda r: r.props.update(dataJson="04da6b54-80e4-46f7-96ec-b56ff0331ba9"))
    assert violations(unknown) == []


def test_separate_backup_storage_is_mandatory_in_production_and_the_committed_stack_has_it():
    """Production's policy config (derived from its stack) makes the policy mandatory; its committed stack
    names a backup bucket of its own and requires a backup key of its own (the offline plan fills it with
    a placeholder, as every required secret), so it plans clean. Staging keeps the advisory: its backups
    may share."""
    from tests.conftest import run_stack, stack_policy_config

    pack = stack_policy_config("production")
    assert [v for v in evaluate(run_stack("production"), pack, POLICIES) if v.policy == SEPARATE] == []
    shared_bucket = run_stack("production", {"backupS3Bucket": None})
    assert [
        (v.enforcementLevel, v.message) for v in evaluate(shared_bucket, pack, POLICIES) if v.policy == SEPARATE
    ] == [
        (
            "mandatory",
            "Backup container backup-container: its repository shares the app's bucket "
            "finance-report-production, so the backend, or anyone holding the app's S3 key, can delete every "
            f"backup. {FIX}",
        )
    ]
    same_key = run_stack(
        "production", {}, {"backupS3AccessKey": "placeholder-s3AccessKey-0", "s3AccessKey": "placeholder-s3AccessKey-0"}
    )
    assert [v.message.split(", so")[0] for v in evaluate(same_key, pack, POLICIES) if v.policy == SEPARATE] == [
        "Backup container backup-container: its repository shares the app's S3 key"
    ]

    staging_pack = stack_policy_config("staging")
    shared = [v for v in evaluate(run_stack("staging"), staging_pack, POLICIES) if v.policy == SEPARATE]
    assert [(v.enforcementLevel, v.message) for v in shared] == [
        (
            "advisory",
            "Backup container backup-container: its repository shares the app's bucket "
            "finance-report-staging and the app's S3 key, so the backend, or anyone holding the app's S3 "
            f"key, can delete every backup. {FIX}",
        )
    ]
    dedicated = run_stack(
        "staging",
        {"backupS3Bucket": "finance-report-backups"},
        {"backupS3AccessKey": "backup-only-access", "backupS3SecretKey": "backup-only-secret"},
    )
    assert [v for v in evaluate(dedicated, staging_pack, POLICIES) if v.policy == SEPARATE] == []


def test_what_counts_as_the_docker_host():
    hosts = {"dokploy.zitian.party"}
    assert on_host_reason("s3:https://minio.zitian.party/b/p", hosts) is None
    assert on_host_reason("s3:https://10.0.0.9:9000/b/p", hosts) is None
    for repository in (
        "s3:http://localhost:9000/b/p",
        "s3:http://[::1]:9000/b/p",
        "s3:http://127.0.0.2/b/p",
        "s3:http://host.docker.internal/b/p",
        "s3:https://DOKPLOY.zitian.party/b/p",
        "s3:http://gateway.docker.internal/b/p",
        "s3:http://169.254.0.1/b/p",
        "s3:http://172.17.0.1:9000/b/p",
    ):
        assert on_host_reason(repository, hosts), repository
    # A name without a domain is what a container on the host's Docker networks answers to (a MinIO
    # container beside the app): on the host until written as the storage's full name.
    assert (
        on_host_reason("s3:http://minio:9000/b/p", hosts)
        == "names minio, a name without a domain (a container on the Docker host's networks answers to such "
        "names); write the storage's full name"
    )
    assert on_host_reason("local:/srv/backups", hosts) == "is local, not S3-compatible storage"
    assert on_host_reason("sftp:dokploy.zitian.party:/b", hosts) == "is sftp, not S3-compatible storage"


def test_the_real_program_with_its_repository_on_the_docker_host_fails_the_plan():
    from tests.conftest import run_stack, stack_policy_config

    pack = stack_policy_config("production")
    clean = run_stack("production")
    assert [
        v
        for v in evaluate(clean, pack, POLICIES)
        if v.enforcementLevel == "mandatory" and v.policy.startswith(("backup-", "stack-enforce-database"))
    ] == []
    seeded = run_stack("production", {"backupS3Endpoint": "https://dokploy.zitian.party", "backupKeepDaily": "3"})
    fired = sorted({v.policy for v in evaluate(seeded, pack, POLICIES) if v.enforcementLevel == "mandatory"})
    assert fired == ["backup-disallow-on-host-repository", "backup-enforce-minimum-retention"]
