"""`uv run invoke preview --stack S` and `uv run invoke up --stack S`: the one way to run the real engine
on a stack, by hand and in the workflows (Kamal's `deploy` in spirit).

Each resolves the stack (--stack, else PULUMI_STACK, else `pulumi stack select`'s), reads and validates
its stack file as every command does, creates the policy pack's venv or reuses it
(ops/pulumi_cli.ensure_policy_venv), derives the pack's config from the stack file (ops/policy_pack.py)
into a temporary file, prints the pulumi command line and runs it with the policy pack always on. After a
successful `up` it runs `invoke status` for the stack: the exit code is then status's.

`up` without --yes asks as `pulumi up` does: on a terminal pulumi itself shows the preview and asks; with
standard input not a terminal this command asks first (a closed one is "not confirmed", one line, exit 1)
and then passes --yes. `--config-map` (CI's read-only preview connection, ci/preview_config.py) passes
each value as `pulumi preview --config`; the CLI saves those into the stack file, which is restored
afterwards, so the file never keeps them.

Exit codes (ops/command.py): 0 done (and, for up, every service healthy); 1 pulumi failed, status found a
problem, not confirmed, or this machine lacks the CLI or cannot make the venv; 2 bad input.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from facts.project import PROJECT
from ops import policy_pack, pulumi_cli
from ops.command import OperatorError, bad_input, confirm, run_task
from ops.program_run import ROOT
from ops.stack_context import load_stack, resolve_stack, stack_file
from ops.status import main as status_main

COMMANDS = ("preview", "up")
Runner = Callable[[Sequence[str]], int]


def run_pulumi(argv: Sequence[str]) -> int:
    # The engine's own output goes to the terminal: it masks secret values.
    env = {**os.environ, "PULUMI_SKIP_UPDATE_CHECK": "true"}
    return subprocess.run(list(argv), cwd=ROOT, env=env, check=False).returncode


def config_overrides(config_map: str | None) -> list[tuple[str, str]]:
    """pulumi/actions' `config-map` JSON ({"<project>:<key>": {"value": ..., "secret": false}}) as
    (key, value) pairs. A secret is refused: it would sit on the command line."""
    if not config_map:
        return []
    try:
        document = json.loads(config_map)
    except json.JSONDecodeError as err:
        raise bad_input(f"--config-map is not JSON ({err.msg}); expected the object ci.preview_config prints") from None
    if not isinstance(document, dict):
        raise bad_input('--config-map: expected a JSON object {"<project>:<key>": {"value": ..., "secret": false}}')
    pairs = []
    for key, entry in document.items():
        if not key.startswith(f"{PROJECT}:") or not isinstance(entry, dict) or "value" not in entry:
            raise bad_input(f'--config-map: {key} = {str(entry)[:60]}; expected {PROJECT}:<key> with {{"value": ...}}')
        if entry.get("secret"):
            raise bad_input(f"--config-map: {key} is marked secret; a secret never goes on a command line")
        pairs.append((key, str(entry["value"]).lower() if isinstance(entry["value"], bool) else str(entry["value"])))
    return pairs


def pulumi_argv(
    command: str,
    stack: str,
    policy_config: Path | str,
    overrides: Sequence[tuple[str, str]] = (),
    yes: bool = False,
    message: str | None = None,
) -> list[str]:
    argv = [
        "pulumi",
        command,
        "--stack",
        stack,
        "--policy-pack",
        "policies",
        "--policy-pack-config",
        str(policy_config),
    ]
    for key, value in overrides:
        argv += ["--config", f"{key}={value}"]
    if message:
        argv += ["--message", message]
    if yes:
        argv.append("--yes")
    return argv


def deploy(
    command: str,
    stack: str = "",
    yes: bool = False,
    config_map: str | None = None,
    *,
    runner: Runner = run_pulumi,
    status: Callable[[str], int] | None = None,
    read: Callable[[str], str] = input,
    interactive: Callable[[], bool] = lambda: sys.stdin.isatty(),
    out: TextIO | None = None,
    root: Path = ROOT,
) -> int:
    out = out or sys.stdout
    if command not in COMMANDS:
        raise bad_input(f"command = {command!r}; expected one of {', '.join(COMMANDS)}")
    stack = resolve_stack(stack, root=root)
    path = stack_file(stack, root=root, takes_config_file=False)  # the CLI reads the project's own file
    context = load_stack(stack, path)
    overrides = config_overrides(config_map)
    missing = pulumi_cli.missing_cli(f"`invoke {command}` runs `pulumi {command}` with the policy pack")
    if missing is not None:
        raise OperatorError(missing)
    pack_config = policy_pack.derived(context, root)
    if command == "up" and not yes and not interactive():
        confirm(f"Update stack {stack} (pulumi up)?", yes, read)
        yes = True  # answered here: pulumi would refuse to ask without a terminal
    for key in context.unset_required:
        print(f"{command}: warning: {key} is not set; `pulumi config set --secret --stack {stack} {key}`", file=out)
    pulumi_cli.ensure_policy_venv(root, say=lambda line: print(line, file=out, flush=True))
    original = path.read_bytes()
    try:
        with policy_pack.config_file(pack_config, stack) as policy_config:
            argv = pulumi_argv(command, stack, policy_config, overrides, yes=yes and command == "up")
            print(f"{command}: {shlex.join(argv)}", file=out, flush=True)
            code = runner(argv)
    finally:
        if overrides and path.read_bytes() != original:
            path.write_bytes(original)  # `--config` values are saved by the CLI; the file keeps none
    if code < 0:  # killed by a signal: the CLI itself broke, and may have printed nothing
        raise OperatorError(
            f"`pulumi {command} --stack {stack}` was killed by signal {signal.Signals(-code).name}: if nothing else "
            "killed it, the Pulumi CLI on PATH is broken; reinstall it (README Prerequisites: the version the "
            "workflows pin)"
        )
    if code != 0:
        raise OperatorError(f"`pulumi {command} --stack {stack}` exited {code}; its output above says why")
    if command == "up":
        print(f"up: stack {stack} updated; `invoke status --stack {stack}`:", file=out, flush=True)
        return (status or status_main)(stack)
    return 0


def main(command: str, *args: Any, **kwargs: Any) -> int:
    """`uv run invoke preview|up` as a command."""
    return run_task(command, deploy, command, *args, **kwargs)
