"""render/swarm_task.sh, the process of a backend, frontend or worker task under runtime swarm, run by a real
`sh` here with stand-in commands: the service's exit status is the task's; a stop signal reaches the service
only after the drain (the router drops the task meanwhile); the agent runs once before the service, and a
failed or missing agent fails the task before the service starts. On a real Swarm:
tests/integration/test_swarm_runtime.py."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from render.swarm import TASK_SCRIPT

SERVICE = (
    "trap 'echo \"got TERM after $(( $(date +%s) - start ))s\"; exit 7' TERM; start=$(date +%s); echo up; "
    "while :; do sleep 0.1; done"
)


def task(env: dict[str, str], *command: str) -> subprocess.Popen:
    # SIGINT at its default, as a container's process starts. A test run started as a background job (a
    # script's `cmd &`) has SIGINT ignored, sh inherits that, and a signal ignored on entry cannot be trapped:
    # the SIGINT case then hung until its timeout (seen running the workflow's unit step from a script).
    return subprocess.Popen(
        ["env", "--default-signal=INT", "sh", str(TASK_SCRIPT), *command],
        env={"PATH": os.environ["PATH"], **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_the_services_exit_status_is_the_tasks():
    done = task({}, "sh", "-c", "echo served; exit 3")
    out, _ = done.communicate(timeout=10)
    assert (done.returncode, out) == (3, "served\n")


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_reaches_the_service_only_after_the_drain(stop):
    running = task({"FR_DRAIN_SECONDS": "2"}, "sh", "-c", SERVICE)
    assert running.stdout.readline() == "up\n"
    sent = time.monotonic()
    running.send_signal(stop)
    out, _ = running.communicate(timeout=15)
    took = time.monotonic() - sent
    assert running.returncode == 7  # the service's own exit status, after its own TERM handler
    assert out.startswith("got TERM after ") and 2 <= took < 5, (out, took)


def test_without_a_drain_the_stop_signal_is_passed_on_at_once():
    running = task({"FR_DRAIN_SECONDS": "0"}, "sh", "-c", SERVICE)
    assert running.stdout.readline() == "up\n"
    sent = time.monotonic()
    running.send_signal(signal.SIGTERM)
    running.communicate(timeout=10)
    assert running.returncode == 7 and time.monotonic() - sent < 1.5


def test_the_agent_renders_once_before_the_service_and_a_failed_agent_stops_the_task(tmp_path: Path):
    agent = tmp_path / "vault"
    agent.write_text('#!/bin/sh\necho "agent $*" > "$FR_TEST_LOG"\nexit "${FR_TEST_AGENT_EXIT:-0}"\n')
    agent.chmod(0o755)
    log = tmp_path / "agent.log"
    env = {"FR_AGENT_BIN": str(agent), "FR_AGENT_CONFIG": "/vault/config/agent.hcl", "FR_TEST_LOG": str(log)}
    done = task(env, "sh", "-c", f'cat "{log}"; echo service')
    out, _ = done.communicate(timeout=10)
    assert (done.returncode, out) == (0, "agent agent -config=/vault/config/agent.hcl\nservice\n")
    failed = task({**env, "FR_TEST_AGENT_EXIT": "1"}, "sh", "-c", "echo service")
    out, _ = failed.communicate(timeout=10)
    assert (failed.returncode, out) == (1, "")


def test_a_missing_agent_binary_is_waited_for_then_fails_the_task_naming_it(tmp_path: Path):
    env = {
        "FR_AGENT_BIN": str(tmp_path / "never"),
        "FR_AGENT_CONFIG": "/vault/config/agent.hcl",
        "FR_AGENT_WAIT_SECONDS": "2",
    }
    started = time.monotonic()
    done = task(env, "sh", "-c", "echo service")
    out, err = done.communicate(timeout=15)
    assert done.returncode == 1 and out == "" and 2 <= time.monotonic() - started < 6
    assert (
        err == f"finance-report: {tmp_path / 'never'} did not appear (is the agent-bin service running on this node?)\n"
    )
