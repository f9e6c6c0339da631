"""VaultAgentSidecar: one service's Vault side (KV secret, policy, AppRole, secret-id) and the agent
container that renders its secrets into a tmpfs volume its consumers mount read-only."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Mapping, Optional, Sequence

import pulumi
import pulumi_docker as docker
import pulumi_vault as vault

from components import naming
from components import vault_artifacts as va
from components.hardening import Limits, hardened_container_args, healthcheck


@dataclass
class VaultAgentArgs:
    service: str
    """Vault service name: postgres, redis or app. Picks the KV path, policy, role and volume names."""
    env: str
    """Environment name; every name and path carries it so environments cannot read each other."""
    vault_address: str
    """Address the agent uses to reach Vault."""
    kv_mount: str
    """KV v2 mount path (usually `secret`)."""
    approle_mount: str
    """AppRole auth mount path (usually `approle`)."""
    kv_data: pulumi.Input[Mapping[str, str]]
    """The service's secret values, written to `<kv_mount>/data/finance_report/<env>/<service>`."""
    templates: Sequence[va.Template]
    """Files the agent renders into the secrets volume."""
    consumer_gid: int
    """Group of the consuming process; rendered files are readable by it and by nobody else."""
    image: pulumi.Input[str]
    """Image (id) providing the `vault` binary."""
    network: pulumi.Input[str]
    """Network with a route to Vault."""
    limits: Limits
    """Memory and log limits of the agent container."""
    digest_key: pulumi.Input[str]
    """Per-stack random key (hex) for the restart digest."""


class VaultAgentSidecar(pulumi.ComponentResource):
    volume_name: pulumi.Output[str]
    """Name of the tmpfs secrets volume; consumers mount it read-only at `mount_path`."""
    mount_path: str
    container: docker.Container
    """The agent container: consumers `depends_on` it so they start once it is healthy."""
    restart_digest: pulumi.Output[str]
    """Changes exactly when a rendered value or template changes; consumers carry it as a label."""
    policy_name: pulumi.Output[str]
    role_name: pulumi.Output[str]
    container_name: pulumi.Output[str]

    def __init__(self, name: str, args: VaultAgentArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("finance-report:vault:AgentSidecar", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        service, env = args.service, args.env

        kv_data = pulumi.Output.secret(args.kv_data)
        # Destroying the stack must not destroy the passwords of data that is itself retained.
        self.kv_secret = vault.kv.SecretV2(
            f"{name}-kv",
            mount=args.kv_mount,
            name=naming.kv_name(env, service),
            data_json=pulumi.Output.json_dumps(kv_data),
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=True),
        )
        policy = vault.Policy(f"{name}-policy", name=naming.vault_policy_name(env, service), policy=va.policy_hcl(args.kv_mount, env, service), opts=child)

        settings = va.approle_settings(env, service)
        role = vault.approle.AuthBackendRole(
            f"{name}-role",
            backend=args.approle_mount,
            role_name=settings.role_name,
            token_policies=[policy.name],
            token_ttl=settings.token_ttl,
            token_max_ttl=settings.token_max_ttl,
            token_no_default_policy=settings.token_no_default_policy,
            token_type=settings.token_type,
            secret_id_ttl=settings.secret_id_ttl,
            secret_id_num_uses=settings.secret_id_num_uses,
            bind_secret_id=settings.bind_secret_id,
            opts=child,
        )
        # Replacing this resource (README: rotation) mints a new secret-id, recreates the agent with it,
        # then deletes the old one, which revokes it in Vault.
        secret_id = vault.approle.AuthBackendRoleSecretId(
            f"{name}-secret-id",
            backend=args.approle_mount,
            role_name=role.role_name,
            metadata=json.dumps({"service": service, "env": env}),
            opts=child,
        )

        self.mount_path = va.secrets_mount_path(service)
        volume = docker.Volume(
            f"{name}-secrets",
            name=naming.secrets_volume_name(service, env),
            driver="local",
            driver_opts=va.tmpfs_driver_opts(args.consumer_gid),
            labels=[docker.VolumeLabelArgs(label="finance-report.env", value=env)],
            opts=child,
        )

        uploads = [
            docker.ContainerUploadArgs(file=va.AGENT_CONFIG_PATH, content=va.agent_hcl(args.vault_address, args.approle_mount, service, args.templates)),
            *[docker.ContainerUploadArgs(file=t.source_path(), content=t.contents) for t in args.templates],
            docker.ContainerUploadArgs(file=va.ROLE_ID_PATH, content=role.role_id),
            docker.ContainerUploadArgs(file=va.SECRET_ID_PATH, content=pulumi.Output.secret(secret_id.secret_id)),
        ]
        self.container = docker.Container(
            f"{name}-agent",
            name=naming.agent_container_name(service, env),
            image=args.image,
            entrypoints=va.agent_command(),
            user=f"0:{args.consumer_gid}",
            uploads=uploads,
            mounts=[docker.ContainerMountArgs(type="volume", source=volume.name, target=self.mount_path, read_only=False)],
            networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=args.network)],
            labels=[
                docker.ContainerLabelArgs(label="traefik.enable", value="false"),
                docker.ContainerLabelArgs(label="finance-report.service", value="vault-agent"),
                docker.ContainerLabelArgs(label="finance-report.env", value=env),
            ],
            healthcheck=healthcheck(va.agent_healthcheck(service, args.templates), interval="5s", start_period="5s"),
            wait=True,  # consumers depend on this container: they start only once it is healthy
            wait_timeout=120,
            **hardened_container_args(args.limits),
            # Fixed name: the old agent must go before the new one can take its name. A changed config,
            # template or secret-id (uploads) must recreate the agent.
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True, replace_on_changes=["uploads"], depends_on=[self.kv_secret]),
        )

        templates = list(args.templates)
        self.restart_digest = pulumi.Output.unsecret(
            # The digest is an HMAC under a random key: safe to show, and shown so that a preview of a
            # secret change reads as a label change on exactly the consuming containers.
            pulumi.Output.all(args.digest_key, kv_data).apply(lambda kd: va.restart_digest(bytes.fromhex(kd[0]), templates, kd[1]))
        )
        self.volume_name = volume.name
        self.policy_name = policy.name
        self.role_name = role.role_name
        self.container_name = self.container.name
        self.register_outputs(
            {
                "volume_name": self.volume_name,
                "restart_digest": self.restart_digest,
                "policy_name": self.policy_name,
                "role_name": self.role_name,
                "container_name": self.container_name,
            }
        )


def secrets_mount(sidecar: VaultAgentSidecar) -> docker.ContainerMountArgs:
    """How a consumer mounts its sidecar's volume: read-only, same path as the agent writes."""
    return docker.ContainerMountArgs(type="volume", source=sidecar.volume_name, target=sidecar.mount_path, read_only=True)


@dataclass(frozen=True)
class AgentSettings:
    """What every service's sidecar shares within one stack."""

    env: str
    vault_address: str
    kv_mount: str
    approle_mount: str
    image: pulumi.Input[str]
    network: pulumi.Input[str]
    limits: Limits
    digest_key: pulumi.Input[str]
    adopt_existing: bool
    """Keep values already stored in Vault instead of generated ones (migration without rotation)."""
    vault_provider: Optional[vault.Provider] = None

    def sidecar_args(self, service: str, kv_data: pulumi.Input[Mapping[str, str]], templates: Sequence[va.Template], consumer_gid: int) -> VaultAgentArgs:
        return VaultAgentArgs(
            service=service,
            env=self.env,
            vault_address=self.vault_address,
            kv_mount=self.kv_mount,
            approle_mount=self.approle_mount,
            kv_data=kv_data,
            templates=templates,
            consumer_gid=consumer_gid,
            image=self.image,
            network=self.network,
            limits=self.limits,
            digest_key=self.digest_key,
        )

    def existing_values(self, service: str, parent: pulumi.Resource) -> Optional[pulumi.Output[Mapping[str, str]]]:
        """In adopt mode, the values already stored at this service's KV path (read at preview/up,
        never written to state except as the secret KV resource that re-stores them)."""
        if not self.adopt_existing:
            return None
        result = vault.kv.get_secret_v2_output(
            mount=self.kv_mount,
            name=naming.kv_name(self.env, service),
            opts=pulumi.InvokeOutputOptions(parent=parent, provider=self.vault_provider),
        )
        return pulumi.Output.secret(result.data)


def keep_or_generate(existing: Optional[pulumi.Output[Mapping[str, str]]], key: str, generated: pulumi.Input[str]) -> pulumi.Output[str]:
    """The existing value of `key` when adopting and present, else the generated one. Always secret."""
    if existing is None:
        return pulumi.Output.secret(generated)
    return pulumi.Output.secret(pulumi.Output.all(existing, generated).apply(lambda eg: (eg[0] or {}).get(key) or eg[1]))
