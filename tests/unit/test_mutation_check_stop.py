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

ROOT = Path(__file__).resolve().parents[2]

# Stands in for a mutant's pytest: says it started, then runs until SIGINT, which it answers as pytest does
# (its fixtures' teardown, then exit 2).
FAKE_PYTEST = """
import os, sys, time
marker = os.environ["FAKE_PYTEST_MARKER"]
open(marker, "a").write("started\\n")
try:
    time.sleep(120)
except KeyboardInterrupt:
    time.sleep(1)  # a teardown takes a while: the check must wait for it
    open(marker, "a").write("torn down\\n")
    sys.exit(2)
"""

DRIVER = """
import sys
import ci.mutation_check as check
check.PYTEST = (sys.executable, sys.argv[1])
title = open("README.md").readline()
check.MUTATIONS = (check.Mutation("demo", "README.md", title, "mutated\\n", ("tests/unit/demo.py",)),)
sys.exit(check.main(["--jobs", "1"]))
"""


def test_sigterm_interrupts_the_running_mutant_waits_for_its_teardown_and_exits_143(tmp_path):
    fake = tmp_path / "fake_pytest.py"
    fake.write_text(FAKE_PYTEST)
    marker = tmp_path / "marker"
    check = subprocess.Popen(
        [sys.executable, "-c", DRIVER, str(fake)],
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
            assert check.poll() is None and time.monotonic() < deadline, "the mutant never started"
            time.sleep(0.05)
        check.send_signal(signal.SIGTERM)
        out, _ = check.communicate(timeout=60)
    finally:
        if check.poll() is None:
            check.kill()
    assert marker.read_text() == "started\ntorn down\n", "the mutant's pytest was not interrupted and waited for"
    assert check.returncode == 143, out
    assert "mutation check: stopped (SIGTERM) after 0 of 1 mutations; no verdict" in out
