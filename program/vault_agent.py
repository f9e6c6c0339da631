"""VaultAgentSidecar: one service's Vault side (KV secret, policy, AppRole, secret-id) and the agent
container that renders its secrets into a tmpfs volume its consumers mount read-only."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_docker as docker
import pulumi_vault as vault

from facts.services import Service
from program import named
from program.containers import fixed_container
from render import naming
from render import vault_artifacts as va
from render.hardening import Limits, hardened_container_args, healthcheck
from render.labels import container_labels, volume_labels


@dataclass
class VaultAgentArgs:
    service: str
    """Vault service name: postgres, redis or app. Picks the KV path, policy, role and volume names."""
    settings: AgentSettings
    """What every sidecar of the stack shares (env, Vault address and mounts, image, network, limits)."""
    kv_data: pulumi.Input[Mapping[str, str]]
    """The service's secret values, written to `<kv_mount>/data/finance_report/<env>/<service>`."""
    templates: Sequence[va.Template]
    """Files the agent renders into the secrets volume."""
    consumer_gid: int
    """Group of the consuming process; rendered files are readable by it and by nobody else."""


class VaultAgentSidecar(pulumi.ComponentResource):
    volume_name: pulumi.Output[str]
    """Name of the tmpfs secrets volume; consumers mount it read-only at `mount_path`."""
    mount_path: str
    container: docker.Container
    """The agent container: consumers `depends_on` it so they start once it has rendered."""
    restart_digest: pulumi.Output[str]
    """Changes exactly when a rendered value or template changes; the agent and its consumers carry it."""
    policy_name: pulumi.Output[str]
    role_name: pulumi.Output[str]
    container_name: pulumi.Output[str]
    secret_id: vault.approle.AuthBackendRoleSecretId
    """The agent's secret-id: its accessor is the one `invoke rotate` keeps."""

    def __init__(self, name: str, args: VaultAgentArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("finance-report:vault:AgentSidecar", name, None, opts)
        service, s = args.service, args.settings
        env = s.env

        kv_data = pulumi.Output.secret(args.kv_data)
        vault_side = declare_vault_side(self, name, service, s, kv_data)
        self.kv_secret, role, secret_id = vault_side.kv_secret, vault_side.role, vault_side.secret_id
        self.secret_id = secret_id
        policy_name = vault_side.policy_name

        self.mount_path = va.secrets_mount_path(service)
        # The name carries the volume's options: new options, a new volume beside the old one (named.py).
        volume = named.volume(
            f"{name}-secrets",
            naming.secrets_volume_prefix(service, env),
            pulumi.ResourceOptions(parent=self),
            driver="local",
            driver_opts=va.tmpfs_driver_opts(args.consumer_gid),
            labels=volume_labels(env),
        )

        templates = list(args.templates)
        self.restart_digest = restart_digest_of(s, templates, kv_data)
        credentials = va.CREDENTIAL_FILE_MODE
        uploads = [
            docker.ContainerUploadArgs(
                file=va.AGENT_CONFIG_PATH,
                content=va.agent_hcl(s.vault_address, s.approle_mount, service, templates, ca_cert=bool(s.ca_cert)),
            ),
            *([docker.ContainerUploadArgs(file=va.CA_CERT_PATH, content=s.ca_cert)] if s.ca_cert else []),
            *[docker.ContainerUploadArgs(file=t.source_path(), content=t.contents) for t in templates],
            docker.ContainerUploadArgs(file=va.ROLE_ID_PATH, content=role.role_id, permissions=credentials),
            docker.ContainerUploadArgs(
                file=va.SECRET_ID_PATH, content=pulumi.Output.secret(secret_id.secret_id), permissions=credentials
            ),
        ]
        self.container = fixed_container(
            f"{name}-agent",
            dict(
                name=naming.agent_container_name(service, env),
                image=s.image,
                entrypoints=va.agent_command(service),
                user=f"0:{args.consumer_gid}",
                uploads=uploads,
                mounts=[
                    docker.ContainerMountArgs(
                        type="volume", source=volume.name, target=self.mount_path, read_only=False
                    )
                ],
                networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=s.network)],
                # The digest makes a changed KV value replace the agent, which then renders it before any
                # consumer restarts: the running agent would re-read KV only after static_secret_render_interval.
                labels=container_labels(
                    env, Service.VAULT_AGENT, agent_for=service, restart_digest=self.restart_digest
                ),
                healthcheck=healthcheck(va.agent_healthcheck(service, templates), interval=5, start_period=5),
                wait=True,  # consumers depend on this container: they start only once it is healthy
                wait_timeout=120,
                **hardened_container_args(s.limits),
            ),
            pulumi.ResourceOptions(parent=self, depends_on=[self.kv_secret]),
        )

        self.volume_name = volume.name
        self.policy_name = pulumi.Output.from_input(policy_name)
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


@dataclass
class VaultSide:
    """One service's Vault resources: its KV secret, policy, AppRole and secret-id."""

    kv_secret: vault.kv.SecretV2
    policy_name: pulumi.Input[str]
    role: vault.approle.AuthBackendRole
    secret_id: vault.approle.AuthBackendRoleSecretId


def declare_vault_side(
    parent: pulumi.Resource,
    name: str,
    service: str,
    s: AgentSettings,
    kv_data: pulumi.Output,
) -> VaultSide:
    """The Vault side of one service, children of `parent` named from `name` (both runtimes declare them
    alike, so their URNs, and the values in state, stay when an env changes runtime)."""
    env = s.env
    child = pulumi.ResourceOptions(parent=parent)
    # Destroying the stack must not destroy the passwords of data that is itself retained; a preview
    # env's data is not retained, so neither are its secrets (nothing is left in Vault after the PR).
    kv_secret = vault.kv.SecretV2(
        f"{name}-kv",
        mount=s.kv_mount,
        name=naming.kv_name(env, service),
        data_json=pulumi.Output.json_dumps(kv_data),
        # A destroyed preview deletes every version and the metadata (a plain delete only soft-deletes the
        # latest version, which can be undeleted).
        delete_all_versions=True if naming.is_preview_env(env) else None,
        opts=pulumi.ResourceOptions(parent=parent, retain_on_delete=not naming.is_preview_env(env)),
    )
    if naming.is_preview_env(env):
        # The platform's shared preview policy (render/preview_env.py): the preview deployer may
        # attach it, never write one.
        policy_name: pulumi.Input[str] = naming.vault_policy_name(env, service)
    else:
        policy_name = vault.Policy(
            f"{name}-policy",
            name=naming.vault_policy_name(env, service),
            policy=va.policy_hcl(s.kv_mount, env, service),
            opts=child,
        ).name

    role_settings = va.approle_settings(env, service, s.bound_cidrs, s.secret_id_ttl)
    role = vault.approle.AuthBackendRole(
        f"{name}-role",
        backend=s.approle_mount,
        role_name=role_settings.role_name,
        token_policies=[policy_name],
        token_ttl=role_settings.token_ttl,
        token_max_ttl=role_settings.token_max_ttl,
        token_no_default_policy=role_settings.token_no_default_policy,
        token_type=role_settings.token_type,
        secret_id_ttl=role_settings.secret_id_ttl,
        secret_id_num_uses=role_settings.secret_id_num_uses,
        bind_secret_id=role_settings.bind_secret_id,
        secret_id_bound_cidrs=list(role_settings.bound_cidrs) or None,
        token_bound_cidrs=list(role_settings.bound_cidrs) or None,
        opts=child,
    )
    # Replacing this resource (docs/rotation.md) mints a new secret-id, recreates the agent with it, then
    # deletes the old one, which revokes it in Vault (create-before-delete: facts.providers). The renewal
    # window in its metadata replaces it at the first deploy of each new window, long before the role's
    # secret_id_ttl ends (render/vault_artifacts.secret_id_renewal_window).
    secret_id = vault.approle.AuthBackendRoleSecretId(
        f"{name}-secret-id",
        backend=s.approle_mount,
        role_name=role.role_name,
        metadata=va.secret_id_metadata(env, service, s.secret_id_renewal_window),
        opts=child,
    )
    return VaultSide(kv_secret, policy_name, role, secret_id)


def restart_digest_of(
    s: AgentSettings, templates: Sequence[va.Template], kv_data: pulumi.Input[Mapping[str, str]]
) -> pulumi.Output[str]:
    """The digest is an HMAC under a random key: safe to show, and shown so that a preview of a secret
    change reads as a label change on exactly the containers (or task templates) that must restart."""
    return pulumi.Output.unsecret(
        pulumi.Output.all(s.digest_key, kv_data).apply(
            lambda kd: va.restart_digest(bytes.fromhex(kd[0]), templates, kd[1])
        )
    )


def secrets_mount(sidecar: VaultAgentSidecar) -> docker.ContainerMountArgs:
    """How a consumer mounts its sidecar's volume: read-only, same path as the agent writes."""
    return docker.ContainerMountArgs(
        type="volume", source=sidecar.volume_name, target=sidecar.mount_path, read_only=True
    )


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
    bound_cidrs: tuple[str, ...] = ()
    """CIDRs the agents reach Vault from; bound to every secret-id and token when set."""
    ca_cert: str = ""
    """PEM of the CA that signed Vault's certificate (a private CA); empty: the image's roots."""
    secret_id_ttl: int = va.SECRET_ID_TTL_SECONDS
    """Lifetime of each secret-id (the role's secret_id_ttl)."""
    secret_id_renewal_window: str = ""
    """The renewal window of this deploy: a new one re-mints every secret-id."""

    def sidecar(
        self,
        parent: pulumi.Resource,
        name: str,
        service: str,
        kv_data: pulumi.Input[Mapping[str, str]],
        templates: Sequence[va.Template],
        consumer_gid: int,
    ) -> VaultAgentSidecar:
        return VaultAgentSidecar(
            name,
            VaultAgentArgs(
                service=service, settings=self, kv_data=kv_data, templates=templates, consumer_gid=consumer_gid
            ),
            opts=pulumi.ResourceOptions(parent=parent),
        )
