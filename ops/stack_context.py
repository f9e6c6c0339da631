"""One stack as the operator tools see it: its stack file read as the Pulumi CLI reads it, its config
validated by the program's own rules, and the program's plan under mocks on demand.

Every tool (status, doctor, adopt, logs, rotate, the memory budget) starts here, so they agree on what a
stack is and report bad input the same way: `StackInputError`, one line, exit 2.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from config.errors import ConfigError
from config.stack_config import StackConfig, load_config
from config.stack_file import StackFileError, read_stack_file
from facts.project import PROJECT
from ops.program_run import ROOT, ProgramRun, run_program, with_missing_secrets

PREFIX = f"{PROJECT}:"


class StackInputError(Exception):
    """A stack file or config the program refuses: one line, exit 2."""


@dataclass
class StackContext:
    stack: str
    config: StackConfig
    engine_config: dict[str, str]
    """`namespace:key` -> value as the engine passes it (secrets replaced by generated placeholders)."""
    secret_keys: list[str]
    configured: set[str]
    """Keys (without the project prefix) the stack file itself sets."""

    def plan(self, **kwargs: Any) -> ProgramRun:
        """The program under mocks for this stack (run_program's keyword arguments: state, seed, ...)."""
        run = run_program(self.stack, self.engine_config, self.secret_keys, **kwargs)
        if run.error is not None:
            raise StackInputError(str(run.error).splitlines()[0] if str(run.error) else repr(run.error))
        return run


def load_stack(stack: str, config_file: str | Path | None = None) -> StackContext:
    if not stack:
        raise StackInputError("--stack is required: production, staging or another stack with a Pulumi.<stack>.yaml")
    path = Path(config_file) if config_file else ROOT / f"Pulumi.{stack}.yaml"
    try:
        config, secret_keys = read_stack_file(path)
    except StackFileError as err:
        raise StackInputError(str(err)) from None
    configured = {k[len(PREFIX) :] for k in config if k.startswith(PREFIX)}
    config, secret_keys = with_missing_secrets(config, secret_keys)  # the tools read no secret
    raw = {k[len(PREFIX) :]: v for k, v in config.items() if k.startswith(PREFIX)}
    try:
        cfg = load_config(raw, stack, frozenset(k[len(PREFIX) :] for k in secret_keys if k.startswith(PREFIX)))
    except ConfigError as err:
        raise StackInputError(str(err)) from None
    return StackContext(stack, cfg, config, secret_keys, configured)
