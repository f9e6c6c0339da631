"""What the operator tools that drive the Pulumi CLI (rollback, rotate) say when the machine lacks
something they need: the CLI itself, or the policy pack's venv. Each is the machine's problem, not bad
input: one line naming how to get it, exit 1 (README Prerequisites)."""

from __future__ import annotations

import shutil
from pathlib import Path

# The CLI version every workflow pins (`pulumi-version:` in .github/workflows; a test keeps them equal).
PINNED_VERSION = "3.272.0"
INSTALL = f"curl -fsSL https://get.pulumi.com | sh -s -- --version {PINNED_VERSION}"
# The pack's requirements are hash-locked from uv.lock (tests/unit/test_policy_requirements.py).
VENV_SETUP = (
    "uv venv policies/venv --python 3.11 && uv pip install --require-hashes --python policies/venv/bin/python -r "
    "policies/requirements.txt"
)


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
