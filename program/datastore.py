"""DatastoreComponent: what Postgres and Redis share. A generated password delivered by the service's own
vault-agent, a pinned image, data on an adopted host directory or a protected named volume, one server
under its operator name on the internal network only, replaced delete-first (two servers on one data
directory corrupt it), stopped with time to shut down cleanly.

What differs (image contract, start command, health check, stop signal) is a `DatastoreSpec` built by
render/postgres.py and render/redis.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_docker as docker

from program.containers import fixed_container
from program.data import data_storage, datastore_passwords
from program.vault_agent import AgentSettings, VaultAgentSidecar, secrets_mount
from render import naming
from render.datastore_spec import DatastoreSpec
from render.hardening import Limits, hardened_container_args, healthcheck
from render.labels import container_labels
from render.secrets import kept_merge


@dataclass
class DatastoreArgs:
    env: str
    """Environment name."""
    image: str
    """Pinned image reference."""
    limits: Limits
    """Memory and log limits."""
    internal_network: pulumi.Input[str]
    """The env's internal network: the only network the datastore joins."""
    agent: AgentSettings
    """Shared vault-agent settings."""
    kept: pulumi.Input[Mapping[str, str]] = field(default_factory=dict)
    """Values already in the service's KV secret that the program does not own (kept, never dropped)."""
    data_path: str = ""
    """Existing host directory to adopt; empty: a protected, retained named volume."""


class DatastoreComponent(pulumi.ComponentResource):
    password: pulumi.Output[str]
    """Secret: the server's password (Redis: the app's URL is built from it)."""
    generated: dict[str, pulumi.Output[str]]
    """Secret: the spec's other generated passwords by KV key (Postgres: its app's and backup's roles)."""
    container: docker.Container
    container_name: pulumi.Output[str]
    sidecar: VaultAgentSidecar

    def __init__(self, name: str, spec: DatastoreSpec, args: DatastoreArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("finance-report:datastore:Datastore", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        passwords = datastore_passwords(name, spec, self)
        self.password, self.generated = passwords.password, passwords.generated

        kv = kept_merge(passwords.kv(spec), args.kept)
        self.sidecar = args.agent.sidecar(self, f"{name}-vault", spec.service, kv, spec.templates, spec.gid)
        image = docker.RemoteImage(f"{name}-image", name=args.image, keep_locally=True, opts=child)
        storage = data_storage(name, spec.service, args.env, args.data_path, spec.data_dir, self)

        container_name = naming.container_name(spec.service, args.env)
        self.container = fixed_container(
            f"{name}-container",
            dict(
                name=container_name,
                image=image.image_id,
                **spec.process,
                mounts=[secrets_mount(self.sidecar), *storage.mounts],
                volumes=storage.volumes or None,
                networks_advanced=[
                    docker.ContainerNetworksAdvancedArgs(name=args.internal_network, aliases=[container_name])
                ],
                labels=container_labels(args.env, spec.service, restart_digest=self.sidecar.restart_digest),
                healthcheck=healthcheck(spec.health, start_period=spec.start_period),
                wait=True,
                wait_timeout=spec.wait_timeout,
                **hardened_container_args(args.limits, stop=spec.stop, user=spec.user),
            ),
            pulumi.ResourceOptions(parent=self, depends_on=[self.sidecar.container]),
        )
        self.container_name = self.container.name
        self.register_outputs({"container_name": self.container_name, "password": self.password})
