"""Deploying one service's sidecar on the harness the way `pulumi up` would: Vault side from the
program's captured inputs, agent container from its declared image, user, mounts, command, uploads,
health check and limits. Shared by the integration tests and the render-latency benchmark."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ops.program_run import ProgramRun, unwrap_secrets
from tests.integration.harness import ContainerStopped, Docker, OpenBao, wait_until

CONSUMER_USER = {"postgres": "70:70", "redis": "999:1000", "app": "0:0"}
# agent container -> the (role-id, secret-id) minted for it: the disk scans look for them too
MINTED: dict[str, tuple[str, str]] = {}
FILES = {
    "postgres": ["password", "app-password", "backup-password"],
    "redis": ["password", "redis.conf"],
    "app": ["app.env"],
}


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

    def kv_names(self) -> dict[str, str]:
        """service -> the KV secret's name in its mount, as the program declares it."""
        return {
            unwrap_secrets(r.inputs)["name"].rsplit("/", 1)[-1]: unwrap_secrets(r.inputs)["name"]
            for r in self.run.by_type("vault:kv/secretV2:SecretV2")
        }

    def roles(self) -> dict[str, dict[str, Any]]:
        """role name -> AppRole settings as hvac keyword arguments."""
        out = {}
        for r in self.run.by_type("vault:appRole/authBackendRole:AuthBackendRole"):
            settings = {
                _snake(k): (int(v) if isinstance(v, float) else v)
                for k, v in r.inputs.items()
                if k not in ("roleName", "backend")
            }
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
    names = artifacts.kv_names()
    for service, (mount, data) in artifacts.kv().items():
        client.secrets.kv.v2.create_or_update_secret(path=names[service], secret=data, mount_point=mount)
    for role, settings in artifacts.roles().items():
        client.auth.approle.create_or_update_approle(role_name=role, mount_point="approle", **settings)


def approle_pair(bao: OpenBao, role: str) -> tuple[str, str]:
    client = bao.client()
    role_id = client.auth.approle.read_role_id(role_name=role)["data"]["role_id"]
    secret_id = client.auth.approle.generate_secret_id(role_name=role)["data"]["secret_id"]
    return role_id, secret_id


# About a second here when the machine is quiet; a CI run with the mutation check beside the suite on two
# cores once ran past 60 s (no reason shown then: the failure now carries the agent's state and logs).
AGENT_READY_SECONDS = 120


def start_agent(
    docker: Docker,
    image: str,
    bao,
    artifacts: Artifacts,
    service: str,
    tag: str,
    until: str = "healthy",
    volume: str | None = None,
    vault_address: str | None = None,
) -> tuple[str, str, float]:
    """Create the secrets volume (or reuse `volume`) and the agent container exactly as declared; return
    (agent, volume, seconds from `docker start` until Docker reports it healthy, or with until="rendered",
    until its own health-check command first succeeds when run with `docker exec`, i.e. every file
    complete, or with until="started", at once). `vault_address` points the agent's config elsewhere (an
    unreachable Vault)."""
    from tests.integration.provider import upload_tar

    env = artifacts.env
    volume_inputs, agent = artifacts.secrets_volume(service), artifacts.agent(service)
    if volume is None:
        volume = docker.track("volume", f"frh-{tag}-{volume_inputs['name']}")
        opts = [arg for key, value in volume_inputs["driverOpts"].items() for arg in ("--opt", f"{key}={value}")]
        docker.run("volume", "create", "--driver", volume_inputs["driver"], *opts, volume)

    (mount,) = agent["mounts"]
    health = agent["healthcheck"]["tests"]
    assert health[0] == "CMD-SHELL"
    name = docker.track("container", f"frh-{tag}-{agent['name']}")
    entrypoint = agent["entrypoints"]
    docker.run(
        "create",
        "--name",
        name,
        "--network",
        "host",  # the harness's OpenBao listens on loopback
        "--user",
        agent["user"],
        "--mount",
        f"type=volume,source={volume},target={mount['target']}",
        "--entrypoint",
        entrypoint[0],
        "--health-cmd",
        health[1],
        "--health-interval",
        "1s",
        "--health-retries",
        "120",
        "--health-start-period",
        "0s",
        "--memory",
        f"{int(agent['memory'])}m",
        "--cap-drop",
        "ALL",
        "--security-opt",
        "no-new-privileges:true",
        image,
        *entrypoint[1:],
    )
    role_id, secret_id = approle_pair(bao, f"finance_report-{env}-{service}")
    minted = {"/vault/approle/role-id": role_id, "/vault/approle/secret-id": secret_id}
    MINTED[name] = (role_id, secret_id)
    # Each upload as the provider copies it: its own tar, with the program's permissions.
    for upload in agent["uploads"]:
        upload = {**upload, "content": minted.get(upload["file"], upload["content"])}
        if vault_address and upload["file"].endswith("agent.hcl"):
            upload["content"] = upload["content"].replace(bao.address, vault_address)
        answer = docker.api().request("PUT", f"/containers/{name}/archive", {"path": "/"}, raw=upload_tar(upload))
        assert answer.status < 300, answer.body
    docker.run("start", name)
    if until == "started":
        return name, volume, 0.0
    try:
        if until == "rendered":
            seconds = wait_until(
                lambda: docker.run("exec", name, "sh", "-c", health[1], check=False).returncode == 0,
                AGENT_READY_SECONDS,
                f"{service} agent",
                interval=0.01,
            )
        else:
            seconds = docker.wait_healthy(name, AGENT_READY_SECONDS, f"{service} agent")
    except (TimeoutError, ContainerStopped) as not_ready:
        try:
            why = docker.state_and_logs(name)
        except Exception as error:  # the container gone too: keep the timeout's own words
            why = f"{name} could not be inspected: {error}"
        raise type(not_ready)(f"{not_ready}; {why}") from None
    return name, volume, seconds


def consumer(docker: Docker, image: str, volume: str, service: str, script: str) -> str:
    proc = docker.run(
        "run",
        "--rm",
        "--network",
        "none",
        "--user",
        CONSUMER_USER[service],
        "--mount",
        f"type=volume,source={volume},target=/run/secrets/{service},readonly",
        image,
        "sh",
        "-c",
        script,
    )
    return proc.stdout.decode()


def write_host_agent(bao: OpenBao, artifacts: Artifacts, service: str, root: Path, exit_after_auth: bool) -> Path:
    """Lay out the agent's uploads under `root` (on /dev/shm: rendered values stay in memory) for a
    `bao agent` run on the host: the program's config with its container paths mapped into `root`,
    optionally rendering once and exiting. Returns the config path."""
    mapping = {"/vault/": f"{root}/vault/", "/run/secrets/": f"{root}/secrets/"}

    def host(path: str) -> str:
        for container_prefix, host_prefix in mapping.items():
            path = path.replace(container_prefix, host_prefix)
        return path

    role_id, secret_id = approle_pair(bao, f"finance_report-{artifacts.env}-{service}")
    uploads = artifacts.uploads(service)
    uploads["/vault/approle/role-id"], uploads["/vault/approle/secret-id"] = role_id, secret_id
    config = uploads.pop("/vault/config/agent.hcl")
    assert "exit_after_auth = false" in config
    if exit_after_auth:
        config = config.replace("exit_after_auth = false", "exit_after_auth = true")
    for path, content in {**uploads, "/vault/config/agent.hcl": host(config)}.items():
        Path(host(path)).parent.mkdir(parents=True, exist_ok=True)
        Path(host(path)).write_text(content)
    (root / "secrets" / service).mkdir(parents=True, exist_ok=True)
    return Path(host("/vault/config/agent.hcl"))
