"""SwarmDatastore: Postgres or Redis under runtime swarm (docs/design/swarm.md section 4).

One replica pinned to the data node, where its data is (the adopted host directory or the protected named
volume, declared as under runtime containers: program.data.data_storage, same names). It updates and
rolls back stop-first, so two servers never run on one data directory, and stops with the spec's signal
and grace (Swarm honours them, and the provider's delete waits for them: facts.providers.
SERVICE_STOP_ON_DELETE). It joins only the internal overlay, publishes nothing, and resolves by DNS to its
task's address (`dnsrr`): no IPVS, so no idle pooled connection is dropped after 900 s (moby/moby#31208).
Draining the data node leaves it Pending until the node is active again: intended, it has nowhere else to go.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import cast

import pulumi
import pulumi_docker as docker

from program.data import DataStorage, data_storage, datastore_passwords
from program.swarm_services import fixed_service
from program.swarm_vault import SwarmVault, SwarmVaultArgs
from program.vault_agent import AgentSettings
from render import naming
from render import swarm as sw
from render.datastore_spec import DatastoreSpec
from render.hardening import Limits
from render.secrets import kept_merge

CONVERGE = "5m"


def data_mounts(storage: DataStorage) -> list[docker.ServiceTaskSpecContainerSpecMountArgs]:
    """The datastore's data as service mounts: the adopted host directory as a bind, the volume by name."""
    mounts = [
        docker.ServiceTaskSpecContainerSpecMountArgs(
            type="bind",
            source=v.host_path,
            target=cast(str, v.container_path),  # data_storage sets it
        )
        for v in storage.volumes
    ]
    mounts += [
        docker.ServiceTaskSpecContainerSpecMountArgs(type="volume", source=m.source, target=m.target)
        for m in storage.mounts
    ]
    return mounts


def env_map(envs: list[str]) -> dict[str, str]:
    return dict(entry.split("=", 1) for entry in envs)


@dataclass
class SwarmDatastoreArgs:
    env: str
    image: str
    """Pinned image reference (each node pulls it)."""
    limits: Limits
    internal_network: pulumi.Input[str]
    """Id of the env's internal overlay: the only network the datastore joins."""
    agent: AgentSettings
    data_node: str
    kept: pulumi.Input[Mapping[str, str]] = field(default_factory=dict)
    data_path: str = ""


class SwarmDatastore(pulumi.ComponentResource):
    password: pulumi.Output[str]
    """Secret: the server's password (Redis: the app's URL is built from it)."""
    generated: dict[str, pulumi.Output[str]]
    """Secret: the spec's other generated passwords by KV key (Postgres: its app's and backup's roles)."""
    service: docker.Service
    service_name: pulumi.Output[str]
    vault: SwarmVault

    def __init__(
        self, name: str, spec: DatastoreSpec, args: SwarmDatastoreArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("finance-report:datastore:Datastore", name, None, opts)
        passwords = datastore_passwords(name, spec, self)
        self.password, self.generated = passwords.password, passwords.generated
        kv = kept_merge(passwords.kv(spec), args.kept)
        self.vault = SwarmVault(
            f"{name}-vault",
            SwarmVaultArgs(
                service=spec.service,
                settings=args.agent,
                kv_data=kv,
                templates=spec.templates,
                consumer_gid=spec.gid,
                in_task=False,
                data_node=args.data_node,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        storage = data_storage(name, spec.service, args.env, args.data_path, spec.data_dir, self)
        process = dict(spec.process)
        self.service = fixed_service(
            f"{name}-service",
            dict(
                name=naming.container_name(spec.service, args.env),
                labels=sw.service_labels(args.env, spec.service),
                task_spec=docker.ServiceTaskSpecArgs(
                    container_spec=docker.ServiceTaskSpecContainerSpecArgs(
                        image=args.image,
                        commands=process.get("entrypoints"),
                        args=process.get("command"),
                        env=env_map(process.get("envs", [])),
                        mounts=[*self.vault.consumer_mounts(), *data_mounts(storage)],
                        labels=sw.task_labels(args.env, spec.service, self.vault.restart_digest),
                        healthcheck=sw.healthcheck(spec.health, start_period=spec.start_period),
                        **sw.hardened_container_spec(stop=spec.stop, user=spec.user),
                    ),
                    networks_advanceds=[docker.ServiceTaskSpecNetworksAdvancedArgs(id=args.internal_network)],
                    **sw.task_settings(args.limits, [sw.data_node_constraint(args.data_node)]),
                ),
                mode=docker.ServiceModeArgs(replicated=docker.ServiceModeReplicatedArgs(replicas=1)),
                endpoint_spec=docker.ServiceEndpointSpecArgs(mode="dnsrr"),
                converge_config=docker.ServiceConvergeConfigArgs(timeout=CONVERGE),
                **sw.pinned_update(),
            ),
            pulumi.ResourceOptions(parent=self, depends_on=[self.vault.agent] if self.vault.agent else []),
        )
        self.service_name = self.service.name
        self.register_outputs({"service_name": self.service_name, "password": self.password})
