"""Session fixtures of the real-systems layer. Every server starts once per session and stops at the
end, whatever the tests did; artifacts always come from the real program run under mocks."""

from __future__ import annotations

import pytest

from tests.conftest import run_stack
from tests.integration.harness import Docker, OpenBao, Postgres, S3Server
from tests.integration.sidecar import Artifacts, apply_vault

pytestmark = pytest.mark.integration


def _serve(server):
    """Start a harness server for the session and stop it whatever happened."""
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def openbao():
    yield from _serve(OpenBao())


@pytest.fixture(scope="session")
def docker_engine():
    yield from _serve(Docker())


@pytest.fixture(scope="session")
def agent_image(docker_engine):
    return docker_engine.build_agent_image()


@pytest.fixture(scope="session")
def postgres_image(docker_engine):
    from tests.integration.images import postgres_image as build

    return build(docker_engine.api())


@pytest.fixture(scope="session")
def redis_image(docker_engine):
    from tests.integration.images import redis_image as build

    return build(docker_engine.api())


@pytest.fixture(scope="session")
def app_image(docker_engine):
    from tests.integration.images import app_image as build

    return build(docker_engine.api())


@pytest.fixture(scope="session")
def s3_server():
    yield from _serve(S3Server())


@pytest.fixture(scope="session")
def backup_image(docker_engine):
    from tests.integration.backup_stage import backup_image as build

    return build(docker_engine.api())


@pytest.fixture(scope="session")
def postgres_server():
    yield from _serve(Postgres())


@pytest.fixture(scope="session")
def program(openbao):
    """Both stacks' artifacts, with the agents pointed at this harness's OpenBao, applied to it."""
    runs = {}
    for stack in ("production", "staging"):
        run = run_stack(stack, {"vaultAddress": openbao.address})
        assert run.error is None, run.error
        runs[stack] = Artifacts(run)
        apply_vault(openbao, runs[stack])
    return runs


@pytest.fixture(scope="session")
def swarm_env():
    """runtime swarm: the harness's own swarm (FR_HARNESS_ID's manager), the program's staging env with the
    runtime switched deployed on it as the provider would, a routing stand-in in front (swarm_env.py)."""
    from tests.integration.swarm_env import SwarmEnv
    from tests.integration.swarm_harness import Swarm, TlsOpenBao

    swarm = Swarm()
    env = None
    try:
        swarm.start()
        env = SwarmEnv(swarm, TlsOpenBao(san=swarm.manager.address))
        env.start()
        env.deploy(env.program())
        yield env
    finally:
        if env is not None:
            env.stop()
        swarm.stop()
