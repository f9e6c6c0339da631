"""Mutation check: each guarded behaviour, broken on purpose, must make its tests fail.

`uv run python -m ci.mutation_check [--only NAME ...] [--list]` copies the project's tracked files to a
scratch directory once per mutation, applies one mutation (an exact text replacement, which must match
once), runs the tests that guard it, and expects them to FAIL. A mutation whose tests still pass
"survives": the check prints it and exits 1. A mutation whose text no longer matches exits 2 (the list
went stale with the code). `.ci/run` runs it.

The list covers the places a review found unguarded (issue "Defects at the seams") and one mutation per
defect it fixed; integration tests run on the real-systems harness with the caller's FR_HARNESS_ID
(`mutant` when unset).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Mutation:
    name: str
    path: str
    old: str
    new: str
    tests: tuple[str, ...]


M = Mutation
MUTATIONS = (
    # the places named in the review
    M(
        "env-policy-exempts-slash-values",
        "policies/container_secrets.py",
        "if is_secret_key(key) and value:",
        "if is_secret_key(key) and value and not value.startswith('/'):",
        ("tests/policies/test_policies.py",),
    ),
    M(
        "least-privilege-trusts-the-policy-name",
        "policies/vault_least_privilege.py",
        'if match.group("env") != env:',
        "if False:",
        ("tests/policies/test_policies.py",),
    ),
    M(
        "postgres-stop-not-forwarded",
        "render/postgres_start.sh",
        "trap 'kill -INT \"$pid\" 2>/dev/null' INT TERM\n",
        "",
        (
            "tests/integration/test_datastores.py::test_postgres_stops_fast_with_a_pooled_connection_and_restarts_without_recovery",
        ),
    ),
    M(
        "backend-wrapper-without-set-a",
        "program/app.py",
        "f'set -a; . \"{ENV_FILE}\"; set +a\\n'",
        "f'. \"{ENV_FILE}\"\\n'",
        ("tests/integration/test_agent_on_docker.py::test_the_backend_start_wrapper_exports_the_rendered_environment",),
    ),
    M(
        "prefect-health-exit-0",
        "program/app.py",
        '"for f in /proc/[0-9]*/cmdline;',
        '"exit 0; for f in /proc/[0-9]*/cmdline;',
        (
            "tests/integration/test_agent_on_docker.py::test_the_prefect_worker_health_check_fails_without_the_worker_and_passes_with_it",
        ),
    ),
    M(
        "image-pin-any-digest-length",
        "policies/image_pinning.py",
        'digest.startswith("sha256:") and len(digest) == 71',
        'digest.startswith("sha256:")',
        ("tests/policies/test_policies.py",),
    ),
    M(
        "tmpfs-policy-without-size",
        "policies/secrets_mount.py",
        'and "size=" in str(opts.get("o", ""))',
        "",
        ("tests/policies/test_policies.py",),
    ),
    M(
        "agent-without-render-interval",
        "render/vault_artifacts.py",
        "        '  static_secret_render_interval = \"1m\"\\n'\n",
        "",
        (
            "tests/integration/test_hostile_values.py::test_a_running_agent_re_renders_a_changed_kv_value_without_a_restart",
        ),
    ),
    M(
        "postgres-without-alter-role",
        "render/postgres_roles.sql",
        "ALTER ROLE @SUPERUSER@ PASSWORD :'pw';",
        "SELECT 1;",
        ("tests/integration/test_adopt_rotation.py",),
    ),
    M(
        "kv-path-policy-allows-nesting",
        "policies/vault_kv_path.py",
        ' or "/" in str(name)[len(prefix) :]',
        "",
        ("tests/policies/test_policies.py",),
    ),
    # one per defect fixed
    M(
        "redis-as-root-again",
        "render/redis.py",
        'USER = "999:1000"',
        'USER = "0:0"',
        ("tests/integration/test_datastores.py::test_redis_restarts_on_its_own_data_including_appendonlydir",),
    ),
    M(
        "datastore-without-env-label",
        "render/labels.py",
        "    labels[ENV] = env\n",
        "    if service not in ('postgres', 'redis'):\n        labels[ENV] = env\n",
        ("tests/unit/test_engine_semantics.py", "tests/integration/test_status.py"),
    ),
    M(
        "agent-healthy-on-stale-files",
        "render/vault_artifacts.py",
        'f"rm -f {secrets_mount_path(service)}/* && exec vault agent',
        'f"exec vault agent',
        ("tests/integration/test_agent_on_docker.py::test_a_new_agent_is_healthy_only_once_it_has_rendered_itself",),
    ),
    M(
        "agent-not-replaced-on-kv-change",
        "program/vault_agent.py",
        "labels=container_labels(env, VAULT_AGENT, agent_for=service, restart_digest=self.restart_digest)",
        "labels=container_labels(env, VAULT_AGENT, agent_for=service)",
        ("tests/unit/test_engine_semantics.py",),
    ),
    M(
        "llm-keys-blanked-when-off",
        "render/secrets.py",
        'return ",".join(k for k in [generated, *((kept or "").split(","))] if k)',
        'return generated or ""',
        ("tests/unit/test_program.py",),
    ),
    M(
        "ci-skips-the-workflow-unit-step",
        ".ci/run",
        "uv run pytest tests/unit tests/policies -q",
        "true",
        ("tests/unit/test_project_files.py",),
    ),
    M(
        "postgres-smart-shutdown",
        "render/postgres_start.sh",
        "trap 'kill -INT ",
        "trap 'kill -TERM ",
        (
            "tests/integration/test_datastores.py::test_postgres_stops_fast_with_a_pooled_connection_and_restarts_without_recovery",
        ),
    ),
    M(
        "password-sync-failure-ignored",
        "render/postgres_start.sh",
        "  finish 1\n",
        "  :\n",
        ("tests/integration/test_datastores.py::test_a_failed_password_sync_keeps_postgres_from_turning_healthy",),
    ),
    M(
        "revision-misses-an-argument",
        "program/containers.py",
        "lambda resolved: revision_name(name_prefix, resolved)",
        "lambda resolved: revision_name(name_prefix, {k: v for k, v in resolved.items() if k != 'capabilities'})",
        ("tests/unit/test_engine_semantics.py",),
    ),
    M(
        "secret-id-uploaded-0644",
        "render/vault_artifacts.py",
        'CREDENTIAL_FILE_MODE = "0400"',
        'CREDENTIAL_FILE_MODE = "0644"',
        ("tests/unit/test_engine_semantics.py",),
    ),
    M(
        "duplicate-vault-paths-overwrite",
        "policies/vault_least_privilege.py",
        "paths.setdefault(path, set()).update(caps)",
        "paths[path] = caps",
        ("tests/policies/test_policies.py",),
    ),
    M(
        "url-credentials-echoed",
        "config/stack_config.py",
        'return _URL_CREDENTIALS.sub(r"\\1[credentials hidden]@", value)',
        "return value",
        ("tests/unit/test_config.py",),
    ),
    M(
        "stack-file-duplicates-allowed",
        "config/stack_file.py",
        "    _check_duplicates(label, root)\n",
        "",
        ("tests/unit/test_stack_file.py",),
    ),
    M(
        "env-may-differ-from-stack",
        "config/stack_config.py",
        "    if env != stack:\n",
        "    if False:\n",
        ("tests/unit/test_config.py",),
    ),
    M(
        "plan-crash-reported-as-bad-input",
        "ci/offline_plan.py",
        "        return 3\n",
        "        return 2\n",
        ("tests/policies/test_offline_plan.py",),
    ),
    M(
        "rolling-left-to-the-provider",
        "program/containers.py",
        "options = pulumi.ResourceOptions(delete_before_replace=False, additional_secret_outputs",
        "options = pulumi.ResourceOptions(additional_secret_outputs",
        ("tests/unit/test_engine_semantics.py",),
    ),
    M(
        "no-destroy-grace",
        "render/hardening.py",
        '        "destroy_grace_seconds": stop.seconds,\n',
        "",
        ("tests/unit/test_engine_semantics.py",),
    ),
    # the second review: seams between the program, Vault and the engine
    M(
        "deploy-token-unpinned",
        "render/vault_artifacts.py",
        "hcl_block(path, caps, pinned.get(path))",
        "hcl_block(path, caps)",
        ("tests/integration/test_deploy_token.py",),
    ),
    M(
        "deploy-token-pins-only-the-app-role",
        "render/vault_artifacts.py",
        '        pinned[f"auth/{approle_mount}/role/',
        '        if service == "app": pinned[f"auth/{approle_mount}/role/',
        ("tests/integration/test_deploy_token.py",),
    ),
    M(
        "deploy-token-pins-only-the-app-policy-text",
        "render/vault_artifacts.py",
        '        pinned[f"sys/policies/acl/{name}"] = {',
        '        if service == "app": pinned[f"sys/policies/acl/{name}"] = {',
        ("tests/integration/test_deploy_token.py",),
    ),
    M(
        "preview-deployer-unpinned",
        "render/preview_env.py",
        '-pr{digit}*", crud, allowed)',
        '-pr{digit}*", crud)',
        ("tests/integration/test_preview_env_vault.py",),
    ),
    M(
        "network-replaced-delete-first",
        "program/named.py",
        "docker.NetworkArgs(**kwargs))\n    return docker.Network(\n        resource_name,\n        name=name,\n"
        "        **kwargs,\n        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(delete_before_replace=False)),",
        "docker.NetworkArgs(**kwargs))\n    return docker.Network(\n        resource_name,\n        name=name,\n"
        "        **kwargs,\n        opts=opts,",
        ("tests/unit/test_engine_semantics.py",),
    ),
    M(
        "adopt-drops-non-strings",
        "ops/adopt.py",
        'found[service] = dict(answer["data"]["data"] or {})',
        'found[service] = {k: v for k, v in (answer["data"]["data"] or {}).items() if isinstance(v, str)}',
        ("tests/integration/test_adopt_rotation.py",),
    ),
    M(
        "legacy-policy-level-ignored",
        "policies/vault_least_privilege.py",
        "caps |= LEGACY_POLICY[level]",
        "pass",
        ("tests/policies/test_policies.py",),
    ),
    # day-2 operations (branch fix-day2)
    M(
        "rollback-counts-a-refresh-as-the-last-deploy",
        "ops/rollback.py",
        "return next((u for u in updates if u.kind in DEPLOY_KINDS), None)",
        "return next(iter(updates), None)",
        ("tests/unit/test_rollback.py",),
    ),
    M(
        "closed-stdin-is-a-traceback",
        "ops/confirm.py",
        "raise NoConfirmation() from None",
        "raise",
        ("tests/unit/test_rotate.py", "tests/unit/test_rollback.py", "tests/unit/test_invoke_usage.py"),
    ),
    M(
        "backup-secret-id-not-rotatable",
        "ops/rotate.py",
        'SECRET_ID_SERVICES = ("app", "postgres", "redis", "backup")',
        'SECRET_ID_SERVICES = ("app", "postgres", "redis")',
        ("tests/unit/test_rotate.py",),
    ),
    # the workflows' trust checks
    M(
        "deploy-main-guard-made-optional",
        ".github/workflows/deploy.yml",
        "if: github.ref == 'refs/heads/main' && (github.event_name == 'push' || inputs.stack == 'staging')",
        "if: github.ref == 'refs/heads/main' && (github.event_name == 'push' || inputs.stack == 'staging') || always()",
        ("tests/policies/test_workflows.py::test_no_job_can_hand_a_credential_to_unreviewed_code",),
    ),
    M(
        "deploy-staging-checks-out-a-dispatch-ref",
        ".github/workflows/deploy.yml",
        "      group: pulumi-up-staging\n      cancel-in-progress: false\n    steps:\n      - uses: "
        "actions/checkout@fbc6f3992d24b796d5a048ff273f7fcc4a7b6c09 # v5.1.0\n        with:\n          "
        "persist-credentials: false\n",
        "      group: pulumi-up-staging\n      cancel-in-progress: false\n    steps:\n      - uses: "
        "actions/checkout@fbc6f3992d24b796d5a048ff273f7fcc4a7b6c09 # v5.1.0\n        with:\n          "
        "persist-credentials: false\n          ref: ${{ inputs.ref }}\n",
        ("tests/policies/test_workflows.py::test_no_job_can_hand_a_credential_to_unreviewed_code",),
    ),
    M(
        "preview-env-destroy-touches-staging",
        ".github/workflows/preview-env.yml",
        '          pulumi stack select "pr$PR"\n',
        '          pulumi stack select "pr$PR"\n          pulumi destroy --yes --stack staging\n',
        ("tests/policies/test_workflows.py::test_no_job_can_hand_a_credential_to_unreviewed_code",),
    ),
    M(
        "preview-config-failure-hidden",
        ".github/workflows/pull-request.yml",
        'run: uv run python -m ci.preview_config --stack staging --github-output "$GITHUB_OUTPUT"',
        'run: echo "config-map=$(uv run python -m ci.preview_config --stack staging)" >> "$GITHUB_OUTPUT"',
        (
            "tests/policies/test_workflows.py::test_the_preview_config_step_fails_when_the_tool_fails_and_says_no_preview_without_the_proxy",
        ),
    ),
    # the backup service's review (branch fix-backups)
    M(
        "backup-schedule-anchored-on-today",
        "render/backup_job.sh",
        "base=$(( ${h#0} * 3600",
        "base=$(( $1 - $1 % 86400 + ${h#0} * 3600",
        (
            "tests/unit/test_backup.py::test_the_schedule_runs_next_at_the_configured_utc_time_and_interval",
            "tests/unit/test_backup.py::test_a_restart_at_any_moment_plans_the_same_next_run",
        ),
    ),
    M(
        "backup-health-allows-three-intervals",
        "render/backup_job.sh",
        "MAX_AGE=$(( 2 * STEP ))",
        "MAX_AGE=$(( 3 * STEP ))",
        ("tests/unit/test_backup.py::test_the_health_allows_two_intervals",),
    ),
    M(
        "restore-latest-takes-the-newest-listed",
        "ops/backup_ops.py",
        "return verified[-1].id",
        "return listed[-1].id",
        (
            "tests/unit/test_backup.py::test_latest_is_the_newest_verified_backup_even_when_newer_ones_failed_their_check",
        ),
    ),
    M(
        "restore-accepts-a-failed-snapshot",
        "ops/backup_ops.py",
        'if named[0].verification != "verified" and not unverified:',
        "if False:",
        (
            "tests/unit/test_backup.py::test_a_backup_that_failed_or_never_passed_its_restore_check_is_refused_unless_asked_for",
        ),
    ),
    M(
        "restore-check-ignores-pg-restore",
        "render/backup_job.sh",
        '  [ "$restored" = 0 ] || { [ -s "$STATE/err" ] || note "pg_restore exited with $restored"; return 1; }\n',
        "",
        ("tests/integration/test_backups.py::test_the_restore_check_rejects_a_backup_pg_restore_cannot_restore",),
    ),
    M(
        "restore-check-any-alembic-rows",
        "render/backup_job.sh",
        '  [ "$versions" = 1 ] || { note "alembic_version holds $versions rows, expected 1"; return 1; }\n',
        "",
        ("tests/integration/test_backups.py::test_the_restore_check_requires_exactly_one_alembic_version_row",),
    ),
    M(
        "empty-dump-said-as-restics-error",
        "render/backup_job.sh",
        '    if grep -q "snapshot is empty" "$STATE/err"; then note "the $kind dump was empty"; return 1; fi\n',
        "",
        ("tests/integration/test_backups.py::test_an_empty_dump_is_forgotten_and_fails_the_run",),
    ),
    M(
        "job-latest-takes-a-failed-snapshot",
        "render/backup_job.sh",
        "newest=$(newest_db verified safety-verified)",
        "newest=$(newest_db kind=db)",
        ("tests/integration/test_backups.py::test_latest_is_the_newest_verified_backup_never_a_newer_failed_one",),
    ),
    M(
        "retention-forgets-other-envs",
        "render/backup_job.sh",
        'restic forget --host "$BACKUP_HOST" --tag verified',
        "restic forget --tag verified",
        (
            "tests/integration/test_backups.py::test_retention_prunes_exactly_restics_selection_and_nothing_after_a_failed_run",
        ),
    ),
    # issue 16: survivors of the backup service, killed
    M(
        "restore-without-health-gate",
        "ops/backup_ops.py",
        "    failures += health_gate(ctx)\n",
        "",
        ("tests/unit/test_backup.py::test_a_restore_whose_backend_does_not_come_back_healthy_fails_naming_it",),
    ),
    M(
        "safety-backup-prunes",
        "ops/backup_ops.py",
        'run_backup(ctx, "before restore", prune=False, safety=True)',
        'run_backup(ctx, "before restore", safety=True)',
        (
            "tests/integration/test_backups.py::test_a_restore_from_an_earlier_same_day_backup_survives_its_own_safety_backup",
        ),
    ),
    M(
        "backup-health-ignores-a-failed-run",
        "render/backup_job.sh",
        '  case $result in ok*) ;; *) healthy=no; echo "LAST BACKUP FAILED: see the result above" ;; esac\n',
        "",
        ("tests/unit/test_backup.py::test_the_health_fails_on_a_failed_last_run_however_recent_the_last_success",),
    ),
)


def tracked_files() -> list[str]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout.decode()
    return [f for f in out.split("\0") if f]


def scratch_copy(files: list[str]) -> Path:
    target = Path(tempfile.mkdtemp(prefix="fr-mutant-"))
    for name in files:
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def run_one(mutation: Mutation, files: list[str]) -> tuple[str, float, str]:
    """('killed'|'survived'|'stale', seconds, detail)."""
    started = time.monotonic()
    directory = scratch_copy(files)
    try:
        path = directory / mutation.path
        text = path.read_text()
        if text.count(mutation.old) != 1:
            return "stale", 0.0, f"{mutation.path}: the text to mutate occurs {text.count(mutation.old)} times"
        path.write_text(text.replace(mutation.old, mutation.new))
        # A caller's FR_HARNESS_ID is kept: two checks (or a check and a test run) on one machine must
        # not share a harness engine; "mutant" only when none is given.
        env = {
            **os.environ,
            "FR_HARNESS_ID": os.environ.get("FR_HARNESS_ID") or "mutant",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *mutation.tests],
            cwd=directory,
            env=env,
            capture_output=True,
            text=True,
            timeout=1800,
        )
        summary = (proc.stdout.strip().splitlines() or ["(no output)"])[-1]
        if proc.returncode == 0:
            return "survived", time.monotonic() - started, summary
        if proc.returncode not in (1,):
            return (
                "survived",
                time.monotonic() - started,
                f"pytest exited {proc.returncode} (not a test failure): {summary}",
            )
        # Only a guard test failing counts: an error in a fixture or the harness (an engine that did not
        # start) says nothing about the mutation. The guard tests themselves pass unmutated: .ci/run runs
        # the whole suite first.
        if not re.search(r"^FAILED ", proc.stdout, re.MULTILINE):
            return "survived", time.monotonic() - started, f"no guard test failed, only errors: {summary}"
        return "killed", time.monotonic() - started, summary
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ci.mutation_check", description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", help="run only these mutations (names from --list)")
    parser.add_argument("--list", action="store_true")
    args = parser.parse_args(argv)
    chosen = [m for m in MUTATIONS if not args.only or m.name in args.only]
    if args.list:
        for m in MUTATIONS:
            print(f"{m.name:40} {m.path:36} {' '.join(m.tests)}")
        return 0
    unknown = set(args.only or ()) - {m.name for m in MUTATIONS}
    if unknown:
        print(f"mutation_check: unknown mutation(s) {', '.join(sorted(unknown))}; see --list", file=sys.stderr)
        return 2
    files = tracked_files()
    results = []
    for mutation in chosen:
        verdict, seconds, detail = run_one(mutation, files)
        results.append((mutation, verdict))
        print(f"{verdict:9} {mutation.name:40} {seconds:6.1f}s  {detail}", flush=True)
    survived = [m.name for m, v in results if v == "survived"]
    stale = [m.name for m, v in results if v == "stale"]
    print(
        f"mutation check: {sum(v == 'killed' for _, v in results)} killed, {len(survived)} survived, {len(stale)} stale"
    )
    if stale:
        return 2
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main())
