"""One stack as the operator tools see it: its stack file read as the Pulumi CLI reads it, its config
validated by the program's own rules, and the program's plan under mocks on demand.

Every command starts here, so they agree on what a stack is and report bad input the same way: one line,
exit 2 (ops/command.py). The stack is `--stack`, else `PULUMI_STACK`, else the one `pulumi stack select`
chose (as the Pulumi CLI resolves it: pulumi/pulumi pkg/backend/state/stacks.go, getCurrentStackName); a
missing one is named with the stacks that exist.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clients.docker_api import docker_host_problem
from config.errors import show_value
from config.schema import FIELDS, FIELDS_BY_KEY, Text
from config.stack_config import ENV_EXPECTED, StackConfig, load_config
from config.stack_file import read_stack_file
from config.values import ENV_RE
from facts.envs import is_pr_env, looks_like_pr_env
from facts.project import PROJECT
from ops.command import bad_input
from ops.program_run import ROOT, ProgramRun, run_program, with_missing_secrets

PREFIX = f"{PROJECT}:"


def stack_names(root: Path = ROOT) -> list[str]:
    """The stacks that have a stack file here (Pulumi.<stack>.yaml), committed ones and generated PR envs."""
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in root.glob("Pulumi.*.yaml"))


def committed_stacks(root: Path = ROOT) -> list[str]:
    """The stack files in the project, PR environments excluded (generated per pull request)."""
    return [s for s in stack_names(root) if not is_pr_env(s)]


def selected_stack(cwd: Path = ROOT) -> str:
    """The stack `pulumi stack select` chose for this project, or "" (no CLI, not logged in, none selected)."""
    if shutil.which("pulumi") is None:
        return ""
    try:
        done = subprocess.run(
            ["pulumi", "stack", "--show-name", "--non-interactive"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=30,
            env={**os.environ, "PULUMI_SKIP_UPDATE_CHECK": "true"},
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip().rsplit("/", 1)[-1] if done.returncode == 0 else ""


def resolve_stack(
    stack: str | None,
    environ: Mapping[str, str] = os.environ,
    selected: Callable[[], str] = selected_stack,
    root: Path = ROOT,
) -> str:
    """The stack a command works on: --stack, else PULUMI_STACK, else the selected stack."""
    name = stack or environ.get("PULUMI_STACK", "").rsplit("/", 1)[-1] or selected()
    if not name:
        raise bad_input(
            f"--stack is required (or PULUMI_STACK, or `pulumi stack select`): one of "
            f"{', '.join(committed_stacks(root))}"
        )
    return name


def stack_file(
    stack: str, config_file: str | Path | None = None, root: Path = ROOT, takes_config_file: bool = True
) -> Path:
    """The stack's file: --config-file, else Pulumi.<stack>.yaml, which must exist. `takes_config_file`:
    whether the command has --config-file to offer (those that drive the CLI read the project's file)."""
    if config_file:
        return Path(config_file)
    path = root / f"Pulumi.{stack}.yaml"
    if not path.exists() and not ENV_RE.match(stack):
        # new-stack refuses such a name, so it must not be offered
        raise bad_input(
            f"no stack file Pulumi.{stack}.yaml, and {stack} cannot be a stack's name: expected {ENV_EXPECTED}"
        )
    if not path.exists() and looks_like_pr_env(stack) and not is_pr_env(stack):
        # new-stack refuses such a name, so it must not be offered
        example = f"pr{int(stack[2:])}" if stack[2:].isdigit() and int(stack[2:]) > 0 else "pr42"
        raise bad_input(
            f"no stack file Pulumi.{stack}.yaml, and {stack} cannot be a stack's name: pr then a digit is reserved "
            "for PR environments, pr<N> with N a pull-request number without leading zero (`uv run invoke pr-env "
            f"--pr {example[2:]}` writes {example}'s)"
        )
    if not path.exists():
        hint = (
            f"`uv run invoke pr-env --pr {stack[2:]}` writes a PR environment's"
            if is_pr_env(stack)
            else f"`uv run invoke new-stack {stack}` writes one"
        )
        raise bad_input(
            f"no stack file Pulumi.{stack}.yaml: the stacks here are {', '.join(committed_stacks(root))}; {hint}"
            + (", or pass --config-file PATH" if takes_config_file else "")
        )
    return path


@dataclass
class StackContext:
    stack: str
    config: StackConfig
    engine_config: dict[str, str]
    """`namespace:key` -> value as the engine passes it (secrets replaced by generated placeholders)."""
    secret_keys: list[str]
    configured: set[str]
    """Keys (without the project prefix) the stack file itself sets."""

    @property
    def unset_required(self) -> list[str]:
        """Required secrets the stack file leaves to `pulumi config set --secret`: the tools plan with
        placeholders for them, `pulumi up` stops on them (config/schema.py)."""
        return unset_required(self.configured)

    def plan(self, **kwargs: Any) -> ProgramRun:
        """The program under mocks for this stack (run_program's keyword arguments: state, seed, ...)."""
        run = run_program(self.stack, self.engine_config, self.secret_keys, **kwargs)
        if run.error is not None:
            raise run.error  # a ConfigError is bad input (exit 2); anything else a crash (exit 3)
        return run


def unset_required(configured: set[str]) -> list[str]:
    """The required keys (in FIELDS order) a stack file that sets `configured` lacks. Only secrets can be:
    a missing required plain value is already bad input (config/schema.read_field)."""
    return [f.key for f in FIELDS if f.required and f.key not in configured]


def load_stack(stack: str, config_file: str | Path | None = None) -> StackContext:
    """The stack's file read and its config validated (errors: one line, exit 2)."""
    config, secret_keys = read_stack_file(stack_file(stack, config_file))
    configured = {k[len(PREFIX) :] for k in config if k.startswith(PREFIX)}
    config, secret_keys = with_missing_secrets(config, secret_keys)  # the tools read no secret
    raw = {k[len(PREFIX) :]: v for k, v in config.items() if k.startswith(PREFIX)}
    cfg = load_config(raw, stack, frozenset(k[len(PREFIX) :] for k in secret_keys if k.startswith(PREFIX)))
    return StackContext(stack, cfg, config, secret_keys, configured)


def docker_host_override(value: str | None) -> str | None:
    """A `--docker-host` flag: None when not given; else a host the Docker client can reach (the flag also
    takes a local unix socket, which the stack file's dockerHost does not), or bad input."""
    if value is None:
        return None
    if not docker_host_problem(value):
        return value
    raise bad_input(f"--docker-host = {show_value(value)} is invalid: expected unix:///path or ssh://user@host[:port]")


def vault_address_override(value: str | None) -> str | None:
    """A `--vault-address` flag: None when not given; else checked as the stack file's vaultAddress is
    (an empty one too: it would silently mean the stack's)."""
    if value is None:
        return None
    check = FIELDS_BY_KEY["vaultAddress"].check
    assert isinstance(check, Text)
    for valid, expected in check.rules:
        if not value or not valid(value):
            raise bad_input(f"--vault-address = {show_value(value)} is invalid: expected {expected}")
    return value
