"""The rollout gate (runtime/rollout_gate.py) on a real Docker engine: it passes for containers that are
healthy and stay so, and fails, naming the container, for one that never turns healthy, one that is
missing, one that crash-loops after its first healthy check (the watched cutover), and a public URL
that stops answering during the watch. The gate is run with the command line the program declares."""

from __future__ import annotations

import http.server
import shlex
import threading

import pytest

from clients.docker_api import DockerAPI
from runtime.rollout_gate import Gate, parse
from tests.integration.harness import DOCKER_SOCK, wait_until

pytestmark = pytest.mark.integration


def program_gate_args(run) -> list[str]:
    argv = shlex.split(run.one("command:local:Command", "rollout-gate").inputs["create"])
    assert argv[:7] == ["uv", "run", "--frozen", "--no-sync", "python", "-m", "runtime.rollout_gate"]
    return argv[7:]


def start(docker, image: str, name: str, script: str, health: str, interval: str = "1s") -> str:
    name = docker.track("container", f"frh-gate-{name}")
    docker.run(
        "run",
        "-d",
        "--name",
        name,
        "--network",
        "none",
        "--restart",
        "unless-stopped",
        "--health-cmd",
        health,
        "--health-interval",
        interval,
        "--health-retries",
        "1",
        image,
        "sh",
        "-c",
        script,
    )
    return name


@pytest.fixture(scope="module")
def containers(docker_engine, agent_image):
    docker = docker_engine
    names = {
        "steady": start(docker, agent_image, "steady", "exec sleep 600", "true"),
        # healthy within a second, then exits after 6 s: the restart policy brings it back, again and again
        "crashloop": start(docker, agent_image, "crashloop", "sleep 6; exit 3", "true"),
        "sick": start(docker, agent_image, "sick", "exec sleep 600", "false"),
        # its first check is an hour away: Docker reports "starting" all along (a backend still migrating)
        "starting": start(docker, agent_image, "starting", "exec sleep 600", "true", interval="1h"),
    }
    wait_until(
        lambda: docker.health(names["steady"]) == "healthy" and docker.health(names["crashloop"]) == "healthy",
        30,
        "gate test containers",
    )
    yield names
    docker.cleanup()


def gate(args: list[str], **overrides) -> Gate:
    parsed = parse(args)
    return Gate(
        DockerAPI(f"unix://{DOCKER_SOCK}"),
        parsed.healthy,
        parsed.watch,
        parsed.watch_seconds,
        parsed.url,
        say=lambda _: None,
        running=parsed.running,
        **overrides,
    )


def test_the_programs_gate_command_is_accepted_and_names_every_container(production):
    args = parse(program_gate_args(production))
    assert (
        args.docker_host == "ssh://deploy@dokploy.zitian.party"
        and args.ssh_opts[:2] == ["-o", "StrictHostKeyChecking=yes"]
        and "ControlMaster=auto" in args.ssh_opts
    )
    # 4 agents and 5 services healthy; the backup service running (its health is its own signal)
    assert len(args.healthy) == 9 and len(args.watch) == 2 and args.watch_seconds == 60
    assert args.running == ["finance_report-backup"]


def test_steady_containers_pass_and_a_crash_loop_after_healthy_fails_the_watch(containers):
    assert (
        gate(
            [
                "--docker-host",
                "x",
                "--healthy",
                containers["steady"],
                "--watch",
                containers["steady"],
                "--watch-seconds",
                "8",
            ]
        ).run()
        == []
    )
    problems = gate(
        [
            "--docker-host",
            "x",
            "--healthy",
            containers["crashloop"],
            "--watch",
            containers["crashloop"],
            "--watch-seconds",
            "20",
        ]
    ).run()
    assert len(problems) == 1 and problems[0].startswith(f"{containers['crashloop']} restarted during the 20s watch"), (
        problems
    )


def test_a_container_that_never_turns_healthy_or_does_not_exist_fails(containers):
    problems = gate(
        ["--docker-host", "x", "--healthy", containers["sick"], "--healthy", "frh-gate-missing"], timeout=6
    ).run()
    assert problems[0].startswith(f"{containers['sick']} is unhealthy, not healthy, after 6s"), problems
    assert problems[1] == "frh-gate-missing does not exist"


def test_a_container_the_gate_needs_running_passes_unhealthy_and_fails_stopped(containers, docker_engine):
    """`--running`: the backup service, whose health reports its last backup (a failed one, an S3
    outage), not whether it works: running is enough for a deploy; stopped or missing is not."""
    assert gate(["--docker-host", "x", "--healthy", containers["steady"], "--running", containers["sick"]]).run() == []
    stopped = docker_engine.track("container", "frh-gate-stopped")
    docker_engine.run("create", "--name", stopped, "--network", "none", "fr-harness/agent:local", "true")
    problems = gate(
        ["--docker-host", "x", "--healthy", containers["steady"], "--running", stopped, "--running", "frh-gate-gone"],
        timeout=4,
    ).run()
    assert problems == [f"{stopped} is not running", "frh-gate-gone does not exist"], problems


def test_a_container_whose_health_is_still_starting_is_not_healthy(containers, docker_engine):
    """Issue 16 item 16: a gate that took "starting" for healthy passed every test; a backend still in its
    start period has not passed a single check."""
    assert docker_engine.health(containers["starting"]) == "starting"
    problems = gate(["--docker-host", "x", "--healthy", containers["starting"]], timeout=4).run()
    assert problems == [f"{containers['starting']} is starting, not healthy, after 4s"]


def serve(statuses):
    """A local HTTP server answering GET with the next status of `statuses`; returns (server, url)."""
    answers = iter(statuses)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(next(answers, 503))
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/api/health"


def test_a_public_url_that_never_answers_fails_the_gate_without_any_watch(containers):
    """Issue 16 item 16: with the URL checks gone, a gate whose watch also read the URLs still failed the
    one URL test; here no revision is watched (a preview's, or cutoverWatchSeconds 0) and the public URL
    answers 503: the gate must fail on the URL alone, and pass once it answers."""
    server, url = serve([503] * 10)
    try:
        args = ["--docker-host", "x", "--healthy", containers["steady"], "--url", url]
        assert gate(args, url_attempts=2).run() == [f"{url} answered 503 after 2 attempts"]
    finally:
        server.shutdown()
    server, url = serve([503, 200])
    try:
        args = ["--docker-host", "x", "--healthy", containers["steady"], "--url", url]
        assert gate(args, url_attempts=2).run() == []
    finally:
        server.shutdown()


def test_a_public_url_that_stops_answering_during_the_watch_fails_it(containers):
    answers = iter([200] * 3 + [503] * 100)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(next(answers))
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/api/health"
    try:
        problems = gate(
            [
                "--docker-host",
                "x",
                "--healthy",
                containers["steady"],
                "--watch",
                containers["steady"],
                "--watch-seconds",
                "30",
                "--url",
                url,
            ]
        ).run()
    finally:
        server.shutdown()
    assert problems == [f"{url} answered 503 during the watch"]
