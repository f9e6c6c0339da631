"""One command model for every operator command (`uv run invoke <task>`).

A command does its work and returns (exit 0), returns an exit code (a check that found problems), or
raises `OperatorError(message, exit_code)`. `run` is the one place that turns an error into one line on
standard error, `<task>: <message>`, and its exit code; it also maps the errors of the layers below
(a config value, a stack file, the Docker host), so no command repeats try/print/exit. Messages never
carry a Python exception class or errno: each layer words its own errors for the operator.

Exit codes, the same for every task (docs/troubleshooting.md shows this table):
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable
from typing import Any, TextIO

from clients.docker_api import DockerError
from config.errors import ConfigError
from config.policy_config import PolicySettingsError
from config.stack_file import StackFileError

OK, FAILED, BAD_INPUT, CRASHED, INTERRUPTED = 0, 1, 2, 3, 130
EXIT_CODES = {
    OK: "done; every check passed",
    FAILED: "failed or not confirmed: a check found a problem, a host, Vault or the Pulumi CLI refused, the "
    "operator answered no, or standard input was closed",
    BAD_INPUT: "bad input: a flag, a stack file or a config value; nothing was read from a host, Vault or the "
    "Pulumi backend, nothing changed",
    CRASHED: "a bug in the program, not in the input: its traceback is printed",
    INTERRUPTED: "interrupted (Ctrl-C)",
}
__doc__ += "\n".join(f"  {code:>3}  {meaning}" for code, meaning in EXIT_CODES.items()) + "\n"

NO_ANSWER = "no confirmation (standard input is closed): pass --yes to run without asking"


class OperatorError(Exception):
    """What a command ends with when it cannot do its work: one line for the operator, and the exit code."""

    def __init__(self, message: str, exit_code: int = FAILED):
        super().__init__(message)
        self.exit_code = exit_code


def bad_input(message: str) -> OperatorError:
    return OperatorError(message, BAD_INPUT)


def confirm(question: str, yes: bool = False, read: Callable[[str], str] = input) -> None:
    """Ask `<question> [y/N]`; return only on y or yes (or when --yes was given). A no, or standard input
    at its end (`</dev/null`, a CI step, a closed pipe), is "not done": exit 1, nothing changed."""
    if yes:
        return
    try:
        answer = read(f"{question} [y/N] ")
    except EOFError:
        raise OperatorError(f"{NO_ANSWER}; nothing changed") from None
    if answer.strip().lower() not in ("y", "yes"):
        raise OperatorError("not confirmed; nothing changed")


def exit_code_of(error: BaseException) -> int | None:
    """The exit code of an error a command may end with; None for anything else (a crash)."""
    if isinstance(error, OperatorError):
        return error.exit_code
    if isinstance(error, (ConfigError, StackFileError, PolicySettingsError)):
        return BAD_INPUT
    if isinstance(error, DockerError):
        return FAILED
    return None


def run_task(
    task: str, command: Callable[..., int | None], *args: Any, stderr: TextIO | None = None, **kwargs: Any
) -> int:
    """Run `command(*args, **kwargs)` as task `task` and return its exit code (see EXIT_CODES)."""
    err = stderr or sys.stderr
    try:
        code = command(*args, **kwargs)
    except KeyboardInterrupt:
        print(f"{task}: interrupted", file=err)
        return INTERRUPTED
    except Exception as error:
        code = exit_code_of(error)
        if code is None:
            print(f"{task}: the program crashed (a bug in the program, not in your input):", file=err)
            traceback.print_exception(error, file=err)
            return CRASHED
        print(f"{task}: {error}", file=err)
        return code
    return OK if code is None else code
