"""The GitHub workflows hold the deploy credentials, so they are checked like the program is.

- zizmor (offline) reports no finding, and does report findings on a workflow known to be bad, so a
  run that audited nothing cannot pass.
- Who can reach which secret: a job that references a deploy secret never runs for a pull request and
  only in a protected deploy environment on main; a job that references a preview secret runs only in a
  preview environment and, on pull requests, only for branches of this repository; no job reads a
  repository-level secret. The main and same-repository guards are read as expressions
  (workflow_parse.py): each must be a condition every run meets (the whole `if:` or a `&&` operand of
  it), never one `||` or a status function makes optional.
- What a job with credentials runs: the event's own commit (no checkout `ref:`/`repository:`, no git
  fetch/checkout, no workflow_dispatch input outside the job's `if:`), and pulumi only on its own stack:
  every pulumi/actions step and every `pulumi`, `invoke` and `python -m ci.*`/`ops.*` call in every `run:`
  script (inside `$(...)`, `bash -c` and `eval` too, `PULUMI_STACK` included) names only the job's
  stack (deploy jobs their environment's, preview jobs theirs and read-only, pr-envs jobs
  pr<pull request number>); pull-request jobs without an environment write nothing.
  `trust_problems` is checked against mutated workflows (seeded cases) too.
- Hygiene: actions pinned to full commit SHAs with the tag in a comment, no workflow-wide permissions,
  minimal job permissions, timeouts, checkouts that keep no credentials.
- Deploy path: every preview and up is `uv run invoke preview|up` (which make the policy venv, always pass
  the pack and run `invoke status` after an up), behind a pinned Pulumi CLI equal to the locked SDK; the
  deploy jobs gate on `invoke plan --strict`; one concurrency group per stack; the engine workflow
  runs tests/engine against a real Traefik on dokploy-network and an OpenBao dev server, with no secret.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT
from tests.policies.workflow_parse import (
    SUBSTITUTION,
    Node,
    ParseError,
    calls,
    conjuncts,
    if_expression,
    is_equality,
    parse_expression,
    shell_commands,
)

WORKFLOWS = ROOT / ".github" / "workflows"
DEPLOY_SECRETS = {"DOKPLOY_SSH_KEY", "VAULT_DEPLOY_TOKEN", "PULUMI_ACCESS_TOKEN"}
PREVIEW_SECRETS = {"DOKPLOY_PREVIEW_SSH_KEY", "VAULT_PREVIEW_TOKEN", "PULUMI_PREVIEW_TOKEN"}
# Pull requests' preview environments (stacks pr<N>): deploy credentials scoped to pr* stacks and names,
# in the `pr-envs` environment, which requires a reviewer (docs/ci-credentials.md).
PR_ENV_SECRETS = {
    "PULUMI_PR_ENV_TOKEN",
    "DOKPLOY_PR_ENV_SSH_KEY",
    "VAULT_PR_ENV_TOKEN",
    "PR_ENV_S3_ACCESS_KEY",
    "PR_ENV_S3_SECRET_KEY",
}
PR_ENV_ENVIRONMENT = "pr-envs"
# Environments configured in GitHub (docs/ci-credentials.md): deploy ones allow main only; `production`,
# both preview environments (their tokens read the env's secrets) and `pr-envs` require a reviewer.
DEPLOY_ENVIRONMENTS = {"staging", "production"}
PREVIEW_ENVIRONMENTS = {"preview-staging", "preview-production"}
PR_TRIGGERS = {"pull_request", "pull_request_target", "workflow_run"}
SAME_REPO_GUARD = "github.event.pull_request.head.repo.full_name == github.repository"
MAIN_GUARD = "github.ref == 'refs/heads/main'"
PIN = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<action>[^@\s]+)@(?P<ref>\S+)(?:\s+#\s*(?P<tag>\S+))?\s*$")


def load(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def workflows() -> dict[str, dict[str, Any]]:
    found = {p.name: load(p) for p in sorted(WORKFLOWS.glob("*.yml"))}
    assert set(found) == {"deploy.yml", "engine.yml", "pull-request.yml", "preview-env.yml"}
    return found


def triggers(wf: dict[str, Any]) -> set[str]:
    on = wf.get("on", wf.get(True))  # YAML 1.1 reads a bare `on` key as true
    return {on} if isinstance(on, str) else set(on)


def secrets_of(job: dict[str, Any]) -> set[str]:
    return set(re.findall(r"secrets\.([A-Za-z0-9_]+)", json.dumps(job)))


def steps_using(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [s for s in job.get("steps", []) if str(s.get("uses", "")).split("@")[0] == action]


# invoke tasks that run the engine on a stack (ops/deploy.py): the one way the workflows deploy and preview.
ENGINE_TASKS = ("preview", "up")


def engine_steps(job: dict[str, Any]) -> list[tuple[dict[str, Any], str, str | None]]:
    """(step, what it runs, stack) of every step that runs the engine on a stack: a pulumi/actions step with
    a command, or an `invoke preview|up` anywhere in a script."""
    found = []
    for step in job.get("steps", []):
        with_ = step.get("with") or {}
        if str(step.get("uses", "")).split("@")[0] == "pulumi/actions" and with_.get("command"):
            found.append((step, f"pulumi {with_['command']}", with_.get("stack-name")))
        if "run" not in step:
            continue
        try:
            commands = shell_commands(str(step["run"]))
        except ParseError:
            continue  # reported by source_problems
        for words in commands:
            for tool, args in invocations(words):
                if tool == "invoke" and args[:1] and args[0] in ENGINE_TASKS:
                    for stack in stacks_named(tool, args) or [None]:
                        found.append((step, f"invoke {args[0]}", stack))
    return found


def engine_stacks(job: dict[str, Any]) -> set[str]:
    return {str(stack) for _, _, stack in engine_steps(job) if stack}


# ------------------------------------------------------------------------------------------ trust


def guard_problem(condition: Any, guard: Node) -> str | None:
    """None when every run of the job must meet `guard` (it is a top-level `&&` operand of the job's
    `if:`), else why not. `guard || x`, `(guard || x) && y`, `always() || guard` or text outside `${{ }}`
    (a string, always true) make it optional. Status functions other than success() (always(),
    failure(), cancelled(), `!cancelled()`) are refused too: a guarded job runs only when what it needs
    succeeded."""
    try:
        node = parse_expression(if_expression(condition)) if if_expression(condition) else None
    except ParseError as err:
        return f"cannot read `if: {condition}`: {err}"
    if node is None:
        return "no `if:`"
    status = calls(node) & {"always", "failure", "cancelled"}
    if status:
        return f"`if: {condition}` calls {sorted(status)}"
    if not any(is_equality(c, guard.left, guard.right) for c in conjuncts(node)):
        return f"`if: {condition}` does not require it of every run (it must be the condition or a `&&` operand of it)"
    return None


MAIN_GUARD_NODE = parse_expression(MAIN_GUARD)
SAME_REPO_GUARD_NODE = parse_expression(SAME_REPO_GUARD)


def trust_problems(name: str, wf: dict[str, Any]) -> list[str]:
    """Why a job could hand a credential to code nobody reviewed; empty when none can."""
    problems = []
    on = triggers(wf)
    if "pull_request_target" in on or "workflow_run" in on:
        problems.append(f"{name}: pull_request_target/workflow_run run a fork's changes with this repository's secrets")
    for job_name, job in wf.get("jobs", {}).items():
        where = f"{name}:{job_name}"
        used = secrets_of(job) - {"GITHUB_TOKEN"}
        env = job.get("environment")
        env_name = env.get("name") if isinstance(env, dict) else env
        condition = job.get("if")
        if (used and not isinstance(env_name, str)) or (used and "${{" in str(env_name)):
            problems.append(
                f"{where}: uses {sorted(used)} without a literal environment (repository secrets reach every branch)"
            )
            continue
        if used & DEPLOY_SECRETS:
            if on & PR_TRIGGERS:
                problems.append(
                    f"{where}: holds deploy secrets {sorted(used & DEPLOY_SECRETS)} in a workflow triggered "
                    f"by {sorted(on & PR_TRIGGERS)}"
                )
            if env_name not in DEPLOY_ENVIRONMENTS:
                problems.append(f"{where}: holds deploy secrets outside a protected deploy environment ({env_name})")
            why = guard_problem(condition, MAIN_GUARD_NODE)
            if why:
                problems.append(f"{where}: holds deploy secrets without `if: {MAIN_GUARD}` ({why})")
        if used & PREVIEW_SECRETS:
            if env_name not in PREVIEW_ENVIRONMENTS:
                problems.append(f"{where}: holds preview secrets outside a preview environment ({env_name})")
            why = guard_problem(condition, SAME_REPO_GUARD_NODE)
            if "pull_request" in on and why:
                problems.append(
                    f"{where}: holds preview secrets on pull requests without the same-repository guard ({why})"
                )
        if used and env_name in PREVIEW_ENVIRONMENTS and used & DEPLOY_SECRETS:
            problems.append(f"{where}: a preview environment job references deploy secrets")
        problems += pr_env_problems(where, on, job, used, env_name, condition)
        if "production" in engine_stacks(job) and env_name not in ("production", "preview-production"):
            problems.append(f"{where}: runs pulumi on production in environment {env_name}, which requires no reviewer")
        credentialed = bool(used) or env_name is not None
        if credentialed:
            problems += source_problems(where, job)
        problems += stack_problems(where, wf, job, job_scope(on, env_name))
    return problems


def pr_env_problems(
    where: str, on: set[str], job: dict[str, Any], used: set[str], env_name: Any, condition: Any
) -> list[str]:
    """Preview-env credentials deploy (the ssh key is root on the host): only in `pr-envs`, only for
    branches of this repository, never beside other credentials, only on pr<N> stacks (stack_problems)."""
    problems = []
    if used & PR_ENV_SECRETS:
        if env_name != PR_ENV_ENVIRONMENT:
            problems.append(
                f"{where}: holds preview-env secrets outside the {PR_ENV_ENVIRONMENT} environment ({env_name})"
            )
        why = guard_problem(condition, SAME_REPO_GUARD_NODE)
        if on & PR_TRIGGERS and why:
            problems.append(
                f"{where}: holds preview-env secrets on pull requests without the same-repository guard ({why})"
            )
        if used & (DEPLOY_SECRETS | PREVIEW_SECRETS):
            problems.append(
                f"{where}: holds preview-env secrets beside {sorted(used & (DEPLOY_SECRETS | PREVIEW_SECRETS))}"
            )
    if env_name == PR_ENV_ENVIRONMENT and used - PR_ENV_SECRETS - {"DOKPLOY_KNOWN_HOSTS"}:
        problems.append(
            f"{where}: the {PR_ENV_ENVIRONMENT} environment holds "
            f"{sorted(used - PR_ENV_SECRETS - {'DOKPLOY_KNOWN_HOSTS'})}"
        )
    return problems


# What a job holding credentials runs must be main's reviewed code: the checkout's default ref (the
# event's commit), nothing a dispatch input or a script chooses.
TREE_CHANGING_GIT = {
    "checkout",
    "switch",
    "fetch",
    "pull",
    "reset",
    "restore",
    "worktree",
    "clone",
    "merge",
    "rebase",
    "cherry-pick",
    "am",
    "apply",
    "submodule",
}
DISPATCH_INPUT = re.compile(
    r"(?<![\w.])inputs\b|github\s*\.\s*event\s*\.\s*inputs|github\s*\.\s*event(?![\w.])|github\s*\.\s*event_path|github\s*\[",
    re.I,
)


def git_subcommand(words: list[str]) -> str | None:
    """`git [-C dir] [-c k=v] [--git-dir=..] <sub>` -> sub."""
    i = 0
    while i < len(words):
        w = words[i]
        if w in ("-C", "-c", "--git-dir", "--work-tree", "--namespace"):
            i += 2
        elif w.startswith("-"):
            i += 1
        else:
            return w
    return None


def source_problems(where: str, job: dict[str, Any]) -> list[str]:
    """A job with credentials runs the event's own commit: no checkout `ref:` or `repository:`, no git
    or gh command that fetches or switches to other code, no workflow_dispatch input anywhere but the
    job's `if:` (an input must not choose the code, the stack or a step), no script reading the raw
    event, and no shell these checks cannot read."""
    problems = []
    for step in steps_using(job, "actions/checkout"):
        for key in ("ref", "repository"):
            if key in (step.get("with") or {}):
                problems.append(
                    f"{where}: checks out {key} {step['with'][key]} in a job that holds credentials (only "
                    "the event's own commit)"
                )
    without_if = {k: v for k, v in job.items() if k != "if"}
    for expression in re.findall(r"\$\{\{(.*?)\}\}", json.dumps(without_if)):
        if DISPATCH_INPUT.search(expression):
            problems.append(
                f"{where}: a workflow_dispatch input or the raw event reaches a step of a job that holds "
                f"credentials: ${{{{{expression}}}}}"
            )
    for step in job.get("steps", []):
        shell = step.get("shell", (job.get("defaults") or {}).get("run", {}).get("shell", "bash"))
        if "run" in step and str(shell).split()[0] not in ("bash", "sh"):
            problems.append(f"{where}: runs a script in shell {shell}, which these checks cannot read")
        if "GITHUB_EVENT_PATH" in str(step.get("run", "")):
            problems.append(
                f"{where}: a script reads the raw event (GITHUB_EVENT_PATH) in a job that holds credentials"
            )
        for words in script_commands(where, step, problems):
            for k, w in enumerate(words):
                base = w.rsplit("/", 1)[-1]
                if base == "git" and git_subcommand(words[k + 1 :]) in TREE_CHANGING_GIT:
                    problems.append(
                        f"{where}: `git {git_subcommand(words[k + 1 :])}` changes the checked-out code in a "
                        "job that holds credentials"
                    )
                if base == "gh" and ("checkout" in words[k + 1 :] or "clone" in words[k + 1 :]):
                    problems.append(
                        f"{where}: `{' '.join(words[k : k + 3])}` changes the checked-out code in a job that "
                        "holds credentials"
                    )
    return problems


def script_commands(where: str, step: dict[str, Any], problems: list[str]) -> list[list[str]]:
    if "run" not in step:
        return []
    try:
        return shell_commands(str(step["run"]))
    except ParseError as err:
        problems.append(f"{where}: cannot read the script {str(step['run'])[:60]!r}: {err}")
        return []


# ------------------------------------------------------------------------------------------ stacks a job touches

PR_NUMBER = "${{ github.event.pull_request.number }}"
PR_STACK = f"pr{PR_NUMBER}"
# Pulumi commands that change nothing; anything else (up, destroy, refresh, import, state, config set,
# stack init/rm, select --create, an unknown command) writes.
READ_ONLY_PULUMI = {
    "",
    "preview",
    "version",
    "whoami",
    "about",
    "help",
    "login",
    "logout",
    "gen-completion",
    "stack",
    "stack ls",
    "stack output",
    "stack history",
    "stack select",
    "stack export",
    "config",
    "config get",
    "plugin ls",
}
PULUMI_GROUPS = {
    "stack",
    "config",
    "plugin",
    "state",
    "policy",
    "org",
    "env",
    "deployment",
    "package",
    "schema",
    "template",
    "ai",
    "console",
    "project",
}
PULUMI_VALUE_FLAGS = {
    "-C",
    "--cwd",
    "--color",
    "-v",
    "--verbose",
    "--tracing",
    "--tracing-header",
    "--profiling",
    "--memprofilerate",
}
# invoke tasks that run pulumi themselves and write (ops/adopt.py: import and config set; ops/rotate.py: up
# --replace; ops/rollback.py: up through the Automation API; ops/deploy.py: up). `invoke preview` only reads.
PULUMI_TASKS = {"adopt", "rotate", "rollback", "up"}


@dataclass(frozen=True)
class Scope:
    """What a job may do with pulumi: `stacks` it may name (None: any, for a job with nothing to protect
    but its commands) and whether it may write."""

    label: str
    stacks: frozenset[str] | None
    writes: bool


def job_scope(on: set[str], env_name: Any) -> Scope | None:
    if env_name in DEPLOY_ENVIRONMENTS:
        return Scope(f"the {env_name} deploy job", frozenset({env_name}), True)
    if env_name in PREVIEW_ENVIRONMENTS:
        return Scope(f"the {env_name} job", frozenset({env_name.removeprefix("preview-")}), False)
    if env_name == PR_ENV_ENVIRONMENT:
        return Scope(f"a {PR_ENV_ENVIRONMENT} job", frozenset({PR_STACK}), True)
    if on & PR_TRIGGERS:
        return Scope("a pull-request job without a deploy environment", None, False)
    return None


def pulumi_command(args: list[str]) -> str:
    """`pulumi [global flags] stack select --create x` -> 'stack select' (the first one or two words)."""
    words, i = [], 0
    while i < len(args) and len(words) < 2:
        a = args[i]
        if a in PULUMI_VALUE_FLAGS:
            i += 2
            continue
        if a.startswith("-"):
            i += 1
            continue
        words.append(a)
        if words[0] not in PULUMI_GROUPS:
            break
        i += 1
    return " ".join(words)


def flag_values(args: list[str], long: tuple[str, ...], short: str) -> list[str | None]:
    """Values of `--long X`, `--long=X`, `-sX`, `-s X`, `-s=X` and of a short-flag group holding `short`
    (`-ys X`); None when the value is missing."""
    out: list[str | None] = []
    for i, a in enumerate(args):
        nxt = args[i + 1] if i + 1 < len(args) else None
        name, eq, value = a.partition("=")
        if name in long:
            out.append(value if eq else nxt)
        elif short and re.fullmatch(r"-[A-Za-z]+.*", a) and not a.startswith("--") and short in name[1:].split("=")[0]:
            rest = a[a.index(short, 1) + 1 :].lstrip("=")
            out.append(rest or nxt)
    return out


def invocations(words: list[str]) -> list[tuple[str, list[str]]]:
    """(tool, arguments) of the stack-taking commands in one simple command: pulumi, invoke, and
    `python -m ci.<module>` or `ops.<module>`, wherever they stand (after env, sudo, uv run, xargs ...)."""
    for k, w in enumerate(words):
        base = w.rsplit("/", 1)[-1]
        if base == "pulumi":
            return [("pulumi", words[k + 1 :])]
        if base in ("invoke", "inv"):
            return [("invoke", words[k + 1 :])]
        if w == "-m" and k + 1 < len(words) and words[k + 1].startswith(("ci.", "ops.")):
            return [(words[k + 1], words[k + 2 :])]
    return []


def stacks_named(tool: str, args: list[str]) -> list[str | None]:
    if tool == "pulumi":
        stacks = flag_values(args, ("--stack",), "s")
        command = pulumi_command(args)
        if command in ("stack select", "stack init", "stack rm", "stack rename"):
            sub = args.index(command.split()[1])
            stacks += [a for a in args[sub + 1 :] if not a.startswith("-")]
        if command == "config cp":
            stacks += flag_values(args, ("--dest",), "d")
        return stacks
    if tool == "invoke":
        return flag_values(args, ("--stack",), "s")
    # argparse: --stack, its unambiguous abbreviations (--st, --sta ...) and --stack=X
    return flag_values(args, tuple("--stack"[:n] for n in range(3, 8)), "")


def variables(wf: dict[str, Any], job: dict[str, Any], step: dict[str, Any]) -> dict[str, str]:
    """Environment a step's script sees from the workflow, job and step `env:` (the later wins)."""
    out: dict[str, str] = {}
    for level in (wf, job, step):
        out.update({str(k): str(v) for k, v in (level.get("env") or {}).items()})
    return out


def assigned_in_scripts(job: dict[str, Any], name: str) -> bool:
    """Whether any script of the job may set `name` (assignment, export, read, for, printf -v, declare,
    or a NAME= line written to $GITHUB_ENV): its `env:` binding then says nothing. Over-reports."""
    pattern = re.compile(
        rf"(?<![\w$]){re.escape(name)}(\[[^\]]*\])?\+?=|\b(read|mapfile|readarray)\b[^\n;|&]*\b{re.escape(name)}\b|\bfor\s+{re.escape(name)}\b|-v\s*{re.escape(name)}\b|\b(declare|typeset|local)\b"
    )
    return any(pattern.search(str(s.get("run", ""))) for s in job.get("steps", []))


def resolve(value: str, env: dict[str, str], job: dict[str, Any]) -> tuple[str | None, str]:
    """A stack argument with its `$VAR`/`${VAR}` taken from `env:`, or (None, why) when a variable is
    unbound or set by a script, or the value holds a command substitution or another expansion."""
    if SUBSTITUTION in value:
        return None, "a command substitution"
    why = []

    def sub(m: re.Match) -> str:
        name = m.group(1) or m.group(2)
        if name not in env:
            why.append(f"${name} is bound by no env:")
        elif assigned_in_scripts(job, name):
            why.append(f"a script of the job may set ${name}")
        return env.get(name, "")

    resolved = re.sub(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))", sub, value)
    if why:
        return None, why[0]
    if "$" in resolved.replace("${{", ""):
        return None, "a shell expansion"
    return resolved, ""


def stack_problems(where: str, wf: dict[str, Any], job: dict[str, Any], scope: Scope | None) -> list[str]:
    """Every pulumi invocation of the job, in a pulumi/actions step or anywhere in a `run:` script (and
    `invoke`/`python -m ci.*`/`ops.*` with --stack), names only the stacks its scope allows and, in a
    read-only scope, writes nothing. A stack the checks cannot resolve counts as another stack."""
    if scope is None:
        return []
    problems: list[str] = []
    allowed = (
        "pr<pull request number> (pr" + PR_NUMBER + ")"
        if scope.stacks == {PR_STACK}
        else ", ".join(sorted(scope.stacks or []))
    )

    def check(what: str, raw: str | None, env: dict[str, str]):
        if scope.stacks is None:
            return
        if raw is None:
            problems.append(f"{where}: runs {what} without a stack value")
            return
        resolved, why = resolve(raw, env, job)
        if resolved is None:
            problems.append(
                f"{where}: runs {what} on stack {raw}, which cannot be resolved ({why}); {scope.label} may "
                f"touch only {allowed}"
            )
        elif re.sub(r"\s+", " ", resolved) not in scope.stacks:
            problems.append(
                f"{where}: runs {what} on stack {raw}"
                + (f" (= {resolved})" if resolved != raw else "")
                + f"; {scope.label} may touch only {allowed}"
            )

    for step in job.get("steps", []):
        env = variables(wf, job, step)
        if "PULUMI_STACK" in env:
            check("pulumi (PULUMI_STACK)", env["PULUMI_STACK"], env)
        if "PULUMI_STACK" in str(step.get("run", "")):
            problems.append(
                f"{where}: a script sets or reads PULUMI_STACK, which chooses pulumi's stack out of sight of "
                "these checks"
            )
        if str(step.get("uses", "")).split("@")[0] == "pulumi/actions":
            with_ = step.get("with") or {}
            command = str(with_.get("command", ""))
            if command and not scope.writes and command != "preview":
                problems.append(
                    f"{where}: runs `pulumi {command}` (pulumi/actions) in {scope.label}, which may only preview"
                )
            if command:
                check(
                    f"`pulumi {command}` (pulumi/actions)",
                    str(with_["stack-name"]) if "stack-name" in with_ else None,
                    env,
                )
        for words in script_commands(where, step, problems):
            for tool, args in invocations(words):
                command = pulumi_command(args) if tool == "pulumi" else tool
                if (
                    tool == "pulumi"
                    and not scope.writes
                    and (command not in READ_ONLY_PULUMI or flag_values(args, ("--create",), "c"))
                ):
                    problems.append(f"{where}: runs `pulumi {command}` in {scope.label}, which may only read")
                tasks = sorted(PULUMI_TASKS & set(args)) if tool == "invoke" else []
                if tasks and not scope.writes:
                    problems.append(
                        f"{where}: runs `invoke {tasks[0]}` (a pulumi update) in {scope.label}, which may only read"
                    )
                label = {"pulumi": f"`pulumi {command}`", "invoke": f"`invoke {' '.join(args[:1])}`"}.get(
                    tool, f"`python -m {tool}`"
                )
                for value in stacks_named(tool, args):
                    check(label, value, env)
    return problems


def test_no_job_can_hand_a_credential_to_unreviewed_code():
    problems = [p for name, wf in workflows().items() for p in trust_problems(name, wf)]
    assert problems == []


def test_every_secret_the_workflows_use_is_a_known_deploy_or_preview_secret():
    used = {s for wf in workflows().values() for job in wf["jobs"].values() for s in secrets_of(job)}
    assert used == DEPLOY_SECRETS | PREVIEW_SECRETS | PR_ENV_SECRETS | {"DOKPLOY_KNOWN_HOSTS"}
    assert not any(secrets_of(job) for job in workflows()["engine.yml"]["jobs"].values())


def mutate(name: str, change) -> list[str]:
    wf = copy.deepcopy(workflows()[name])
    change(wf)
    return trust_problems(name, wf)


@pytest.mark.parametrize(
    ("name", "change", "expected"),
    [
        (
            "deploy.yml",
            lambda wf: wf[True].update(pull_request=None),
            "holds deploy secrets ['DOKPLOY_SSH_KEY', 'PULUMI_ACCESS_TOKEN', 'VAULT_DEPLOY_TOKEN'] in a "
            "workflow triggered by ['pull_request']",
        ),
        ("deploy.yml", lambda wf: wf["jobs"]["up-production"].pop("environment"), "without a literal environment"),
        (
            "deploy.yml",
            lambda wf: wf["jobs"]["up-production"].update(environment="${{ inputs.stack }}"),
            "without a literal environment",
        ),
        (
            "deploy.yml",
            lambda wf: wf["jobs"]["up-production"].update(environment="preview-production"),
            "outside a protected deploy environment (preview-production)",
        ),
        (
            "deploy.yml",
            lambda wf: wf["jobs"]["up-staging"].update({"if": "github.event_name == 'push'"}),
            "without `if: github.ref == 'refs/heads/main'`",
        ),
        ("pull-request.yml", lambda wf: wf["jobs"]["preview-staging"].pop("if"), "without the same-repository guard"),
        (
            "pull-request.yml",
            lambda wf: wf.update({True: {"pull_request_target": None}}),
            "pull_request_target/workflow_run",
        ),
        (
            "pull-request.yml",
            lambda wf: wf["jobs"]["preview-production"].update(environment="preview-staging"),
            "runs pulumi on production in environment preview-staging",
        ),
        (
            "pull-request.yml",
            lambda wf: wf["jobs"]["checks"]["steps"].append(
                {"run": "true", "env": {"K": "${{ secrets.DOKPLOY_SSH_KEY }}"}}
            ),
            "checks: uses ['DOKPLOY_SSH_KEY'] without a literal environment",
        ),
        (
            "pull-request.yml",
            lambda wf: wf["jobs"]["preview-staging"]["steps"].append(
                {"run": "true", "env": {"K": "${{ secrets.VAULT_DEPLOY_TOKEN }}"}}
            ),
            "holds deploy secrets ['VAULT_DEPLOY_TOKEN'] in a workflow triggered by ['pull_request']",
        ),
        # The main guard must hold for every run: a substring check passed each of these.
        (
            "deploy.yml",
            lambda wf: wf["jobs"]["up-staging"].update({"if": "github.ref == 'refs/heads/main' || always()"}),
            "up-staging: holds deploy secrets without `if: github.ref == 'refs/heads/main'`",
        ),
        (
            "deploy.yml",
            lambda wf: wf["jobs"]["up-production"].update({"if": "!cancelled() || github.ref == 'refs/heads/main'"}),
            "up-production: holds deploy secrets without `if: github.ref == 'refs/heads/main'`",
        ),
        (
            "deploy.yml",
            lambda wf: wf["jobs"]["up-staging"].update(
                {
                    "if": "(github.ref == 'refs/heads/main' || inputs.stack == 'staging') && github.event_name == "
                    "'workflow_dispatch'"
                }
            ),
            "does not require it of every run",
        ),
        (
            "deploy.yml",
            lambda wf: wf["jobs"]["up-staging"].update({"if": "always() && github.ref == 'refs/heads/main'"}),
            "calls ['always']",
        ),
        (
            "deploy.yml",
            lambda wf: wf["jobs"]["up-staging"].update(
                {"if": "${{ github.ref == 'refs/heads/main' }} && github.event_name == 'push'"}
            ),
            "GitHub evaluates the value as a string, which is always true",
        ),
        (
            "pull-request.yml",
            lambda wf: wf["jobs"]["preview-staging"].update(
                {
                    "if": "github.event.pull_request.head.repo.full_name == github.repository || github.actor == "
                    "'dependabot[bot]'"
                }
            ),
            "preview-staging: holds preview secrets on pull requests without the same-repository guard",
        ),
        # A deploy job runs main's own commit: no ref a dispatch input, a checkout `ref:` or git chooses.
        (
            "deploy.yml",
            lambda wf: (
                wf[True]["workflow_dispatch"]["inputs"].update(ref={"type": "string", "required": False}),
                steps_using(wf["jobs"]["up-staging"], "actions/checkout")[0]["with"].update(ref="${{ inputs.ref }}"),
            ),
            "up-staging: checks out ref ${{ inputs.ref }} in a job that holds credentials",
        ),
        (
            "deploy.yml",
            lambda wf: (
                wf[True]["workflow_dispatch"]["inputs"].update(ref={"type": "string", "required": False}),
                steps_using(wf["jobs"]["up-staging"], "actions/checkout")[0]["with"].update(ref="${{ inputs.ref }}"),
            ),
            "up-staging: a workflow_dispatch input or the raw event reaches a step of a job that holds "
            "credentials: ${{ inputs.ref }}",
        ),
        (
            "deploy.yml",
            lambda wf: steps_using(wf["jobs"]["up-production"], "actions/checkout")[0]["with"].update(
                ref="refs/heads/release"
            ),
            "up-production: checks out ref refs/heads/release",
        ),
        (
            "deploy.yml",
            lambda wf: steps_using(wf["jobs"]["up-production"], "pulumi/actions")[0]["with"].update(
                {"stack-name": "${{ inputs.stack }}"}
            ),
            "up-production: a workflow_dispatch input or the raw event reaches a step",
        ),
        (
            "deploy.yml",
            lambda wf: wf["jobs"]["up-staging"]["steps"].insert(
                1,
                {
                    "run": 'git fetch origin "$REF" && git checkout FETCH_HEAD',
                    "env": {"REF": "${{ github.event.inputs.ref }}"},
                },
            ),
            "up-staging: `git checkout` changes the checked-out code",
        ),
        (
            "deploy.yml",
            lambda wf: wf["jobs"]["up-staging"]["steps"].insert(
                1, {"run": 'git switch "$(jq -r .inputs.ref "$GITHUB_EVENT_PATH")"'}
            ),
            "up-staging: a script reads the raw event (GITHUB_EVENT_PATH)",
        ),
        # Every pulumi a job runs, in a script too, names its own stack only; pull-request jobs write nothing.
        (
            "deploy.yml",
            lambda wf: wf["jobs"]["up-staging"]["steps"].append({"run": "pulumi destroy --yes -s production"}),
            "up-staging: runs `pulumi destroy` on stack production; the staging deploy job may touch only staging",
        ),
        (
            "deploy.yml",
            lambda wf: wf["jobs"]["up-production"]["steps"].append(
                {"run": "uv run invoke rotate --stack=staging --what postgres-password --yes"}
            ),
            "up-production: runs `invoke rotate` on stack staging; the production deploy job may touch only production",
        ),
        (
            "deploy.yml",
            lambda wf: wf["jobs"]["up-staging"]["steps"].append(
                {"run": "pulumi refresh --yes", "env": {"PULUMI_STACK": "production"}}
            ),
            "up-staging: runs pulumi (PULUMI_STACK) on stack production",
        ),
        (
            "pull-request.yml",
            lambda wf: wf["jobs"]["checks"]["steps"].append({"run": "pulumi up --yes --stack staging"}),
            "checks: runs `pulumi up` in a pull-request job without a deploy environment, which may only read",
        ),
        (
            "pull-request.yml",
            lambda wf: wf["jobs"]["checks"]["steps"].append({"run": "uv run invoke rollback --stack staging --yes"}),
            "checks: runs `invoke rollback` (a pulumi update) in a pull-request job",
        ),
        (
            "pull-request.yml",
            lambda wf: wf["jobs"]["preview-staging"]["steps"].append({"run": "pulumi destroy --yes --stack staging"}),
            "preview-staging: runs `pulumi destroy` in the preview-staging job, which may only read",
        ),
        (
            "pull-request.yml",
            lambda wf: steps_using(wf["jobs"]["preview-production"], "pulumi/actions")[0]["with"].update(command="up"),
            "preview-production: runs `pulumi up` (pulumi/actions) in the preview-production job, which may "
            "only preview",
        ),
        (
            "pull-request.yml",
            lambda wf: wf["jobs"]["preview-staging"]["steps"].append({"run": "uv run invoke up --stack staging --yes"}),
            "preview-staging: runs `invoke up` (a pulumi update) in the preview-staging job, which may only read",
        ),
        (
            "pull-request.yml",
            lambda wf: wf["jobs"]["checks"]["steps"].append({"run": "uv run invoke preview --stack production"}),
            "checks: runs pulumi on production in environment None, which requires no reviewer",
        ),
        (
            "deploy.yml",
            lambda wf: wf["jobs"]["up-staging"]["steps"][-1].update(run="uv run invoke up --stack production --yes"),
            "up-staging: runs `invoke up` on stack production; the staging deploy job may touch only staging",
        ),
        (
            "pull-request.yml",
            lambda wf: wf["jobs"]["preview-staging"]["steps"].append(
                {"run": "uv run python -m ci.preview_config --sta production"}
            ),
            "preview-staging: runs `python -m ci.preview_config` on stack production; the preview-staging "
            "job may touch only staging",
        ),
    ],
)
def test_a_workflow_that_exposes_a_credential_is_caught(name, change, expected):
    problems = mutate(name, change)
    assert any(expected in p for p in problems), problems


@pytest.mark.parametrize(
    ("condition", "required"),
    [
        ("github.ref == 'refs/heads/main'", True),
        ("${{ github.ref == 'refs/heads/main' }}", True),
        ("'refs/heads/main' == github.ref && (github.event_name == 'push' || inputs.stack == 'staging')", True),
        ("(github.event_name == 'push' && (github.ref == 'refs/heads/main')) && success()", True),
        ("github.ref == 'refs/heads/main' || always()", False),
        ("github.ref == 'refs/heads/main' || github.event_name == 'push'", False),
        ("!(github.ref == 'refs/heads/main')", False),
        ("github.ref != 'refs/heads/main'", False),
        ("github.ref == 'refs/heads/main' && !cancelled()", False),
        ("contains(github.ref, 'refs/heads/main')", False),
        ("github.ref == 'refs/heads/main' && (", False),
        ("${{ github.ref == 'refs/heads/main' }} || ${{ false }}", False),
        (True, False),
    ],
)
def test_the_main_guard_counts_only_when_every_run_must_meet_it(condition, required):
    assert (guard_problem(condition, MAIN_GUARD_NODE) is None) is required, guard_problem(condition, MAIN_GUARD_NODE)


def test_the_script_reader_finds_commands_wherever_bash_would_run_them():
    script = (
        'x="$(pulumi whoami)"; echo `pulumi version` | tee f # pulumi up (a comment)\nbash -ec "pulumi destroy '
        '-s \\"staging\\"" && eval pulumi stack rm pr1 \\\n  --yes\npulumi up --stack pr${{ '
        "github.event.pull_request.number }} 2>&1"
    )
    assert sorted(" ".join(c) for c in shell_commands(script) if c[0] == "pulumi") == [
        "pulumi destroy -s staging",
        "pulumi stack rm pr1 --yes",
        "pulumi up --stack pr${{ github.event.pull_request.number }}",
        "pulumi version",
        "pulumi whoami",
    ]


def test_production_runs_only_in_environments_that_require_a_reviewer():
    jobs = {f"{n}:{j}": job for n, wf in workflows().items() for j, job in wf["jobs"].items()}
    production = {k for k, job in jobs.items() if "production" in engine_stacks(job)}
    assert production == {"pull-request.yml:preview-production", "deploy.yml:up-production"}
    assert (
        jobs["deploy.yml:up-production"]["if"]
        == f"{MAIN_GUARD} && (github.event_name == 'schedule' || github.event_name == 'workflow_dispatch' && "
        "inputs.stack == 'production')"
    )


def test_a_weekly_deploy_of_main_renews_every_secret_id_before_it_can_expire():
    """Secret-ids expire (secretIdTtlDays, at least 12) and a deploy in a new renewal window (a third of
    the TTL) re-mints them; one minted in window k lives to the end of window k+2, so a deploy at least
    every two thirds of the shortest TTL (8 days) renews each in time. The schedule runs on main only
    (GitHub runs scheduled workflows on the default branch), both stacks; production's still waits for
    its reviewer."""
    from render.vault_artifacts import SECRET_ID_TTL_MIN_DAYS

    wf = workflows()["deploy.yml"]
    assert "schedule" in triggers(wf)
    on = wf.get("on", wf.get(True))
    (entry,) = on["schedule"]
    minute, hour, day, month, weekday = entry["cron"].split()
    assert day == "*" and month == "*" and weekday.isdigit() and minute.isdigit() and hour.isdigit(), "weekly"
    assert SECRET_ID_TTL_MIN_DAYS * 2 / 3 > 7
    for job in ("up-staging", "up-production"):
        condition = wf["jobs"][job]["if"]
        assert condition.startswith(f"{MAIN_GUARD} && (") and "github.event_name == 'schedule'" in condition, job


# ------------------------------------------------------------------------------------------ hygiene


def zizmor(*paths: str) -> subprocess.CompletedProcess:
    binary = shutil.which("zizmor", path=str(Path(sys.executable).parent)) or shutil.which("zizmor")
    assert binary, "zizmor is a dev dependency and must be installed"
    return subprocess.run(
        [binary, "--offline", "--format", "json", *paths], capture_output=True, text=True, cwd=ROOT, timeout=120
    )


def test_zizmor_finds_nothing_in_the_workflows():
    proc = zizmor(".github/workflows/")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(proc.stdout) == []
    for name in workflows():
        assert f"completed .github/workflows/{name}" in proc.stderr, f"zizmor did not audit {name}: {proc.stderr}"


def test_zizmor_reports_a_workflow_known_to_be_bad(tmp_path):
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text(
        "on: pull_request_target\njobs:\n  x:\n    runs-on: ubuntu-24.04\n    steps:\n      - uses: "
        'actions/checkout@v5\n      - run: echo "${{ github.event.pull_request.title }}"\n'
    )
    proc = zizmor(str(bad))
    assert proc.returncode != 0
    assert {"unpinned-uses", "artipacked", "dangerous-triggers", "template-injection"} <= {
        f["ident"] for f in json.loads(proc.stdout)
    }


def uses_lines() -> Iterable[tuple[str, str]]:
    for path in sorted(WORKFLOWS.glob("*.yml")):
        for line in path.read_text().splitlines():
            if re.match(r"^\s*(-\s+)?uses:", line):
                yield path.name, line


def test_every_action_is_pinned_to_a_full_commit_sha_with_its_tag_in_a_comment():
    lines = list(uses_lines())
    assert len(lines) >= 10
    for name, line in lines:
        m = PIN.match(line)
        assert (
            m and re.fullmatch(r"[0-9a-f]{40}", m["ref"]) and m["tag"] and re.fullmatch(r"v\d+(\.\d+){1,2}", m["tag"])
        ), f"{name}: {line.strip()}"


def test_one_action_is_pinned_to_one_commit_everywhere():
    pins: dict[str, set[tuple[str, str]]] = {}
    for _, line in uses_lines():
        m = PIN.match(line)
        pins.setdefault(m["action"], set()).add((m["ref"], m["tag"]))
    assert all(len(v) == 1 for v in pins.values()), pins


ALLOWED_WRITES = {
    ("pull-request.yml", "preview-staging", "pull-requests"),
    ("pull-request.yml", "preview-production", "pull-requests"),
}


def test_permissions_are_empty_by_default_and_minimal_per_job():
    for name, wf in workflows().items():
        assert wf["permissions"] == {}, name
        for job_name, job in wf["jobs"].items():
            perms = job.get("permissions")
            assert isinstance(perms, dict) and perms.get("contents") == "read", f"{name}:{job_name}"
            writes = {(name, job_name, scope) for scope, level in perms.items() if level != "read"}
            assert writes <= ALLOWED_WRITES, writes


def test_every_job_has_a_timeout_and_no_checkout_keeps_credentials():
    for name, wf in workflows().items():
        for job_name, job in wf["jobs"].items():
            assert 0 < job.get("timeout-minutes", 0) <= 60, f"{name}:{job_name}"
            checkouts = steps_using(job, "actions/checkout")
            assert checkouts, f"{name}:{job_name}"
            for step in checkouts:
                assert step.get("with", {}).get("persist-credentials") is False, f"{name}:{job_name}"


# ------------------------------------------------------------------------------------------ deploy path


def locked_pulumi_version() -> str:
    lock = (ROOT / "uv.lock").read_text()
    return re.search(r'\[\[package\]\]\nname = "pulumi"\nversion = "([^"]+)"', lock).group(1)


def test_every_pulumi_cli_is_pinned_to_the_locked_sdk_version():
    uses = [s for wf in workflows().values() for job in wf["jobs"].values() for s in steps_using(job, "pulumi/actions")]
    assert len(uses) == 8
    assert {str(s["with"]["pulumi-version"]) for s in uses} == {locked_pulumi_version()}


def test_every_job_that_runs_the_engine_installs_the_pinned_cli_first():
    """`invoke preview|up` run the CLI on PATH: a job installs the pinned one (pulumi/actions without a
    command) before, under the same condition."""
    seen = 0
    for name, wf in workflows().items():
        for job_name, job in wf["jobs"].items():
            steps = job["steps"]
            for step, what, _ in engine_steps(job):
                if not what.startswith("invoke"):
                    continue
                seen += 1
                installs = [
                    s
                    for s in steps[: steps.index(step)]
                    if s in steps_using(job, "pulumi/actions") and "command" not in s["with"]
                ]
                assert installs and installs[0].get("if") in (None, step.get("if")), f"{name}:{job_name}"
    assert seen == 5  # two deploys, two previews, the preview env's up


def test_the_policy_pack_venv_is_installed_before_every_policy_run():
    for name, wf in workflows().items():
        for job_name, job in wf["jobs"].items():
            steps = job["steps"]
            for i, step in enumerate(steps):
                if str(step.get("uses", "")).startswith("pulumi/actions@") and step["with"].get("policyPacks"):
                    before = "\n".join(str(s.get("run", "")) for s in steps[:i])
                    assert "uv venv policies/venv" in before and "-r policies/requirements.txt" in before, (
                        f"{name}:{job_name}"
                    )


def test_every_preview_and_up_goes_through_invoke_which_always_passes_the_policy_pack():
    """One way to deploy: `invoke preview|up` make the policy venv and always pass the pack with the config
    derived from the stack file (tests/unit/test_deploy.py). A `pulumi preview|up` of its own, in a script
    or a pulumi/actions step, could leave the pack out."""
    engine_runs = []
    for name, wf in workflows().items():
        if name == "engine.yml":
            continue  # the engine tests drive their own throwaway stacks, no deploy
        for job_name, job in wf["jobs"].items():
            for _step, what, stack in engine_steps(job):
                assert what not in ("pulumi preview", "pulumi up"), f"{name}:{job_name} runs {what} itself"
                if what.startswith("invoke "):
                    engine_runs.append((name, job_name, what, stack))
            for step in job["steps"]:
                for words in shell_commands(str(step.get("run", ""))):
                    for tool, args in invocations(words):
                        command = pulumi_command(args) if tool == "pulumi" else ""
                        assert command not in ("preview", "up"), f"{name}:{job_name}: `pulumi {command}` in a script"
    assert sorted(engine_runs) == [
        ("deploy.yml", "up-production", "invoke up", "production"),
        ("deploy.yml", "up-staging", "invoke up", "staging"),
        ("preview-env.yml", "deploy", "invoke up", "pr$PR"),
        ("pull-request.yml", "preview-production", "invoke preview", "production"),
        ("pull-request.yml", "preview-staging", "invoke preview", "staging"),
    ]


def test_every_up_is_gated_by_the_strict_plan_runs_status_and_has_its_own_concurrency_group():
    """`invoke up` runs `invoke status` after a successful update (tests/unit/test_deploy.py); the strict
    offline plan (every policy, every required value set) comes before it."""
    jobs = workflows()["deploy.yml"]["jobs"]
    groups = set()
    for job_name, job in jobs.items():
        steps = job["steps"]
        ((up, what, stack),) = engine_steps(job)
        assert what == "invoke up" and up["run"] == f"uv run invoke up --stack {stack} --yes", job_name
        assert set(up["env"]) == {"PULUMI_ACCESS_TOKEN", "VAULT_TOKEN"}
        plan = [s for s in steps if s.get("run") == f"uv run invoke plan --stack {stack} --strict"]
        assert plan and steps.index(plan[0]) < steps.index(up), job_name
        assert up is steps[-1], "nothing after the up and its status can hide their failure"
        assert job["environment"] == stack and job["concurrency"] == {
            "group": f"pulumi-up-{stack}",
            "cancel-in-progress": False,
        }
        groups.add(job["concurrency"]["group"])
    assert groups == {"pulumi-up-staging", "pulumi-up-production"}


PREVIEW_ON = "steps.preview-config.outputs.preview == 'true'"


def preview_config_step(job: dict[str, Any]) -> dict[str, Any]:
    (step,) = [s for s in job["steps"] if s.get("id") == "preview-config"]
    return step


def test_previews_run_with_the_read_only_connection_of_their_stack():
    jobs = workflows()["pull-request.yml"]["jobs"]
    for stack in ("staging", "production"):
        job = jobs[f"preview-{stack}"]
        config = preview_config_step(job)
        assert config["run"] == f'uv run python -m ci.preview_config --stack {stack} --github-output "$GITHUB_OUTPUT"'
        ((preview, what, named),) = engine_steps(job)
        assert what == "invoke preview" and named == stack
        assert preview["run"] == f'uv run invoke preview --stack {stack} --config-map "$CONFIG_MAP"'
        assert preview["env"] == {
            "CONFIG_MAP": "${{ steps.preview-config.outputs.config-map }}",
            "PULUMI_ACCESS_TOKEN": "${{ secrets.PULUMI_PREVIEW_TOKEN }}",
            "VAULT_TOKEN": "${{ secrets.VAULT_PREVIEW_TOKEN }}",
        }
        (agent,) = steps_using(job, "webfactory/ssh-agent")
        assert agent["with"]["ssh-private-key"] == "${{ secrets.DOKPLOY_PREVIEW_SSH_KEY }}"
        # Without a read-only path (preview=false) no step that uses a credential runs: each comes after
        # the config step and runs only when it said preview=true.
        index = job["steps"].index(config)
        for i, step in enumerate(job["steps"]):
            if secrets_of(step):
                assert i > index and step.get("if") == PREVIEW_ON, (stack, step)


def run_step(script: str, tmp_path: Path) -> tuple[int, str]:
    """A step's script as GitHub's runner runs a `run:` without `shell:` (`bash -e {0}`), from the
    repository root, with `uv run python` as this interpreter: (exit code, what it wrote to $GITHUB_OUTPUT)."""
    output = tmp_path / "github_output"
    output.write_text("")
    path = tmp_path / "step.sh"
    path.write_text(script.replace("uv run python", shlex.quote(sys.executable)))
    proc = subprocess.run(
        ["bash", "-e", str(path)],
        cwd=ROOT,
        env={**os.environ, "GITHUB_OUTPUT": str(output)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    return proc.returncode, output.read_text()


def hides_a_failure(script: str, stack: str, tmp_path: Path) -> str | None:
    """The config step run for a stack file that does not exist (the tool exits 2): None when the step
    fails too and writes no output, else what it did."""
    broken = script.replace(f"--stack {stack}", "--stack no-such-stack")
    assert broken != script
    code, written = run_step(broken, tmp_path)
    return (
        None
        if code != 0 and written == ""
        else f"the step exits {code} and writes {written!r} although the tool failed"
    )


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_the_preview_config_step_fails_when_the_tool_fails_and_says_no_preview_without_the_proxy(stack, tmp_path):
    from ci.preview_config import github_outputs, load

    script = preview_config_step(workflows()["pull-request.yml"]["jobs"][f"preview-{stack}"])["run"]
    assert hides_a_failure(script, stack, tmp_path) is None
    code, written = run_step(script, tmp_path)
    assert code == 0 and written == github_outputs(load(stack))
    if not load(stack).preview_docker_proxy:  # the committed stacks today: an explicit "no preview"
        assert written == "preview=false\n"


@pytest.mark.parametrize(
    ("script", "hides"),
    [
        # as the workflow had it: the command substitution's exit status is lost in echo's
        ('echo "config-map=$(uv run python -m ci.preview_config --stack staging)" >> "$GITHUB_OUTPUT"', True),
        (
            'map="$(uv run python -m ci.preview_config --stack staging)"; echo "config-map=$map" >> "$GITHUB_OUTPUT"',
            False,
        ),
        ('uv run python -m ci.preview_config --stack staging | tee -a "$GITHUB_OUTPUT"', True),
    ],
)
def test_a_config_step_that_hides_the_tools_failure_is_caught(script, hides, tmp_path):
    assert (hides_a_failure(script, "staging", tmp_path) is not None) is hides


def test_the_engine_workflow_runs_the_engine_tests_on_a_runner_with_traefik_and_openbao():
    wf = workflows()["engine.yml"]
    assert triggers(wf) == {"workflow_dispatch", "schedule"}
    (job,) = wf["jobs"].values()
    runs = "\n".join(str(s.get("run", "")) for s in job["steps"])
    assert "docker network create dokploy-network" in runs
    traefik = re.search(r"\btraefik:(\S+)", runs)
    assert traefik and re.fullmatch(r"v\d+\.\d+\.\d+", traefik.group(1)), "a pinned Traefik release"
    assert "--network dokploy-network" in runs and "server -dev" in runs and "auth enable approle" in runs
    for variable in ("VAULT_ADDR", "VAULT_TOKEN", "FR_ENGINE_DOCKER_HOST", "FR_ENGINE_IMAGE_TAG"):
        assert f"{variable}=" in runs, variable
    assert "uv run pytest tests/engine" in runs
    (install,) = steps_using(job, "pulumi/actions")
    assert "command" not in install["with"]  # install only: the tests drive the engine
