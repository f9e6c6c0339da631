"""The day-2 commands' usage errors: invoke's own (unknown task or flag, a flag without a value) and the
tools' (a missing or bad option) are bad input, one line on stderr and exit 2, before anything is read
from a host, Vault or the Pulumi backend."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, stacks_here
from tests.unit.fake_docker import Engine, backup_row, fake_docker


def invoke(*args: str, stdin: str = "", env: dict | None = None) -> subprocess.CompletedProcess:
    """`uv run invoke ARGS`; standard input holds `stdin`, then ends (as `</dev/null` for "")."""
    return subprocess.run(
        [sys.executable, "-m", "invoke", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        input=stdin,
        timeout=120,
        env=env,
    )


@pytest.mark.parametrize(
    "args,line",
    [
        (["logs", "--nope"], "No idea what '--nope' is!"),
        (["rotat", "--stack", "staging"], "No idea what 'rotat' is!"),
        (["rollback", "--stack"], "Flag <Argument: stack (s)> needed value and was not given one!"),
        (
            ["logs", "--stack", "staging", "--service", "db"],
            "logs: --service = 'db' is invalid: expected backend, frontend, postgres, redis, worker, backup, "
            "agent:postgres, agent:redis, agent:app or agent:backup",
        ),
        (
            ["logs", "--stack", "staging", "--service", "backend", "--tail", "lots"],
            "logs: --tail = 'lots' is invalid: expected a number of lines or all",
        ),
        (
            ["rotate", "--stack", "staging"],
            "rotate: --what = '' is invalid: expected one of secret-key, postgres-password, postgres-app-password, "
            "postgres-backup-password, redis-password, postgres-secret-id, redis-secret-id, app-secret-id, "
            "backup-secret-id",
        ),
        (
            ["rollback"],
            f"rollback: --stack is required (or PULUMI_STACK, or `pulumi stack select`): one of {stacks_here()}",
        ),
        (
            ["pr-env", "--pr", "abc"],
            "pr-env: --pr = 'abc' is invalid: expected a pull-request number such as 42",
        ),
        (["pr-env"], "pr-env: --pr is required: the pull request's number, such as 42"),
        # an override is checked like the key it overrides, before anything is reached
        (
            ["doctor", "--stack", "staging", "--vault-address", "notaurl"],
            'doctor: --vault-address = "notaurl" is invalid: expected an https:// URL (http:// only for a loopback '
            "address), without credentials or path query",
        ),
        (
            ["doctor", "--stack", "staging", "--vault-address", "https://vault.example.org?token=hunter2"],
            'doctor: --vault-address = "https://vault.example.org?[query hidden]" is invalid: expected an https:// '
            "URL (http:// only for a loopback address), without credentials or path query",
        ),
        (
            ["doctor", "--stack", "staging", "--docker-host", "foo"],
            'doctor: --docker-host = "foo" is invalid: expected unix:///path or ssh://user@host[:port]',
        ),
        (
            ["status", "--stack", "staging", "--docker-host", ""],
            'status: --docker-host = "" is invalid: expected unix:///path or ssh://user@host[:port]',
        ),
        (
            ["logs", "--stack", "staging", "--service", "backend", "--docker-host", "tcp://host:2375"],
            'logs: --docker-host = "tcp://host:2375" is invalid: expected unix:///path or ssh://user@host[:port]',
        ),
        (
            ["backups", "--stack", "staging", "--docker-host", "foo"],
            'backups: --docker-host = "foo" is invalid: expected unix:///path or ssh://user@host[:port]',
        ),
        (
            ["restore", "--stack", "staging"],
            "restore: --from is required: latest or a snapshot id (8 to 64 hex digits, see `uv run invoke backups`)",
        ),
        (
            ["plan", "--stack", "pr007"],
            "plan: no stack file Pulumi.pr007.yaml, and pr007 cannot be a stack's name: pr then a digit is reserved "
            "for PR environments, pr<N> with N a pull-request number without leading zero (`uv run invoke pr-env "
            "--pr 7` writes pr7's)",
        ),
        (
            ["plan", "--stack", "Mine"],
            "plan: no stack file Pulumi.Mine.yaml, and Mine cannot be a stack's name: expected lowercase letters and "
            "digits, starting with a letter, at most 20 (no '-' or '/')",
        ),
        (
            ["plan", "--stack", "../etc"],
            "plan: no stack file Pulumi.../etc.yaml, and ../etc cannot be a stack's name: expected lowercase "
            "letters and digits, starting with a letter, at most 20 (no '-' or '/')",
        ),
        (
            ["new-stack", "pr7", "--domain", "example.org", "--docker-host", "ssh://deploy@host.example.org"],
            "new-stack: pr7 is a PR environment's name: `uv run invoke pr-env --pr 7` writes its stack file from "
            "ops/pr_env.template.yaml",
        ),
        (
            ["plan", "--stack", "pr042"],
            "plan: no stack file Pulumi.pr042.yaml, and pr042 cannot be a stack's name: pr then a digit is reserved "
            "for PR environments, pr<N> with N a pull-request number without leading zero (`uv run invoke pr-env "
            "--pr 42` writes pr42's)",
        ),
    ],
)
def test_a_usage_error_is_one_line_and_exit_2(args, line):
    proc = invoke(*args)
    assert (proc.returncode, proc.stdout, proc.stderr.strip()) == (2, "", line)


@pytest.mark.parametrize("stdin", ["", "n\n"], ids=["stdin closed", "answered no"])
def test_a_confirmation_not_given_is_exit_1_however_it_is_not_given(stdin, staging, tmp_path):
    """`backup </dev/null` and `echo n | backup`: both "not done", exit 1, one line (never 2, never a
    traceback). The question comes after the host showed its backup service (a fake engine here), before
    anything runs on it."""
    engine = Engine(containers=[backup_row(staging)])
    with fake_docker(tmp_path / "docker.sock", engine) as host:
        proc = invoke("backup", "--stack", "staging", "--docker-host", host, stdin=stdin)
    expected = (
        "backup: no confirmation (standard input is closed): pass --yes to run without asking; nothing changed"
        if not stdin
        else "backup: not confirmed; nothing changed"
    )
    assert (proc.returncode, proc.stderr.strip()) == (1, expected)
    assert engine.commands == [], "nothing ran in the backup container"


NOT_LOGGED_IN = "error: PULUMI_ACCESS_TOKEN must be set for login during non-interactive CLI sessions"


def pulumi_stub(tmp_path: Path, version: str = "v3.272.0", code: int = 255, stderr: str = NOT_LOGGED_IN) -> dict:
    """A `pulumi` on PATH that answers `version` and fails every other command as the real CLI does when
    it is not logged in (exit 255, its error on stderr). Returns the environment to run invoke with."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stub = bin_dir / "pulumi"
    stub.write_text(
        f"#!/bin/sh\nif [ \"$1\" = version ]; then echo {version}; exit 0; fi\necho '{stderr}' >&2\nexit {code}\n"
    )
    stub.chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}


def test_rollback_list_when_the_cli_is_not_logged_in_is_one_line_naming_the_fix(tmp_path):
    proc = invoke("rollback", "--stack", "production", "--list", env=pulumi_stub(tmp_path))
    assert (proc.returncode, proc.stdout) == (1, "")
    assert (
        proc.stderr.strip()
        == f"rollback: selecting stack production failed: `pulumi stack select` exited 255: {NOT_LOGGED_IN}; "
        "log in to the state backend with `pulumi login` (README Prerequisites)"
    )


@pytest.mark.parametrize(
    "body,how",
    [("exit 1", "exited 1"), ("kill -SEGV $$", "was killed by signal SIGSEGV")],
    ids=["fails", "crashes"],
)
def test_a_pulumi_cli_that_cannot_say_its_version_is_one_line_without_a_traceback(tmp_path, body, how):
    """The Automation API asks `pulumi version` first and raises CalledProcessError when it fails."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "pulumi").write_text(f"#!/bin/sh\n{body}\n")
    (bin_dir / "pulumi").chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    proc = invoke("rollback", "--stack", "production", "--list", env=env)
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr.strip() == (
        f"rollback: selecting stack production failed: `pulumi version` {how}: the Pulumi CLI on PATH "
        f"({bin_dir / 'pulumi'}) is broken; reinstall it (README Prerequisites: the version the workflows pin)"
    )


@pytest.mark.parametrize("name", ["restore", "status", "backup", "rotate", "rollback"])
def test_dash_h_after_a_task_is_its_help_never_an_option(name):
    """Invoke gives a task's first parameter starting with h the short flag -h: `invoke restore -h` ran
    a restore (its --http flag) instead of printing help."""
    proc = invoke(name, "-h", "--stack", "nonexistent-stack-for-help", stdin="n\n")
    assert (
        proc.returncode == 0
        and proc.stdout.startswith("Usage: inv[oke]")
        and f" {name} " in proc.stdout.splitlines()[0]
    ), proc.stdout + proc.stderr


def test_no_task_gives_away_the_h_short_flag():
    from invoke import Collection

    import tasks

    for name, task in Collection.from_module(tasks).tasks.items():
        # on a copy: get_arguments consumes the task's help dict, which other tests read
        assert not [a for a in copy.deepcopy(task).get_arguments() if "h" in a.names], f"{name}: -h is help"


def test_the_old_task_name_preview_env_says_to_use_pr_env_then_does_what_pr_env_does(tmp_path):
    """`preview-env` was renamed `pr-env` ("preview" means `pulumi preview` only): the old name still works."""
    new, old = tmp_path / "new", tmp_path / "old"
    assert invoke("pr-env", "--pr", "42", "--out-dir", str(new)).returncode == 0
    proc = invoke("preview-env", "--pr", "42", "--out-dir", str(old))
    assert proc.returncode == 0
    assert proc.stderr == "preview-env: deprecated, use `uv run invoke pr-env` (same flags); running it now\n"
    assert (old / "Pulumi.pr42.yaml").read_text() == (new / "Pulumi.pr42.yaml").read_text()
    bad = invoke("preview-env", "--pr", "abc")
    assert (bad.returncode, bad.stderr.splitlines()[1:]) == (
        2,
        ["pr-env: --pr = 'abc' is invalid: expected a pull-request number such as 42"],
    )


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_after_a_task_with_a_positional_name_prints_its_help_and_writes_nothing(flag, tmp_path):
    """`new-stack NAME`'s NAME is positional, and invoke hands it any next word, `--help` included."""
    proc = invoke("new-stack", flag, "--out-dir", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("Usage: inv[oke] [--core-opts] new-stack [--options]"), proc.stdout
    assert "--docker-host" in proc.stdout and proc.stderr == ""
    assert list(tmp_path.iterdir()) == []
