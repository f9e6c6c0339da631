"""RedisComponent: the app's own Redis 7; `requirepass` comes from a file its vault-agent renders."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_docker as docker
import pulumi_random as random

from components import naming
from components import vault_artifacts as va
from components.data import data_storage
from components.hardening import Limits, hardened_container_args, healthcheck
from components.vault_agent import AgentSettings, VaultAgentSidecar, keep_or_generate, secrets_mount

SERVICE = "redis"
GID = 1000  # redis group in the alpine image
DATA_DIR = "/data"
CAPABILITIES = ("CHOWN", "SETGID", "SETUID")  # the entrypoint chowns /data, then drops to redis


def password_file() -> str:
    return f"{va.secrets_mount_path(SERVICE)}/password"


def conf_file() -> str:
    return f"{va.secrets_mount_path(SERVICE)}/redis.conf"


def healthcheck_command() -> list[str]:
    """Authenticated PING: the password goes through REDISCLI_AUTH of this one process, not argv."""
    return ["CMD-SHELL", f'REDISCLI_AUTH="$(cat {password_file()})" redis-cli -h 127.0.0.1 ping | grep -q PONG']


def server_command(memory_mb: int) -> list[str]:
    """The rendered config file carries only `requirepass`; the rest is not secret."""
    maxmemory = max(memory_mb * 3 // 4, 8)  # headroom under the container limit for fork/AOF rewrite
    return [
        "redis-server", conf_file(),
        "--appendonly", "yes",
        "--dir", DATA_DIR,
        "--maxmemory", f"{maxmemory}mb",
        "--maxmemory-policy", "noeviction",
    ]


@dataclass
class RedisArgs:
    env: str
    """Environment name."""
    image: str
    """Pinned Redis 7 image reference."""
    limits: Limits
    """Memory and log limits; maxmemory is derived from the memory limit."""
    internal_network: pulumi.Input[str]
    """The env's internal network: the only network Redis joins."""
    agent: AgentSettings
    """Shared vault-agent settings."""
    data_path: str = ""
    """Existing host directory to adopt; empty: a protected, retained named volume."""


class RedisComponent(pulumi.ComponentResource):
    password: pulumi.Output[str]
    """Secret: the requirepass value (the app's REDIS_URL is built from it)."""
    container_name: pulumi.Output[str]
    sidecar: VaultAgentSidecar

    def __init__(self, name: str, args: RedisArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("finance-report:datastore:Redis", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        generated = random.RandomPassword(f"{name}-password", length=32, special=True, override_special="!#%+-.:=?@^_~", opts=child)
        self.password = keep_or_generate(args.agent.existing_values(SERVICE, self), "PASSWORD", generated.result)

        templates = [
            va.password_template(args.agent.kv_mount, args.env, SERVICE, "PASSWORD"),
            va.redis_conf_template(args.agent.kv_mount, args.env),
        ]
        self.sidecar = VaultAgentSidecar(f"{name}-vault", args.agent.sidecar_args(SERVICE, {"PASSWORD": self.password}, templates, GID), opts=child)
        image = docker.RemoteImage(f"{name}-image", name=args.image, keep_locally=True, opts=child)

        storage = data_storage(name, SERVICE, args.env, args.data_path, DATA_DIR, self)

        container_name = naming.container_name(SERVICE, args.env)
        self.container = docker.Container(
            f"{name}-container",
            name=container_name,
            image=image.image_id,
            command=server_command(args.limits.memory_mb),
            mounts=[secrets_mount(self.sidecar), *storage.mounts],
            volumes=storage.volumes,
            networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=args.internal_network, aliases=[container_name])],
            labels=[
                docker.ContainerLabelArgs(label="traefik.enable", value="false"),
                docker.ContainerLabelArgs(label="finance-report.service", value=SERVICE),
                docker.ContainerLabelArgs(label="finance-report.restart-digest", value=self.sidecar.restart_digest),
            ],
            healthcheck=healthcheck(healthcheck_command()),
            wait=True,
            wait_timeout=120,
            **hardened_container_args(args.limits, CAPABILITIES),
            # A second server on the same append-only file would corrupt it: the old container goes first.
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True, replace_on_changes=["labels"], depends_on=[self.sidecar.container]),
        )
        self.container_name = self.container.name
        self.register_outputs({"container_name": self.container_name, "password": self.password})
