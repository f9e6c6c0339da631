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


def test_the_harness_reads_the_whole_ca_when_openbao_writes_it_after_creating_it(tmp_path, monkeypatch):
    """A CI run under load read vault-ca.pem between OpenBao creating it and writing it: `ca_pem` was empty,
    the program got no vaultCaCert and the test above failed with a KeyError. Here a wrapper creates the empty
    file a second before the real `bao` writes it, which makes that window certain."""
    import tests.integration.harness as harness

    real = harness.bao_binary()
    wrapper = tmp_path / "bao"
    wrapper.write_text(
        "#!/bin/sh\n"
        'for arg in "$@"; do case "$arg" in -dev-tls-cert-dir=*) : >"${arg#*=}/vault-ca.pem";; esac; done\n'
        f'sleep 1\nexec {real} "$@"\n'
    )
    wrapper.chmod(0o755)
    monkeypatch.setattr(harness, "bao_binary", lambda: str(wrapper))
    server = OpenBao(tls=True)
    try:
        server.start()
        assert server.ca_pem.startswith("-----BEGIN CERTIFICATE-----")
        assert server.ca_pem.rstrip().endswith("-----END CERTIFICATE-----")
    finally:
        server.stop()
