"""Engine tier: the real Pulumi CLI and provider plugins through the Automation API.

It runs where the Pulumi CLI and the provider plugins are installed and a disposable Docker host, Vault
and S3 endpoint are named (the `engine` GitHub workflow provides all of it); elsewhere every test says
`engine tier NOT RUN: <what is missing and how to get it>` and is skipped, never counted as passed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence

from ops.pulumi_cli import INSTALL

# What a copy of the project needs to run `pulumi up` with the policy pack (every layer the program,
# its rollout gate and the pack import).
PROGRAM_DIRS = ("facts", "render", "config", "program", "runtime", "clients", "ops", "policies")
# The provider plugins the program uses, at the versions of its Python SDKs (uv.lock).
PLUGINS = {"docker": "5.2.0", "vault": "7.14.0", "random": "4.21.4", "command": "1.2.1"}


def _installed_plugins() -> set[str]:
    found = {name for name in PLUGINS if shutil.which(f"pulumi-resource-{name}")}
    try:
        listed = subprocess.run(["pulumi", "plugin", "ls"], capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.TimeoutExpired):
        return found
    return found | {line.split()[0] for line in listed.splitlines()[1:] if line.split()}


def engine_missing(needed_env: Sequence[str]) -> str | None:
    """Why the engine tier cannot run here, in the words a user acts on; None when it can."""
    if shutil.which("pulumi") is None:
        return f"the Pulumi CLI is not on PATH: install it (`{INSTALL}`), then the provider plugins"
    absent = [name for name in PLUGINS if name not in _installed_plugins()]
    if absent:
        commands = "; ".join(f"pulumi plugin install resource {name} {PLUGINS[name]}" for name in absent)
        return f"provider plugins missing: {', '.join(absent)} (`{commands}`)"
    unset = [key for key in needed_env if not os.environ.get(key)]
    if unset:
        return (
            f"set {', '.join(unset)} to point it at a disposable Docker host, Vault and S3 endpoint (the `engine` "
            "workflow does; tests/engine/test_automation_api.py says what each is)"
        )
    return None
