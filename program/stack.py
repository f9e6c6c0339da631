"""FinanceReportStack: providers, networks, the datastores and the app of one environment, and the rollout
gate that ends every update."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_docker as docker
import pulumi_random as random
import pulumi_vault as vault

from config.schema import KeptValues, kept_values
from config.stack_config import StackConfig
from program import named
from program.app import AppArgs, AppComponent
from program.backup import BackupArgs, BackupComponent
from program.datastore import DatastoreArgs, DatastoreComponent
from program.docker_proxy import DockerProxy, DockerProxyArgs
from program.rollout import RolloutGateArgs, rollout_gate
from program.swarm_stack import declare_swarm_env
from program.vault_agent import AgentSettings
from render import app_env, naming, traefik
from render import postgres as pg
from render import redis as rd
from render.hardening import Limits
from render.labels import resource_labels

OPERATOR_SECRETS = {
    "s3AccessKey": "S3_ACCESS_KEY",
    "s3SecretKey": "S3_SECRET_KEY",
    "s3PublicAccessKey": "S3_PUBLIC_ACCESS_KEY",
    "s3PublicSecretKey": "S3_PUBLIC_SECRET_KEY",
    "zaiApiKey": "ZAI_API_KEY",
}


def docker_provider_args(cfg: StackConfig) -> dict:
    args: dict = {"host": cfg.docker_host, "ssh_opts": list(cfg.docker_ssh_opts)}
    token = cfg.secrets.get("registryToken")
    if token is not None:
        registry = cfg.backend_image.repository.split("/", 1)[0]
        args["registry_auth"] = [
            docker.ProviderRegistryAuthArgs(address=registry, username=cfg.registry_user, password=token)
        ]
    return args


# What each stack output is (docs/outputs.md is generated from these and the program's outputs; a test
# fails when an output has no line here).
OUTPUTS = {
    "env": "the env this stack deploys (its stack name)",
    "site_url": "the public URL, https://report<suffix>.<domain>",
    "health_url": "the backend's health URL through Traefik (what `invoke status` and the rollout gate GET)",
    "image_tag": "the backend/frontend image tag deployed (imageTag): what `invoke rollback` reads from the history",
    "images": "the backend and frontend image references deployed",
    "git_commit_sha": "the app commit deployed (gitCommitSha, else the tag when it is a sha7; empty for a release tag)",
    "docker_host": "the Docker host the stack deploys to (dockerHost)",
    "containers": "each service's container name (a rolling service's is its current revision's)",
    "vault_policies": "each service's Vault policy",
    "vault_roles": "each service's AppRole",
    "vault_kv_paths": "each service's KV v2 data path",
    "networks": "every network the env's containers join: its own internal, Vault and backup egress networks, "
    "and Dokploy's Traefik network",
    "vault_secret_id_accessors": "each service's current AppRole secret-id accessor: the one `invoke rotate` "
    "keeps when it destroys every other secret-id of the role",
    "backup_repository": "the restic repository of the env's backups (s3:<endpoint>/<bucket>/<prefix>)",
    "preview_docker_proxy": "with previewDockerProxy: the read-only Docker API proxy's container and socket",
}


@dataclass(frozen=True)
class _Shared:
    """What the datastores, the app and the backup of a Docker-runtime env share."""

    internal: docker.Network
    """No route out: the datastores talk only to the backend and the backup service."""
    vault_egress: docker.Network
    traefik_network: pulumi.Output[str]
    """Dokploy's network, looked up: referenced, never created or deleted."""
    agent: AgentSettings
    kept: pulumi.Output[KeptValues]
    """The values `invoke adopt` kept from Vault, by service."""

    def kept_for(self, service: str) -> pulumi.Output[Any]:
        return self.kept.apply(lambda k: k.get(service, {}))


def _limits(cfg: StackConfig, service: str) -> Limits:
    return Limits(cfg.memory_mb[service], cfg.log_max_size, cfg.log_max_files)


class FinanceReportStack(pulumi.ComponentResource):
    outputs: dict[str, pulumi.Input]
    """What __main__ exports (OUTPUTS says what each is): URLs, the deployed images, container names, Vault
    policy and role names, networks."""

    def __init__(self, name: str, cfg: StackConfig, opts: pulumi.ResourceOptions | None = None):
        super().__init__("finance-report:index:Stack", name, None, opts)
        docker_provider, scoped = self._declare_providers(cfg)
        if cfg.runtime == "swarm":
            # Docker rolls, rolls back and places the env's services (docs/swarm.md, program/swarm_stack.py).
            self.outputs = declare_swarm_env(self, cfg, docker_provider, scoped, OPERATOR_SECRETS)
            self.register_outputs(self.outputs)
            return
        shared = self._shared(cfg, docker_provider, scoped)
        postgres, redis = self._datastores(cfg, shared, scoped)
        app = self._app(cfg, shared, postgres, redis, scoped)
        backup = self._backup(cfg, shared, postgres, scoped)
        self._gate(cfg, postgres, redis, app, backup)
        self.outputs = self._outputs(cfg, shared, postgres, redis, app, backup)
        if cfg.preview_docker_proxy:
            self.outputs["preview_docker_proxy"] = self._docker_proxy(cfg, scoped)
        self.register_outputs(self.outputs)

    def _declare_providers(self, cfg: StackConfig) -> tuple[docker.Provider, pulumi.ResourceOptions]:
        """The Docker and Vault providers, and the options that hand them to every child (not `_providers`:
        pulumi.Resource keeps its providers in that attribute)."""
        child = pulumi.ResourceOptions(parent=self)
        docker_provider = docker.Provider("dokploy", **docker_provider_args(cfg), opts=child)
        # No token argument: the provider reads VAULT_TOKEN from the environment, so the token is never in
        # config or state. Its child token must outlive the longest update (facts.providers.VAULT_CHILD_TOKEN);
        # read-only previews skip it (their token may not create tokens).
        vault_provider = vault.Provider(
            "vault",
            address=cfg.vault_address,
            max_lease_ttl_seconds=cfg.vault_token_ttl_seconds,
            skip_child_token=cfg.vault_skip_child_token or None,
            opts=child,
        )
        # Children inherit these through their component parents.
        scoped = pulumi.ResourceOptions(parent=self, providers={"docker": docker_provider, "vault": vault_provider})
        return docker_provider, scoped

    def _shared(self, cfg: StackConfig, docker_provider: docker.Provider, scoped: pulumi.ResourceOptions) -> _Shared:
        """The env's networks, the vault-agent settings every sidecar shares, and the kept values."""
        env = cfg.env
        # Referenced, never created or deleted: it belongs to Dokploy. The lookup fails the preview
        # early if the network is missing on the host.
        traefik_network = docker.get_network_output(
            name=cfg.traefik_network, opts=pulumi.InvokeOutputOptions(parent=self, provider=docker_provider)
        ).name
        # internal: no route out, datastores only talk to the backend and the backup service
        internal = named.network(
            "internal",
            naming.internal_network_prefix(env),
            scoped,
            driver="bridge",
            internal=True,
            labels=resource_labels(env),
        )
        vault_net = named.network(
            "vault-egress", naming.vault_network_prefix(env), scoped, driver="bridge", labels=resource_labels(env)
        )
        digest_key = random.RandomBytes("restart-digest-key", length=32, opts=pulumi.ResourceOptions(parent=self))
        agent_image = docker.RemoteImage(
            "vault-agent-image", name=str(cfg.vault_agent_image), keep_locally=True, opts=scoped
        )
        kept: pulumi.Output[KeptValues] = pulumi.Output.secret(
            pulumi.Output.from_input(cfg.secrets.get("vaultKeptValues", "")).apply(kept_values)
        )
        agent = AgentSettings(
            env=env,
            vault_address=cfg.vault_address,
            kv_mount=cfg.vault_kv_mount,
            approle_mount=cfg.vault_approle_mount,
            image=agent_image.image_id,
            network=vault_net.name,
            limits=_limits(cfg, "agent"),
            digest_key=digest_key.hex,
            bound_cidrs=cfg.vault_agent_cidrs,
            ca_cert=cfg.vault_ca_cert,
            secret_id_ttl=cfg.secret_id_ttl_days * 86400,
            secret_id_renewal_window=cfg.secret_id_renewal_window,
        )
        return _Shared(internal, vault_net, traefik_network, agent, kept)

    def _datastores(
        self, cfg: StackConfig, shared: _Shared, scoped: pulumi.ResourceOptions
    ) -> tuple[DatastoreComponent, DatastoreComponent]:
        """Postgres and Redis on the internal network, each with its own vault-agent sidecar."""

        def datastore(spec, data_path: str) -> DatastoreComponent:
            image = str(cfg.postgres_image if spec.service == "postgres" else cfg.redis_image)
            return DatastoreComponent(
                spec.service,
                spec,
                DatastoreArgs(
                    env=cfg.env,
                    image=image,
                    limits=_limits(cfg, spec.service),
                    internal_network=shared.internal.name,
                    agent=shared.agent,
                    kept=shared.kept_for(spec.service),
                    data_path=data_path,
                ),
                opts=scoped,
            )

        postgres = datastore(pg.spec(cfg.vault_kv_mount, cfg.env), cfg.postgres_data_path)
        redis = datastore(rd.spec(cfg.vault_kv_mount, cfg.env, cfg.memory_mb["redis"]), cfg.redis_data_path)
        return postgres, redis

    def _app(
        self,
        cfg: StackConfig,
        shared: _Shared,
        postgres: DatastoreComponent,
        redis: DatastoreComponent,
        scoped: pulumi.ResourceOptions,
    ) -> AppComponent:
        """Backend, frontend and the optional prefect worker, routed by Traefik; they start after the datastores."""
        env = cfg.env
        route = traefik.Route(
            env=env,
            domain=cfg.domain,
            entrypoint=cfg.traefik_entrypoint,
            cert_resolver=cfg.traefik_cert_resolver,
            network=cfg.traefik_network,
        )
        literals = app_env.backend_literals(
            env=env,
            domain=cfg.domain,
            s3_endpoint=cfg.s3_endpoint,
            s3_bucket=cfg.s3_bucket,
            s3_public_endpoint=cfg.s3_public_endpoint,
            s3_public_bucket=cfg.s3_public_bucket,
            ai_provider=cfg.ai_provider,
            otel_endpoint=cfg.otel_endpoint,
            otel_service_name=cfg.otel_service_name,
            git_commit_sha=cfg.git_commit_sha,
            version=cfg.image_tag,
            prefect_api_url=cfg.prefect_api_url,
        )
        return AppComponent(
            "app",
            AppArgs(
                env=env,
                backend_image=str(cfg.backend_image),
                frontend_image=str(cfg.frontend_image),
                route=route,
                backend_limits=_limits(cfg, "backend"),
                frontend_limits=_limits(cfg, "frontend"),
                prefect_limits=_limits(cfg, "prefect"),
                internal_network=shared.internal.name,
                traefik_network=shared.traefik_network,
                agent=shared.agent,
                literals=literals,
                database_password=postgres.generated["APP_DB_PASSWORD"],
                redis_password=redis.password,
                operator_secrets={OPERATOR_SECRETS[k]: v for k, v in cfg.secrets.items() if k in OPERATOR_SECRETS},
                kept=shared.kept_for("app"),
                llm_encryption=cfg.llm_encryption,
                prefect_enabled=bool(cfg.prefect_api_url),
                openpanel_client_id=cfg.openpanel_client_id,
                depends_on=[postgres.container, redis.container],
            ),
            opts=scoped,
        )

    def _backup(
        self, cfg: StackConfig, shared: _Shared, postgres: DatastoreComponent, scoped: pulumi.ResourceOptions
    ) -> BackupComponent:
        """Invariant 9: every env's database is backed up off-host, encrypted, restore-checked."""
        assert cfg.backup is not None  # load_config always sets it
        return BackupComponent(
            "backup",
            BackupArgs(
                env=cfg.env,
                settings=cfg.backup,
                postgres_image=str(cfg.postgres_image),
                limits=Limits(cfg.backup.memory_mb, cfg.log_max_size, cfg.log_max_files),
                internal_network=shared.internal.name,
                agent=shared.agent,
                database_password=postgres.generated["BACKUP_DB_PASSWORD"],
                s3_access_key=cfg.secrets.get("backupS3AccessKey") or cfg.secrets["s3AccessKey"],
                s3_secret_key=cfg.secrets.get("backupS3SecretKey") or cfg.secrets["s3SecretKey"],
                heartbeat_url=cfg.secrets.get("backupHeartbeatUrl", ""),
                kept=shared.kept_for("backup"),
                depends_on=[postgres.container],
            ),
            opts=scoped,
        )

    def _gate(
        self,
        cfg: StackConfig,
        postgres: DatastoreComponent,
        redis: DatastoreComponent,
        app: AppComponent,
        backup: BackupComponent,
    ) -> None:
        """The rollout gate that ends every update: every container healthy, the rolling ones watched."""
        site = app_env.site_url(cfg.env, cfg.domain)
        gate = RolloutGateArgs(
            docker_host=cfg.docker_host,
            ssh_opts=cfg.docker_ssh_opts,
            watch_seconds=cfg.cutover_watch_seconds,
            urls=(f"{site}/api/health", f"{site}/") if cfg.public_health_gate else (),
        )
        containers = [
            postgres.sidecar.container,
            postgres.container,
            redis.sidecar.container,
            redis.container,
            *app.containers,
            backup.sidecar.container,
        ]
        # The backup service's health is its own signal (status, health line): running is enough here.
        rollout_gate("rollout-gate", gate, containers, app.rolling, self, running=[backup.container])

    def _outputs(
        self,
        cfg: StackConfig,
        shared: _Shared,
        postgres: DatastoreComponent,
        redis: DatastoreComponent,
        app: AppComponent,
        backup: BackupComponent,
    ) -> dict[str, pulumi.Input[Any]]:
        """The stack outputs (OUTPUTS says what each is)."""
        env = cfg.env
        site = app_env.site_url(env, cfg.domain)
        sidecars = {"postgres": postgres.sidecar, "redis": redis.sidecar, "app": app.sidecar, "backup": backup.sidecar}
        names = {
            "postgres": postgres.container_name,
            "redis": redis.container_name,
            "backend": app.backend_name,
            "frontend": app.frontend_name,
            "backup": backup.container_name,
            **{f"{service}_vault_agent": s.container_name for service, s in sidecars.items()},
        }
        if app.prefect_name is not None:
            names["prefect_worker"] = app.prefect_name
        return {
            "env": env,
            "site_url": site,
            "health_url": f"{site}/api/health",
            "image_tag": cfg.image_tag,
            "images": {"backend": str(cfg.backend_image), "frontend": str(cfg.frontend_image)},
            "git_commit_sha": cfg.git_commit_sha,
            "docker_host": cfg.docker_host,
            "containers": names,
            "vault_policies": {service: s.policy_name for service, s in sidecars.items()},
            "vault_roles": {service: s.role_name for service, s in sidecars.items()},
            # The one secret-id of each role the stack owns: `invoke rotate` destroys every other.
            "vault_secret_id_accessors": {service: s.secret_id.accessor for service, s in sidecars.items()},
            "vault_kv_paths": {service: naming.kv_data_path(cfg.vault_kv_mount, env, service) for service in sidecars},
            "networks": {
                "internal": shared.internal.name,
                "vault_egress": shared.vault_egress.name,
                "backup_egress": backup.egress_network,
                "traefik": shared.traefik_network,
            },
            "backup_repository": backup.repository,
        }

    def _docker_proxy(self, cfg: StackConfig, scoped: pulumi.ResourceOptions) -> dict[str, pulumi.Input[Any]]:
        """previewDockerProxy: the read-only Docker API proxy; its output says where it listens."""
        proxy = DockerProxy(
            "preview-docker-proxy",
            DockerProxyArgs(
                env=cfg.env,
                image=str(cfg.preview_docker_proxy_image),
                gid=cfg.preview_docker_proxy_gid,
                limits=_limits(cfg, "agent"),
            ),
            opts=scoped,
        )
        return {"container": proxy.container_name, "socket": proxy.socket_path}
