"""`invoke logs` on a real Docker engine, against containers carrying the labels the program declares
(taken from its captured inputs for staging and production).

Shown: the current revision of staging's backend is found by label and read (stdout to stdout, stderr to
stderr), production's backend beside it never is; --all-revisions adds the earlier revision after it;
--since, --tail and --grep cut as asked; a TTY container's raw stream is read; an agent is found by its
agent-for label; --follow streams lines as the container writes them; a container's rendered secret
file is never read (only the list, inspect and logs endpoints are called, and the secret's value is in
no output); an unreachable host is one line and exit 1.
"""

from __future__ import annotations

import io
import secrets
import time
from typing import ClassVar

import pytest

from clients.docker_api import DockerAPI
from ops import logs
from ops.program_run import unwrap_secrets
from tests.conftest import run_stack
from tests.integration.harness import DOCKER_SOCK, wait_until

pytestmark = pytest.mark.integration
HOST = f"unix://{DOCKER_SOCK}"
CONTAINER = "docker:index/container:Container"
ALLOWED = {"/containers/json", "/containers/{id}/json", "/containers/{id}/logs"}


def program_labels(stack: str, resource: str) -> list[str]:
    inputs = unwrap_secrets(run_stack(stack).one(CONTAINER, resource).inputs)
    return [f"{item['label']}={item['value']}" for item in inputs["labels"]]


class RecordingAPI(DockerAPI):
    """The real client, recording every endpoint it is asked for (ids replaced by {id})."""

    calls: ClassVar[list[str]] = []

    def _record(self, path: str) -> None:
        parts = path.split("/")
        if len(parts) > 3 and parts[1] == "containers":
            parts[2] = "{id}"
        RecordingAPI.calls.append("/".join(parts))

    def request(self, method, path, *args, **kwargs):
        self._record(path)
        return super().request(method, path, *args, **kwargs)

    def stream(self, path, query=None):
        self._record(path)
        return super().stream(path, query)


def start(docker, image: str, name: str, labels: list[str], script: str, *extra: str, env: dict | None = None) -> str:
    name = docker.track("container", f"frh-logs-{name}")
    args = [arg for label in labels for arg in ("--label", label)]
    docker.run("run", "-d", "--name", name, "--network", "none", *args, *extra, image, "sh", "-c", script, env=env)
    return name


def read(**kwargs) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    RecordingAPI.calls = []
    code = logs.main(
        kwargs.pop("stack", "staging"),
        kwargs.pop("service", "backend"),
        docker_host=kwargs.pop("docker_host", HOST),
        out=out,
        err=err,
        api_factory=RecordingAPI,
        **kwargs,
    )
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def deployed(docker_engine, agent_image):
    docker = docker_engine
    secret = "rendered-" + secrets.token_hex(16)
    volume = docker.track("volume", "frh-logs-app-secrets")
    docker.run(
        "volume",
        "create",
        "--driver",
        "local",
        "--opt",
        "type=tmpfs",
        "--opt",
        "device=tmpfs",
        "--opt",
        "o=size=1m,mode=0750",
        volume,
    )
    # The agent renders the file into the tmpfs volume and keeps it mounted (the volume's content lives
    # only while a container mounts it), as the program's agent does.
    names = {
        "agent": start(
            docker,
            agent_image,
            "app-agent",
            program_labels("staging", "app-vault-agent"),
            'printf "SECRET_KEY=%s\\n" "$VALUE" > /run/secrets/app/app.env; echo agent rendered app.env; '
            "exec sleep 600",
            "-e",
            "VALUE",
            "--mount",
            f"type=volume,source={volume},target=/run/secrets/app",
            env={"VALUE": secret},
        ),
    }
    backend = program_labels("staging", "app-backend")
    names["old"] = start(docker, agent_image, "backend-old", backend, "echo old-revision-started; exec sleep 600")
    time.sleep(1.1)  # Created has one-second resolution: the new revision is newer
    names["new"] = start(
        docker,
        agent_image,
        "backend-new",
        backend,
        "echo early GET /health 200; echo early boom >&2; ls /run/secrets/app; test -s "
        "/run/secrets/app/app.env || exit 9; sleep 4; echo late GET /api/x 500; exec sleep 600",
        "--mount",
        f"type=volume,source={volume},target=/run/secrets/app,readonly",
    )
    names["production"] = start(
        docker,
        agent_image,
        "backend-production",
        program_labels("production", "app-backend"),
        "echo production-line; exec sleep 600",
    )
    names["frontend"] = start(
        docker,
        agent_image,
        "frontend-tty",
        program_labels("staging", "app-frontend"),
        "echo tty line one; echo tty line two; exec sleep 600",
        "-t",
    )
    wait_until(lambda: "late" in docker.run("logs", names["new"]).stdout.decode(), 30, "the new revision's late line")
    yield names, secret
    docker.cleanup()


def test_the_current_revision_of_staging_is_read_and_production_never(deployed):
    _names, _secret = deployed
    code, out, err = read()
    assert code == 0, err
    assert out.splitlines() == ["early GET /health 200", "app.env", "late GET /api/x 500"]
    assert err == "early boom\n"
    assert "production-line" not in out + err and "old-revision-started" not in out


def test_all_revisions_add_the_earlier_one_after_the_current(deployed):
    names, _ = deployed
    code, out, err = read(all_revisions=True)
    assert code == 0
    assert out.splitlines()[-1] == "old-revision-started"
    headers = [line for line in err.splitlines() if line.startswith("==> ")]
    assert headers[0].startswith(f"==> {names['new']} (running, current revision)") and headers[1].startswith(
        f"==> {names['old']} (running, earlier revision)"
    )


def test_since_tail_and_grep_cut_the_output(deployed):
    code, out, _ = read(since="3s")
    assert code == 0 and out.splitlines() == ["late GET /api/x 500"]
    assert read(tail="1")[1] == "late GET /api/x 500\n"
    assert read(grep=r"GET .* 200")[1] == "early GET /health 200\n"


def test_a_tty_container_and_an_agent_are_read(deployed):
    code, out, _ = read(service="frontend")
    assert code == 0 and [line.rstrip("\r") for line in out.splitlines()] == ["tty line one", "tty line two"]
    code, out, _ = read(service="agent:app")
    assert code == 0 and out == "agent rendered app.env\n"
    assert read(service="agent:redis")[0] == 1


def test_no_secret_file_is_ever_read(deployed):
    _, secret = deployed
    outputs = []
    for kwargs in ({}, {"all_revisions": True}, {"service": "agent:app"}, {"timestamps": True}):
        _code, out, err = read(**kwargs)
        outputs.append(out + err)
        assert set(RecordingAPI.calls) <= ALLOWED, RecordingAPI.calls
    assert not any(secret in text for text in outputs)


def test_follow_streams_lines_as_they_are_written(docker_engine, agent_image):
    name = start(
        docker_engine,
        agent_image,
        "redis-ticking",
        program_labels("staging", "redis-container"),
        "for i in 1 2 3 4 5 6 7 8; do echo tick $i; sleep 0.4; done",
    )

    class Clocked(io.StringIO):
        def __init__(self):
            super().__init__()
            self.times: list[float] = []

        def write(self, text):
            if text.strip():
                self.times.append(time.monotonic())
            return super().write(text)

    out, err = Clocked(), io.StringIO()
    try:
        code = logs.main("staging", "redis", follow=True, docker_host=HOST, out=out, err=err)
    finally:
        docker_engine.run("rm", "-f", name, check=False)
    assert code == 0, err.getvalue()
    assert out.getvalue().splitlines() == [f"tick {i}" for i in range(1, 9)]
    assert out.times[-1] - out.times[0] > 1.5, "the lines arrived at once: nothing was followed"


def test_an_unreachable_host_is_one_line_and_exit_1(deployed):
    code, out, err = read(docker_host="unix:///run/fr-no-such-engine.sock")
    assert (code, out) == (1, "")
    assert err == "logs: cannot reach the Docker engine at unix:///run/fr-no-such-engine.sock: no such socket\n"
