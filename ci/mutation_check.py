"""Mutation check: each guarded behaviour, broken on purpose, must make its tests fail.

`uv run python -m ci.mutation_check [--only NAME ...] [--list] [--jobs N] [--unmutated]` copies the
project's tracked files to a scratch directory once per mutation, applies one mutation (an exact text
replacement, which must match once), runs the tests that guard it (pytest, forked by ci/pytest_server.py
from a process that has imported the heavy libraries once), and expects one of them to FAIL (an
error in a fixture or the harness does not count). A mutation whose tests still pass "survives": the
check prints it and exits 1. A mutation whose text no longer matches exits 2 (the list went stale with
the code). `.ci/run` runs it in the background from after the static checks on, beside README's test command,
which shows in the same run that every guard test passes on the unchanged code (.ci/run fails unless both
pass).

Each mutation names the smallest selection of tests that kills it: test node ids, not files, and a unit or
policy test wherever one kills it, so that only mutations no unit test can see start the real-systems
harness. To choose one for a new mutation, run the unit and policy tiers (then the integration files of
the behaviour) on the mutant and keep the fastest test that fails, naming a whole test function where its
parameter ids are positions; `--only NAME` then checks it is killed, and `--unmutated --only NAME` that the
selection passes on its own on the unchanged code (one that fails alone would kill every mutant).

Mutations run `--jobs` at a time (2 by default: the integration ones mostly wait on containers), each in
its own scratch copy and on its own real-systems harness: FR_HARNESS_ID (the caller's, `mutant` when
unset) with `-m0`, `-m1`, ... appended, one per concurrent slot, so a slot's engine keeps its images
from one mutant to the next and two slots never share an engine.

The list covers the places a review found unguarded (issue "Defects at the seams") and one mutation per
defect it fixed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
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

    @property
    def needs_harness(self) -> bool:
        return any(t.startswith("tests/integration/") for t in self.tests)


M = Mutation
MUTATIONS = (
    # the places named in the review
    M(
        "env-policy-exempts-slash-values",
        "policies/container_secrets.py",
        "if is_secret_key(key) and value:",
        "if is_secret_key(key) and value and not value.startswith('/'):",
        ("tests/policies/test_policies.py::test_one_changed_property_fires_exactly_the_named_policy",),
    ),
    M(
        "least-privilege-trusts-the-policy-name",
        "policies/vault_least_privilege.py",
        'if match.group("env") != env:',
        "if False:",
        ("tests/policies/test_policies.py::test_least_privilege_judges_by_the_stacks_env_not_the_env_a_policy_names",),
    ),
    M(
        "postgres-stop-not-forwarded",
        "render/postgres_start.sh",
        "trap 'kill -INT \"$pid\" 2>/dev/null' INT TERM\n",
        "",
        (
            "tests/integration/test_datastores.py::test_postgres_stops_fast_with_a_pooled_connection_and_restarts_without_recovery[volume]",
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
        ("tests/policies/test_policies.py::test_one_changed_property_fires_exactly_the_named_policy",),
    ),
    M(
        "tmpfs-policy-without-size",
        "policies/secrets_mount.py",
        'and "size=" in str(opts.get("o", ""))',
        "",
        ("tests/policies/test_policies.py::test_one_changed_property_fires_exactly_the_named_policy",),
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
        (
            "tests/integration/test_adopt_rotation.py::test_adopt_keeps_todays_values_and_a_replace_then_rotates_the_postgres_password",
        ),
    ),
    M(
        "kv-path-policy-allows-nesting",
        "policies/vault_kv_path.py",
        ' or "/" in str(name)[len(prefix) :]',
        "",
        ("tests/policies/test_policies.py::test_one_changed_property_fires_exactly_the_named_policy",),
    ),
    # one per defect fixed
    M(
        "redis-as-root-again",
        "render/redis.py",
        'USER = "999:1000"',
        'USER = "0:0"',
        ("tests/unit/test_engine_semantics.py::test_datastores_run_as_their_image_user_with_no_capability",),
    ),
    M(
        "datastore-without-env-label",
        "render/labels.py",
        "    labels[ENV] = env\n",
        "    if service not in ('postgres', 'redis'):\n        labels[ENV] = env\n",
        ("tests/unit/test_engine_semantics.py::test_every_container_carries_its_env_and_service",),
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
        "env, Service.VAULT_AGENT, agent_for=service, restart_digest=self.restart_digest",
        "env, Service.VAULT_AGENT, agent_for=service",
        ("tests/unit/test_engine_semantics.py",),
    ),
    M(
        "llm-keys-blanked-when-off",
        "render/secrets.py",
        "order = [generated, *kept_keys] if encrypt_with_generated else [*kept_keys, generated]",
        "order = [generated, *kept_keys] if encrypt_with_generated else kept_keys",
        ("tests/unit/test_program.py",),
    ),
    M(
        "ci-skips-the-workflow-staging-plan",
        ".ci/run",
        "uv run invoke plan --stack staging",
        "true",
        ("tests/unit/test_project_files.py::test_ci_runs_every_command_of_the_pull_request_checks_job",),
    ),
    M(
        # the one workflow command .ci/run does not repeat must stay within README's test command
        "workflow-unit-step-selects-what-ci-never-runs",
        ".github/workflows/pull-request.yml",
        "run: uv run pytest tests/unit tests/policies -q",
        "run: uv run pytest tests/unit tests/policies -q -k slow",
        ("tests/unit/test_project_files.py::test_ci_runs_every_command_of_the_pull_request_checks_job",),
    ),
    M(
        "postgres-smart-shutdown",
        "render/postgres_start.sh",
        "trap 'kill -INT ",
        "trap 'kill -TERM ",
        (
            "tests/integration/test_datastores.py::test_postgres_stops_fast_with_a_pooled_connection_and_restarts_without_recovery[volume]",
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
        ("tests/unit/test_engine_semantics.py::test_rolling_names_are_the_hash_of_every_argument",),
    ),
    M(
        "secret-id-uploaded-0644",
        "render/vault_artifacts.py",
        'CREDENTIAL_FILE_MODE = "0400"',
        'CREDENTIAL_FILE_MODE = "0644"',
        ("tests/unit/test_engine_semantics.py::test_role_and_secret_id_uploads_are_readable_by_the_agent_only",),
    ),
    M(
        "duplicate-vault-paths-overwrite",
        "policies/vault_least_privilege.py",
        "paths.setdefault(path, set()).update(caps)",
        "paths[path] = caps",
        ("tests/policies/test_policies.py::test_one_changed_property_fires_exactly_the_named_policy",),
    ),
    M(
        "url-credentials-echoed",
        "config/errors.py",
        'return URL_CREDENTIALS.sub(r"\\1[credentials hidden]@", URL_QUERY.sub(r"\\1?[query hidden]", value))',
        'return URL_QUERY.sub(r"\\1?[query hidden]", value)',
        ("tests/unit/test_config.py::test_credentials_in_a_url_and_huge_values_are_not_echoed",),
    ),
    M(
        "url-query-echoed",
        "config/errors.py",
        'return URL_CREDENTIALS.sub(r"\\1[credentials hidden]@", URL_QUERY.sub(r"\\1?[query hidden]", value))',
        'return URL_CREDENTIALS.sub(r"\\1[credentials hidden]@", value)',
        ("tests/unit/test_config.py::test_a_token_in_a_url_query_is_not_echoed",),
    ),
    M(
        "stack-file-duplicates-allowed",
        "config/stack_file.py",
        "    _check_duplicates(label, root)\n",
        "",
        (
            "tests/unit/test_stack_file.py::test_a_user_mistake_exits_2_with_one_short_line_and_registers_nothing[duplicate-key]",
        ),
    ),
    M(
        "env-may-differ-from-stack",
        "config/stack_config.py",
        "    if env != stack:\n",
        "    if False:\n",
        ("tests/unit/test_config.py::test_env_defaults_to_the_stack_name_and_must_be_usable_as_one",),
    ),
    M(
        "plan-crash-reported-as-bad-input",
        "ops/command.py",
        "            return CRASHED\n",
        "            return BAD_INPUT\n",
        ("tests/policies/test_offline_plan.py::test_a_program_crash_is_exit_3_with_its_traceback_not_bad_input",),
    ),
    M(
        "rolling-left-to-the-provider",
        "program/containers.py",
        "options = pulumi.ResourceOptions(delete_before_replace=False, additional_secret_outputs",
        "options = pulumi.ResourceOptions(additional_secret_outputs",
        (
            "tests/unit/test_engine_semantics.py::test_rolling_services_are_replaced_create_first_the_other_containers_delete_first",
        ),
    ),
    M(
        "no-destroy-grace",
        "render/hardening.py",
        '        "destroy_grace_seconds": stop.seconds,\n',
        "",
        ("tests/unit/test_engine_semantics.py::test_every_container_stops_gracefully_when_deleted",),
    ),
    # the second review: seams between the program, Vault and the engine
    M(
        "deploy-token-unpinned",
        "render/vault_artifacts.py",
        "hcl_block(path, caps, pinned.get(path))",
        "hcl_block(path, caps)",
        (
            "tests/integration/test_deploy_token.py::test_the_deploy_token_writes_each_of_its_policies_with_the_programs_text_only",
        ),
    ),
    M(
        "deploy-token-pins-only-the-app-role",
        "render/vault_artifacts.py",
        "        pinned[role] = role_write_parameters(settings, [name])",
        '        if service == "app": pinned[role] = role_write_parameters(settings, [name])',
        ("tests/integration/test_deploy_token.py",),
    ),
    M(
        "deploy-token-pins-only-the-app-policy-text",
        "render/vault_artifacts.py",
        '        pinned[f"sys/policies/acl/{name}"] = {',
        '        if service == "app": pinned[f"sys/policies/acl/{name}"] = {',
        (
            "tests/integration/test_deploy_token.py::test_the_deploy_token_writes_each_of_its_policies_with_the_programs_text_only",
        ),
    ),
    M(
        "pr-env-deployer-unpinned",
        "render/pr_env.py",
        '-pr{digit}*", crud, allowed)',
        '-pr{digit}*", crud)',
        ("tests/integration/test_pr_env_vault.py::test_the_deployer_cannot_give_a_pr_env_role_any_other_policy",),
    ),
    M(
        "network-replaced-delete-first",
        "program/named.py",
        "docker.NetworkArgs(**kwargs))\n    return docker.Network(\n        resource_name,\n        name=name,\n"
        "        **kwargs,\n        opts=pulumi.ResourceOptions.merge(opts, "
        "pulumi.ResourceOptions(delete_before_replace=False)),",
        "docker.NetworkArgs(**kwargs))\n    return docker.Network(\n        resource_name,\n        name=name,\n"
        "        **kwargs,\n        opts=opts,",
        (
            "tests/unit/test_engine_semantics.py::test_what_a_rolling_service_attaches_to_is_replaced_beside_it_never_under_it",
        ),
    ),
    M(
        "adopt-drops-non-strings",
        "ops/adopt.py",
        'found[service] = dict(answer["data"]["data"] or {})',
        'found[service] = {k: v for k, v in (answer["data"]["data"] or {}).items() if isinstance(v, str)}',
        (
            "tests/integration/test_adopt_rotation.py::test_adopt_keeps_todays_values_and_a_replace_then_rotates_the_postgres_password",
        ),
    ),
    M(
        "legacy-policy-level-ignored",
        "policies/vault_least_privilege.py",
        "caps |= LEGACY_POLICY[level]",
        "pass",
        ("tests/policies/test_policies.py::test_least_privilege_accepts_the_legacy_read_level_as_what_it_grants",),
    ),
    # day-2 operations (branch fix-day2)
    M(
        "rollback-counts-a-refresh-as-the-last-deploy",
        "ops/rollback.py",
        "return next((u for u in updates if u.kind in DEPLOY_KINDS), None)",
        "return next(iter(updates), None)",
        ("tests/unit/test_rollback.py::test_refreshes_after_a_failed_cutover_do_not_hide_it",),
    ),
    M(
        "closed-stdin-is-a-traceback",
        "ops/command.py",
        'raise OperatorError(f"{NO_ANSWER}; nothing changed") from None',
        "raise",
        ("tests/unit/test_rollback.py::test_closed_stdin_is_one_line_and_exit_1_like_a_no",),
    ),
    M(
        "backup-secret-id-not-rotatable",
        "ops/rotate.py",
        "SECRET_ID_SERVICES = tuple(VaultService)",
        'SECRET_ID_SERVICES = tuple(s for s in VaultService if s != "backup")',
        ("tests/unit/test_rotate.py",),
    ),
    # the workflows' trust checks
    M(
        "deploy-main-guard-made-optional",
        ".github/workflows/deploy.yml",
        "if: github.ref == 'refs/heads/main' && (github.event_name == 'push' || github.event_name == 'schedule' || "
        "inputs.stack == 'staging')",
        "if: github.ref == 'refs/heads/main' && (github.event_name == 'push' || github.event_name == 'schedule' || "
        "inputs.stack == 'staging') || always()",
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
        "pr-env-destroy-touches-staging",
        ".github/workflows/pr-env.yml",
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
        ("tests/unit/test_backup.py::test_a_restart_at_any_moment_plans_the_same_next_run",),
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
        (
            "tests/integration/test_backup_restores.py::test_the_restore_check_rejects_a_backup_pg_restore_cannot_restore",
        ),
    ),
    M(
        "restore-check-any-alembic-rows",
        "render/backup_job.sh",
        '  [ "$versions" = 1 ] || { note "alembic_version holds $versions rows, expected 1"; return 1; }\n',
        "",
        ("tests/integration/test_backup_restores.py::test_the_restore_check_requires_exactly_one_alembic_version_row",),
    ),
    M(
        "empty-dump-said-as-restics-error",
        "render/backup_job.sh",
        '    if grep -q "snapshot is empty" "$STATE/err"; then note "the $kind dump was empty"; return 1; fi\n',
        "",
        ("tests/integration/test_backup_runs.py::test_an_empty_dump_is_forgotten_and_fails_the_run",),
    ),
    M(
        "job-latest-takes-a-failed-snapshot",
        "render/backup_job.sh",
        "newest=$(newest_db verified safety-verified)",
        "newest=$(newest_db kind=db)",
        (
            "tests/integration/test_backup_restores.py::test_latest_is_the_newest_verified_backup_never_a_newer_failed_one",
        ),
    ),
    M(
        "retention-forgets-other-envs",
        "render/backup_job.sh",
        'restic forget --host "$BACKUP_HOST" --tag verified',
        "restic forget --tag verified",
        (
            "tests/integration/test_backup_runs.py::test_retention_prunes_exactly_restics_selection_and_nothing_after_a_failed_run",
        ),
    ),
    # the real engine's inputs: policies see them after the provider's Check (issue: engine)
    M(
        "rolling-name-hashes-the-providers-defaults",
        "policies/replacement.py",
        "    props = without_check_defaults(plain(args.props))\n    service = service_of(props)",
        "    props = plain(args.props)\n    service = service_of(props)",
        ("tests/policies/test_check_shaped_inputs.py::test_the_rolling_name_holds_on_check_shaped_inputs",),
    ),
    M(
        "volume-name-hashes-the-providers-defaults",
        "policies/replacement.py",
        "    props = without_check_defaults(plain(args.props))\n    if args.resource_type == CONTAINER",
        "    props = plain(args.props)\n    if args.resource_type == CONTAINER",
        (
            "tests/policies/test_check_shaped_inputs.py::test_every_policy_judges_check_shaped_inputs_as_it_judges_the_programs_own",
        ),
    ),  # runtime swarm (docs/swarm.md): the guards of rolling, pinning, draining, secrets in raft
    M(
        "swarm-rolling-stop-first",
        "render/swarm.py",
        'order="start-first",\n            failure_action="rollback",',
        'order="stop-first",\n            failure_action="rollback",',
        ("tests/unit/test_swarm_program.py::test_rolling_services_update_start_first_and_roll_back_within_the_watch",),
    ),
    M(
        "swarm-rolling-without-rollback",
        "render/swarm.py",
        '            failure_action="rollback",\n            monitor=short_duration(monitor_seconds),',
        '            failure_action="pause",\n            monitor=short_duration(monitor_seconds),',
        ("tests/unit/test_swarm_program.py::test_rolling_services_update_start_first_and_roll_back_within_the_watch",),
    ),
    M(
        "swarm-datastore-not-pinned",
        "program/swarm_datastore.py",
        "**sw.task_settings(args.limits, [sw.data_node_constraint(args.data_node)]),",
        "**sw.task_settings(args.limits, []),",
        ("tests/unit/test_swarm_program.py::test_pinned_services_run_once_on_the_data_node_and_update_stop_first",),
    ),
    M(
        "swarm-policy-accepts-stop-first-rolling",
        "policies/service_rolling_update.py",
        '    if update.get("order") != "start-first":',
        "    if False:",
        ("tests/policies/test_swarm_policies.py::test_a_rolling_service_that_would_not_roll_safely_is_refused",),
    ),
    M(
        "swarm-policy-accepts-any-node",
        "policies/service_pinned.py",
        "    if UNKNOWN not in constraints and not any(_NODE_RE.match(str(c)) for c in constraints):",
        "    if False:",
        (
            "tests/policies/test_swarm_policies.py::test_a_pinned_singleton_that_could_run_twice_or_elsewhere_is_refused",
        ),
    ),
    M(
        "swarm-policy-accepts-any-secret",
        "policies/swarm_secrets.py",
        "        if known(name) and not APPROLE_SECRET_RE.match(str(name)):",
        "        if False:",
        ("tests/policies/test_swarm_policies.py::test_an_application_secret_as_a_swarm_secret_is_refused",),
    ),
    M(
        "swarm-task-without-drain",
        "render/swarm_task.sh",
        'sleep "${FR_DRAIN_SECONDS:-0}"\n',
        "",
        ("tests/unit/test_swarm_task_script.py::test_a_stop_signal_reaches_the_service_only_after_the_drain",),
    ),
    M(
        "swarm-digest-not-in-backend-tasks",
        "program/swarm_app.py",
        "labels=sw.task_labels(env, Service.BACKEND, self.vault.restart_digest),",
        "labels=sw.task_labels(env, Service.BACKEND),",
        ("tests/unit/test_swarm_program.py::test_a_changed_app_value_rolls_exactly_the_tasks_that_read_it",),
    ),
    M(
        "swarm-rollback-keeps-failed-configs",
        "ops/rollback.py",
        '        if rolling or resource.get("type") in SWARM_OBJECTS:',
        "        if rolling:",
        ("tests/unit/test_swarm_ops.py::test_a_rollback_keeps_the_swarm_config_the_rolled_back_service_uses",),
    ),
    M(
        "swarm-object-names-unbounded",
        "render/swarm.py",
        "    room = SWARM_NAME_MAX - len(head) - len(tail)",
        "    room = 99",
        (
            "tests/unit/test_swarm_program.py::test_every_swarm_object_name_is_one_swarmkit_accepts_even_for_the_longest_env",
        ),
    ),
    M(
        "swarm-in-task-agent-stays-up",
        "program/swarm_vault.py",
        "                render_once=args.in_task,",
        "                render_once=False,",
        ("tests/unit/test_swarm_program.py::test_the_in_task_agent_renders_once_and_the_sidecar_agents_keep_running",),
    ),
    # issue 16 item 16: survivors a wrong program passed
    M(
        "rollout-gate-accepts-starting",
        "runtime/rollout_gate.py",
        'if view.exists and view.running and (view.health == "healthy" or name in self.running):',
        'if view.exists and view.running and (view.health in ("healthy", "starting") or name in self.running):',
        ("tests/integration/test_rollout_gate.py::test_a_container_whose_health_is_still_starting_is_not_healthy",),
    ),
    M(
        "rollout-gate-without-url-checks",
        "runtime/rollout_gate.py",
        "for step in (self.wait_healthy, self.check_urls, self.watch):",
        "for step in (self.wait_healthy, self.watch):",
        (
            "tests/integration/test_rollout_gate.py::"
            "test_a_public_url_that_never_answers_fails_the_gate_without_any_watch",
        ),
    ),
    M(
        "destroy-grace-without-postgres-minimum",
        "policies/engine_forms.py",
        "needed = max(int(stop or DOCKER_STOP_DEFAULT), "
        'int(args.get_config()["minimums"].get(service_of(props) or "", 0)))',
        "needed = int(stop or DOCKER_STOP_DEFAULT)",
        ("tests/policies/test_policies.py::test_one_changed_property_fires_exactly_the_named_policy",),
    ),
    M(
        "adopt-import-file-0644",
        "ops/adopt.py",
        "os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)",
        "os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)",
        ("tests/unit/test_adopt.py::test_the_import_file_is_on_tmpfs_readable_by_the_caller_only_and_removed_after",),
    ),
    M(
        "status-always-exits-0",
        "ops/status.py",
        "    return 1 if found else 0\n",
        "    return 0\n",
        ("tests/unit/test_status.py::test_status_exits_1_when_a_service_is_unhealthy_and_0_when_all_are",),
    ),
    # issue 16, the credential side (branch harden-vault)
    M(
        "deploy-token-may-update-roles",
        "render/vault_artifacts.py",
        '    "auth/{approle}/role/{role}": ("create",),',
        '    "auth/{approle}/role/{role}": ("create", "update"),',
        (
            "tests/integration/test_deploy_token.py::"
            "test_a_leaked_deploy_token_cannot_change_delete_or_re_id_a_role_it_deployed",
        ),
    ),
    M(
        "role-cidrs-unpinned",
        "render/vault_artifacts.py",
        '        allowed["secret_id_bound_cidrs"] = list(orders)\n',
        '        allowed["secret_id_bound_cidrs"] = []\n',
        (
            "tests/integration/test_deploy_token.py::"
            "test_a_role_the_deploy_token_creates_carries_exactly_the_programs_settings",
        ),
    ),
    M(
        "rotation-keeps-other-secret-ids",
        "ops/rotate.py",
        "    for accessor in others:\n        store.destroy(role, accessor)\n",
        "    for accessor in others[:0]:\n        store.destroy(role, accessor)\n",
        ("tests/unit/test_rotate.py::test_a_secret_id_rotation_then_destroys_every_other_secret_id_of_the_role",),
    ),
    M(
        "checkout-guard-ignores-a-dirty-tree",
        "ops/git_guard.py",
        "    if state.dirty:\n",
        "    if False:\n",
        ("tests/unit/test_git_guard.py",),
    ),
    M(
        "secret-ids-never-re-minted",
        "program/vault_agent.py",
        "metadata=va.secret_id_metadata(env, service, s.secret_id_renewal_window),",
        "metadata=va.secret_id_metadata(env, service, ''),",
        (
            "tests/unit/test_approle_hardening.py::"
            "test_the_first_deploy_of_a_new_renewal_window_re_mints_every_secret_id_and_recreates_only_the_agents",
        ),
    ),
    M(
        "generated-secret-policy-skips-missing",
        "policies/generated_secrets.py",
        "        if resource is None:\n",
        "        if resource is None:\n            continue\n        if False:\n",
        ("tests/policies/test_policies.py::test_a_plan_that_drops_a_generated_secret_data_depends_on_is_refused",),
    ),
    M(
        "policy-venv-without-require-hashes",
        ".ci/run",
        "uv pip install -q --require-hashes --python policies/venv/bin/python -r policies/requirements.txt",
        "uv pip install -q --python policies/venv/bin/python -r policies/requirements.txt",
        ("tests/unit/test_policy_requirements.py",),
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
            "tests/integration/test_backup_restores.py::test_a_restore_from_an_earlier_same_day_backup_survives_its_own_safety_backup",
        ),
    ),
    M(
        "backup-health-ignores-a-failed-run",
        "render/backup_job.sh",
        '  case $result in ok*) ;; *) healthy=no; echo "LAST BACKUP FAILED: see the result above" ;; esac\n',
        "",
        ("tests/unit/test_backup.py::test_the_health_fails_on_a_failed_last_run_however_recent_the_last_success",),
    ),
    # issue 16, the data-safety items: one mutation per defect fixed
    M(
        "app-connects-as-superuser",
        "render/app_env.py",
        'return f"postgresql+asyncpg://{APP_DB_USER}:',
        'return f"postgresql+asyncpg://{POSTGRES_USER}:',
        ("tests/unit/test_builders.py::test_database_url_round_trips_any_password_through_sqlalchemy",),
    ),
    M(
        "password-sync-on-the-apps-database",
        "render/postgres_start.sh",
        "if ! psql -X -v ON_ERROR_STOP=1 -q -U @POSTGRES_USER@ -d postgres <<'SQL'\n@ROLES@",
        "if ! psql -X -v ON_ERROR_STOP=1 -q -U @POSTGRES_USER@ -d @POSTGRES_DB@ <<'SQL'\n@ROLES@",
        (
            "tests/integration/test_database_roles.py::"
            "test_postgres_starts_and_syncs_its_passwords_while_finance_report_does_not_exist",
        ),
    ),
    M(
        "password-sync-logs-its-statement",
        "render/postgres_start.sh",
        "PGOPTIONS='-c log_min_error_statement=panic -c log_statement=none -c log_min_duration_statement=-1'",
        "PGOPTIONS=''",
        (
            "tests/integration/test_database_roles.py::test_a_failed_password_sync_leaves_no_password_in_the_servers_log",
        ),
    ),
    M(
        "restore-swap-in-two-statements",
        "render/backup_job.sh",
        "BEGIN;\nSELECT pg_terminate_backend(pid)",
        "SELECT pg_terminate_backend(pid)",
        (
            "tests/integration/test_backup_runs.py::"
            "test_a_swap_cut_after_its_first_rename_renames_nothing_and_the_kept_name_comes_first",
        ),
    ),
    M(
        "backup-verifies-a-sharp-drop",
        "render/backup_job.sh",
        '  [ "${2:-}" != compare ] || no_sharp_drop\n',
        "",
        (
            "tests/integration/test_backup_runs.py::"
            "test_a_sharp_drop_since_the_last_verified_backup_is_not_verified_and_prunes_nothing",
        ),
    ),
    M(
        "restore-ctrl-c-reaches-ssh",
        "clients/docker_api.py",
        "preexec_fn=_ignore_sigint,",
        "",
        ("tests/unit/test_backup.py::test_ctrl_c_in_the_operators_terminal_does_not_reach_the_ssh_connection",),
    ),
    M(
        "restore-ctrl-c-not-deferred",
        "ops/backup_ops.py",
        "with ctrl_c_deferred(ctx.out) as interrupted,",
        "with contextlib.nullcontext([]) as interrupted,",
        (
            "tests/integration/test_backup_restores.py::"
            "test_ctrl_c_during_a_live_restore_waits_for_it_then_starts_the_backend_and_runs_the_gate",
        ),
    ),
    M(
        "production-backups-may-use-the-apps-key",
        "config/stack_config.py",
        "    if env == naming.PRODUCTION:\n        for key in PRODUCTION_SECRETS:",
        "    if False:\n        for key in PRODUCTION_SECRETS:",
        ("tests/unit/test_backup.py::test_production_refuses_to_back_up_with_the_apps_s3_key",),
    ),
    M(
        "separate-storage-advisory-in-production",
        "config/policy_config.py",
        '"mandatory" if cfg.env == naming.PRODUCTION else "advisory"',
        '"advisory"',
        (
            "tests/policies/test_backup_policies.py::"
            "test_separate_backup_storage_is_mandatory_in_production_and_the_committed_stack_has_it",
        ),
    ),
    M(
        "deploy-waits-for-backup-health",
        "program/stack.py",
        'rollout_gate("rollout-gate", gate, containers, app.rolling, self, running=[backup.container])',
        'rollout_gate("rollout-gate", gate, [*containers, backup.container], app.rolling, self)',
        (
            "tests/unit/test_backup.py::test_a_deploy_waits_for_the_backup_service_to_run_not_for_its_backups_to_be_healthy",
        ),
    ),
    M(
        "job-names-the-untagged-snapshot",
        "render/backup_job.sh",
        '  db=$(snapshot_id "$run" db) && [ -n "$db" ] || { note "the tagged snapshot of run $run is not listed"; '
        'failed "tagging $db verified"; return 1; }\n',
        "",
        (
            "tests/integration/test_backup_restores.py::"
            "test_the_snapshot_named_in_the_log_and_the_health_line_is_the_tagged_one_and_restores",
        ),
    ),
    M(
        "swarm-backup-health-fails-on-backups",
        "program/swarm_backup.py",
        "job.healthcheck_command(report_only=True),",
        "job.healthcheck_command(),",
        (
            "tests/unit/test_backup.py::"
            "test_under_swarm_a_failed_or_stale_backup_is_reported_but_does_not_fail_the_tasks_health",
        ),
    ),
    # Found by a new user's review: each passed every test before its test was written.
    M(
        "shared-settings-may-disable-a-policy",
        "config/policy_config.py",
        'if isinstance(section, str) or policy == "all":',
        'if policy == "all":',
        ("tests/policies/test_offline_plan.py::test_the_shared_settings_cannot_switch_a_policy_off_or_down",),
    ),
    M(
        "revision-hash-skips-labels",
        "facts/revision.py",
        'body = {k: v for k, v in props.items() if k != "name"}',
        'body = {k: v for k, v in props.items() if k not in ("name", "labels")}',
        ("tests/unit/test_program.py::test_a_change_to_labels_alone_renames_the_rolling_services",),
    ),
    M(
        "label-values-not-checked-for-secrets",
        "policies/container_secrets.py",
        "        elif value and (reason := secret_value_reason(str(value))):\n"
        '            found.append(f"label {key} holds {reason}")\n',
        "",
        (
            "tests/policies/test_policies.py::"
            "test_a_secret_in_a_label_value_under_an_innocent_key_is_a_violation_that_never_shows_it",
        ),
    ),
    M(
        "restore-goes-on-after-a-failed-safety-backup",
        "ops/backup_ops.py",
        'raise OperatorError(f"{safety_backup_failed}; nothing was restored") from None',
        "ctx.say(str(safety_backup_failed))",
        ("tests/unit/test_backup.py::test_a_failed_safety_backup_stops_the_restore_before_anything_is_stopped",),
    ),
    M(
        "pack-config-skips-the-settings-check",
        "config/policy_config.py",
        "    shared = check_settings(dict(settings))",
        "    shared = dict(settings)",
        ("tests/policies/test_offline_plan.py::test_every_command_derives_its_pack_config_through_the_settings_check",),
    ),
    # the mutation check's own pytest server: each forked run must be the `python -m pytest` it replaces
    M(
        "pytest-server-run-keeps-the-server-s-environment",
        "ci/pytest_server.py",
        "        os.environ.clear()\n",
        "",
        ("tests/unit/test_pytest_server.py::test_a_run_has_exactly_the_environment_and_directory_asked_for",),
    ),
    M(
        "pytest-server-lets-preloaded-modules-shadow-the-checkout",
        "ci/pytest_server.py",
        "        if shadowed:",
        "        if False:",
        ("tests/unit/test_pytest_server.py::test_a_directory_with_a_module_named_like_a_preloaded_one_is_refused",),
    ),
    M(
        "pytest-server-leaves-runs-going-when-its-client-goes",
        "ci/pytest_server.py",
        "                        os.kill(pid, signal.SIGINT)",
        "                        pass",
        (
            "tests/unit/test_pytest_server.py::test_runs_left_going_when_the_client_goes_away_are_interrupted_and_waited_for",
        ),
    ),
    M(
        "pytest-server-run-leaves-by-os-exit",
        "ci/pytest_server.py",
        "raise SystemExit(run_child(request, server))",
        "os._exit(run_child(request, server))",
        ("tests/unit/test_pytest_server.py::test_a_run_ends_as_a_python_process_does",),
    ),
    M(
        "pytest-server-runs-outlive-a-dead-server",
        "ci/pytest_server.py",
        "prctl(PR_SET_PDEATHSIG, signal.SIGINT) != 0",
        "getpid() == 0",
        ("tests/unit/test_pytest_server.py::test_a_run_whose_server_dies_is_interrupted",),
    ),
    M(
        "restore-resolves-latest-after-the-safety-backup",
        "ops/backup_ops.py",
        "    source = resolve_source(snapshot_list(ctx), source, ctx.env, unverified)\n    what = (",
        "    what = (",
        (
            "tests/unit/test_backup.py::"
            "test_a_restore_first_takes_a_safety_backup_that_prunes_nothing_then_stops_and_restores",
        ),
    ),
    M(
        "restore-swap-goes-on-after-an-error",
        "render/backup_job.sh",
        'psql -X -q -v ON_ERROR_STOP=1 -d postgres -v db="$PGDATABASE" >/dev/null',
        'psql -X -q -d postgres -v db="$PGDATABASE" >/dev/null',
        ("tests/integration/test_backup_runs.py::test_a_swap_refused_by_postgres_fails_and_renames_nothing",),
    ),
    M(
        "doctor-never-checks-backup-versioning",
        "ops/doctor.py",
        '        if versioning == "Enabled":',
        "        if versioning:",
        ("tests/integration/test_doctor.py::test_the_backup_bucket_must_keep_overwritten_and_deleted_versions",),
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


def verdict(returncode: int, stdout: str) -> tuple[str, str]:
    """What one pytest run of a mutant's guard tests says: ('killed'|'survived'|'errored', detail).

    Only a guard test failing counts: an error in a fixture or the harness (an engine that did not start)
    says nothing about the mutation, so it is 'errored', with pytest's first ERROR line as the reason. The
    guard tests themselves pass unmutated: .ci/run runs the whole suite in the same run (and --unmutated
    runs each selection alone on the unchanged code)."""
    summary = (stdout.strip().splitlines() or ["(no output)"])[-1]
    if returncode == 0:
        return "survived", summary
    if returncode != 1:
        return "survived", f"pytest exited {returncode} (not a test failure): {summary}"
    if re.search(r"^FAILED ", stdout, re.MULTILINE):
        return "killed", summary
    error = next((line for line in stdout.splitlines() if line.startswith("ERROR ")), "")
    return "errored", f"no guard test failed, only errors: {summary}" + (f" ({error[:200]})" if error else "")


# Each mutant's pytest is forked from ci/pytest_server.py, which has imported pytest, hypothesis and pulumi
# once: imported afresh, they cost a mutant more CPU than its guard tests (see that file).
PYTEST_SERVER = (sys.executable, str(ROOT / "ci" / "pytest_server.py"))
# Preloaded, pytest's plugins (xdist, hypothesis's) are imported before pytest could rewrite their asserts:
# it warns, and their asserts are not the guard tests'.
PYTEST_ARGS = ("-x", "-q", "-p", "no:cacheprovider", "-W", "ignore::pytest.PytestAssertRewriteWarning")
PYTEST_TIMEOUT = 1800


class PytestRuns:
    """The check's pytest runs, each forked by one pytest server, and stopping them: on SIGTERM (.ci/run
    stopping the check after another phase failed) no further run starts, and each running one gets SIGINT,
    so that its fixtures stop the harness they started (engine, bridge, servers) instead of leaving them to
    the next run on the machine, which uses the same harness ids."""

    def __init__(self, server: tuple[str, ...] = PYTEST_SERVER) -> None:
        self.requested = threading.Event()
        self._argv = server
        # Reentrant: request_stop runs as the SIGTERM handler, possibly while the main thread holds it (close).
        self._lock = threading.RLock()
        self._server: subprocess.Popen[str] | None = None
        self._started: queue.SimpleQueue[int | None] = queue.SimpleQueue()
        self._ended = threading.Condition()
        self._exits: dict[int, int] = {}
        self._server_gone = False
        self._running: set[int] = set()

    def _read_replies(self, server: subprocess.Popen[str]) -> None:
        assert server.stdout is not None
        for line in server.stdout:
            reply = json.loads(line)
            if "started" in reply:
                self._started.put(reply["started"])
            else:
                with self._ended:
                    self._exits[reply["ended"]] = reply["exit"]
                    self._ended.notify_all()
        with self._ended:
            self._server_gone = True
            self._ended.notify_all()
        self._started.put(None)

    def start(self, args: tuple[str, ...], directory: Path, env: dict[str, str], output: Path) -> int | None:
        """The pid of pytest ARGS started in `directory`, its output going to `output`; None once the check
        is stopping."""
        with self._lock:
            if self.requested.is_set():
                return None
            if self._server is None:
                self._server = subprocess.Popen(self._argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
                threading.Thread(target=self._read_replies, args=(self._server,), daemon=True).start()
            assert self._server.stdin is not None
            request = {"cwd": str(directory), "args": list(args), "env": env, "output": str(output)}
            try:
                self._server.stdin.write(json.dumps(request) + "\n")
                self._server.stdin.flush()
            except BrokenPipeError:
                pid = None
            else:
                pid = self._started.get()
            if pid is None:
                raise RuntimeError(f"the pytest server ({' '.join(self._argv)}) exited: it started no run")
            self._running.add(pid)
            return pid

    def wait(self, pid: int, timeout: float = PYTEST_TIMEOUT) -> int:
        """The exit code of run `pid`; one still going after `timeout` seconds is killed."""
        try:
            with self._ended:
                if not self._ended.wait_for(lambda: pid in self._exits or self._server_gone, timeout):
                    os.kill(pid, signal.SIGKILL)
                    raise TimeoutError(f"pytest ran over {timeout} s: killed")
                if pid not in self._exits:
                    raise RuntimeError(f"the pytest server ({' '.join(self._argv)}) exited while pytest ran")
                return self._exits.pop(pid)
        finally:
            with self._lock:
                self._running.discard(pid)

    def request_stop(self, *_: object) -> None:
        with self._lock:
            self.requested.set()
            for pid in self._running:
                with contextlib.suppress(ProcessLookupError):  # ended, its exit not yet read
                    os.kill(pid, signal.SIGINT)

    def close(self) -> None:
        """Let the server exit once its runs have ended, and wait for it."""
        with self._lock:
            server, self._server = self._server, None
        if server is not None:
            assert server.stdin is not None
            with contextlib.suppress(BrokenPipeError):  # it had exited already: start() or wait() said so
                server.stdin.close()
            server.wait()


RUNS = PytestRuns()


def run_pytest(tests: tuple[str, ...], directory: Path, env: dict[str, str]) -> tuple[int, str] | None:
    """(exit code, output) of pytest on `tests` in `directory`; None when the check was stopped before or
    while it ran."""
    with tempfile.TemporaryDirectory(prefix="fr-mutant-output-") as scratch:
        output = Path(scratch) / "pytest.out"
        pid = RUNS.start((*PYTEST_ARGS, *tests), directory, env, output)
        if pid is None:
            return None
        returncode = RUNS.wait(pid)
        stdout = output.read_text(errors="replace") if output.exists() else ""
    return None if RUNS.requested.is_set() else (returncode, stdout)


def run_one(mutation: Mutation, files: list[str], harness_id: str, mutate: bool = True) -> tuple[str, float, str]:
    """('killed'|'survived'|'stale', seconds, detail); with mutate=False the selection runs on the
    unchanged copy: ('passes'|'fails', seconds, detail). A mutant whose guard tests only errored (a
    harness that did not start on a loaded machine) runs once more; errored twice, it counts as survived."""
    started = time.monotonic()
    directory = scratch_copy(files)
    try:
        path = directory / mutation.path
        if not path.is_file():
            return "stale", 0.0, f"{mutation.path}: not a file git tracks"
        text = path.read_text()
        if text.count(mutation.old) != 1:
            return "stale", 0.0, f"{mutation.path}: the text to mutate occurs {text.count(mutation.old)} times"
        if mutate:
            path.write_text(text.replace(mutation.old, mutation.new))
        env = {**os.environ, "FR_HARNESS_ID": harness_id, "PYTHONDONTWRITEBYTECODE": "1"}
        runs = 0
        while True:
            runs += 1
            ran = run_pytest(mutation.tests, directory, env)
            if ran is None:
                return "stopped", time.monotonic() - started, "stopped with the check"
            returncode, stdout = ran
            if not mutate:
                summary = (stdout.strip().splitlines() or ["(no output)"])[-1]
                return ("passes" if returncode == 0 else "fails"), time.monotonic() - started, summary
            status, detail = verdict(returncode, stdout)
            if status != "errored" or runs == 2:
                break
        seconds = time.monotonic() - started
        if status == "errored":
            return "survived", seconds, f"{detail}, twice"
        return status, seconds, detail + (" (second run: the first only errored)" if runs == 2 else "")
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def harness_slots(base_id: str, jobs: int) -> list[str]:
    """The FR_HARNESS_ID of each concurrent slot: apart from each other and from README's test command's
    xdist workers (`-gw0`, ...) under the same base id, which .ci/run runs at the same time."""
    return [f"{base_id}-m{n}" for n in range(jobs)]


def run_all(chosen: list[Mutation], jobs: int, base_id: str, mutate: bool = True) -> list[tuple[Mutation, str]]:
    """Run the mutations `jobs` at a time, the ones that start the harness first (they take longest);
    print each verdict as it comes."""
    files = tracked_files()
    slots: queue.SimpleQueue[str] = queue.SimpleQueue()
    for slot in harness_slots(base_id, jobs):
        slots.put(slot)

    def in_a_slot(mutation: Mutation) -> tuple[str, float, str]:
        slot = slots.get()
        try:
            return run_one(mutation, files, slot, mutate)
        finally:
            slots.put(slot)

    ordered = sorted(chosen, key=lambda m: not m.needs_harness)
    results = []
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(in_a_slot, m): m for m in ordered}
        for future in as_completed(futures):
            mutation = futures[future]
            verdict, seconds, detail = future.result()
            results.append((mutation, verdict))
            print(f"{verdict:9} {mutation.name:40} {seconds:6.1f}s  {detail}", flush=True)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ci.mutation_check", description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", help="run only these mutations (names from --list)")
    parser.add_argument("--list", action="store_true")
    parser.add_argument("--jobs", type=int, default=2, help="mutations run at a time (default 2)")
    parser.add_argument(
        "--unmutated",
        action="store_true",
        help="run each selection on the unchanged code instead, expecting it to pass (a selection that fails "
        "alone would kill every mutant)",
    )
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
    if args.jobs < 1:
        print(f"mutation_check: --jobs {args.jobs}: expected a whole number of 1 or more", file=sys.stderr)
        return 2
    # SIGINT handled here, not ignored (as a background job's is): a mutant's pytest, which exec inherits an
    # ignored signal into, must be able to take the SIGINT that SIGTERM sends it.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, RUNS.request_stop)
    # A caller's FR_HARNESS_ID is kept: two checks (or a check and a test run) on one machine must not
    # share a harness engine; "mutant" only when none is given.
    try:
        results = run_all(chosen, args.jobs, os.environ.get("FR_HARNESS_ID") or "mutant", mutate=not args.unmutated)
    finally:
        RUNS.close()
    if RUNS.requested.is_set():
        ran = sum(v != "stopped" for _, v in results)
        print(f"mutation check: stopped (SIGTERM) after {ran} of {len(results)} mutations; no verdict")
        return 143
    if args.unmutated:
        failing = [m.name for m, v in results if v != "passes"]
        print(f"mutation check, unmutated: {len(results) - len(failing)} selections pass, {len(failing)} do not")
        return 1 if failing else 0
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
