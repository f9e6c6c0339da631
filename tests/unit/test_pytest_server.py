"""ci/pytest_server.py forks the mutation check's pytest runs from one process that imported the heavy
libraries once. Each run must still be the `python -m pytest` it replaces: the directory's own modules, not
an earlier run's or the server's; exactly the environment asked for; and a run left going when the client
goes away is interrupted, so its fixtures stop what they started."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVER = [sys.executable, str(ROOT / "ci" / "pytest_server.py")]


class Server:
    def __init__(self, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            SERVER, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env or dict(os.environ)
        )

    def start(self, directory: Path, args: list[str], env: dict[str, str]) -> tuple[int, Path]:
        output = directory / "pytest.out"
        request = {"cwd": str(directory), "args": args, "env": env, "output": str(output)}
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())["started"], output

    def ended(self) -> tuple[int, int]:
        assert self.proc.stdout
        reply = json.loads(self.proc.stdout.readline())
        return reply["ended"], reply["exit"]

    def close(self, timeout: float = 60) -> int:
        assert self.proc.stdin
        self.proc.stdin.close()
        return self.proc.wait(timeout=timeout)


def run(server: Server, directory: Path, env: dict[str, str]) -> tuple[int, str]:
    pid, output = server.start(directory, ["-q", "-p", "no:cacheprovider"], env)
    ended, code = server.ended()
    assert ended == pid
    return code, output.read_text()


@pytest.fixture(scope="module")
def server():
    running = Server()
    yield running
    if running.proc.poll() is None:
        running.close()


def checkout(root: Path, name: str, value: str) -> Path:
    """A directory with its own module `probe` and a test of the value that module has."""
    directory = root / name
    directory.mkdir()
    (directory / "probe.py").write_text(f"VALUE = {value!r}\n")
    (directory / "test_probe.py").write_text(
        "import os, probe\n\ndef test_value():\n    assert probe.VALUE == os.environ['EXPECTED']\n"
    )
    return directory


def test_each_run_imports_its_own_directory_s_modules(server, tmp_path):
    first = checkout(tmp_path, "first", "one")
    second = checkout(tmp_path, "second", "two")
    # One server: a run that kept an earlier run's `probe` (no fork, or a shared sys.modules) fails here.
    assert run(server, first, {**os.environ, "EXPECTED": "one"})[0] == 0
    assert run(server, second, {**os.environ, "EXPECTED": "two"})[0] == 0
    code, output = run(server, first, {**os.environ, "EXPECTED": "two"})
    assert code == 1 and "1 failed" in output


def test_the_directory_comes_first_on_sys_path_as_with_python_m(tmp_path):
    """`python -m pytest` puts its directory first on sys.path: a test in tests/ imports the checkout's own
    top-level modules, never a same-named one on the server's PYTHONPATH."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "probe.py").write_text("VALUE = 'elsewhere'\n")
    directory = tmp_path / "checkout"
    (directory / "tests").mkdir(parents=True)
    (directory / "probe.py").write_text("VALUE = 'own'\n")
    (directory / "tests" / "test_probe.py").write_text(
        "import probe\n\ndef test_own():\n    assert probe.VALUE == 'own'\n"
    )
    server = Server({**os.environ, "PYTHONPATH": str(elsewhere)})
    try:
        code, output = run(server, directory, dict(os.environ))
        assert code == 0, output
    finally:
        server.close()


def test_a_run_has_exactly_the_environment_and_directory_asked_for(tmp_path):
    directory = tmp_path / "checkout"
    directory.mkdir()
    (directory / "test_env.py").write_text(
        "import os, subprocess\n\ndef test_env():\n"
        "    assert 'SERVER_ONLY' not in os.environ\n"
        "    assert os.environ['ASKED'] == 'yes'\n"
        "    # what the harness's servers inherit: the process environment, not only Python's mapping\n"
        "    seen = subprocess.run(['sh', '-c', 'echo ${SERVER_ONLY-unset} ${ASKED-unset}'], capture_output=True,\n"
        "                          text=True)\n"
        "    assert seen.stdout == 'unset yes\\n'\n"
        f"    assert os.getcwd() == {str(directory)!r}\n"
    )
    server = Server({**os.environ, "SERVER_ONLY": "1"})
    try:
        env = {k: v for k, v in os.environ.items() if k != "SERVER_ONLY"}
        code, output = run(server, directory, {**env, "ASKED": "yes"})
        assert code == 0, output
    finally:
        server.close()


@pytest.mark.parametrize(
    ("name", "package"),
    [
        ("yaml", False),  # preloaded by name
        ("grpc", True),  # a package folder, imported by pulumi
        ("pluggy", False),  # imported by pytest
        ("json", False),  # imported by the server itself
    ],
)
def test_a_directory_with_a_module_named_like_a_preloaded_one_is_refused(server, tmp_path, name, package):
    directory = checkout(tmp_path, "shadowed", "x")
    if package:
        (directory / name).mkdir()
        (directory / name / "__init__.py").write_text("")
    else:
        (directory / f"{name}.py").write_text("")
    code, output = run(server, directory, {**os.environ, "EXPECTED": "x"})
    assert code == 70
    assert f"pytest_server: modules the server has imported shadow the checkout's own: {name}" in output


def test_runs_left_going_when_the_client_goes_away_are_interrupted_and_waited_for(tmp_path):
    marker = tmp_path / "marker"
    server = Server()
    pid, _ = server.start(slow_checkout(tmp_path, marker), ["-q", "-p", "no:cacheprovider"], dict(os.environ))
    wait_for(marker, "started")
    try:
        assert server.close(timeout=20) == 0  # the teardown takes a second; the test would sleep 120
    finally:
        if server.proc.poll() is None:
            server.proc.kill()
        with contextlib.suppress(ProcessLookupError):  # failed: the run must not outlive the test
            os.kill(pid, signal.SIGKILL)
    assert marker.read_text() == "started\ntorn down\n"
    assert server.ended() == (pid, 2)  # pytest's exit status when interrupted


def test_a_run_ends_as_a_python_process_does(server, tmp_path):
    """`python -m pytest` ends by unwinding: atexit handlers run and non-daemon threads are joined. A fork
    that leaves with os._exit skips both, and a test's cleanup registered there never happens."""
    directory = tmp_path / "checkout"
    directory.mkdir()
    marker = tmp_path / "marker"
    (directory / "test_exit.py").write_text(
        "import atexit, threading, time\n\n"
        "def test_registers_cleanup():\n"
        f"    atexit.register(lambda: open({str(marker)!r}, 'a').write('atexit\\n'))\n"
        "    def late():\n"
        "        time.sleep(0.5)\n"
        f"        open({str(marker)!r}, 'a').write('thread\\n')\n"
        "    threading.Thread(target=late).start()\n"
    )
    code, output = run(server, directory, dict(os.environ))
    assert code == 0, output
    assert marker.read_text() == "thread\natexit\n"


def test_a_sigint_sent_as_soon_as_a_run_is_reported_started_interrupts_it(server, tmp_path):
    """The check's stop request (SIGTERM) SIGINTs a run the moment the server has reported it started. The
    server ignored SIGINT and the fork inherited that until it installed its own handler: a SIGINT in
    between was lost and the run (with its harness) went on to the end while .ci/run waited for it."""
    directory = tmp_path / "checkout"
    directory.mkdir()
    (directory / "test_long.py").write_text("import time\n\ndef test_long():\n    time.sleep(60)\n")
    began = time.monotonic()
    pid, _ = server.start(directory, ["-q", "-p", "no:cacheprovider"], dict(os.environ))
    os.kill(pid, signal.SIGINT)
    ended, code = server.ended()
    assert ended == pid and code == 2, "the run ignored the SIGINT and finished, or ended as a crash"
    assert time.monotonic() - began < 30


def slow_checkout(root: Path, marker: Path, name: str = "slow", teardown: float = 1) -> Path:
    """A run that says it started, then sleeps until interrupted; its fixture's teardown (`teardown`
    seconds long) is marked."""
    directory = root / name
    directory.mkdir()
    (directory / "test_slow.py").write_text(
        "import time, pytest\n\n"
        f"@pytest.fixture\ndef harness():\n    yield\n    time.sleep({teardown})\n"
        f"    open({str(marker)!r}, 'a').write('torn down\\n')\n\n"
        f"def test_slow(harness):\n    open({str(marker)!r}, 'a').write('started\\n')\n    time.sleep(120)\n"
    )
    return directory


def wait_for(marker: Path, text: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not (marker.exists() and text in marker.read_text()):
        assert time.monotonic() < deadline, f"{marker.name} never said {text!r}"
        time.sleep(0.05)


def test_a_run_whose_server_dies_is_interrupted(tmp_path):
    marker = tmp_path / "marker"
    server = Server()
    pid, _ = server.start(slow_checkout(tmp_path, marker), ["-q", "-p", "no:cacheprovider"], dict(os.environ))
    try:
        wait_for(marker, "started")
        server.proc.kill()
        wait_for(marker, "torn down", seconds=20)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def test_a_server_whose_client_is_killed_interrupts_its_runs_and_waits_for_them(tmp_path):
    """The client gone, nobody reads the replies: the server must go on reaping its runs, not die of a
    broken pipe at the first one (two runs: the second is still tearing down when the first has ended)."""
    markers = [tmp_path / "first.marker", tmp_path / "second.marker"]
    server = Server()
    args = ["-q", "-p", "no:cacheprovider"]
    # the first ends at once, the second is still tearing down when the first's reply breaks the pipe
    runs = [slow_checkout(tmp_path, m, m.stem, teardown) for m, teardown in zip(markers, (0, 3), strict=True)]
    pids = [server.start(directory, args, dict(os.environ))[0] for directory in runs]
    try:
        for marker in markers:
            wait_for(marker, "started")
        assert server.proc.stdout and server.proc.stdin
        server.proc.stdout.close()  # as a killed client's end of the pipe
        server.proc.stdin.close()
        assert server.proc.wait(timeout=20) == 0
        assert [m.read_text() for m in markers] == ["started\ntorn down\n"] * 2
    finally:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
