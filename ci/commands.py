"""README's commands table and the flags of every task, from tasks.py's invoke Collection.

tasks.py is loaded the way `invoke` itself loads it (invoke's FilesystemLoader), so the table lists exactly
the tasks `uv run invoke --list` shows, and `task_flags` gives what invoke's parser accepts for each. A
test fails when README's table drifts (`uv run invoke readme-tables` prints it) and when a command written
in README or docs/ names a task or a flag that does not exist.
"""

from __future__ import annotations

import copy
from functools import cache

from invoke.collection import Collection
from invoke.loader import FilesystemLoader

from ops.program_run import ROOT

# The page that explains each task; a task without one is listed with none.
PAGES = {
    "adopt": "docs/adopt.md",
    "architecture": "docs/architecture.md",
    "backup": "docs/backups.md",
    "backups": "docs/backups.md",
    "config-reference": "docs/configuration.md",
    "diagram": "docs/design.md",
    "docs": "docs/testing.md",
    "doctor": "docs/deploy.md",
    "logs": "docs/logs-and-status.md",
    "new-stack": "docs/your-own-stack.md",
    "plan": "docs/plan.md",
    "policy-config": "docs/deploy.md",
    "preview": "docs/deploy.md",
    "preview-env": "docs/pr-environments.md",
    "readme-tables": "docs/testing.md",
    "restore": "docs/backups.md",
    "rollback": "docs/rollback.md",
    "rotate": "docs/rotation.md",
    "status": "docs/logs-and-status.md",
    "up": "docs/deploy.md",
    "vault-policies": "docs/ci-credentials.md",
}


@cache
def collection() -> Collection:
    module, _ = FilesystemLoader(start=str(ROOT)).load("tasks")
    return Collection.from_module(module)


def task_flags(name: str) -> set[str]:
    """Every flag invoke's parser accepts for the task: --long, -short and --no-<flag> of a boolean default True."""
    task = collection()[name]
    flags = {"--help", "-h"}
    # On a copy: get_arguments consumes the task's help dict (tests/unit/test_invoke_usage.py).
    for argument in copy.deepcopy(task).get_arguments():
        for flag in argument.names:
            flags.add(f"-{flag}" if len(flag) == 1 else f"--{flag}")
        if argument.kind is bool and argument.default is True:
            flags.add(f"--no-{argument.name.replace('_', '-')}")
    return flags


def summary(name: str) -> str:
    """The first sentence of the task's docstring, on one line, `<` and `>` escaped outside code spans."""
    doc = " ".join((collection()[name].__doc__ or "").split())
    parts = doc.split(". ")[0].rstrip(".").split("`")
    return "`".join(p if i % 2 else p.replace("<", "&lt;").replace(">", "&gt;") for i, p in enumerate(parts))


def commands_table() -> str:
    rows = ["| command | what it does | page |", "|---|---|---|"]
    for name in sorted(collection().task_names):
        page = PAGES.get(name)
        link = f"[{page.removeprefix('docs/')}]({page})" if page else ""
        rows.append(f"| `uv run invoke {name}` | {summary(name)} | {link} |")
    return "\n".join(rows) + "\n"
