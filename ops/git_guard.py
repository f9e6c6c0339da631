"""What `invoke rotate` and `invoke rollback` deploy: they run a whole `pulumi up` of the program checked
out here, so they refuse a checkout that is not what the stack runs or what main holds (issue 16 item 6;
the deploy workflow deploys main only).

Accepted: a clean working tree (`git status --porcelain` empty: untracked files count, since Python
imports them) whose HEAD is the commit the stack's last `pulumi up` ran, or main's tip (origin/main when
fetched, else the local main). The last deploy's commit is the `git.head` the Pulumi CLI records in the
environment of every update (pulumi/pulumi@v3.259.0 pkg/cmd/pulumi/metadata/metadata.go:452-465,
addGitCommitMetadata; pkg/backend/updates.go GitHead = "git.head"), read from the update history
without secrets (ops/rollback.py).
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ops.command import OperatorError

DEPLOY_KINDS = ("update",)  # `pulumi up`; refresh, preview, import, destroy run no program of a checkout


class CheckoutError(OperatorError):
    """The checkout is not one to deploy from: the machine's state, not bad input (exit 1)."""


@dataclass(frozen=True)
class GitState:
    head: str
    dirty: tuple[str, ...]
    """Paths `git status --porcelain` reports (modified, staged, untracked)."""
    main: str | None
    """main's tip: origin/main when the remote-tracking branch exists, else the local main; None: neither."""


def _git(root: Path, *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(root), *argv], capture_output=True, text=True, timeout=60)


def read_git_state(root: Path) -> GitState:
    head = _git(root, "rev-parse", "--verify", "HEAD")
    if head.returncode != 0:
        raise CheckoutError(
            f"{root} is not a git checkout with a commit: rotate and rollback deploy the program checked out; "
            "run them from a clone of the repository"
        )
    status = _git(root, "status", "--porcelain", "--untracked-files=all")
    dirty = tuple(line[3:].split(" -> ")[-1] for line in status.stdout.splitlines() if line.strip())
    main = None
    for ref in ("refs/remotes/origin/main", "refs/heads/main"):
        found = _git(root, "rev-parse", "--verify", "--quiet", ref)
        if found.returncode == 0:
            main = found.stdout.strip()
            break
    return GitState(head.stdout.strip(), dirty, main)


def last_deployed_commit(entries: Sequence[Mapping[str, Any]]) -> str | None:
    """`git.head` of the newest `pulumi up` in the history (`pulumi stack history --json` entries), whatever
    its result: a failed update still ran that commit's program."""
    ups = [e for e in entries if e.get("kind") in DEPLOY_KINDS]
    if not ups:
        return None
    newest = max(ups, key=lambda e: int(e.get("version", 0)))
    return (newest.get("environment") or {}).get("git.head") or None


def require_deployable_checkout(
    command: str, stack: str, state: GitState, entries: Sequence[Mapping[str, Any]]
) -> None:
    if state.dirty:
        shown = ", ".join(state.dirty[:3]) + (f" and {len(state.dirty) - 3} more" if len(state.dirty) > 3 else "")
        raise CheckoutError(
            f"the working tree has uncommitted changes ({shown}): `pulumi up` would deploy them; commit or stash "
            f"them, then run {command} again"
        )
    deployed = last_deployed_commit(entries)
    if state.head in (deployed, state.main):
        return
    deployed_text = deployed[:12] if deployed else "never deployed"
    main_text = state.main[:12] if state.main else "no main branch here"
    way_back = f"`git checkout {deployed[:12]}` or " if deployed else ""
    raise CheckoutError(
        f"HEAD {state.head[:12]} is neither the commit stack {stack} last deployed ({deployed_text}) nor main's "
        f"tip ({main_text}): `pulumi up` would deploy this checkout's program; {way_back}`git checkout main && "
        f"git pull`, then run {command} again"
    )
