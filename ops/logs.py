"""`uv run invoke logs --stack S --service SERVICE`: one env's container logs, found by label, over the
stack's own Docker connection (docs/logs-and-status.md).

SERVICE is backend, frontend, postgres, redis, worker (the prefect worker), backup, or agent:<svc> for
the vault-agent of postgres, redis, app or backup (SERVICES and AGENT_SERVICES below; docs/logs-and-status.md's list is
generated from them). Containers are found by their `finance-report.env` and
`finance-report.service` labels (render/labels.py; agents also by `finance-report.agent-for`), so a
staging command never reads production's. The newest container is the current revision; with
--all-revisions the earlier ones (a rolling service's previous revision, a failed one) follow, newest
first, each under a `==> name <==` header on stderr.

Only the Docker API's container list, inspect (for the TTY flag) and logs endpoints are called: nothing is
read from a container's filesystem, so no rendered secret file (/run/secrets/...) is ever printed.
Container stdout goes to stdout, stderr to stderr, as `docker logs` does.

Exit codes: 0 printed; 1 the host or a container could not be reached or found (one line on stderr);
2 bad input (one line on stderr).
"""

from __future__ import annotations

import re
import struct
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TextIO

from clients.docker_api import DockerAPI
from facts.services import Service, VaultService
from ops import stack_context, swarm_ops
from ops.command import OperatorError, bad_input, run_task
from render import labels as L

# What an operator types -> the service label the program puts on those containers. `backup` is the
# label of a backup service's containers, when the stack runs one.
SERVICES = {
    "backend": Service.BACKEND,
    "frontend": Service.FRONTEND,
    "postgres": Service.POSTGRES,
    "redis": Service.REDIS,
    "worker": Service.PREFECT_WORKER,
    "backup": "backup",
}
AGENT_SERVICES = tuple(VaultService)
# What a name means when it is not the label itself (docs/logs-and-status.md and the error line say so).
SERVICE_NOTES = {"worker": "the prefect worker"}
_ALL = [*SERVICES, *(f"agent:{a}" for a in AGENT_SERVICES)]
SERVICE_CHOICES = ", ".join(_ALL[:-1]) + f" or {_ALL[-1]}"


def readme_services() -> str:
    """docs/logs-and-status.md: the accepted --service values, from SERVICES and AGENT_SERVICES."""
    names = [f"`{name}`" + (f" ({SERVICE_NOTES[name]})" if name in SERVICE_NOTES else "") for name in SERVICES]
    return f"`--service` is {', '.join(names)}, or `agent:{'|'.join(AGENT_SERVICES)}` for a vault-agent."


DEFAULT_TAIL = "200"
_DURATION = re.compile(r"^([0-9]+)([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
STDOUT, STDERR = 1, 2


@dataclass(frozen=True)
class Target:
    service: str
    """The `finance-report.service` label."""
    agent_for: str | None = None
    """For an agent: the `finance-report.agent-for` label."""

    def filters(self, env: str) -> list[str]:
        found = [f"{L.ENV}={env}", f"{L.SERVICE}={self.service}"]
        if self.agent_for:
            found.append(f"{L.AGENT_FOR}={self.agent_for}")
        return found


def parse_service(value: str) -> Target:
    if value.startswith("agent:"):
        service = value.split(":", 1)[1]
        if service not in AGENT_SERVICES:
            raise bad_input(f"--service = {value!r} is invalid: expected {SERVICE_CHOICES}")
        return Target(Service.VAULT_AGENT, service)
    if value not in SERVICES:
        raise bad_input(f"--service = {value!r} is invalid: expected {SERVICE_CHOICES}")
    return Target(SERVICES[value])


def parse_since(value: str | None, now: float) -> int | None:
    """`10m`, `2h`, `1d`, `30s` ago, or an RFC 3339 time, as the Unix time the logs API takes."""
    if value is None or value == "":
        return None
    match = _DURATION.match(value)
    if match:
        return int(now) - int(match.group(1)) * _UNITS[match.group(2)]
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise bad_input(
            f"--since = {value!r} is invalid: expected a duration such as 10m, 2h or 1d, or a time such as "
            "2026-05-12T09:00:00Z"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def parse_tail(value: str | None, since: int | None) -> str:
    """Lines from the end: a number or `all`; by default the last 200, or all since --since."""
    if value is None or value == "":
        return "all" if since is not None else DEFAULT_TAIL
    if value == "all" or (value.isdigit() and len(value) < 10):
        return value
    raise bad_input(f"--tail = {value!r} is invalid: expected a number of lines or all")


def parse_grep(value: str | None) -> re.Pattern[str] | None:
    if not value:
        return None
    try:
        return re.compile(value)
    except re.error as err:
        raise bad_input(f"--grep = {value!r} is invalid: expected a regular expression ({err.msg})") from None


def pick(listing: Sequence[dict[str, Any]], all_revisions: bool) -> list[dict[str, Any]]:
    """The containers to show: the newest (the current revision) first, then, with all_revisions, every
    earlier one, newest first."""
    ordered = sorted(listing, key=lambda c: (c.get("Created", 0), c.get("Id", "")), reverse=True)
    return ordered if all_revisions else ordered[:1]


def name_of(container: dict[str, Any]) -> str:
    names: list[str] = container.get("Names") or ["?"]
    return names[0].lstrip("/")


def logs_query(since: int | None, tail: str, follow: bool, timestamps: bool) -> dict[str, str]:
    query = {
        "stdout": "1",
        "stderr": "1",
        "tail": tail,
        "follow": "1" if follow else "0",
        "timestamps": "1" if timestamps else "0",
    }
    if since is not None:
        query["since"] = str(since)
    return query


@dataclass
class Demux:
    """Lines of a logs stream. Without a TTY the API multiplexes stdout and stderr in frames of
    [stream, 0, 0, 0, size (big-endian uint32)] + payload; with a TTY it is the raw terminal stream."""

    tty: bool
    _pending: bytes = b""
    _partial: dict[int, bytes] = field(default_factory=lambda: {STDOUT: b"", STDERR: b""})

    def feed(self, chunk: bytes) -> Iterator[tuple[int, str]]:
        if self.tty:
            yield from self._lines(STDOUT, chunk)
            return
        self._pending += chunk
        while len(self._pending) >= 8:
            stream, size = self._pending[0], struct.unpack(">I", self._pending[4:8])[0]
            if len(self._pending) < 8 + size:
                break
            payload, self._pending = self._pending[8 : 8 + size], self._pending[8 + size :]
            yield from self._lines(STDERR if stream == STDERR else STDOUT, payload)

    def _lines(self, stream: int, data: bytes) -> Iterator[tuple[int, str]]:
        buffered = self._partial[stream] + data
        *complete, self._partial[stream] = buffered.split(b"\n")
        for line in complete:
            yield stream, line.decode("utf-8", errors="replace")

    def flush(self) -> Iterator[tuple[int, str]]:
        for stream in (STDOUT, STDERR):
            if self._partial[stream]:
                yield stream, self._partial[stream].decode("utf-8", errors="replace")
                self._partial[stream] = b""


def print_lines(lines: Iterable[tuple[int, str]], grep: re.Pattern[str] | None, out: TextIO, err: TextIO) -> int:
    shown = 0
    for stream, line in lines:
        if grep is not None and not grep.search(line):
            continue
        print(line, file=err if stream == STDERR else out, flush=True)
        shown += 1
    return shown


def stream_logs(
    api: DockerAPI,
    container: dict[str, Any],
    query: dict[str, str],
    grep: re.Pattern[str] | None,
    out: TextIO,
    err: TextIO,
) -> int:
    cid = container["Id"]
    inspected = api.request("GET", f"/containers/{cid}/json")
    if inspected.status == 404:
        raise OperatorError(
            f"container {name_of(container)} is gone (removed while its logs were read); run the command again"
        )
    if inspected.status >= 400:
        raise OperatorError(f"GET /containers/{name_of(container)}/json answered {inspected.status}")
    demux = Demux(bool((inspected.json().get("Config") or {}).get("Tty")))
    shown = 0
    for chunk in api.stream(f"/containers/{cid}/logs", query):
        shown += print_lines(demux.feed(chunk), grep, out, err)
    shown += print_lines(demux.flush(), grep, out, err)
    return shown


def show_logs(
    stack: str,
    service: str,
    since: str | None = None,
    tail: str | None = None,
    follow: bool = False,
    grep: str | None = None,
    all_revisions: bool = False,
    timestamps: bool = False,
    docker_host: str | None = None,
    config_file: str | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
    api_factory: Callable[[str, Sequence[str]], DockerAPI] = DockerAPI,
    now: Callable[[], float] = time.time,
) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    stack = stack_context.resolve_stack(stack)
    if not service:
        raise bad_input(f"--service is required: {SERVICE_CHOICES}")
    target = parse_service(service)
    since_ts = parse_since(since, now())
    query = logs_query(since_ts, parse_tail(tail, since_ts), False, timestamps)
    pattern = parse_grep(grep)
    override = stack_context.docker_host_override(docker_host)
    cfg = stack_context.load_stack(stack, config_file).config
    host = override or cfg.docker_host
    api = api_factory(host, cfg.docker_ssh_opts)
    try:
        if cfg.runtime == "swarm":
            return swarm_logs(
                api, target, cfg.env, f"{service} service of env {cfg.env} on {host}", query, pattern, follow, out, err
            )
        listing = api.containers(target.filters(cfg.env))
        chosen = pick(listing, all_revisions)
        if not chosen:
            raise OperatorError(
                f"no {service} container of env {cfg.env} on {host}; `uv run invoke status --stack {stack}` "
                "lists what runs there"
            )
        # Followed last, so the live stream stays at the end of the output.
        order = list(reversed(chosen)) if follow else chosen
        for index, container in enumerate(order):
            live = follow and index == len(order) - 1
            if len(order) > 1 or all_revisions:
                print(
                    f"==> {name_of(container)} ({container.get('State', '?')}, "
                    f"{'current' if container is chosen[0] else 'earlier'} revision) <==",
                    file=err,
                    flush=True,
                )
            stream_logs(api, container, {**query, "follow": "1" if live else "0"}, pattern, out, err)
    except KeyboardInterrupt:
        return 0
    return 0


def swarm_logs(
    api: DockerAPI,
    target: Target,
    env: str,
    what: str,
    query: dict[str, str],
    grep: re.Pattern[str] | None,
    follow: bool,
    out: TextIO,
    err: TextIO,
) -> int:
    """runtime swarm: every task's log of the env's service, through the manager (GET /services/{id}/logs);
    the tasks Swarm still keeps (earlier ones included) all answer, so --all-revisions changes nothing."""
    found = swarm_ops.find_service(api, target.filters(env))
    if found is None:
        raise OperatorError(f"no {what}; `uv run invoke status` lists the env's services")
    tty = bool((((found.get("Spec") or {}).get("TaskTemplate") or {}).get("ContainerSpec") or {}).get("TTY"))
    demux = Demux(tty)
    for chunk in api.stream(f"/services/{found['ID']}/logs", {**query, "follow": "1" if follow else "0"}):
        print_lines(demux.feed(chunk), grep, out, err)
    print_lines(demux.flush(), grep, out, err)
    return 0


def main(*args: Any, err: TextIO | None = None, **kwargs: Any) -> int:
    """`uv run invoke logs`: show_logs as a command (one line and an exit code on error)."""
    return run_task("logs", show_logs, *args, err=err, stderr=err, **kwargs)
