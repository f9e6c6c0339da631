"""`invoke rotate` and `invoke rollback` run a whole `pulumi up` of the checked-out program (issue 16 item
6): from a stale branch they deployed other code, around the deploy workflow's main-only guard. They now
refuse, with one line and exit 1, a working tree with uncommitted changes and a HEAD that is neither the
commit the stack's last `pulumi up` ran (the `git.head` the CLI records in every update's environment)
nor main's tip. The git state is injected here; read_git_state is shown on a real repository."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from ops import git_guard, rollback, rotate
from ops.git_guard import GitState, require_deployable_checkout

FIXTURES = Path(__file__).parent / "fixtures"
HISTORY = json.loads((FIXTURES / "stack_history_production.json").read_text())
DEPLOYED = next(e for e in sorted(HISTORY, key=lambda e: -e["version"]) if e["kind"] == "update")["environment"][
    "git.head"
]
MAIN = "1" * 40
STALE = "5" * 40


def refused(state: GitState, entries=HISTORY) -> str:
    with pytest.raises(git_guard.CheckoutError) as caught:
        require_deployable_checkout("rotate", "production", state, entries)
    assert caught.value.exit_code == 1
    assert "\n" not in str(caught.value)
    return str(caught.value)


def test_the_last_deploy_is_the_newest_pulumi_up_whatever_its_result_never_a_refresh():
    assert git_guard.last_deployed_commit(HISTORY) == DEPLOYED
    newest = max(HISTORY, key=lambda e: e["version"])
    assert newest["kind"] == "update" and newest["result"] == "failed", "the fixture's newest is a failed up"
    refresh = {**newest, "version": 99, "kind": "refresh", "environment": {"git.head": STALE}}
    assert git_guard.last_deployed_commit([refresh, *HISTORY]) == DEPLOYED
    assert git_guard.last_deployed_commit([]) is None


def test_the_commit_the_stack_last_deployed_and_mains_tip_are_accepted():
    require_deployable_checkout("rotate", "production", GitState(DEPLOYED, (), MAIN), HISTORY)
    require_deployable_checkout("rotate", "production", GitState(MAIN, (), MAIN), HISTORY)
    require_deployable_checkout("rotate", "production", GitState(MAIN, (), MAIN), [])  # never deployed yet


def test_any_other_commit_is_refused_naming_both_that_would_do():
    assert refused(GitState(STALE, (), MAIN)) == (
        f"HEAD {STALE[:12]} is neither the commit stack production last deployed ({DEPLOYED[:12]}) nor main's "
        f"tip ({MAIN[:12]}): `pulumi up` would deploy this checkout's program; `git checkout {DEPLOYED[:12]}` "
        "or `git checkout main && git pull`, then run rotate again"
    )
    assert "(never deployed)" in refused(GitState(STALE, (), MAIN), [])
    assert "(no main branch here)" in refused(GitState(STALE, (), None))


def test_uncommitted_changes_are_refused_even_on_the_deployed_commit():
    message = refused(GitState(DEPLOYED, ("Pulumi.production.yaml", "program/app.py", "notes.txt", "x"), MAIN))
    assert message == (
        "the working tree has uncommitted changes (Pulumi.production.yaml, program/app.py, notes.txt and 1 more): "
        "`pulumi up` would deploy them; commit or stash them, then run rotate again"
    )


def git(repo: Path, *argv: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *argv], check=True, capture_output=True, text=True, env={"GIT_CONFIG_NOSYSTEM": "1"}
    ).stdout.strip()


def test_the_git_state_is_read_from_the_checkout(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "-c", "user.email=t@example.invalid", "-c", "user.name=t", "commit", "-q", "--allow-empty", "-m", "one")
    first = git(repo, "rev-parse", "HEAD")
    assert git_guard.read_git_state(repo) == GitState(first, (), first)
    git(repo, "checkout", "-q", "-b", "feature")
    git(repo, "-c", "user.email=t@example.invalid", "-c", "user.name=t", "commit", "-q", "--allow-empty", "-m", "two")
    (repo / "Pulumi.staging.yaml").write_text("changed\n")
    state = git_guard.read_git_state(repo)
    assert state.head == git(repo, "rev-parse", "HEAD") != first
    assert state.main == first and state.dirty == ("Pulumi.staging.yaml",)
    git(repo, "update-ref", "refs/remotes/origin/main", state.head)
    assert git_guard.read_git_state(repo).main == state.head, "origin/main, when fetched, is main's tip"
    with pytest.raises(git_guard.CheckoutError, match="not a git checkout"):
        git_guard.read_git_state(tmp_path / "elsewhere")


class Recorder:
    def __init__(self):
        self.calls = []

    def __call__(self, argv):
        self.calls.append(argv)
        return 0


def test_rotate_refuses_a_stale_checkout_before_asking_or_running_anything(monkeypatch, capsys):
    monkeypatch.setattr(rotate, "read_git_state", lambda root: GitState(STALE, (), MAIN))
    monkeypatch.setattr(rotate, "deploy_history", lambda stack: HISTORY)
    runner, asked = Recorder(), []
    assert (
        rotate.main(
            "staging", "secret-key", runner=runner, preflight=lambda: None, answer=lambda p: asked.append(p) or "y"
        )
        == 1
    )
    assert runner.calls == [] and asked == []
    err = capsys.readouterr().err
    assert err.startswith(f"rotate: HEAD {STALE[:12]} is neither the commit stack staging last deployed") and (
        err.count("\n") == 1
    )
    assert rotate.main("staging", "secret-key", dry_run=True, runner=runner, preflight=lambda: None) == 0, (
        "a dry run changes nothing"
    )


def test_rollback_refuses_a_dirty_checkout_before_touching_the_stack_file(monkeypatch, tmp_path, capsys):
    import shutil

    shutil.copy(Path(__file__).parent.parent.parent / "Pulumi.production.yaml", tmp_path / "Pulumi.production.yaml")
    before = (tmp_path / "Pulumi.production.yaml").read_bytes()
    monkeypatch.setattr(rollback, "read_git_state", lambda root: GitState(DEPLOYED, ("program/app.py",), MAIN))

    class Engine:
        def keep_serving_revision(self):
            raise AssertionError("the state must not be touched")

        def up(self, tag):
            raise AssertionError("nothing may be deployed")

    code = rollback.main("production", yes=True, history=lambda stack: HISTORY, engine=Engine(), root=tmp_path)
    assert code == 1
    assert (tmp_path / "Pulumi.production.yaml").read_bytes() == before
    assert capsys.readouterr().err == (
        "rollback: the working tree has uncommitted changes (program/app.py): `pulumi up` would deploy them; "
        "commit or stash them, then run rollback again\n"
    )
    assert rollback.main("production", list_only=True, history=lambda stack: HISTORY, root=tmp_path) == 0, (
        "--list changes nothing"
    )
