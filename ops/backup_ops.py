"""Operator commands of the backup service (docs/backups.md):

    uv run invoke backup  --stack S [--yes] [--accept-drop]       a backup now; waits and reports
    uv run invoke backups --stack S                               snapshots: time, size, verification
    uv run invoke restore --stack S --from latest|ID [--into-scratch] [--unverified] [--yes]

They reach the env's Docker host the way the provider does (clients/docker_api.py: the stack's dockerHost
and dockerSshOpts) and run the backup container's own job (`fr-backup`, render/backup_job.py) in it
with a Docker exec: the credentials stay in the container's tmpfs secrets; nothing secret passes through
the operator's machine. The env's containers are found by their `finance-report.env` and
`finance-report.service` labels, so a staging command never touches production.

`restore` takes a safety backup first (and stops if it fails), stops the env's backend and worker,
restores into a new database and swaps it in (the old one is renamed, never dropped), starts them again
and runs the rollout gate's health checks. Ctrl-C once the backend is stopped is deferred: the restore
in the container runs to its end, the backend and worker start, the gate runs, then the command exits 1.
`--into-scratch` restores into a new database beside the live one and touches nothing else. `latest` is
the newest backup that passed its restore check; an id of one that failed it (or was never checked) is
refused unless `--unverified`. Exit codes: 0 done; 1 failed (one line per failure) or not confirmed (a no,
or standard input closed without --yes: ops/command.py); 2 bad input.
"""

from __future__ import annotations

import contextlib
import json
import re
import signal
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

from clients.docker_api import DockerAPI, DockerError
from facts.services import Service
from ops.command import OperatorError, bad_input, confirm, run_task
from ops.stack_context import docker_host_override, resolve_stack
from render import backup_job as job
from render import labels as L
from render.app_env import site_url
from runtime.progress import Progress

EXEC_TIMEOUT = 6 * 3600  # a backup of a large database streams for a long time without output
SNAPSHOT_RE = re.compile(r"^(latest|[0-9a-f]{8,64})$")


# ------------------------------------------------------------------------------------------ Docker exec


def exec_run(
    api: DockerAPI,
    container: str,
    argv: Sequence[str],
    env: Sequence[str] = (),
    on_stderr: Callable[[str], None] | None = None,
) -> tuple[int, str, str]:
    """Run `argv` in `container` (POST /containers/{id}/exec, /exec/{id}/start), wait for it to end and
    return its exit code, stdout and stderr (the API multiplexes both on one stream: 8-byte frames).
    With `on_stderr`, each stderr line is handed to it as the exec sends it (progress of a long job)."""
    created = api.request(
        "POST",
        f"/containers/{container}/exec",
        body={"AttachStdout": True, "AttachStderr": True, "Cmd": list(argv), "Env": list(env)},
    )
    if created.status >= 400:
        raise DockerError(
            f"exec in {container}: the Docker API answered {created.status}: "
            f"{created.body[:200].decode(errors='replace').strip()}"
        )
    exec_id = created.json()["Id"]
    start = {"Detach": False, "Tty": False}
    if on_stderr is None:
        started = api.request("POST", f"/exec/{exec_id}/start", body=start)
        if started.status >= 400:
            raise DockerError(f"exec start in {container}: the Docker API answered {started.status}")
        out, err = demultiplex(started.body)
    else:
        frames = Frames(on_stderr)
        for chunk in api.stream(f"/exec/{exec_id}/start", method="POST", body=start):
            frames.feed(chunk)
        out, err = frames.finish()
    for _ in range(50):  # the stream ends when the process does; its exit code follows shortly
        state = api.get(f"/exec/{exec_id}/json")
        if not state.get("Running"):
            if state.get("ExitCode") is None:
                raise DockerError(f"exec in {container} ended with no exit code (GET /exec/{exec_id}/json)")
            return int(state["ExitCode"]), out, err
        time.sleep(0.1)
    raise DockerError(f"exec in {container} did not finish")


def demultiplex(stream: bytes) -> tuple[str, str]:
    """Docker's multiplexed stream: [type, 0, 0, 0, size (big-endian u32)] + payload; 1 stdout, 2 stderr."""
    out, err, pos = bytearray(), bytearray(), 0
    while pos + 8 <= len(stream):
        kind, size = stream[pos], struct.unpack(">I", stream[pos + 4 : pos + 8])[0]
        payload = stream[pos + 8 : pos + 8 + size]
        (err if kind == 2 else out).extend(payload)
        pos += 8 + size
    return out.decode(errors="replace"), err.decode(errors="replace")


class Frames:
    """Docker's multiplexed stream read as it arrives: complete stderr lines go to `on_line` at once;
    stdout and stderr are kept whole for the caller."""

    def __init__(self, on_line: Callable[[str], None]):
        self.on_line = on_line
        self.buffer = bytearray()
        self.out, self.err = bytearray(), bytearray()
        self.partial = b""

    def feed(self, chunk: bytes) -> None:
        self.buffer.extend(chunk)
        while len(self.buffer) >= 8:
            kind, size = self.buffer[0], struct.unpack(">I", self.buffer[4:8])[0]
            if len(self.buffer) < 8 + size:
                return
            payload = bytes(self.buffer[8 : 8 + size])
            del self.buffer[: 8 + size]
            if kind == 2:
                self.err.extend(payload)
                *lines, self.partial = (self.partial + payload).split(b"\n")
                for line in lines:
                    self.on_line(line.decode(errors="replace"))
            else:
                self.out.extend(payload)

    def finish(self) -> tuple[str, str]:
        if self.partial:
            self.on_line(self.partial.decode(errors="replace"))
        return self.out.decode(errors="replace"), self.err.decode(errors="replace")


def env_containers(api: DockerAPI, env: str, service: str | None = None) -> list[dict[str, Any]]:
    labels = [f"{L.ENV}={env}"] + ([f"{L.SERVICE}={service}"] if service else [])
    return api.containers(labels)


def name_of(row: dict[str, Any]) -> str:
    names: list[str] = row.get("Names") or ["?"]
    return names[0].lstrip("/")


def backup_container(api: DockerAPI, env: str) -> str:
    running = [r for r in env_containers(api, env, Service.BACKUP) if r.get("State") == "running"]
    if len(running) != 1:
        raise OperatorError(
            f"expected one running backup container of env {env}, found {len(running)} (see `uv run invoke "
            f"status --stack {env}`)"
        )
    return name_of(running[0])


def last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


# ------------------------------------------------------------------------------------------ listing (pure)


@dataclass(frozen=True)
class Backup:
    time: str
    id: str  # the 8 characters restic shows
    size: int | None
    verification: str  # verified | failed | unverified
    tables: int | None
    run: str
    full_id: str = ""
    kind: str = ""
    """"safety" for the backup taken before a restore (a retention of its own), else empty."""


def backups_of(snapshots: Sequence[dict[str, Any]]) -> list[Backup]:
    """One row per database snapshot (the globals snapshot of each run rides along), oldest first."""
    rows = []
    for s in snapshots:
        tags = s.get("tags") or []
        if "kind=db" not in tags:
            continue
        values = dict(t.split("=", 1) for t in tags if "=" in t)
        passed = "verified" in tags or "safety-verified" in tags
        verification = "verified" if passed else "failed" if "verify-failed" in tags else "unverified"
        rows.append(
            Backup(
                time=str(s.get("time", ""))[:19].replace("T", " ") + "Z",
                id=str(s.get("short_id") or s.get("id", ""))[:8],
                size=int(values["bytes"]) if values.get("bytes", "").isdigit() else None,
                verification=verification,
                tables=int(values["tables"]) if values.get("tables", "").isdigit() else None,
                run=values.get("run", ""),
                full_id=str(s.get("id") or s.get("short_id") or ""),
                kind="safety" if "safety" in tags else "",
            )
        )
    return sorted(rows, key=lambda b: (b.time, b.id))


def human_size(size: int | None) -> str:
    if size is None:
        return "?"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def render_backups(rows: Sequence[Backup]) -> str:
    lines = [f"{'time (UTC)':<21} {'snapshot':<9} {'size':>10}  {'restore check':<13} tables kind"]
    for b in rows:
        tables = str(b.tables) if b.tables is not None else "-"
        lines.append(
            f"{b.time:<21} {b.id:<9} {human_size(b.size):>10}  {b.verification:<13} {tables:<6} {b.kind}".rstrip()
        )
    verified = sum(b.verification == "verified" for b in rows)
    safety = sum(b.kind == "safety" for b in rows)
    lines.append(
        f"{len(rows)} backups"
        + (f" ({safety} of them safety backups before a restore)" if safety else "")
        + f", {verified} verified"
    )
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------ commands


@dataclass
class Context:
    env: str
    api: DockerAPI
    site: str
    public_gate: bool
    out: TextIO
    confirm: Callable[[str], None]
    """Asks the question; returns only when confirmed (ops.command.confirm)."""
    progress: Progress | None = None
    """Prints the job's lines as its exec sends them, with the elapsed time (None: collect them only)."""

    def say(self, text: str) -> None:
        """A phase of the command, as a progress line (a plain line without progress)."""
        if self.progress is not None:
            self.progress(text)
        else:
            print(text, file=self.out)


def context(
    stack: str,
    docker_host: str | None,
    config_file: str | None,
    yes: bool,
    out: TextIO,
    read: Callable[[str], str] = input,
    quiet: bool = False,
) -> Context:
    from pathlib import Path

    from ops.status import Declared

    override = docker_host_override(docker_host)
    declared = Declared.of(resolve_stack(stack), Path(config_file) if config_file else None)
    cfg = declared.config
    api = DockerAPI(override or cfg.docker_host, cfg.docker_ssh_opts, timeout=EXEC_TIMEOUT)
    return Context(
        cfg.env,
        api,
        site_url(cfg.env, cfg.domain),
        cfg.public_health_gate,
        out,
        lambda question: confirm(question, yes, read),
        Progress(out, quiet),
    )


def run_backup(
    ctx: Context, reason: str = "on demand", prune: bool = True, safety: bool = False, accept_drop: bool = False
) -> None:
    name = backup_container(ctx.api, ctx.env)
    flags = [*([] if prune else ["--no-prune"]), *(["--safety"] if safety else []), *(["--accept-drop"] * accept_drop)]
    code, _out, err = exec_run(ctx.api, name, [job.SCRIPT_PATH, "run", reason, *flags], on_stderr=ctx.progress)
    if code != 0:
        raise OperatorError(f"backup of env {ctx.env} failed: {last_line(err) or f'exit {code}'}")


def cmd_backup(ctx: Context, accept_drop: bool = False) -> int:
    backup_container(ctx.api, ctx.env)  # the host and its backup service first: never ask for what cannot run
    question = f"Back up env {ctx.env} now?"
    if accept_drop:
        question = (
            f"Back up env {ctx.env} now, and verify it even if its tables or rows dropped sharply since the last "
            "verified backup (it then counts for retention like any other)?"
        )
    ctx.confirm(question)
    run_backup(ctx, accept_drop=accept_drop)
    print(f"backup of env {ctx.env} done and verified", file=ctx.out)
    return 0


def snapshot_list(ctx: Context) -> list[Backup]:
    name = backup_container(ctx.api, ctx.env)
    code, out, err = exec_run(ctx.api, name, [job.SCRIPT_PATH, "list"])
    if code != 0:
        raise OperatorError(f"listing the backups of env {ctx.env} failed: {last_line(err) or f'exit {code}'}")
    try:
        return backups_of(json.loads(out))
    except (json.JSONDecodeError, TypeError, AttributeError):
        raise OperatorError(
            f"the backup container answered something that is not restic's snapshot list: {out[:80]!r}"
        ) from None


def cmd_backups(ctx: Context) -> int:
    print(render_backups(snapshot_list(ctx)), file=ctx.out)
    return 0


def resolve_source(listed: Sequence[Backup], source: str, env: str, unverified: bool = False) -> str:
    """The snapshot `--from` names: `latest` is the newest backup that passed its restore check (a newer
    one that failed it, or was never checked, is skipped); an id must be one of this env's backups, and
    one that did not pass its check is refused unless `unverified` (an operator inspecting it)."""
    verified = [b for b in listed if b.verification == "verified"]
    if source == "latest":
        if not verified:
            raise OperatorError(f"env {env} has no verified backup to restore")
        return verified[-1].id
    named = [b for b in listed if (b.full_id or b.id).startswith(source)]
    if not named:
        raise bad_input(
            f"--from {source}: no backup of env {env} has this id (see `uv run invoke backups --stack {env}`)"
        )
    if len(named) > 1:
        raise bad_input(
            f"--from {source}: {len(named)} backups of env {env} start with it; give more of the id (restic "
            "snapshots --json shows it whole)"
        )
    if named[0].verification != "verified" and not unverified:
        what = "failed its restore check" if named[0].verification == "failed" else "has not passed a restore check"
        raise bad_input(
            f"--from {source}: snapshot {named[0].id} {what}; pass --unverified to restore it anyway (with "
            "--into-scratch to inspect it)"
        )
    return source


def cmd_restore(
    ctx: Context,
    source: str,
    into_scratch: bool,
    unverified: bool = False,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> int:
    if not source:
        raise bad_input("--from is required: latest or a snapshot id (8 to 64 hex digits, see `uv run invoke backups`)")
    if not SNAPSHOT_RE.match(source):
        raise bad_input(
            f"--from {source!r}: expected latest or a snapshot id (8 to 64 hex digits, see `uv run invoke backups`)"
        )
    stamp = now().strftime("%Y%m%d%H%M%S")
    target = f"finance_report_scratch_{stamp}" if into_scratch else f"finance_report_restore_{stamp}"
    name = backup_container(ctx.api, ctx.env)
    # Resolved before the safety backup, which would otherwise be `latest` itself.
    source = resolve_source(snapshot_list(ctx), source, ctx.env, unverified)
    what = (
        f"into the new database {target}, beside the live one"
        if into_scratch
        else "over the live database (the backend and worker stop meanwhile; the current database is kept under a "
        "new name)"
    )
    ctx.confirm(f"Restore env {ctx.env} from {source} {what}?")

    ctx.say(f"safety backup of env {ctx.env} first")
    try:
        # Tagged safety, kept backupKeepSafetyDays apart from the dailies; it prunes nothing: the snapshot
        # about to be restored may be one the day's retention would forget.
        run_backup(ctx, "before restore", prune=False, safety=True)
    except OperatorError as safety_backup_failed:
        raise OperatorError(f"{safety_backup_failed}; nothing was restored") from None
    if into_scratch:
        code, out, err = exec_run(ctx.api, name, [job.SCRIPT_PATH, "restore", source, target], on_stderr=ctx.progress)
        if code != 0:
            raise OperatorError(last_line(err) or f"restore exited {code}")
        print(last_line(out), file=ctx.out)
        return 0

    stopped: list[str] = []
    failures: list[str] = []
    with ctrl_c_deferred(ctx.out) as interrupted, contextlib.ExitStack() as finally_start:
        # Registered first: a stop that fails starts again what was already stopped.
        finally_start.callback(start_again, ctx, stopped, failures)
        for row in env_containers(ctx.api, ctx.env):
            if (
                row.get("Labels", {}).get(L.SERVICE) in (Service.BACKEND, Service.PREFECT_WORKER)
                and row.get("State") == "running"
            ):
                answer = ctx.api.request("POST", f"/containers/{row['Id']}/stop")
                if answer.status >= 400 and answer.status != 304:
                    failures.append(f"stopping {name_of(row)} failed ({answer.status}); nothing was restored")
                    break
                stopped.append(name_of(row))
                ctx.say(f"stopped {name_of(row)}")
        if not failures:
            argv = [job.SCRIPT_PATH, "restore", source, target, "--live"]
            code, out, err = exec_run(ctx.api, name, argv, on_stderr=ctx.progress)
            if code != 0:
                failures.append(last_line(err) or f"restore exited {code}")
            else:
                print(last_line(out), file=ctx.out)
    if interrupted:
        failures.append("interrupted (Ctrl-C): the restore ran to its end first, then the backend and worker started")
    failures += health_gate(ctx)
    if failures:
        raise OperatorError("; ".join(failures))
    return 0


def start_again(ctx: Context, stopped: Sequence[str], failures: list[str]) -> None:
    for container in stopped:
        answer = ctx.api.request("POST", f"/containers/{container}/start")
        if answer.status >= 400 and answer.status != 304:
            failures.append(f"starting {container} again failed ({answer.status})")
        else:
            ctx.say(f"started {container}")


@contextlib.contextmanager
def ctrl_c_deferred(out: TextIO) -> Iterator[list[int]]:
    """Ctrl-C (SIGINT) while the env is half-restored is noted and said, not obeyed: the restore runs in
    the backup container (a Docker exec that a closed connection does not stop), so cutting the command
    short would start the backend on a database still being swapped and skip the health gate. The
    command goes on to the end of the restore, starts the backend and worker, runs the gate, then exits 1.
    The yielded list holds one entry per Ctrl-C. (ssh to the Docker host ignores SIGINT:
    clients/docker_api.py.) Only the main thread may set a handler: elsewhere nothing is deferred."""
    noted: list[int] = []

    def note(signum: int, _frame: object) -> None:
        if not noted:
            print(
                "Ctrl-C: the restore goes on to its end inside the backup container (stopped midway it would leave "
                "the env half-restored); the backend and worker start after it, then the health gate runs",
                file=out,
                flush=True,
            )
        noted.append(signum)

    if threading.current_thread() is not threading.main_thread():
        yield noted
        return
    previous = signal.signal(signal.SIGINT, note)
    try:
        yield noted
    finally:
        signal.signal(signal.SIGINT, previous)


def health_gate(ctx: Context) -> list[str]:
    """The rollout gate `pulumi up` runs (runtime/rollout_gate.py): every container of the env running and
    healthy, and the public health URLs answering when the stack gates on them."""
    from runtime.rollout_gate import Gate

    rows = env_containers(ctx.api, ctx.env)
    # The backup service need only run: its health reports its last backup, a signal of its own.
    running = [name_of(r) for r in rows if r.get("Labels", {}).get(L.SERVICE) == Service.BACKUP]
    healthy = [name_of(r) for r in rows if name_of(r) not in running]
    urls = (f"{ctx.site}/api/health", f"{ctx.site}/") if ctx.public_gate else ()
    quiet = ctx.progress.quiet if ctx.progress is not None else False
    say = lambda line: print(line, file=ctx.out, flush=True)  # noqa: E731
    problems = Gate(ctx.api, healthy, urls=urls, timeout=600, say=say, quiet=quiet, running=running).run()
    if not problems:
        print(
            f"health gate: {len(healthy)} containers healthy"
            + (f", {len(running)} running" if running else "")
            + (f", {len(urls)} URLs answer" if urls else ""),
            file=ctx.out,
        )
    return [f"health gate: {p}" for p in problems]


def execute(
    command: str,
    stack: str,
    *,
    docker_host: str | None = None,
    config_file: str | None = None,
    yes: bool = False,
    source: str = "",
    into_scratch: bool = False,
    unverified: bool = False,
    no_http: bool = False,
    accept_drop: bool = False,
    quiet: bool = False,
    out: TextIO | None = None,
    read: Callable[[str], str] = input,
) -> int:
    ctx = context(stack, docker_host, config_file, yes, out or sys.stdout, read, quiet)
    if no_http:
        ctx.public_gate = False
    if command == "backup":
        return cmd_backup(ctx, accept_drop)
    if command == "backups":
        return cmd_backups(ctx)
    return cmd_restore(ctx, source, into_scratch, unverified)


def main(command: str, stack: str, **kwargs: Any) -> int:
    """`uv run invoke backup|backups|restore` as a command (one line and an exit code on error)."""
    return run_task(command, execute, command, stack, **kwargs)
