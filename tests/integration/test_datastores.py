"""Postgres and Redis as the program declares them, on stand-ins of their official images
(tests/integration/images.py reproduces the contract: users, entrypoint steps as root and as the service
user, STOPSIGNAL, WORKDIR), created, stopped and read back the way the provider does
(tests/integration/provider.py). Every setting comes from the program's captured inputs.

Shown: each datastore starts on a fresh volume and on an adopted host directory that already holds the
server's own subdirectories, is written to, is stopped as the provider's delete stops it (t =
destroy_grace_seconds), and starts again on the same data, cleanly (no crash recovery), with its data;
Postgres shuts down fast with a pooled (idle) connection open; a failed password sync keeps Postgres
from ever turning healthy.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from pathlib import Path

import pytest

from ops.program_run import unwrap_secrets
from tests.integration import provider
from tests.integration.harness import wait_until
from tests.integration.sidecar import Artifacts, start_agent

pytestmark = pytest.mark.integration
CONTAINER = "docker:index/container:Container"


class Stage:
    """One test's datastore on the harness: its agent has rendered the secrets volume; the container is
    created from the program's inputs with the program's names mapped to this stage's."""

    def __init__(self, docker, agent_image, openbao, artifacts: Artifacts, service: str, tag: str):
        self.docker, self.api, self.artifacts, self.service, self.tag = docker, docker.api(), artifacts, service, tag
        self.inputs = unwrap_secrets(artifacts.run.one(CONTAINER, f"{service}-container").inputs)
        self.agent, self.secrets_volume, _ = start_agent(docker, agent_image, openbao, artifacts, service, tag)
        network = self.inputs["networksAdvanced"][0]["name"]
        self.network = docker.track("network", f"frh-{tag}-{network}")
        docker.run("network", "create", "--internal", self.network)

    def inputs_with(self, data_source: str, adopted: bool) -> dict:
        inputs = dict(self.inputs)
        mounts = []
        for mount in inputs.get("mounts", []):
            if mount["target"].startswith("/run/secrets/"):
                mounts.append({**mount, "source": self.secrets_volume})
            elif not adopted:
                mounts.append({**mount, "source": data_source})
        inputs["mounts"] = mounts
        if adopted:
            inputs["volumes"] = [{**v, "hostPath": data_source} for v in inputs["volumes"]]
        else:
            assert not inputs.get("volumes"), "the volume variant mounts no host path"
        return inputs

    def create(self, inputs: dict, image: str) -> str:
        name = self.docker.track("container", f"frh-{self.tag}-{inputs['name']}")
        return provider.create(
            self.api, inputs, image, name=name, networks={self.inputs["networksAdvanced"][0]["name"]: self.network}
        )

    def logs(self, cid: str) -> str:
        return self.docker.run("logs", cid, check=False).stdout.decode(errors="replace") + self.docker.run(
            "logs", cid, check=False
        ).stderr.decode(errors="replace")

    def exec(self, cid: str, script: str, check: bool = True) -> str:
        proc = self.docker.run("exec", cid, "sh", "-c", script, check=check)
        return proc.stdout.decode(errors="replace")


def wait_healthy(docker, cid: str, seconds: float = 120) -> None:
    try:
        wait_until(lambda: docker.health(cid) == "healthy", seconds, f"{cid[:12]} healthy", interval=0.5)
    except TimeoutError as err:
        logs = docker.run("logs", "--tail", "40", cid, check=False)
        raise AssertionError(
            f"{err}\n{logs.stdout.decode(errors='replace')}{logs.stderr.decode(errors='replace')}"
        ) from None


def adopted_directory(uid: int, gid: int) -> Path:
    path = Path(tempfile.mkdtemp(prefix="frh-adopted-", dir="/var/tmp"))
    os.chown(path, uid, gid)
    path.chmod(0o700)
    return path


@pytest.fixture(scope="module")
def variants(program, openbao):
    """Staging as committed (data on adopted host directories) and staging with named data volumes; both
    render the same Vault values (same env, same generated values), applied by the `program` fixture."""
    from tests.conftest import run_stack

    volumes = run_stack("staging", {"postgresDataPath": None, "redisDataPath": None, "vaultAddress": openbao.address})
    assert volumes.error is None, volumes.error
    return {True: program["staging"], False: Artifacts(volumes)}


# ------------------------------------------------------------------------------------------ Redis


@pytest.mark.parametrize("adopted", [False, True], ids=["volume", "adopted-directory"])
def test_redis_restarts_on_its_own_data_including_appendonlydir(
    docker_engine, agent_image, redis_image, openbao, variants, adopted
):
    stage = Stage(docker_engine, agent_image, openbao, variants[adopted], "redis", f"redis-{'a' if adopted else 'v'}")
    if adopted:
        source = str(adopted_directory(999, 1000))
    else:
        source = docker_engine.track("volume", f"frh-{stage.tag}-data")
        docker_engine.run("volume", "create", source)
    inputs = stage.inputs_with(source, adopted)
    key = "k-" + secrets.token_hex(4)
    try:
        first = stage.create(inputs, redis_image)
        wait_healthy(docker_engine, first)
        auth = f'REDISCLI_AUTH="$(cat {inputs["mounts"][0]["target"]}/password)"'
        assert stage.exec(first, f"{auth} redis-cli -h 127.0.0.1 set {key} kept").strip() == "OK"
        listing = stage.exec(first, "ls -ln /data")
        assert "appendonlydir" in listing and listing.split("appendonlydir")[0].splitlines()[-1].startswith(
            "drwx------"
        ), listing
        seconds = provider.stop_for_delete(stage.api, first, inputs)
        assert docker_engine.inspect(first)["State"]["ExitCode"] == 0, stage.logs(first)[-2000:]
        assert seconds < 25
        docker_engine.run("rm", first)

        second = stage.create(inputs, redis_image)
        wait_healthy(docker_engine, second)
        assert stage.exec(second, f"{auth} redis-cli -h 127.0.0.1 get {key}").strip() == "kept"
    finally:
        docker_engine.cleanup()
        if adopted:
            shutil.rmtree(source, ignore_errors=True)


def test_the_redis_standin_keeps_the_official_entrypoints_root_step(docker_engine, redis_image):
    """As root with only CHOWN/SETGID/SETUID (what the program used to grant), the entrypoint's chown
    `find` cannot read appendonlydir and Redis never starts: the stand-in reproduces it."""
    data = adopted_directory(999, 1000)
    try:
        (data / "appendonlydir").mkdir(mode=0o700)
        os.chown(data / "appendonlydir", 999, 1000)
        proc = docker_engine.run(
            "run",
            "--rm",
            "--network",
            "none",
            "--cap-drop",
            "ALL",
            "--cap-add",
            "CHOWN",
            "--cap-add",
            "SETGID",
            "--cap-add",
            "SETUID",
            "-v",
            f"{data}:/data",
            redis_image,
            "redis-server",
            "--appendonly",
            "yes",
            check=False,
            timeout=60,
        )
        assert proc.returncode != 0 and b"Permission denied" in proc.stderr, proc.stderr[-500:]
    finally:
        shutil.rmtree(data, ignore_errors=True)


# ------------------------------------------------------------------------------------------ Postgres


@pytest.mark.parametrize("adopted", [False, True], ids=["volume", "adopted-directory"])
def test_postgres_stops_fast_with_a_pooled_connection_and_restarts_without_recovery(
    docker_engine, agent_image, postgres_image, openbao, variants, adopted
):
    stage = Stage(docker_engine, agent_image, openbao, variants[adopted], "postgres", f"pg-{'a' if adopted else 'v'}")
    source = str(adopted_directory(70, 70)) if adopted else docker_engine.track("volume", f"frh-{stage.tag}-data")
    if not adopted:
        docker_engine.run("volume", "create", source)
    inputs = stage.inputs_with(source, adopted)
    try:
        first = stage.create(inputs, postgres_image)
        wait_healthy(docker_engine, first, 180)
        stage.exec(
            first,
            "psql -q -v ON_ERROR_STOP=1 -U postgres -d finance_report -c 'CREATE TABLE kept (v text); INSERT "
            "INTO kept VALUES (1);'",
        )
        # an idle session, as a connection pool keeps them: "smart" shutdown would wait for it
        docker_engine.run("exec", "-d", first, "sh", "-c", "sleep 600 | psql -U postgres -d finance_report")
        wait_until(
            lambda: (
                "1"
                in stage.exec(
                    first,
                    'psql -tA -U postgres -d postgres -c "SELECT count(*) FROM pg_stat_activity WHERE state '
                    "= 'idle' AND datname = 'finance_report'\"",
                )
            ),
            20,
            "idle session",
        )
        seconds = provider.stop_for_delete(stage.api, first, inputs)
        state = docker_engine.inspect(first)["State"]
        logs = stage.logs(first)
        assert "received fast shutdown request" in logs, logs[-2000:]
        assert state["ExitCode"] == 0 and seconds < 30, (
            f"stopped in {seconds:.1f}s with exit {state['ExitCode']}: {logs[-1500:]}"
        )
        docker_engine.run("rm", first)

        second = stage.create(inputs, postgres_image)
        wait_healthy(docker_engine, second, 180)
        logs = stage.logs(second)
        assert "not properly shut down" not in logs and "automatic recovery" not in logs, logs[-2000:]
        assert "Skipping initialization" in logs
        assert stage.exec(second, "psql -tA -U postgres -d finance_report -c 'SELECT v FROM kept'").strip() == "1"
    finally:
        docker_engine.cleanup()
        if adopted:
            shutil.rmtree(source, ignore_errors=True)


def test_a_failed_password_sync_keeps_postgres_from_turning_healthy(
    docker_engine, agent_image, postgres_image, openbao, variants
):
    stage = Stage(docker_engine, agent_image, openbao, variants[False], "postgres", "pg-sync")
    source = docker_engine.track("volume", f"frh-{stage.tag}-data")
    docker_engine.run("volume", "create", source)
    inputs = stage.inputs_with(source, adopted=False)
    try:
        first = stage.create(inputs, postgres_image)
        wait_healthy(docker_engine, first, 180)
        # Every write refused from now on: the next start's ALTER ROLE fails.
        stage.exec(first, "psql -q -U postgres -d postgres -c 'ALTER SYSTEM SET default_transaction_read_only = on'")
        provider.stop_for_delete(stage.api, first, inputs)
        docker_engine.run("rm", first)
        inputs = {**inputs, "restart": "no"}  # observe one start, not the restart loop
        second = stage.create(inputs, postgres_image)
        wait_until(
            lambda: not docker_engine.inspect(second)["State"]["Running"], 120, "postgres to stop after the failed sync"
        )
        state = docker_engine.inspect(second)["State"]
        assert state["ExitCode"] == 1 and state.get("Health", {}).get("Status") != "healthy"
        assert "password sync failed" in stage.logs(second)
    finally:
        docker_engine.cleanup()
