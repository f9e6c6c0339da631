"""Progress on long commands: `invoke backup` and `invoke restore` stream the backup job's lines as the
Docker exec sends them (not collected until it ends), each prefixed with the time since the command
started; the rollout gate says what it waits for and how far its watch is, with the elapsed time; all
of it is silent with --quiet (the result and the errors still print)."""

from __future__ import annotations

import io
import re
import time

from tests.unit.fake_docker import Engine, Exec, backup_row, fake_docker

ELAPSED = re.compile(r"^\+\d+:\d\d:\d\d ")
JOB_LINES = [
    "2026-01-02T02:30:00Z fr-backup: backup on-demand-1 (on demand): finance_report on postgres to s3:...",
    "2026-01-02T02:31:10Z fr-backup: stored on-demand-1: snapshot abcd1234 (1048576 bytes), globals ef; restore check",
    "2026-01-02T02:33:40Z fr-backup: restore check of abcd1234 passed: 12 tables",
    "2026-01-02T02:33:41Z fr-backup: backup on-demand-1 done",
]


def slow_job(pause: float = 0.4) -> Exec:
    return Exec(frames=[(2, line + "\n") for line in JOB_LINES], pause=pause)


def test_an_exec_streams_its_stderr_lines_as_they_come(tmp_path):
    from clients.docker_api import DockerAPI
    from ops.backup_ops import exec_run

    engine = Engine(execs=[Exec(frames=[(2, "first\nsecond pa"), (1, '{"a":'), (2, "rt\n"), (1, " 1}")], pause=0.4)])
    seen: list[tuple[float, str]] = []
    with fake_docker(tmp_path / "d.sock", engine) as host:
        code, out, err = exec_run(
            DockerAPI(host), "c", ["fr-backup", "run"], on_stderr=lambda line: seen.append((time.monotonic(), line))
        )
    assert (code, out, err) == (0, '{"a": 1}', "first\nsecond part\n")
    assert [line for _, line in seen] == ["first", "second part"]
    # the first line arrived before the exec sent its next frame: streamed, not collected
    assert seen[0][0] < engine.sent_at[1], (seen[0][0], engine.sent_at)


def run_backup(tmp_path, staging, quiet: bool) -> tuple[int, str, str]:
    from ops import backup_ops

    out, err = io.StringIO(), io.StringIO()
    engine = Engine(containers=[backup_row(staging)], execs=[slow_job(pause=0.05)])
    with fake_docker(tmp_path / "b.sock", engine) as host:
        code = backup_ops.run_task(
            "backup",
            backup_ops.execute,
            "backup",
            "staging",
            docker_host=host,
            yes=True,
            quiet=quiet,
            out=out,
            stderr=err,
        )
    assert engine.commands and engine.commands[0][1] == "run"
    return code, out.getvalue(), err.getvalue()


def test_backup_prints_each_job_line_with_the_time_since_it_started(tmp_path, staging):
    code, out, err = run_backup(tmp_path, staging, quiet=False)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert [ELAPSED.sub("", line) for line in lines[:-1]] == JOB_LINES
    assert all(ELAPSED.match(line) for line in lines[:-1]), lines
    assert lines[-1] == "backup of env staging done and verified"


def test_quiet_leaves_the_result_only(tmp_path, staging):
    code, out, err = run_backup(tmp_path, staging, quiet=True)
    assert (code, out, err) == (0, "backup of env staging done and verified\n", "")


def test_the_rollout_gate_says_what_it_waits_for_and_how_far_the_watch_is():
    from runtime.rollout_gate import Clock, ContainerView, Gate

    now = [0.0]

    class Views:
        """backend healthy after 3 polls, postgres from the start; nothing restarts."""

        polls = 0

        def view(self, name):
            if name == "backend":
                self.polls += 1
            healthy = name != "backend" or self.polls > 3
            return ContainerView(name, True, True, "healthy" if healthy else "starting", 0, "t0")

    views = Views()
    said: list[str] = []
    gate = Gate(
        api=None,
        healthy=["postgres", "backend"],
        watched=["backend"],
        watch_seconds=30,
        interval=5,
        clock=Clock(now=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s)),
        say=said.append,
        read=views.view,
    )
    assert gate.run() == []
    assert said[0] == "+0:00:00 waiting for 1 of 2 containers to be healthy: backend (starting)"
    assert "+0:00:15 all 2 containers healthy" in said
    assert said[said.index("+0:00:15 all 2 containers healthy") + 1] == "+0:00:15 watching backend for 30s"
    assert "+0:00:30 watch: 15 of 30s, backend running and healthy, no restart" in said
    assert said[-1] == "+0:00:45 watch: 30 of 30s, backend running and healthy, no restart"
    quiet: list[str] = []
    Gate(
        api=None,
        healthy=["postgres"],
        clock=Clock(now=lambda: 0.0, sleep=lambda s: None),
        say=quiet.append,
        read=views.view,
        quiet=True,
    ).run()
    assert quiet == []
