"""Runs the mutation check's pytest runs as forks of one process that has imported pytest and the heavy
third-party libraries once. A mutant's pytest spent more time importing hypothesis, pulumi and its
providers' SDKs (about 2 CPU-seconds) than running its guard tests (often under one); .ci/run runs about a
hundred of them beside README's test command on a CPU-bound machine.

Run as a script by path (`python ci/pytest_server.py`), never as `ci.pytest_server`: this process must not
import a module of any checkout, or a mutant would run that copy instead of its own mutated one. Only
third-party modules are preloaded, and a child refuses to run (exit 70, saying why) when a module the server
has imported has the name of a top-level package or module in the directory it was asked to test.

Protocol, one JSON object per line:
- stdin:  {"cwd": DIR, "args": [pytest arguments], "env": {environment}, "output": FILE}
- stdout: {"started": PID}, in the order of the requests, then {"ended": PID, "exit": CODE} as each ends.
Each run is `python -m pytest ARGS` in DIR with exactly that environment, its stdout in FILE (stderr
discarded). SIGINT to a PID interrupts that run as it interrupts pytest. When stdin closes the server waits
for its runs; runs still going then were left by a client that died, and each gets SIGINT first so its
fixtures stop what they started."""

from __future__ import annotations

import ctypes
import json
import os
import selectors
import signal
import sys
import threading
import traceback
from pathlib import Path

# What a mutant's pytest imported most of its time on (python -X importtime). Each child imports the
# checkout's own modules itself.
PRELOAD = (
    "pytest",
    "xdist.plugin",
    "hypothesis",
    "_hypothesis_pytestplugin",
    "pulumi",
    "pulumi.runtime",
    "pulumi_docker",
    "pulumi_vault",
    "pulumi_random",
    "pulumi_policy",
    "pulumi_command",
    "yaml",
)

# A child that could not run pytest (its traceback is in its output file).
CHILD_FAILED = 70
INTERRUPTED = 2  # pytest's ExitCode.INTERRUPTED
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def preload() -> None:
    # Script runs put their own folder first on sys.path: the checkout's ci/ must not be importable here.
    del sys.path[0]
    for name in PRELOAD:
        __import__(name)


def shadowing(cwd: str) -> list[str]:
    """Modules this process has imported (preloaded, or its own such as json) named like a top-level package
    or module in `cwd`: the child would use them instead of the files in `cwd`."""
    here = {p.stem if p.suffix == ".py" else p.name for p in Path(cwd).iterdir()}
    imported = {name.split(".")[0] for name in sys.modules} - {"__main__", "__mp_main__"}
    return sorted(imported & here)


def interrupted_when_the_server_dies(server: int) -> bool:
    """Ask the kernel for SIGINT when the server dies (the run then stops its harness as on Ctrl-C);
    False when it has died already."""
    if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGINT) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG)")
    return os.getppid() == server


def run_child(request: dict, server: int) -> int:
    """In the forked child: `python -m pytest ARGS` in the request's directory; its exit code."""
    try:
        with open(request["output"], "wb") as output:
            os.dup2(output.fileno(), 1)
        with open(os.devnull, "rb") as null_in, open(os.devnull, "wb") as null_out:
            os.dup2(null_in.fileno(), 0)
            os.dup2(null_out.fileno(), 2)
    except OSError:
        os._exit(CHILD_FAILED)  # stdout may still be the server's replies: the exit code alone says it
    try:
        if not interrupted_when_the_server_dies(server):
            return CHILD_FAILED
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})  # one sent since the fork arrives now
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        sys.dont_write_bytecode = bool(os.environ.get("PYTHONDONTWRITEBYTECODE"))
        shadowed = shadowing(request["cwd"])
        if shadowed:
            print(f"pytest_server: modules the server has imported shadow the checkout's own: {', '.join(shadowed)}")
            return CHILD_FAILED
        sys.path.insert(0, os.getcwd())  # as `python -m` does
        sys.argv = ["pytest", *request["args"]]
        import pytest

        return int(pytest.console_main())
    except KeyboardInterrupt:
        return INTERRUPTED  # a SIGINT sent before pytest had started: what pytest says when interrupted
    except BaseException:
        traceback.print_exc(file=sys.stdout)
        return CHILD_FAILED


REPLYING = {"to": True}


def reply(message: dict) -> None:
    if not REPLYING["to"]:
        return
    try:
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        # The client is gone (killed) and nobody reads replies: go on reaping the runs (closed stdin has
        # interrupted them), with what is left to write going nowhere.
        REPLYING["to"] = False
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)


def serve() -> None:
    # A terminal's Ctrl-C reaches the whole process group: the runs take it (and stop their harnesses), the
    # server goes on reporting them. Blocked, not ignored: a fork inherits the mask and keeps a SIGINT sent
    # before it has its handler pending (an ignored one was lost, and the run went on to its end).
    # The mask is this thread's: only with no other thread (none of the preloaded libraries starts one) is
    # SIGINT blocked for the whole server.
    assert threading.active_count() == 1, "a preloaded library started a thread: SIGINT could reach it"
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    selector = selectors.DefaultSelector()
    stdin = sys.stdin.fileno()
    selector.register(stdin, selectors.EVENT_READ)
    running: dict[int, int] = {}  # pidfd -> pid
    pending = b""
    open_for_requests = True
    while open_for_requests or running:
        for key, _ in selector.select():
            if key.fd == stdin:
                chunk = os.read(stdin, 65536)
                if not chunk:
                    open_for_requests = False
                    selector.unregister(stdin)
                    for pid in running.values():
                        os.kill(pid, signal.SIGINT)
                    continue
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    request = json.loads(line)
                    sys.stdout.flush()
                    server = os.getpid()
                    pid = os.fork()
                    if pid == 0:
                        selector.close()
                        for pidfd in running:
                            os.close(pidfd)
                        # Leave as `python -m pytest` does, by SystemExit: atexit handlers run and
                        # non-daemon threads are joined (os._exit would skip both).
                        raise SystemExit(run_child(request, server))
                    pidfd = os.pidfd_open(pid)
                    running[pidfd] = pid
                    selector.register(pidfd, selectors.EVENT_READ)
                    reply({"started": pid})
            else:
                pid = running.pop(key.fd)
                selector.unregister(key.fd)
                os.close(key.fd)
                _, status = os.waitpid(pid, 0)
                reply({"ended": pid, "exit": os.waitstatus_to_exitcode(status)})


if __name__ == "__main__":
    preload()
    serve()
