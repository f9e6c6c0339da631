"""`uv run invoke rotate --stack S --what WHAT`: rotate one generated secret or AppRole secret-id by
replacing its resource (`pulumi up --replace <urn>`), after saying what that does to users
(docs/rotation.md).

WHAT is app-secret-id, postgres-secret-id, redis-secret-id, backup-secret-id (a service's AppRole
secret-id), postgres-password, postgres-app-password, postgres-backup-password (the superuser's, the app's
and the backup's database roles), redis-password or secret-key (the backend's SECRET_KEY). The resource and its
engine URN come from the program's own plan (ops/program_run.py, as the offline plan computes them),
never from a hand-written string. Which containers the replace recreates is computed from the program
too: it is run again with a new value for that resource, as the engine would see it after the replace,
and every container whose inputs change is listed (a new secret changes its agent's and consumers'
restart digest; a new secret-id changes only its agent's upload).

A secret-id rotation then destroys every other secret-id of the role (listed by accessor with the
deploy token), keeping the one the update minted (the stack output `vault_secret_id_accessors`): a
secret-id minted with a leaked deploy token, or left behind by an interrupted rotation, dies with it.

It refuses (exit 1) a working tree with uncommitted changes, or a HEAD that is neither the commit the
stack last deployed nor main's tip (ops/git_guard.py): the replace deploys the program checked out here.

Exit codes: 0 rotated (or --dry-run printed the plan), 1 declined (or standard input closed without
--yes), the checkout is not the deployed commit or main's, `pulumi up` failed, the other secret-ids could
not be destroyed, or this machine lacks the Pulumi CLI, VAULT_TOKEN or the policy pack's venv; 2 bad
input.
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import subprocess
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from clients.vault_api import SecretIds, VaultAPI, VaultAPIError
from config.stack_config import StackConfig
from facts.services import Service, VaultService
from facts.tokens import CONTAINER, SECRET_ID
from ops import policy_pack, pulumi_cli
from ops.command import OperatorError, bad_input, confirm, run_task
from ops.git_guard import read_git_state, require_deployable_checkout
from ops.program_run import ROOT, ProgramRun, Resource, run_program, unwrap_secrets
from ops.rollback import engine_history
from ops.stack_context import StackContext, load_stack, resolve_stack
from render import labels as L
from render.secrets import GENERATED

POLICY_VENV = ROOT / "policies" / "venv"
# What the printed plan shows for the policy config: the file is derived from the stack file when it runs.
POLICY_CONFIG_SHOWN = "<derived from the stack file: uv run invoke policy-config>"
# Every service the program gives a vault-agent with its own AppRole secret-id (tests/unit/test_rotate.py
# fails when the program declares one this list lacks).
SECRET_ID_SERVICES = tuple(VaultService)


@dataclass(frozen=True)
class Kind:
    """One thing `--what` can rotate: how to find its resource in the program, and what rotating it does
    to the people using the app. The containers it recreates are never written here: they are computed
    from the stack's own program (a staging stack or a PR environment has no prefect worker)."""

    what: str
    effect: str
    """What the command prints before it asks."""
    notice: str
    """docs/rotation.md's table: what users notice, in short."""
    vault_service: str
    """The Vault service (postgres, redis, app, backup) the secret belongs to."""
    kv_key: str | None = None
    """For a generated value: its key in the service's KV secret (render/secrets.GENERATED)."""

    def resource(self, run: ProgramRun) -> Resource:
        if self.kv_key is None:
            found = [
                r
                for r in run.by_type(SECRET_ID)
                if json.loads(unwrap_secrets(r.inputs).get("metadata") or "{}").get("service") == self.vault_service
            ]
        else:
            (generated,) = [g for g in GENERATED if g.service == self.vault_service and g.key == self.kv_key]
            found = [r for r in run.resources if r.name == generated.resource and r.custom]
        if len(found) != 1:
            raise OperatorError(
                f"the program declares {len(found)} resources for {self.what} in stack {run.stack}; expected one"
            )
        return found[0]


KINDS = {
    k.what: k
    for k in (
        Kind(
            "secret-key",
            "New SECRET_KEY. It signs every session token, so EVERY USER IS LOGGED OUT and must sign in again. "
            "The backend rolls to a new revision without downtime.",
            "**everyone is logged out** (it signs the session tokens); no downtime",
            "app",
            "SECRET_KEY",
        ),
        Kind(
            "postgres-password",
            "New password of Postgres's superuser (used by Postgres's own start script alone). Postgres is replaced "
            "delete-first: it stops, starts again on the same data and applies the new password to its role, so "
            "requests that need the database fail for the seconds until it is healthy. Nobody is logged out; no "
            "data changes.",
            "requests that need the database fail for the seconds Postgres takes to restart; nobody is logged out",
            "postgres",
            "POSTGRES_PASSWORD",
        ),
        Kind(
            "postgres-app-password",
            "New password of the app's database role (DATABASE_URL). Postgres is replaced delete-first and applies "
            "it at start, so requests that need the database fail for the seconds until it is healthy; the "
            "backend rolls to a new revision with the new DATABASE_URL. Nobody is logged out; no data changes.",
            "requests that need the database fail for the seconds Postgres takes to restart; nobody is logged out",
            "postgres",
            "APP_DB_PASSWORD",
        ),
        Kind(
            "postgres-backup-password",
            "New password of the backup service's database role. Postgres is replaced delete-first and applies it "
            "at start, so requests that need the database fail for the seconds until it is healthy; the backup "
            "service restarts with its own copy of the password. Nobody is logged out; no data changes.",
            "requests that need the database fail for the seconds Postgres takes to restart; nobody is logged out",
            "postgres",
            "BACKUP_DB_PASSWORD",
        ),
        Kind(
            "redis-password",
            "New Redis password. Redis is replaced delete-first: it stops and starts again on the same data (AOF) with "
            "the new requirepass, so requests that need Redis fail for the seconds until it is healthy. The backend "
            "rolls to a new revision with the new REDIS_URL. Nobody is logged out.",
            "requests that need Redis fail for the seconds Redis takes to restart; nobody is logged out",
            "redis",
            "PASSWORD",
        ),
        *(
            Kind(
                f"{service}-secret-id",
                f"New AppRole secret-id for the {service} vault-agent: the agent is recreated with it, then the old "
                f"secret-id is deleted, which revokes it in Vault, and every other secret-id of the role is "
                f"destroyed. The rendered files do not change, so nothing else restarts and no user notices.",
                "nothing: the rendered files do not change; the old secret-id and every other one of the role are "
                "destroyed last",
                service,
            )
            for service in SECRET_ID_SERVICES
        ),
    )
}
WHAT_CHOICES = ", ".join(KINDS)


@dataclass(frozen=True)
class Replaced:
    resource: str
    service: str
    agent_for: str | None
    name: str
    """The container's current name."""
    rolls: bool = False
    """A rolling container: its replacement is a new revision under a new name, started before the old one goes."""

    def describe(self) -> str:
        who = f"vault-agent of {self.agent_for}" if self.agent_for else self.service
        return f"{who} ({self.name} -> a new revision)" if self.rolls else f"{who} ({self.name})"


@dataclass(frozen=True)
class RotationPlan:
    stack: str
    kind: Kind
    urn: str
    replaced: tuple[Replaced, ...]
    resource_name: str = ""
    """The replaced resource's Pulumi name (what the mocks' state is keyed by)."""
    role: str = ""
    """For a secret-id: its AppRole, whose other secret-ids are destroyed after the update."""
    protected: bool = False
    """The resource is protected (facts.generated_secrets): the engine refuses to replace it while both its
    state and the program protect it (pulumi v3.259.0 pkg/resource/deploy/step_generator.go:1952-1963), so
    the state's protection is lifted first; the update's program protects it again."""

    def unprotect_command(self) -> list[str]:
        return ["pulumi", "state", "unprotect", "--stack", self.stack, self.urn, "--yes"]

    def command(self, policy_config: str = POLICY_CONFIG_SHOWN) -> list[str]:
        """The `pulumi up --replace`; `policy_config` is the pack config file derived from the stack file."""
        return [
            "pulumi",
            "up",
            "--stack",
            self.stack,
            "--replace",
            self.urn,
            "--policy-pack",
            "policies",
            "--policy-pack-config",
            policy_config,
            "--message",
            f"invoke rotate --what {self.kind.what}",
            "--yes",
        ]

    def lines(self) -> list[str]:
        return [
            f"rotate {self.kind.what} of stack {self.stack}",
            f"  replaces  {self.urn}",
            f"  effect    {self.kind.effect}",
            "  recreates " + (", ".join(r.describe() for r in self.replaced) or "no container"),
            *(["  runs      " + shlex.join(self.unprotect_command())] if self.protected else []),
            "  runs      " + shlex.join(self.command()),
            *(
                [
                    f"  then      destroys every other secret-id of role {self.role} (one minted with a leaked "
                    "deploy token included)"
                ]
                if self.role
                else []
            ),
        ]


def changed_containers(before: ProgramRun, after: ProgramRun) -> tuple[Replaced, ...]:
    """Containers whose inputs differ between two runs of the program: what the engine replaces."""
    after_inputs = {c.name: unwrap_secrets(c.inputs) for c in after.by_type(CONTAINER)}
    found = []
    for container in before.by_type(CONTAINER):
        inputs = unwrap_secrets(container.inputs)
        if after_inputs.get(container.name) != inputs:
            labels = {item["label"]: item["value"] for item in inputs.get("labels", [])}
            rolls = container.name in after_inputs and after_inputs[container.name].get("name") != inputs.get("name")
            found.append(
                Replaced(
                    container.name, labels.get(L.SERVICE, "?"), labels.get(L.AGENT_FOR), inputs.get("name", "?"), rolls
                )
            )
    return tuple(sorted(found, key=lambda r: r.resource))


Rerun = Callable[[dict[str, str]], ProgramRun]


def plan_rotation(stack: str, what: str, run: ProgramRun, rerun: Rerun, new_value: str | None = None) -> RotationPlan:
    """`rerun(state)` runs the program again with `state` (resource name -> value) in the stack's state."""
    kind = KINDS.get(what)
    if kind is None:
        raise bad_input(f"--what = {what!r} is invalid: expected one of {WHAT_CHOICES}")
    resource = kind.resource(run)
    value = new_value or (secrets.token_urlsafe(24) if kind.kv_key else str(uuid.uuid4()))
    after = rerun({resource.name: value})
    role = "" if kind.kv_key else run.outputs["vault_roles"][kind.vault_service]
    protected = bool(resource.options.get("protect"))
    return RotationPlan(stack, kind, resource.urn, changed_containers(run, after), resource.name, role, protected)


class SecretIdStore(Protocol):
    """What the cleanup needs of Vault (clients.vault_api.SecretIds; tests give a fake)."""

    def list(self, role: str) -> list[str]: ...
    def destroy(self, role: str, accessor: str) -> None: ...


def destroy_other_secret_ids(store: SecretIdStore, stack: str, service: str, role: str, keep: str) -> list[str]:
    """Destroy every secret-id of `role` but `keep` (the accessor the stack's update minted); returns the
    accessors destroyed. Nothing is destroyed when `keep` is not among them: the outputs would then belong
    to another update or stack, and 'every other' would include the running agent's."""
    found = store.list(role)
    if keep not in found:
        raise OperatorError(
            f"the stack's secret-id accessor for {service} (vault_secret_id_accessors) is not among role "
            f"{role}'s {len(found)} secret-ids; nothing destroyed: `pulumi stack output --stack {stack} "
            'vault_secret_id_accessors` and docs/secrets.md "Incidents" say which to keep'
        )
    others = [accessor for accessor in found if accessor != keep]
    for accessor in others:
        store.destroy(role, accessor)
    return others


Outputs = Callable[[str], dict[str, Any]]


def deploy_history(stack: str) -> list[dict[str, Any]]:
    """The stack's update history, for the commit its last `pulumi up` ran (ops/git_guard.py)."""
    return engine_history(stack, ROOT)


def stack_outputs(stack: str) -> dict[str, Any]:
    """The stack's outputs after the update (`pulumi stack output --json`; no secret is shown)."""
    done = subprocess.run(
        ["pulumi", "stack", "output", "--json", "--stack", stack], capture_output=True, cwd=ROOT, timeout=300
    )
    if done.returncode != 0:
        last = (done.stderr or b"").decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        raise OperatorError(f"pulumi stack output failed (exit {done.returncode}): {last[0][:200]}")
    outputs: dict[str, Any] = json.loads(done.stdout or b"{}")
    return outputs


def vault_secret_ids(cfg: StackConfig) -> SecretIdStore:
    """The stack's AppRole secret-ids, through VAULT_TOKEN (the deploy token lists and destroys them)."""
    return SecretIds(
        VaultAPI(cfg.vault_address, os.environ.get("VAULT_TOKEN", ""), cfg.vault_ca_cert), cfg.vault_approle_mount
    )


# docs/rotation.md's words for a container a rotation recreates, in the order the table lists them.
_WHO: tuple[tuple[tuple[str, str | None], str], ...] = (
    ((Service.POSTGRES, None), "Postgres"),
    ((Service.VAULT_AGENT, "postgres"), "the agent of postgres"),
    ((Service.REDIS, None), "Redis"),
    ((Service.VAULT_AGENT, "redis"), "the agent of redis"),
    ((Service.VAULT_AGENT, "app"), "the agent of app"),
    ((Service.BACKEND, None), "the backend"),
    ((Service.FRONTEND, None), "the frontend"),
    ((Service.PREFECT_WORKER, None), "the prefect worker"),
    ((Service.BACKUP, None), "the backup service"),
    ((Service.VAULT_AGENT, "backup"), "the agent of backup"),
)
README_STACKS = ("production", "staging")


def readme_table(plans: dict[str, Sequence[RotationPlan]] | None = None) -> str:
    """docs/rotation.md's table, from each committed stack's plans: the resource each --what replaces, the
    containers it recreates (a container only some stacks run says which), what users notice."""
    if plans is None:
        plans = {}
        for stack in README_STACKS:
            run, rerun = load(stack, None)
            plans[stack] = [plan_rotation(stack, what, run, rerun) for what in KINDS]
    order = {key: i for i, (key, _) in enumerate(_WHO)}
    words = dict(_WHO)
    rows = ["| `--what` | replaces | recreates | what users notice |", "|---|---|---|---|"]
    for i, kind in enumerate(KINDS.values()):
        stack_plans = {stack: found[i] for stack, found in plans.items()}
        names = {p.resource_name for p in stack_plans.values()}
        if len(names) != 1:
            raise OperatorError(
                f"{kind.what} replaces {sorted(names)} in the stacks {', '.join(stack_plans)}; expected one resource"
            )
        seen: dict[tuple[str, str | None], tuple[bool, list[str]]] = {}
        for stack, plan in stack_plans.items():
            for r in plan.replaced:
                rolls, stacks = seen.setdefault((r.service, r.agent_for), (r.rolls, []))
                stacks.append(stack)
        cells = []
        for key in sorted(seen, key=lambda k: (order.get(k, len(order)), k[0], k[1] or "")):
            rolls, stacks = seen[key]
            text = words.get(key) or (f"the agent of {key[1]}" if key[1] else key[0])
            text += " (new revision)" if rolls else ""
            text += f" ({', '.join(stacks)} only)" if len(stacks) < len(stack_plans) else ""
            cells.append(text)
        rows.append(f"| `{kind.what}` | `{names.pop()}` | {', '.join(cells) or 'nothing'} | {kind.notice} |")
    return "\n".join(rows) + "\n"


def load(stack: str, config_file: Path | None) -> tuple[ProgramRun, Rerun]:
    run, rerun, _ = load_with_context(stack, config_file)
    return run, rerun


def load_with_context(stack: str, config_file: Path | None) -> tuple[ProgramRun, Rerun, StackContext]:
    context = load_stack(stack, config_file)

    def rerun(state: dict[str, str]) -> ProgramRun:
        return run_program(stack, context.engine_config, context.secret_keys, state=state)

    run = rerun({})
    if run.error is not None:
        raise run.error  # a ConfigError is bad input (exit 2); anything else a crash (exit 3)
    return run, rerun, context


Runner = Callable[[Sequence[str]], int]


def run_pulumi(argv: Sequence[str]) -> int:
    # The engine's own output goes to the terminal: it masks secret values.
    return subprocess.run(list(argv), cwd=ROOT).returncode


def machine_ready() -> str | None:
    """What this machine lacks for the `pulumi up --replace` (not bad input: exit 1, how to get it)."""
    missing = pulumi_cli.missing_cli("the rotation is a `pulumi up --replace`")
    if missing is None and not os.environ.get("VAULT_TOKEN"):
        missing = "VAULT_TOKEN is not set: the deploy token (README Prerequisites) writes the new value to Vault"
    return missing or pulumi_cli.missing_policy_venv(POLICY_VENV.parent.parent)


def rotate(
    stack: str,
    what: str,
    yes: bool = False,
    dry_run: bool = False,
    config_file: str | None = None,
    runner: Runner = run_pulumi,
    answer: Callable[[str], str] = input,
    preflight: Callable[[], str | None] = machine_ready,
    outputs: Outputs = stack_outputs,
    secret_ids: Callable[[StackConfig], SecretIdStore] = vault_secret_ids,
) -> int:
    stack = resolve_stack(stack)
    if what not in KINDS:
        raise bad_input(f"--what = {what!r} is invalid: expected one of {WHAT_CHOICES}")
    run, rerun, context = load_with_context(stack, Path(config_file) if config_file else None)
    pack_config = policy_pack.derived(context)
    rotation = plan_rotation(stack, what, run, rerun)
    print("\n".join(rotation.lines()))
    if dry_run:
        return 0
    missing = preflight()
    if missing is not None:
        raise OperatorError(missing)
    # The replace is a whole `pulumi up` of this checkout's program: only the deployed commit or main's.
    require_deployable_checkout("rotate", stack, read_git_state(ROOT), deploy_history(stack))
    confirm(f"Rotate {what} of stack {stack} now?", yes, answer)
    if rotation.protected:
        code = runner(rotation.unprotect_command())
        if code != 0:
            raise OperatorError(f"pulumi state unprotect failed (exit {code}); nothing was replaced")
    with policy_pack.config_file(pack_config, stack) as policy_config:
        code = runner(rotation.command(str(policy_config)))
    if code != 0 and rotation.protected:
        raise OperatorError(
            f"pulumi up failed (exit {code}); the state no longer protects {rotation.resource_name} until the next "
            f"`pulumi up --stack {stack}`, whose program protects it again"
        )
    if code != 0:
        raise OperatorError(
            f"pulumi up failed (exit {code}); its output says how far it got. `pulumi up --stack {stack}` finishes "
            "with the value already replaced (rotating again would replace it once more)"
        )
    if rotation.role:
        service = rotation.kind.vault_service
        try:
            keep = (outputs(stack).get("vault_secret_id_accessors") or {}).get(service, "")
            destroyed = destroy_other_secret_ids(secret_ids(context.config), stack, service, rotation.role, keep)
        except VaultAPIError as err:
            raise OperatorError(
                f"{what} was rotated, but the other secret-ids of role {rotation.role} were not destroyed: "
                f'{err}; run the rotation again, or docs/secrets.md "Incidents" by hand'
            ) from None
        print(
            f"rotate: destroyed {len(destroyed)} other secret-id{'' if len(destroyed) == 1 else 's'} of role "
            f"{rotation.role}; the stack's new one is the only one left"
        )
    print(f"rotate: {what} of stack {stack} rotated; `uv run invoke status --stack {stack}` checks every service")
    return 0


def main(*args: Any, **kwargs: Any) -> int:
    """`uv run invoke rotate` as a command (one line and an exit code on error)."""
    return run_task("rotate", rotate, *args, **kwargs)
