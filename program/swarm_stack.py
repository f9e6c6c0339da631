"""One environment under runtime swarm (docs/swarm.md, docs/design/swarm.md): overlay networks, the
datastores and backup pinned to the data node, the app as rolling services, every Vault side declared as
under runtime containers. program/stack.py calls `declare_swarm_env` once, for a stack whose config says
`runtime: swarm`; a containers stack never reaches this module.

Everything is declared through the stack's one Docker provider, which connects to a Swarm manager: the
services, secrets, configs and overlay networks are cluster objects; the volumes and the backup image are
local to that manager, which is therefore also the data node (`doctor` checks it is).
"""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_docker as docker
import pulumi_random as random

from config.schema import KeptValues, kept_values
from config.stack_config import StackConfig
from program import named
from program.docker_proxy import DockerProxy, DockerProxyArgs
from program.swarm_app import SwarmApp, SwarmAppArgs
from program.swarm_backup import SwarmBackup, SwarmBackupArgs
from program.swarm_datastore import SwarmDatastore, SwarmDatastoreArgs
from program.vault_agent import AgentSettings
from render import app_env, naming, traefik
from render import postgres as pg
from render import redis as rd
from render.hardening import Limits
from render.labels import resource_labels

# A secret-id in raft, the one exception to "no secret in Swarm's raft store": shown by every preview and
# offline plan of a swarm stack (docs/swarm.md "Secret zero").
RAFT_EXCEPTION_WARNING = (
    "runtime swarm keeps each service's AppRole role-id and secret-id in Swarm's raft store (the Swarm secrets "
    "finance_report-<service>-role-id/-secret-id): encrypted at rest with a key on the managers' disks unless the "
    "swarm is autolocked (`docker swarm update --autolock=true`; `uv run invoke doctor` checks). Application "
    'secrets never go there. docs/swarm.md "Secret zero" has the raft-free alternative and its costs.'
)


def declare_swarm_env(
    parent: pulumi.Resource,
    cfg: StackConfig,
    docker_provider: docker.Provider,
    scoped: pulumi.ResourceOptions,
    operator_secrets: Mapping[str, str],
) -> dict[str, pulumi.Input]:
    """Declare the env's resources as children of `parent`; return the stack outputs. `operator_secrets`
    maps config keys to the app's KV keys (program.stack.OPERATOR_SECRETS)."""
    assert cfg.swarm is not None  # config/swarm.py: a swarm stack has its settings
    env, swarm = cfg.env, cfg.swarm
    child = pulumi.ResourceOptions(parent=parent)
    pulumi.log.warn(RAFT_EXCEPTION_WARNING)

    # Dokploy's attachable overlay: looked up (the preview fails early without it), referenced by id in
    # the services (facts.providers.SERVICE_NETWORK_READ_AS_ID).
    traefik_network = docker.get_network_output(
        name=cfg.traefik_network, opts=pulumi.InvokeOutputOptions(parent=parent, provider=docker_provider)
    )
    internal = named.network(
        "internal",
        naming.internal_network_prefix(env),
        scoped,
        driver="overlay",
        internal=True,
        labels=resource_labels(env),
    )
    vault_net = named.network(
        "vault-egress", naming.vault_network_prefix(env), scoped, driver="overlay", labels=resource_labels(env)
    )
    digest_key = random.RandomBytes("restart-digest-key", length=32, opts=child)
    kept: pulumi.Output[KeptValues] = pulumi.Output.secret(
        pulumi.Output.from_input(cfg.secrets.get("vaultKeptValues", "")).apply(kept_values)
    )

    def limits(service: str) -> Limits:
        return Limits(cfg.memory_mb[service], cfg.log_max_size, cfg.log_max_files)

    def kept_for(service: str) -> pulumi.Output:
        return kept.apply(lambda k: k.get(service, {}))

    agent = AgentSettings(
        env=env,
        vault_address=cfg.vault_address,
        kv_mount=cfg.vault_kv_mount,
        approle_mount=cfg.vault_approle_mount,
        image=str(cfg.vault_agent_image),  # every node pulls it by reference
        network=vault_net.id,
        limits=limits("agent"),
        digest_key=digest_key.hex,
        bound_cidrs=cfg.vault_agent_cidrs,
        ca_cert=cfg.vault_ca_cert,
    )

    def datastore(spec, data_path: str) -> SwarmDatastore:
        image = str(cfg.postgres_image if spec.service == "postgres" else cfg.redis_image)
        return SwarmDatastore(
            spec.service,
            spec,
            SwarmDatastoreArgs(
                env=env,
                image=image,
                limits=limits(spec.service),
                internal_network=internal.id,
                agent=agent,
                data_node=swarm.data_node,
                kept=kept_for(spec.service),
                data_path=data_path,
            ),
            opts=scoped,
        )

    postgres = datastore(pg.spec(cfg.vault_kv_mount, env), cfg.postgres_data_path)
    redis = datastore(rd.spec(cfg.vault_kv_mount, env, cfg.memory_mb["redis"]), cfg.redis_data_path)
    route = traefik.Route(
        env=env,
        domain=cfg.domain,
        entrypoint=cfg.traefik_entrypoint,
        cert_resolver=cfg.traefik_cert_resolver,
        network=cfg.traefik_network,
    )
    app = SwarmApp(
        "app",
        SwarmAppArgs(
            env=env,
            backend_image=str(cfg.backend_image),
            frontend_image=str(cfg.frontend_image),
            route=route,
            backend_limits=limits("backend"),
            frontend_limits=limits("frontend"),
            prefect_limits=limits("prefect"),
            agent_limits=limits("agent"),
            internal_network=internal.id,
            traefik_network=traefik_network.id,
            agent=agent,
            swarm=swarm,
            monitor_seconds=cfg.cutover_watch_seconds,
            literals=app_env.backend_literals(
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
            ),
            database_password=postgres.generated["APP_DB_PASSWORD"],
            redis_password=redis.password,
            operator_secrets={operator_secrets[k]: v for k, v in cfg.secrets.items() if k in operator_secrets},
            kept=kept_for("app"),
            llm_encryption=cfg.llm_encryption,
            prefect_enabled=bool(cfg.prefect_api_url),
            openpanel_client_id=cfg.openpanel_client_id,
            depends_on=[postgres.service, redis.service],
        ),
        opts=scoped,
    )
    assert cfg.backup is not None  # load_config always sets it
    backup = SwarmBackup(
        "backup",
        SwarmBackupArgs(
            env=env,
            settings=cfg.backup,
            postgres_image=str(cfg.postgres_image),
            limits=Limits(cfg.backup.memory_mb, cfg.log_max_size, cfg.log_max_files),
            internal_network=internal.id,
            agent=agent,
            data_node=swarm.data_node,
            database_password=postgres.generated["BACKUP_DB_PASSWORD"],
            s3_access_key=cfg.secrets.get("backupS3AccessKey") or cfg.secrets["s3AccessKey"],
            s3_secret_key=cfg.secrets.get("backupS3SecretKey") or cfg.secrets["s3SecretKey"],
            heartbeat_url=cfg.secrets.get("backupHeartbeatUrl", ""),
            kept=kept_for("backup"),
            depends_on=[postgres.service],
        ),
        opts=scoped,
    )

    site = app_env.site_url(env, cfg.domain)
    vaults = {"postgres": postgres.vault, "redis": redis.vault, "app": app.vault, "backup": backup.vault}
    services = {
        "postgres": postgres.service.name,
        "redis": redis.service.name,
        "backend": app.backend.name,
        "frontend": app.frontend.name,
        "backup": backup.service.name,
        "agent_bin": app.agent_bin.name,
        **{f"{s}_vault_agent": v.agent.name for s, v in vaults.items() if v.agent is not None},
    }
    if app.worker is not None:
        services["prefect_worker"] = app.worker.name
    outputs: dict[str, pulumi.Input] = {
        "env": env,
        "runtime": "swarm",
        "site_url": site,
        "health_url": f"{site}/api/health",
        "services": services,
        "vault_policies": {s: v.policy_name for s, v in vaults.items()},
        "vault_roles": {s: v.role_name for s, v in vaults.items()},
        "vault_kv_paths": {s: naming.kv_data_path(cfg.vault_kv_mount, env, s) for s in vaults},
        "networks": {"internal": internal.name, "vault_egress": vault_net.name, "traefik": traefik_network.name},
        "backup_repository": backup.repository,
    }
    if cfg.preview_docker_proxy:
        proxy = DockerProxy(
            "preview-docker-proxy",
            DockerProxyArgs(
                env=env,
                image=str(cfg.preview_docker_proxy_image),
                gid=cfg.preview_docker_proxy_gid,
                limits=limits("agent"),
            ),
            opts=scoped,
        )
        outputs["preview_docker_proxy"] = {"container": proxy.container_name, "socket": proxy.socket_path}
    return outputs
