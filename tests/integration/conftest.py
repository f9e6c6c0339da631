"""Session fixtures of the real-systems layer. Every server starts once per session and stops at the
end, whatever the tests did; artifacts always come from the real program run under mocks."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import run_stack
from tests.integration.harness import Docker, OpenBao, Postgres
from tools.program_run import ProgramRun, unwrap_secrets

pytestmark = pytest.mark.integration


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


@dataclass
class Artifacts:
    """What the program hands to Vault and Docker, read from its captured resource inputs."""

    run: ProgramRun

    def inputs(self, type_: str, name: str) -> dict[str, Any]:
        return unwrap_secrets(self.run.one(type_, name).inputs)

    @property
    def env(self) -> str:
        return self.run.outputs["env"]

    def policies(self) -> dict[str, str]:
        return {r.inputs["name"]: r.inputs["policy"] for r in self.run.by_type("vault:index/policy:Policy")}

    def kv(self) -> dict[str, tuple[str, dict[str, str]]]:
        """service -> (mount, data) of each KV write."""
        out = {}
        for r in self.run.by_type("vault:kv/secretV2:SecretV2"):
            i = unwrap_secrets(r.inputs)
            out[i["name"].rsplit("/", 1)[-1]] = (i["mount"], json.loads(i["dataJson"]))
        return out

    def roles(self) -> dict[str, dict[str, Any]]:
        """role name -> AppRole settings as hvac keyword arguments."""
        out = {}
        for r in self.run.by_type("vault:appRole/authBackendRole:AuthBackendRole"):
            settings = {_snake(k): (int(v) if isinstance(v, float) else v) for k, v in r.inputs.items() if k not in ("roleName", "backend")}
            out[r.inputs["roleName"]] = settings
        return out

    def agent(self, service: str) -> dict[str, Any]:
        return self.inputs("docker:index/container:Container", f"{service}-vault-agent")

    def uploads(self, service: str) -> dict[str, str]:
        return {u["file"]: u["content"] for u in self.agent(service)["uploads"]}

    def secrets_volume(self, service: str) -> dict[str, Any]:
        return self.inputs("docker:index/volume:Volume", f"{service}-vault-secrets")

    def consumer(self, name: str) -> dict[str, Any]:
        return self.inputs("docker:index/container:Container", name)


def apply_vault(bao: OpenBao, artifacts: Artifacts) -> None:
    """What `pulumi up` does through the Vault provider: policies, KV secrets, AppRole roles."""
    client = bao.client()
    for name, hcl in artifacts.policies().items():
        client.sys.create_or_update_acl_policy(name=name, policy=hcl)
    for service, (mount, data) in artifacts.kv().items():
        client.secrets.kv.v2.create_or_update_secret(path=f"finance_report/{artifacts.env}/{service}", secret=data, mount_point=mount)
    for role, settings in artifacts.roles().items():
        client.auth.approle.create_or_update_approle(role_name=role, mount_point="approle", **settings)


def approle_pair(bao: OpenBao, role: str) -> tuple[str, str]:
    client = bao.client()
    role_id = client.auth.approle.read_role_id(role_name=role)["data"]["role_id"]
    secret_id = client.auth.approle.generate_secret_id(role_name=role)["data"]["secret_id"]
    return role_id, secret_id


@pytest.fixture(scope="session")
def openbao():
    server = OpenBao()
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def docker_engine():
    engine = Docker()
    try:
        engine.start()
        yield engine
    finally:
        engine.stop()


@pytest.fixture(scope="session")
def agent_image(docker_engine):
    return docker_engine.build_agent_image()


@pytest.fixture(scope="session")
def postgres_server():
    server = Postgres()
    try:
        server.start()
        yield server
    finally:
        server.stop()


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
