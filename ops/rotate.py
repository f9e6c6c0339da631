"""`uv run invoke rotate --stack S --what WHAT`: rotate one generated secret or AppRole secret-id by
replacing its resource (`pulumi up --replace <urn>`), after saying what that does to users (README
"Rotation").

WHAT is app-secret-id, postgres-secret-id, redis-secret-id, backup-secret-id (a service's AppRole
secret-id), postgres-password, postgres-app-password, postgres-backup-password (the superuser's, the app's
and the backup's database roles), redis-password or secret-key (the backend's SECRET_KEY). The resource and
its engine URN come from the program's own plan (ops/program_run.py, as the offline plan computes
them), never from a hand-written string. Which containers the replace recreates is computed from the program too: it is run again with
a new value for that resource, as the engine would see it after the replace, and every container whose
inputs change is listed (a new secret changes its agent's and consumers' restart digest; a new
secret-id changes only its agent's upload).

Exit codes: 0 rotated (or --dry-run printed the plan), 1 declined (or standard input closed without
--yes), `pulumi up` failed, or this machine lacks the Pulumi CLI, VAULT_TOKEN or the policy pack's venv;
2 bad input.
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import subprocess
import sys
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ops import pulumi_cli
from ops.confirm import NoConfirmation, ask
from ops.operator_error import OperatorError
from ops.program_run import ROOT, ProgramRun, Resource, run_program, unwrap_secrets
from ops.stack_context import StackInputError, load_stack
from render import labels as L
from render.secrets import GENERATED

CONTAINER = "docker:index/container:Container"
SECRET_ID = "vault:appRole/authBackendRoleSecretId:AuthBackendRoleSecretId"
POLICY_VENV = ROOT / "policies" / "venv"
# Every service the program gives a vault-agent with its own AppRole secret-id (tests/unit/test_rotate.py
# fails when the program declares one this list lacks).
SECRET_ID_SERVICES = ("app", "postgres", "redis", "backup")


class RotateError(OperatorError):
    """One line; exit 2 for bad input unless a code is given."""


@dataclass(frozen=True)
class Kind:
    """One thing `--what` can rotate: how to find its resource in the program, and what rotating it does
    to the people using the app. The containers it recreates are never written here: they are computed
    from the stack's own program (a staging or preview stack has no prefect worker)."""

    what: str
    effect: str
    """What the command prints before it asks."""
    notice: str
    """README's rotation table: what users notice, in short."""
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
            raise RotateError(
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
                f"secret-id is deleted, which revokes it in Vault. The rendered files do not change, so nothing else "
                f"restarts and no user notices.",
                "nothing: the rendered files do not change; the old secret-id is deleted last, which revokes it",
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

    def command(self) -> list[str]:
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
            f"policies/config.{self.stack}.json",
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
            "  runs      " + shlex.join(self.command()),
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
        raise RotateError(f"--what = {what!r} is invalid: expected one of {WHAT_CHOICES}")
    resource = kind.resource(run)
    value = new_value or (secrets.token_urlsafe(24) if kind.kv_key else str(uuid.uuid4()))
    after = rerun({resource.name: value})
    return RotationPlan(stack, kind, resource.urn, changed_containers(run, after), resource.name)


# README's words for a container a rotation recreates, in the order the table lists them.
_WHO = (
    ((L.POSTGRES, None), "Postgres"),
    ((L.VAULT_AGENT, "postgres"), "the agent of postgres"),
    ((L.REDIS, None), "Redis"),
    ((L.VAULT_AGENT, "redis"), "the agent of redis"),
    ((L.VAULT_AGENT, "app"), "the agent of app"),
    ((L.BACKEND, None), "the backend"),
    ((L.FRONTEND, None), "the frontend"),
    ((L.PREFECT_WORKER, None), "the prefect worker"),
    ((L.BACKUP, None), "the backup service"),
    ((L.VAULT_AGENT, "backup"), "the agent of backup"),
)
README_STACKS = ("production", "staging")


def readme_table(plans: dict[str, Sequence[RotationPlan]] | None = None) -> str:
    """README's rotation table, from each committed stack's plans: the resource each --what replaces, the
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
            raise RotateError(
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
    try:
        context = load_stack(stack, config_file)
    except StackInputError as err:
        raise RotateError(str(err)) from None

    def rerun(state: dict[str, str]) -> ProgramRun:
        return run_program(stack, context.engine_config, context.secret_keys, state=state)

    run = rerun({})
    if run.error is not None:
        raise RotateError(str(run.error).splitlines()[0])
    return run, rerun


Runner = Callable[[Sequence[str]], int]


def run_pulumi(argv: Sequence[str]) -> int:
    # The engine's own output goes to the terminal: it masks secret values.
    return subprocess.run(list(argv), cwd=ROOT).returncode


def main(
    stack: str,
    what: str,
    yes: bool = False,
    dry_run: bool = False,
    config_file: str | None = None,
    runner: Runner = run_pulumi,
    answer: Callable[[str], str] = input,
) -> int:
    try:
        if not stack:
            raise RotateError("--stack is required: production, staging or another stack with a Pulumi.<stack>.yaml")
        if what not in KINDS:
            raise RotateError(f"--what = {what!r} is invalid: expected one of {WHAT_CHOICES}")
        if config_file is None and not (ROOT / f"Pulumi.{stack}.yaml").exists():
            raise RotateError(f"no stack file Pulumi.{stack}.yaml; pass --config-file PATH")
        run, rerun = load(stack, Path(config_file) if config_file else None)
        rotation = plan_rotation(stack, what, run, rerun)
        print("\n".join(rotation.lines()))
        if dry_run:
            return 0
        if runner is run_pulumi:
            # What this machine lacks is not bad input: exit 1, one line saying how to get it.
            missing = pulumi_cli.missing_cli("the rotation is a `pulumi up --replace`")
            if missing is None and not os.environ.get("VAULT_TOKEN"):
                missing = (
                    "VAULT_TOKEN is not set: the deploy token (README Prerequisites) writes the new value to Vault"
                )
            if missing is None:
                missing = pulumi_cli.missing_policy_venv(POLICY_VENV.parent.parent)
            if missing is not None:
                raise RotateError(missing, 1)
        try:
            confirmed = yes or ask(f"Rotate {what} of stack {stack} now?", answer)
        except NoConfirmation as err:
            raise RotateError(f"{err}; nothing changed", 1) from None
        if not confirmed:
            print("rotate: nothing changed")
            return 1
        code = runner(rotation.command())
        if code != 0:
            print(
                f"rotate: pulumi up failed (exit {code}); its output says how far it got. `pulumi up --stack "
                f"{stack}` finishes with the value already replaced (rotating again would replace it once "
                "more)",
                file=sys.stderr,
            )
            return 1
        print(f"rotate: {what} of stack {stack} rotated; `uv run invoke status --stack {stack}` checks every service")
        return 0
    except RotateError as err:
        print(f"rotate: {err}", file=sys.stderr)
        return err.code
