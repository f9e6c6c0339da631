"""A Vault whose certificate comes from a private CA (vaultCaCert): the agent, run with the program's
config and uploads, verifies Vault against that CA and renders; without the CA it refuses to talk to it."""

from __future__ import annotations

import pytest

from tests.conftest import run_stack
from tests.integration.harness import OpenBao
from tests.integration.sidecar import Artifacts, apply_vault, consumer, start_agent

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def tls_bao():
    server = OpenBao(tls=True)
    try:
        server.start()
        yield server
    finally:
        server.stop()


def test_the_agent_verifies_vault_against_the_configured_ca(docker_engine, agent_image, tls_bao):
    run = run_stack("staging", {"vaultAddress": tls_bao.address, "vaultCaCert": tls_bao.ca_pem})
    assert run.error is None, run.error
    artifacts = Artifacts(run)
    apply_vault(tls_bao, artifacts)
    uploads = artifacts.uploads("redis")
    assert (
        uploads["/vault/config/vault-ca.pem"] == tls_bao.ca_pem
        and 'ca_cert = "/vault/config/vault-ca.pem"' in uploads["/vault/config/agent.hcl"]
    )
    try:
        _, volume, _ = start_agent(docker_engine, agent_image, tls_bao, artifacts, "redis", "ca")
        assert (
            consumer(docker_engine, agent_image, volume, "redis", "cat /run/secrets/redis/password")
            == artifacts.kv()["redis"][1]["PASSWORD"]
        )

        without = Artifacts(run_stack("staging", {"vaultAddress": tls_bao.address}))
        agent, _, _ = start_agent(docker_engine, agent_image, tls_bao, without, "redis", "noca", until="started")
        logs = lambda: docker_engine.run("logs", agent, check=False).stderr.decode(errors="replace")  # noqa: E731
        from tests.integration.harness import wait_until

        wait_until(lambda: "certificate" in logs(), 60, "the agent to refuse the unknown certificate")
        assert docker_engine.health(agent) != "healthy"
    finally:
        docker_engine.cleanup()
