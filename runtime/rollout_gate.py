"""The rollout gate `pulumi up` runs last (program/rollout.py declares it; docs/deploy.md: "Rollout gate and
watched cutover").

    python -m runtime.rollout_gate --docker-host ssh://deploy@host [--ssh-opts '["-o","..."]']
        --healthy NAME [--healthy NAME ...] [--running NAME ...] [--watch NAME ...] [--watch-seconds 60] [--url URL ...]

1. Every `--healthy` container is running and its health check reports healthy (waits up to --timeout);
   every `--running` container is running, whatever its health (the backup service: its health reports
   its last backup, a signal of its own, and one failed backup must not block every deploy).
2. Every `--watch` container (a new backend/frontend revision) then stays running and healthy, without a
   restart, for --watch-seconds, while every `--url` keeps answering: a revision that crash-loops after
   its first healthy check fails the update before Pulumi deletes the old revision.
3. Every `--url` answers 2xx/3xx through Traefik (retried: a new route needs a moment).

While it waits it prints what for, and how far the watch is, each line prefixed with the time since it
started (runtime/progress.py); `--quiet` leaves only the result.

Exit 0 when all hold, 1 with one `rollout gate: ...` line per problem, 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from clients.docker_api import DockerAPI, DockerError
from clients.net_errors import why_unreachable
from runtime.progress import Progress


@dataclass
class Clock:
    now: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep


def http_ok(url: str, timeout: float = 10) -> tuple[bool, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return 200 <= response.status < 400, str(response.status)
    except urllib.error.HTTPError as err:
        return False, str(err.code)
    except (urllib.error.URLError, OSError) as err:
        return False, f"unreachable ({why_unreachable(err)})"


@dataclass
class ContainerView:
    name: str
    exists: bool
    running: bool = False
    health: str = "none"
    restarts: int = 0
    started_at: str = ""
    last_probe: str = ""

    @classmethod
    def read(cls, api: DockerAPI, name: str) -> ContainerView:
        response = api.request("GET", f"/containers/{name}/json")
        if response.status == 404:
            return cls(name, exists=False)
        if response.status >= 400:
            raise DockerError(f"GET /containers/{name}/json answered {response.status}")
        data = response.json()
        state = data.get("State") or {}
        health = state.get("Health") or {}
        log = health.get("Log") or []
        last = (log[-1].get("Output") or "").strip().splitlines()[-1:] if log else []
        return cls(
            name,
            True,
            bool(state.get("Running")),
            health.get("Status", "none"),
            int(data.get("RestartCount", 0)),
            state.get("StartedAt", ""),
            last[0][:200] if last else "",
        )


def _state(view: ContainerView) -> str:
    if not view.exists:
        return "missing"
    return view.health if view.running else "not running"


@dataclass
class Gate:
    api: DockerAPI
    healthy: Sequence[str]
    watched: Sequence[str] = ()
    watch_seconds: int = 60
    urls: Sequence[str] = ()
    timeout: float = 600
    url_attempts: int = 60
    interval: float = 2
    clock: Clock = field(default_factory=Clock)
    http: Callable[[str], tuple[bool, str]] = http_ok
    say: Callable[[str], None] = lambda line: print(line, flush=True)
    running: Sequence[str] = ()
    """Containers that need only run: their health is not waited for."""
    read: Callable[[str], ContainerView] | None = None
    """How a container is read (default: GET /containers/{name}/json on `api`)."""
    quiet: bool = False
    """No progress lines (problems are returned either way)."""
    report_every: float = 15
    """Seconds between progress lines while nothing changes."""

    def __post_init__(self) -> None:
        self.progress = Progress(quiet=self.quiet, clock=self.clock.now, say=self.say)

    def view(self, name: str) -> ContainerView:
        return self.read(name) if self.read is not None else ContainerView.read(self.api, name)

    def wait_healthy(self) -> list[str]:
        pending = list(dict.fromkeys([*self.healthy, *self.running]))
        total = len(pending)
        deadline = self.clock.now() + self.timeout
        views: dict[str, ContainerView] = {}
        reported: tuple[list[str], float] | None = None
        while pending:
            for name in list(pending):
                views[name] = view = self.view(name)
                if view.exists and view.running and (view.health == "healthy" or name in self.running):
                    pending.remove(name)
            now = self.clock.now()
            if pending and (reported is None or reported[0] != pending or now - reported[1] >= self.report_every):
                self.progress(
                    f"waiting for {len(pending)} of {total} containers to be healthy"
                    + (" or running" if self.running else "")
                    + ": "
                    + ", ".join(f"{name} ({_state(views[name])})" for name in pending)
                )
                reported = (list(pending), now)
            if not pending or now >= deadline:
                break
            self.clock.sleep(self.interval)
        if not pending:
            self.progress(
                f"all {total} containers healthy" + (f" ({len(self.running)} need only run)" if self.running else "")
            )
        problems = []
        for name in pending:
            view = views[name]
            if not view.exists:
                problems.append(f"{name} does not exist")
            elif not view.running:
                problems.append(f"{name} is not running")
            else:
                problems.append(
                    f"{name} is {view.health}, not healthy, after {self.timeout:.0f}s"
                    + (f" (last check: {view.last_probe})" if view.last_probe else "")
                )
        return problems

    def watch(self) -> list[str]:
        if not self.watched or self.watch_seconds <= 0:
            return []
        first = {name: self.view(name) for name in self.watched}
        self.progress(f"watching {', '.join(self.watched)} for {self.watch_seconds}s")
        began = self.clock.now()
        end = began + self.watch_seconds
        next_report = self.report_every
        while self.clock.now() < end:
            self.clock.sleep(self.interval)
            for name, before in first.items():
                now = self.view(name)
                if not now.running or now.restarts != before.restarts or now.started_at != before.started_at:
                    return [
                        f"{name} restarted during the {self.watch_seconds}s watch (restart count "
                        f"{before.restarts} -> {now.restarts}); the old revision keeps serving"
                    ]
                if now.health != "healthy":
                    return [
                        f"{name} turned {now.health} during the watch"
                        + (f" (last check: {now.last_probe})" if now.last_probe else "")
                    ]
            for url in self.urls:
                ok, status = self.http(url)
                if not ok:
                    return [f"{url} answered {status} during the watch"]
            done = min(self.clock.now() - began, self.watch_seconds)
            if done >= next_report or done >= self.watch_seconds:
                urls = f", {len(self.urls)} URLs answering" if self.urls else ""
                self.progress(
                    f"watch: {done:.0f} of {self.watch_seconds}s, {', '.join(self.watched)} running and healthy, "
                    f"no restart{urls}"
                )
                next_report = done + self.report_every
        return []

    def check_urls(self) -> list[str]:
        problems = []
        for url in self.urls:
            status = ""
            for attempt in range(self.url_attempts):
                ok, status = self.http(url)
                if ok:
                    break
                if attempt + 1 < self.url_attempts:
                    self.clock.sleep(5)
            else:
                problems.append(f"{url} answered {status} after {self.url_attempts} attempts")
        return problems

    def run(self) -> list[str]:
        for step in (self.wait_healthy, self.check_urls, self.watch):
            problems = step()
            if problems:
                return problems
        return []


def parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m runtime.rollout_gate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--docker-host", required=True)
    parser.add_argument("--ssh-opts", default="[]", help="JSON array of ssh options (the stack's dockerSshOpts)")
    parser.add_argument("--healthy", action="append", default=[], required=True)
    parser.add_argument("--running", action="append", default=[])
    parser.add_argument("--watch", action="append", default=[])
    parser.add_argument("--watch-seconds", type=int, default=60)
    parser.add_argument("--url", action="append", default=[])
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--quiet", action="store_true", help="no progress lines, only the result")
    args = parser.parse_args(argv)
    try:
        opts = json.loads(args.ssh_opts)
    except json.JSONDecodeError:
        opts = None
    if not isinstance(opts, list) or not all(isinstance(o, str) for o in opts):
        parser.error(f"--ssh-opts must be a JSON array of strings, got {args.ssh_opts[:60]!r}")
    if args.watch_seconds < 0:
        parser.error("--watch-seconds must be 0 or more")
    args.ssh_opts = opts
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    gate = Gate(
        DockerAPI(args.docker_host, args.ssh_opts),
        args.healthy,
        args.watch,
        args.watch_seconds,
        args.url,
        args.timeout,
        running=args.running,
        quiet=args.quiet,
    )
    try:
        problems = gate.run()
    except DockerError as err:
        problems = [str(err)]
    for problem in problems:
        print(f"rollout gate: {problem}", file=sys.stderr)
    if not problems:
        print(
            f"rollout gate: {len(args.healthy)} containers healthy"
            + (f", {len(args.running)} running" if args.running else "")
            + (f", {len(args.watch)} watched {args.watch_seconds}s" if args.watch and args.watch_seconds else "")
            + (f", {len(args.url)} URLs answer" if args.url else "")
        )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
