"""`invoke rotate` without the Pulumi CLI: each --what finds its resource and engine URN in the program's
plan, the containers a replace recreates are computed from the program run again with a new value (and
match what the command tells users), and the command asks, runs exactly one `pulumi up --replace`, and
exits as documented (the real systems: tests/integration/test_rotation.py)."""

from __future__ import annotations

import json

import pytest

from ops import pulumi_cli, rotate
from ops.program_run import unwrap_secrets
from tests.conftest import run_stack

PASSWORD = "random:index/randomPassword:RandomPassword"


def rerun_for(stack: str):
    return lambda state: run_stack(stack, state=state)


def recreated(plan: rotate.RotationPlan) -> set[str]:
    return {f"vault-agent/{r.agent_for}" if r.agent_for else r.service for r in plan.replaced}


EXPECTED = {
    "secret-key": ({"backend", "prefect-worker", "vault-agent/app"}, (PASSWORD, "app-secret-key")),
    # the superuser's password reaches Postgres alone: neither the app nor the backup service uses it
    "postgres-password": ({"postgres", "vault-agent/postgres"}, (PASSWORD, "postgres-password")),
    # the app's role: Postgres applies it, the backend and the worker read it in DATABASE_URL
    "postgres-app-password": (
        {"postgres", "vault-agent/postgres", "backend", "prefect-worker", "vault-agent/app"},
        (PASSWORD, "postgres-app-password"),
    ),
    # the backup's role: Postgres applies it, the backup service dumps with its own copy
    "postgres-backup-password": (
        {"postgres", "vault-agent/postgres", "backup", "vault-agent/backup"},
        (PASSWORD, "postgres-backup-password"),
    ),
    "redis-password": (
        {"redis", "vault-agent/redis", "backend", "prefect-worker", "vault-agent/app"},
        (PASSWORD, "redis-password"),
    ),
    "app-secret-id": ({"vault-agent/app"}, (rotate.SECRET_ID, "app-vault-secret-id")),
    "postgres-secret-id": ({"vault-agent/postgres"}, (rotate.SECRET_ID, "postgres-vault-secret-id")),
    "redis-secret-id": ({"vault-agent/redis"}, (rotate.SECRET_ID, "redis-vault-secret-id")),
    "backup-secret-id": ({"vault-agent/backup"}, (rotate.SECRET_ID, "backup-vault-secret-id")),
}


@pytest.mark.parametrize("stack", ["production", "staging"])
def test_every_approle_secret_id_the_program_declares_has_its_rotation(stack, request):
    """Each service's bootstrap credential is rotatable with one command (invariant 2): a service the
    program gives an AppRole secret-id without a `--what` for it fails here."""
    run = request.getfixturevalue(stack)
    services = {json.loads(unwrap_secrets(r.inputs)["metadata"])["service"] for r in run.by_type(rotate.SECRET_ID)}
    assert services == {"app", "postgres", "redis", "backup"}
    assert {f"{s}-secret-id" for s in services} <= set(rotate.KINDS)
    assert set(EXPECTED) == set(rotate.KINDS)


@pytest.mark.parametrize("what", list(rotate.KINDS))
def test_each_rotation_replaces_its_own_resource_and_recreates_exactly_its_consumers(what, production):
    plan = rotate.plan_rotation("production", what, production, rerun_for("production"))
    containers, (type_, name) = EXPECTED[what]
    assert plan.urn == production.one(type_, name).urn
    assert plan.urn.startswith("urn:pulumi:production::finance-report::finance-report:index:Stack$")
    assert recreated(plan) == containers
    rolling = {r.service for r in plan.replaced if r.rolls}
    assert rolling == ({"backend"} & containers), (
        "only the backend rolls to a new revision; the frontend never reads a secret"
    )


def test_a_secret_id_is_found_by_the_service_in_its_metadata(staging):
    for service in ("app", "postgres", "redis", "backup"):
        resource = rotate.KINDS[f"{service}-secret-id"].resource(staging)
        assert json.loads(unwrap_secrets(resource.inputs)["metadata"]) == {"service": service, "env": "staging"}


def test_what_the_command_says_matches_what_the_program_does(production):
    """The user-facing text promises who restarts; the computed plan must agree with it."""
    key = rotate.plan_rotation("production", "secret-key", production, rerun_for("production"))
    assert "LOGGED OUT" in key.kind.effect and not {"postgres", "redis"} & recreated(key)
    for what in ("postgres-password", "redis-password"):
        plan = rotate.plan_rotation("production", what, production, rerun_for("production"))
        assert "Nobody is logged out" in plan.kind.effect and "delete-first" in plan.kind.effect
    secret_id = rotate.plan_rotation("production", "redis-secret-id", production, rerun_for("production"))
    assert "nothing else restarts" in secret_id.kind.effect and len(secret_id.replaced) == 1


class Recorder:
    def __init__(self, code: int = 0):
        self.calls: list[list[str]] = []
        self.code = code

    def __call__(self, argv):
        self.calls.append(list(argv))
        return self.code


def test_with_yes_it_runs_one_pulumi_up_replace_of_the_planned_urn(staging, capsys):
    runner = Recorder()
    assert rotate.main("staging", "redis-password", yes=True, runner=runner) == 0
    urn = staging.one(PASSWORD, "redis-password").urn
    assert runner.calls == [
        [
            "pulumi",
            "up",
            "--stack",
            "staging",
            "--replace",
            urn,
            "--policy-pack",
            "policies",
            "--policy-pack-config",
            "policies/config.staging.json",
            "--message",
            "invoke rotate --what redis-password",
            "--yes",
        ]
    ]
    out = capsys.readouterr().out
    assert (
        "recreates" in out
        and "redis (finance_report-redis-staging)" in out
        and out.rstrip().endswith("`uv run invoke status --stack staging` checks every service")
    )


def test_it_asks_first_and_changes_nothing_when_declined(capsys):
    runner = Recorder()
    prompts = []
    assert rotate.main("staging", "secret-key", runner=runner, answer=lambda p: prompts.append(p) or "n") == 1
    assert runner.calls == [] and prompts == ["Rotate secret-key of stack staging now? [y/N] "]
    assert capsys.readouterr().out.rstrip().endswith("rotate: nothing changed")
    assert rotate.main("staging", "secret-key", runner=runner, answer=lambda p: "yes") == 0 and len(runner.calls) == 1


def test_a_failed_up_and_bad_input_exit_as_documented(capsys):
    assert rotate.main("staging", "app-secret-id", yes=True, runner=Recorder(1)) == 1
    assert "`pulumi up --stack staging` finishes with the value already replaced" in capsys.readouterr().err
    runner = Recorder()
    assert rotate.main("staging", "database", yes=True, runner=runner) == 2 and runner.calls == []
    assert (
        capsys.readouterr().err.strip()
        == "rotate: --what = 'database' is invalid: expected one of secret-key, postgres-password, "
        "postgres-app-password, postgres-backup-password, redis-password, app-secret-id, postgres-secret-id, "
        "redis-secret-id, backup-secret-id"
    )
    assert rotate.main("nope", "secret-key", yes=True, runner=runner) == 2
    assert rotate.main("staging", "secret-key", dry_run=True, runner=runner) == 0 and runner.calls == []


def test_without_the_pulumi_cli_the_real_run_is_refused_with_one_line_and_exit_1(capsys, monkeypatch):
    """A missing CLI is the machine's problem, not bad input (2): exit 1, naming how to install it."""
    monkeypatch.setattr(pulumi_cli.shutil, "which", lambda name: None)
    assert rotate.main("staging", "secret-key", yes=True) == 1
    assert capsys.readouterr().err.strip() == (
        "rotate: the pulumi CLI is not on PATH: install the version the workflows pin (`curl -fsSL "
        "https://get.pulumi.com | sh -s -- --version 3.272.0`) "
        "and put ~/.pulumi/bin on PATH (README Prerequisites); the rotation is a `pulumi up --replace`"
    )


def test_without_a_vault_token_or_the_policy_venv_the_real_run_is_exit_1(capsys, monkeypatch, tmp_path):
    monkeypatch.setattr(pulumi_cli.shutil, "which", lambda name: "/usr/local/bin/pulumi")
    monkeypatch.delenv("VAULT_TOKEN", raising=False)
    assert rotate.main("staging", "secret-key", yes=True) == 1
    assert (
        capsys.readouterr().err.strip()
        == "rotate: VAULT_TOKEN is not set: the deploy token (README Prerequisites) writes the new value to Vault"
    )
    monkeypatch.setenv("VAULT_TOKEN", "generated-" + "t" * 8)
    monkeypatch.setattr(rotate, "POLICY_VENV", tmp_path / "no-venv")
    assert rotate.main("staging", "secret-key", yes=True) == 1
    assert (
        capsys.readouterr()
        .err.strip()
        .startswith("rotate: the policy pack's venv is missing: run `uv venv policies/venv")
    )


def test_the_new_value_is_never_printed(staging, capsys):
    value = "rotated-value-" + "x" * 20
    plan = rotate.plan_rotation("staging", "secret-key", staging, rerun_for("staging"), new_value=value)
    assert value not in "\n".join(plan.lines())


def test_closed_stdin_is_one_line_and_exit_1_like_a_no(monkeypatch, capsys):
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    runner = Recorder()
    assert rotate.main("staging", "secret-key", runner=runner) == 1
    assert runner.calls == []
    assert (
        capsys.readouterr().err
        == "rotate: no confirmation (standard input is closed): pass --yes to run without asking; nothing changed\n"
    )


def test_the_backup_secret_id_rotation_recreates_its_agent_only(staging, capsys):
    runner = Recorder()
    assert rotate.main("staging", "backup-secret-id", yes=True, runner=runner) == 0
    urn = staging.one(rotate.SECRET_ID, "backup-vault-secret-id").urn
    assert runner.calls[0][:6] == ["pulumi", "up", "--stack", "staging", "--replace", urn]
    out = capsys.readouterr().out
    assert "recreates vault-agent of backup (finance_report-backup-vault-agent-staging)\n" in out
    assert "New AppRole secret-id for the backup vault-agent" in out


def test_the_invoke_help_lists_every_rotation():
    import tasks

    listed = tasks.rotate.help["what"].replace(" or ", ", ").split(", ")
    assert sorted(listed) == sorted(rotate.KINDS)


# What a Kind's effect text may name, and the container it means.
MENTIONS = {
    "prefect worker": ("prefect-worker", None),
    "backup service": ("backup", None),
    "backend": ("backend", None),
    "Postgres": ("postgres", None),
    "Redis": ("redis", None),
}


@pytest.mark.parametrize("stack", ["production", "staging"])
def test_what_the_command_says_restarts_is_what_the_stacks_plan_recreates(stack, request):
    """Staging and previews run no prefect worker: an effect promising its restart is wrong there."""
    run = request.getfixturevalue(stack)
    for what in rotate.KINDS:
        plan = rotate.plan_rotation(stack, what, run, rerun_for(stack))
        named = {container for word, container in MENTIONS.items() if word in plan.kind.effect}
        assert named <= {(r.service, r.agent_for) for r in plan.replaced}, (what, plan.kind.effect)


def test_every_container_a_rotation_recreates_in_place_is_replaced_delete_first(production):
    """README's rotation table marks the rolling ones (new revision); the others are delete-first."""
    options = {c.name: c.options for c in production.by_type(rotate.CONTAINER)}
    for what in rotate.KINDS:
        for r in rotate.plan_rotation("production", what, production, rerun_for("production")).replaced:
            assert options[r.resource]["deleteBeforeReplace"] is (not r.rolls), (what, r)


def test_readme_rotation_table_is_generated_from_the_tool():
    from tests.conftest import ROOT

    table = rotate.readme_table()
    assert table in (ROOT / "README.md").read_text(), (
        "README's rotation table is stale: `uv run invoke readme-tables` prints it"
    )
    rows = {line.split(" | ")[0].strip("| `"): line for line in table.splitlines()[2:]}
    assert list(rows) == list(rotate.KINDS)
    assert "the prefect worker (production only)" in rows["secret-key"]
    assert "the backup service, the agent of backup" in rows["postgres-backup-password"]
