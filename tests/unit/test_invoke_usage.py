"""The day-2 commands' usage errors: invoke's own (unknown task or flag, a flag without a value) and the
tools' (a missing or bad option) are bad input, one line on stderr and exit 2, before anything is read
from a host, Vault or the Pulumi backend."""

from __future__ import annotations

import subprocess
import sys
from typing import Optional

import pytest

from tests.conftest import ROOT


def invoke(*args: str, stdin: str = "", env: Optional[dict] = None) -> subprocess.CompletedProcess:
    """`uv run invoke ARGS`; standard input holds `stdin`, then ends (as `</dev/null` for "")."""
    return subprocess.run([sys.executable, "-m", "invoke", *args], cwd=ROOT, capture_output=True, text=True, input=stdin, timeout=120, env=env)


@pytest.mark.parametrize(
    "args,line",
    [
        (["logs", "--nope"], "No idea what '--nope' is!"),
        (["rotat", "--stack", "staging"], "No idea what 'rotat' is!"),
        (["rollback", "--stack"], "Flag <Argument: stack (s)> needed value and was not given one!"),
        (["logs", "--stack", "staging", "--service", "db"], "logs: --service = 'db' is invalid: expected backend, frontend, postgres, redis, worker, backup, agent:postgres, agent:redis, agent:app or agent:backup"),
        (["logs", "--stack", "staging", "--service", "backend", "--tail", "lots"], "logs: --tail = 'lots' is invalid: expected a number of lines or all"),
        (["rotate", "--stack", "staging"], "rotate: --what = '' is invalid: expected one of secret-key, postgres-password, redis-password, app-secret-id, postgres-secret-id, redis-secret-id"),
        (["rollback"], "rollback: --stack is required: production, staging or another stack with a Pulumi.<stack>.yaml"),
        (["preview-env", "--pr", "abc"], "preview-env: --pr = 'abc' is invalid: expected a pull-request number such as 42"),
    ],
)
def test_a_usage_error_is_one_line_and_exit_2(args, line):
    proc = invoke(*args)
    assert (proc.returncode, proc.stdout, proc.stderr.strip()) == (2, "", line)


@pytest.mark.parametrize("stdin", ["", "n\n"], ids=["stdin closed", "answered no"])
def test_a_confirmation_not_given_is_exit_1_however_it_is_not_given(stdin):
    """`backup </dev/null` and `echo n | backup`: both "not done", exit 1, one line (never 2, never a
    traceback). The question comes before the Docker host is reached."""
    proc = invoke("backup", "--stack", "staging", "--docker-host", "unix:///nonexistent.sock", stdin=stdin)
    expected = "backup: no confirmation (standard input is closed): pass --yes to run without asking" if not stdin else "backup: not confirmed"
    assert (proc.returncode, proc.stderr.strip()) == (1, expected)
