"""The policy pack as the operator commands hand it to the engine: its config derived from the stack file
(config/policy_config.py), or a given file checked against the stack.

`uv run invoke policy-config --stack S` prints the derived config, for a hand-run
`pulumi preview --policy-pack policies --policy-pack-config FILE`.
"""

from __future__ import annotations

import contextlib
import json
import sys
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from config.policy_config import identity_mismatch, policy_config
from ops.command import bad_input, run_task
from ops.program_run import ROOT
from ops.stack_context import StackContext, committed_stacks, load_stack, resolve_stack

SETTINGS = Path("policies") / "settings.json"


def read_json_object(path: Path, what: str = "policy config") -> dict[str, Any]:
    """A JSON object from `path`; bad input (one line) when it cannot be read or is not one."""
    try:
        document = json.loads(Path(path).read_text())
    except OSError as err:
        raise bad_input(f"cannot read {what} {path}: {err.strerror}") from None
    except json.JSONDecodeError as err:
        raise bad_input(f"{what} {path} is not valid JSON: {err.msg} at line {err.lineno}") from None
    if not isinstance(document, dict):
        raise bad_input(f"{what} {path}: expected a JSON object keyed by policy name")
    return document


def derived(context: StackContext, root: Path = ROOT) -> dict[str, Any]:
    """The pack config of the stack: policies/settings.json plus what the stack file decides."""
    settings = read_json_object(root / SETTINGS, "policy settings")
    return policy_config(context.config, committed_stacks(root), settings)


def given_or_derived(
    context: StackContext, given: Path | None = None, root: Path = ROOT
) -> tuple[dict[str, Any], Path]:
    """(pack config, the path that names it in errors): the derived one, or `given` when it states the
    same env and domain as the stack (else bad input naming both)."""
    if given is None:
        return derived(context, root), root / SETTINGS
    document = read_json_object(given)
    mismatch = identity_mismatch(document, derived(context, root))
    if mismatch is not None:
        key, theirs, ours = mismatch
        raise bad_input(
            f"policy config {given} is for {key} {theirs}, but stack {context.stack} has {key} {ours}: leave out "
            "--policy-config (the config is derived from the stack file) or give this stack's"
        )
    return document, given


@contextlib.contextmanager
def config_file(pack_config: Mapping[str, Any], stack: str) -> Iterator[Path]:
    """The pack config written to a private temporary file for the engine, removed afterwards: no copy
    of it stays to drift from the stack file."""
    with tempfile.TemporaryDirectory(prefix="finance-report-policy-") as directory:
        path = Path(directory) / f"policy-config.{stack}.json"
        path.write_text(json.dumps(pack_config, indent=2, sort_keys=True) + "\n")
        yield path


def show(stack: str, config_file: str | None = None, out=None) -> int:
    context = load_stack(resolve_stack(stack), config_file)
    print(json.dumps(derived(context), indent=2, sort_keys=True), file=out or sys.stdout)
    return 0


def main(*args: Any, **kwargs: Any) -> int:
    """`uv run invoke policy-config` as a command."""
    return run_task("policy-config", show, *args, **kwargs)
