"""`invoke rotate` without the Pulumi CLI: each --what finds its resource and engine URN in the program's
plan, the containers a replace recreates are computed from the program run again with a new value (and
match what the command tells users), and the command asks, runs exactly one `pulumi up --replace`, and
exits as documented (the real systems: tests/integration/test_rotation.py)."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from ops import policy_pack, pulumi_cli, rotate
from ops.git_guard import GitState
from ops.program_run import unwrap_secrets
from ops.stack_context import load_stack
from tests.conftest import run_stack

PASSWORD = "random:index/randomPassword:RandomPassword"


@pytest.fixture(autouse=True)
def deployable_checkout(monkeypatch):
    """Every test here runs from a clean checkout of main's tip (the refusals: tests/unit/test_git_guard.py)."""
    monkeypatch.setattr(rotate, "read_git_state", lambda root: GitState("c" * 40, (), "c" * 40))
    monkeypatch.setattr(rotate, "deploy_history", lambda stack: [])


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
        metadata = json.loads(unwrap_secrets(resource.inputs)["metadata"])
        assert {k: v for k, v in metadata.items() if k != "renewal_window"} == {"service": service, "env": "staging"}


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
        self.policy_configs: list[dict] = []
        self.code = code

    def __call__(self, argv):
        self.calls.append(list(argv))
        if "--policy-pack-config" in argv:  # the file the engine reads, while it runs
            self.policy_configs.append(json.loads(Path(argv[argv.index("--policy-pack-config") + 1]).read_text()))
        return self.code


def test_with_yes_it_runs_one_pulumi_up_replace_of_the_planned_urn(staging, capsys):
    runner = Recorder()
    assert rotate.main("staging", "redis-password", yes=True, runner=runner, preflight=lambda: None) == 0
    urn = staging.one(PASSWORD, "redis-password").urn
    (config_path,) = [argv[argv.index("--policy-pack-config") + 1] for argv in runner.calls]
    # the pack config derived from the stack file, in a file that is gone once the update ends
    assert runner.policy_configs == [policy_pack.derived(load_stack("staging"))]
    assert not Path(config_path).exists()
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
            config_path,
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


def test_rotating_the_protected_secret_key_unprotects_it_in_state_first(staging, capsys):
    """SECRET_KEY is protected (facts.generated_secrets): the engine refuses to replace a resource
    protected in both its state and the program (pulumi v3.259.0 pkg/resource/deploy/step_generator.go:
    1952-1963), so the rotation first unprotects it in the state; the update's program protects it again."""
    runner = Recorder()
    assert rotate.main("staging", "secret-key", yes=True, runner=runner, preflight=lambda: None) == 0
    urn = staging.one(PASSWORD, "app-secret-key").urn
    assert runner.calls[0] == ["pulumi", "state", "unprotect", "--stack", "staging", urn, "--yes"]
    assert runner.calls[1][:6] == ["pulumi", "up", "--stack", "staging", "--replace", urn] and len(runner.calls) == 2
    assert f"  runs      pulumi state unprotect --stack staging {shlex.quote(urn)} --yes\n" in capsys.readouterr().out


def test_it_asks_first_and_changes_nothing_when_declined(capsys):
    runner = Recorder()
    prompts = []
    assert (
        rotate.main(
            "staging", "secret-key", runner=runner, preflight=lambda: None, answer=lambda p: prompts.append(p) or "n"
        )
        == 1
    )
    assert runner.calls == [] and prompts == ["Rotate secret-key of stack staging now? [y/N] "]
    assert capsys.readouterr().err == "rotate: not confirmed; nothing changed\n"
    assert (
        rotate.main("staging", "redis-password", runner=runner, preflight=lambda: None, answer=lambda p: "yes") == 0
        and len(runner.calls) == 1
    )


class FakeSecretIds:
    """A role's secret-id accessors as `invoke rotate` lists and destroys them with the deploy token."""

    def __init__(self, accessors: dict[str, list[str]]):
        self.accessors = {role: list(found) for role, found in accessors.items()}
        self.destroyed: list[tuple[str, str]] = []

    def list(self, role: str) -> list[str]:
        return list(self.accessors.get(role, []))

    def destroy(self, role: str, accessor: str) -> None:
        self.accessors[role].remove(accessor)
        self.destroyed.append((role, accessor))


def outputs_with(accessors: dict[str, str]):
    return lambda stack: {"vault_secret_id_accessors": accessors}


def test_a_secret_id_rotation_then_destroys_every_other_secret_id_of_the_role(staging, capsys):
    """A secret-id minted with a leaked deploy token (or left by an interrupted rotation) dies with the
    rotation: after the up, every accessor of the role but the stack's new one is destroyed."""
    role = staging.outputs["vault_roles"]["app"]
    vault = FakeSecretIds({role: ["backdoor-1", "new-one", "backdoor-2"], "finance_report-staging-redis": ["redis-1"]})
    runner = Recorder()
    code = rotate.main(
        "staging",
        "app-secret-id",
        yes=True,
        runner=runner,
        preflight=lambda: None,
        outputs=outputs_with({"app": "new-one", "redis": "redis-1"}),
        secret_ids=lambda cfg: vault,
    )
    assert code == 0 and len(runner.calls) == 1
    assert vault.accessors == {role: ["new-one"], "finance_report-staging-redis": ["redis-1"]}
    assert vault.destroyed == [(role, "backdoor-1"), (role, "backdoor-2")]
    out = capsys.readouterr().out
    assert f"rotate: destroyed 2 other secret-ids of role {role}; the stack's new one is the only one left" in out


def test_no_secret_id_is_destroyed_when_the_stacks_new_one_is_not_among_the_roles(staging, capsys):
    """Outputs from another stack or an older update: destroying 'every other' would cut the live agent off."""
    role = staging.outputs["vault_roles"]["app"]
    vault = FakeSecretIds({role: ["running-agent", "another"]})
    code = rotate.main(
        "staging",
        "app-secret-id",
        yes=True,
        runner=Recorder(),
        preflight=lambda: None,
        outputs=outputs_with({"app": "not-listed"}),
        secret_ids=lambda cfg: vault,
    )
    assert code == 1 and vault.destroyed == []
    assert capsys.readouterr().err.strip() == (
        f"rotate: the stack's secret-id accessor for app (vault_secret_id_accessors) is not among role {role}'s "
        "2 secret-ids; nothing destroyed: `pulumi stack output --stack staging vault_secret_id_accessors` and "
        'docs/secrets.md "Incidents" say which to keep'
    )


def test_a_password_rotation_lists_no_secret_id(capsys):
    def never(cfg):
        raise AssertionError("a password rotation has no secret-id to clean up")

    assert (
        rotate.main("staging", "redis-password", yes=True, runner=Recorder(), preflight=lambda: None, secret_ids=never)
        == 0
    )


def test_the_plan_says_the_other_secret_ids_of_the_role_are_destroyed(staging, capsys):
    assert rotate.main("staging", "postgres-secret-id", dry_run=True, runner=Recorder(), preflight=lambda: None) == 0
    out = capsys.readouterr().out
    assert (
        "  then      destroys every other secret-id of role finance_report-staging-postgres (one minted with a "
        "leaked deploy token included)\n" in out
    )


def test_a_failed_up_and_bad_input_exit_as_documented(capsys):
    assert rotate.main("staging", "app-secret-id", yes=True, runner=Recorder(1), preflight=lambda: None) == 1
    assert "`pulumi up --stack staging` finishes with the value already replaced" in capsys.readouterr().err
    runner = Recorder()
    assert (
        rotate.main("staging", "database", yes=True, runner=runner, preflight=lambda: None) == 2 and runner.calls == []
    )
    assert (
        capsys.readouterr().err.strip()
        == "rotate: --what = 'database' is invalid: expected one of secret-key, postgres-password, "
        "postgres-app-password, postgres-backup-password, redis-password, postgres-secret-id, redis-secret-id, "
        "app-secret-id, backup-secret-id"
    )
    assert rotate.main("nope", "secret-key", yes=True, runner=runner, preflight=lambda: None) == 2
    assert (
        rotate.main("staging", "secret-key", dry_run=True, runner=runner, preflight=lambda: None) == 0
        and runner.calls == []
    )


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
    assert rotate.main("staging", "secret-key", runner=runner, preflight=lambda: None) == 1
    assert runner.calls == []
    assert (
        capsys.readouterr().err
        == "rotate: no confirmation (standard input is closed): pass --yes to run without asking; nothing changed\n"
    )


def test_the_backup_secret_id_rotation_recreates_its_agent_only(staging, capsys):
    runner = Recorder()
    role = staging.outputs["vault_roles"]["backup"]
    vault = FakeSecretIds({role: ["new-one"]})
    assert (
        rotate.main(
            "staging",
            "backup-secret-id",
            yes=True,
            runner=runner,
            preflight=lambda: None,
            outputs=outputs_with({"backup": "new-one"}),
            secret_ids=lambda cfg: vault,
        )
        == 0
    )
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
    """docs/rotation.md's table marks the rolling ones (new revision); the others are delete-first."""
    options = {c.name: c.options for c in production.by_type(rotate.CONTAINER)}
    for what in rotate.KINDS:
        for r in rotate.plan_rotation("production", what, production, rerun_for("production")).replaced:
            assert options[r.resource]["deleteBeforeReplace"] is (not r.rolls), (what, r)


def test_the_rotation_page_table_is_generated_from_the_tool():
    from tests.conftest import ROOT

    table = rotate.readme_table()
    assert table in (ROOT / "docs/rotation.md").read_text(), (
        "docs/rotation.md's rotation table is stale: `uv run invoke readme-tables` prints it"
    )
    rows = {line.split(" | ")[0].strip("| `"): line for line in table.splitlines()[2:]}
    assert list(rows) == list(rotate.KINDS)
    assert "the prefect worker (production only)" in rows["secret-key"]
    assert "the backup service, the agent of backup" in rows["postgres-backup-password"]
