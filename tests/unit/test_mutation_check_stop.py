"""Stopping the mutation check (.ci/run sends SIGTERM when another phase fails): a running mutant's pytest gets
SIGINT, so its fixtures stop the harness it started, and the check waits for it and exits 143. Killed outright,
the check left that pytest (and its engine, bridge and servers) running after .ci/run had exited, and the next
run on the machine, using the same harness ids, found them in its way."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# A mutant's guard test that runs until SIGINT, with a fixture whose teardown takes a while (as the harness's
# does): the check must interrupt it and wait for that teardown. Real pytest runs it, forked by the check's
# pytest server as every mutant's is.
SLOW_TEST = """
import os, time, pytest
MARKER = os.environ["FAKE_PYTEST_MARKER"]

@pytest.fixture
def harness():
    yield
    time.sleep(1)
    open(MARKER, "a").write("torn down\\n")

def test_runs_until_interrupted(harness):
    open(MARKER, "a").write("started\\n")
    time.sleep(120)
"""

DRIVER = """
import sys
import ci.mutation_check as check
title = open("README.md").readline()
# Two, run one at a time: after SIGTERM the second must not start (its run would never be interrupted).
check.MUTATIONS = tuple(
    check.Mutation(name, "README.md", title, "mutated\\n", (sys.argv[1],)) for name in ("one", "two")
)
sys.exit(check.main(["--jobs", "1"]))
"""


def test_sigterm_interrupts_the_running_mutant_waits_for_its_teardown_and_exits_143(tmp_path):
    slow_test = tmp_path / "test_slow.py"
    slow_test.write_text(SLOW_TEST)
    marker = tmp_path / "marker"
    check = subprocess.Popen(
        [sys.executable, "-c", DRIVER, str(slow_test)],
        cwd=ROOT,
        env={**os.environ, "FAKE_PYTEST_MARKER": str(marker), "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # as .ci/run starts it: a background job, SIGINT ignored
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),  # before any thread: safe
    )
    try:
        deadline = time.monotonic() + 60
        while not (marker.exists() and "started" in marker.read_text()):
            if check.poll() is not None:
                pytest.fail(
                    f"the check ended (exit {check.returncode}) before the mutant started:\n{check.communicate()[0]}"
                )
            assert time.monotonic() < deadline, "the mutant never started"
            time.sleep(0.05)
        check.send_signal(signal.SIGTERM)
        out, _ = check.communicate(timeout=60)
    finally:
        if check.poll() is None:
            check.kill()
    assert marker.read_text() == "started\ntorn down\n", "the mutant's pytest was not interrupted and waited for"
    assert check.returncode == 143, out
    assert "mutation check: stopped (SIGTERM) after 0 of 2 mutations; no verdict" in out


def test_a_run_asked_for_after_the_pytest_server_died_says_so():
    from ci.mutation_check import PytestRuns

    runs = PytestRuns((sys.executable, "-c", "pass"))  # a server that exits at once
    try:
        for _ in range(2):
            with pytest.raises(RuntimeError, match=r"exited: it started no run"):
                runs.start(("-q",), ROOT, dict(os.environ), ROOT / "never-written")
    finally:
        runs.close()
