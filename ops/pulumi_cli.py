"""What the operator tools that drive the Pulumi CLI (preview, up, rollback, rotate) say when the machine
lacks something they need: the CLI itself, or the policy pack's venv. Each is the machine's problem, not
bad input: one line naming how to get it, exit 1 (README Prerequisites). `ensure_policy_venv` is the one
place the pack's venv is created (PulumiPolicy.yaml: `virtualenv: venv`)."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

# The CLI version every workflow pins (`pulumi-version:` in .github/workflows; a test keeps them equal).
PINNED_VERSION = "3.272.0"
INSTALL = f"curl -fsSL https://get.pulumi.com | sh -s -- --version {PINNED_VERSION}"


def venv_commands(root: Path) -> list[list[str]]:
    """How the policy pack's venv is made: a Python 3.11 venv holding policies/requirements.txt, hash-locked
    from uv.lock (tests/unit/test_policy_requirements.py)."""
    venv = root / "policies" / "venv"
    return [
        ["uv", "venv", str(venv), "--python", "3.11"],
        [
            "uv",
            "pip",
            "install",
            "--require-hashes",
            "--python",
            str(venv / "bin" / "python"),
            "-r",
            str(root / "policies" / "requirements.txt"),
        ],
    ]


# What the messages tell an operator to run, from the project directory.
VENV_SETUP = " && ".join(shlex.join(argv) for argv in venv_commands(Path(".")))


def missing_cli(purpose: str) -> str | None:
    """None when `pulumi` is on PATH; else the line saying how to install it, ending with `purpose`."""
    if shutil.which("pulumi") is not None:
        return None
    return (
        f"the pulumi CLI is not on PATH: install the version the workflows pin (`{INSTALL}`) and put "
        f"~/.pulumi/bin on PATH (README Prerequisites); {purpose}"
    )


def missing_policy_venv(root: Path) -> str | None:
    if (root / "policies" / "venv").is_dir():
        return None
    return f"the policy pack's venv is missing: run `{VENV_SETUP}`"


Run = Callable[[Sequence[str]], int]


def _run(argv: Sequence[str]) -> int:
    return subprocess.run(list(argv), check=False).returncode


def ensure_policy_venv(root: Path, say: Callable[[str], None] = print, run: Run = _run) -> Path:
    """The policy pack's venv (policies/venv), created when it is missing, reused when it is there. A
    failure is the machine's (exit 1), naming the command that failed."""
    from ops.command import OperatorError

    venv = root / "policies" / "venv"
    if (venv / "bin" / "python").exists():
        say(f"policy pack venv: {venv.relative_to(root)} (reused)")
        return venv
    if shutil.which("uv") is None:
        raise OperatorError(f"the policy pack's venv is missing and uv is not on PATH: run `{VENV_SETUP}`")
    say(f"policy pack venv: creating {venv.relative_to(root)} from policies/requirements.txt")
    for argv in venv_commands(root):
        code = run(argv)
        if code != 0:
            shutil.rmtree(venv, ignore_errors=True)  # never leave a half-made venv to be "reused" next time
            raise OperatorError(f"creating the policy pack's venv failed: `{shlex.join(argv)}` exited {code}")
    return venv
