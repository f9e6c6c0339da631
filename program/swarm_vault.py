"""SwarmVault: one service's Vault side under runtime swarm, and how its tasks get their secrets
(docs/design/swarm.md section 1).

- The KV secret, policy, AppRole and secret-id are declared exactly as under runtime containers
  (program.vault_agent.declare_vault_side, same component type and names), so an env that changes runtime
  keeps them and their values.
- The AppRole pair reaches the tasks as two Swarm secrets, granted only to this service's tasks and mounted
  0400 where the agent reads them (render.vault_artifacts.ROLE_ID_PATH, SECRET_ID_PATH). This is the one
  secret runtime swarm puts in Swarm's raft store (the named exception, docs/swarm.md "Secret zero"):
  application secrets never go there.
- The agent config and templates (no secret value) are Swarm configs.
- `in_task`: the consumer's own task runs the agent once before its process (backend, worker): nothing
  else runs. Otherwise (Postgres, Redis, backup, pinned to the data node) an agent service renders into a
  node-local tmpfs volume the consumer mounts read-only, as under runtime containers.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from facts.services import Service
from program import named
from program.swarm_services import fixed_service
from program.vault_agent import AgentSettings, declare_vault_side, restart_digest_of
from render import naming
from render import swarm as sw
from render import vault_artifacts as va
from render.labels import volume_labels

AGENT_CONVERGE = "2m"


def b64(text: str) -> str:
    """Swarm secret and config data as the provider takes it (base64)."""
    return base64.b64encode(text.encode()).decode()


@dataclass
class SwarmVaultArgs:
    service: str
    """Vault service name: postgres, redis, app or backup."""
    settings: AgentSettings
    """Shared agent settings (image: the agent image reference every node pulls; network: the vault egress
    overlay's id)."""
    kv_data: pulumi.Input[Mapping[str, str]]
    templates: Sequence[va.Template]
    consumer_gid: int
    in_task: bool
    """True: the consumer's task runs the agent once (no agent service, no volume)."""
    data_node: str = ""
    """The node an agent service is pinned to, beside its consumer (not in_task)."""


class SwarmVault(pulumi.ComponentResource):
    restart_digest: pulumi.Output[str]
    """Changes exactly when a rendered value or template changes: in the consumers' task labels, it rolls them."""
    secrets: list[docker.ServiceTaskSpecContainerSpecSecretArgs]
    """The AppRole pair, for the task that runs the agent."""
    configs: list[docker.ServiceTaskSpecContainerSpecConfigArgs]
    """agent.hcl, the templates and the CA, for the task that runs the agent."""
    agent_config_path: str
    volume_name: pulumi.Output[str] | None
    """The node-local tmpfs volume the agent service writes (None in_task)."""
    agent: docker.Service | None
    mount_path: str
    policy_name: pulumi.Output[str]
    role_name: pulumi.Output[str]

    def __init__(self, name: str, args: SwarmVaultArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("finance-report:vault:AgentSidecar", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        service, s = args.service, args.settings
        env = s.env
        kv_data = pulumi.Output.secret(args.kv_data)
        vault_side = declare_vault_side(self, name, service, s, kv_data)
        templates = list(args.templates)
        self.restart_digest = restart_digest_of(s, templates, kv_data)
        self.mount_path = va.secrets_mount_path(service)
        self.agent_config_path = va.AGENT_CONFIG_PATH

        # Create-first under a new name when the value changes: the old secret stays until no task uses it.
        unnamed = pulumi.ResourceOptions(parent=self, delete_before_replace=False)
        self.secrets = []
        for part, value, path in (
            ("role-id", vault_side.role.role_id, va.ROLE_ID_PATH),
            ("secret-id", pulumi.Output.secret(vault_side.secret_id.secret_id), va.SECRET_ID_PATH),
        ):
            secret = docker.Secret(
                f"{name}-swarm-{part}",
                # The name is an HMAC under the stack's random key: it shows nothing of the value.
                name=pulumi.Output.unsecret(
                    pulumi.Output.all(s.digest_key, value).apply(
                        lambda kv, p=part: sw.secret_name(env, service, p, bytes.fromhex(kv[0]), kv[1])
                    )
                ),
                data=pulumi.Output.secret(pulumi.Output.from_input(value).apply(b64)),
                labels=[docker.SecretLabelArgs(label="finance-report.env", value=env)],
                opts=unnamed,
            )
            self.secrets.append(
                docker.ServiceTaskSpecContainerSpecSecretArgs(
                    secret_id=secret.id,
                    secret_name=secret.name,
                    file_name=path,
                    file_uid="0",
                    file_gid="0",
                    file_mode=sw.CREDENTIAL_MODE,
                )
            )

        files = {
            va.AGENT_CONFIG_PATH: va.agent_hcl(
                s.vault_address,
                s.approle_mount,
                service,
                templates,
                ca_cert=bool(s.ca_cert),
                render_once=args.in_task,
            ),
            **({va.CA_CERT_PATH: s.ca_cert} if s.ca_cert else {}),
            **{t.source_path(): t.contents for t in templates},
        }
        self.configs = [
            config_ref(self, f"{name}-config-{path.rsplit('/', 1)[-1]}", env, service, path, text)
            for path, text in files.items()
        ]

        self.volume_name = None
        self.agent = None
        if not args.in_task:
            volume = named.volume(
                f"{name}-secrets",
                naming.secrets_volume_prefix(service, env),
                child,
                driver="local",
                driver_opts=va.tmpfs_driver_opts(args.consumer_gid),
                labels=volume_labels(env),
            )
            self.volume_name = volume.name
            self.agent = fixed_service(
                f"{name}-agent",
                dict(
                    name=naming.agent_container_name(service, env),
                    labels=sw.service_labels(env, Service.VAULT_AGENT, agent_for=service),
                    task_spec=docker.ServiceTaskSpecArgs(
                        container_spec=docker.ServiceTaskSpecContainerSpecArgs(
                            image=s.image,
                            commands=va.agent_command(service),
                            mounts=[
                                docker.ServiceTaskSpecContainerSpecMountArgs(
                                    type="volume", source=volume.name, target=self.mount_path, read_only=False
                                )
                            ],
                            secrets=self.secrets,
                            configs=self.configs,
                            labels=sw.task_labels(env, Service.VAULT_AGENT, self.restart_digest, agent_for=service),
                            healthcheck=sw.healthcheck(
                                va.agent_healthcheck(service, templates), interval=5, start_period=5
                            ),
                            **sw.hardened_container_spec(user=f"0:{args.consumer_gid}"),
                        ),
                        networks_advanceds=[docker.ServiceTaskSpecNetworksAdvancedArgs(id=s.network)],
                        **sw.task_settings(s.limits, [sw.data_node_constraint(args.data_node)]),
                    ),
                    mode=docker.ServiceModeArgs(replicated=docker.ServiceModeReplicatedArgs(replicas=1)),
                    converge_config=docker.ServiceConvergeConfigArgs(timeout=AGENT_CONVERGE),
                    **sw.pinned_update(),
                ),
                pulumi.ResourceOptions(parent=self, depends_on=[vault_side.kv_secret]),
            )
        self.policy_name = pulumi.Output.from_input(vault_side.policy_name)
        self.role_name = vault_side.role.role_name
        self.kv_secret = vault_side.kv_secret
        self.register_outputs(
            {"restart_digest": self.restart_digest, "policy_name": self.policy_name, "role_name": self.role_name}
        )

    def consumer_mounts(self) -> list[docker.ServiceTaskSpecContainerSpecMountArgs]:
        """How a pinned consumer mounts its agent's volume: read-only, where the agent writes."""
        if self.volume_name is None:
            return []
        return [
            docker.ServiceTaskSpecContainerSpecMountArgs(
                type="volume", source=self.volume_name, target=self.mount_path, read_only=True
            )
        ]


def config_ref(
    parent: pulumi.Resource, resource_name: str, env: str, owner: str, path: str, text: str, mode: int | None = None
) -> docker.ServiceTaskSpecContainerSpecConfigArgs:
    """A Swarm config holding `text` (never a secret), named by its hash (render.swarm.config_name) and mounted
    at `path`."""
    config = docker.ServiceConfig(
        resource_name,
        name=sw.config_name(env, owner, sw.config_label(path), text),
        data=b64(text),
        opts=pulumi.ResourceOptions(parent=parent, delete_before_replace=False),
    )
    return docker.ServiceTaskSpecContainerSpecConfigArgs(
        config_id=config.id, config_name=config.name, file_name=path, file_mode=mode
    )
