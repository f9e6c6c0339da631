"""SwarmApp: backend, frontend and prefect worker as Swarm services that Docker rolls (docs/design/swarm.md
sections 1-3), and the agent-bin service that puts the agent binary on every node.

Rolling: replicas from config; update one task at a time, the new task started and healthy before the
old one stops (Swarm moves a task to RUNNING only after its first healthy check), every failed or exited
task within the monitor window rolls the service back to its previous spec (render.swarm.rolling_update).
`pulumi up` waits for that (converge_config) and fails on a rollback (facts.providers.SERVICE_CONVERGE).

Secrets: each backend and worker task runs its own vault-agent once, before its process, with the app's
AppRole pair (program.swarm_vault, in_task); the rendered env file lives in the task's tmpfs and dies
with it. A changed KV value changes the restart digest in the task labels: a rolling update, ordered
after the datastores (depends_on), health-gated and rolled back on failure (invariant 6).

Routing: Traefik's swarm provider reads the service labels and routes to the tasks' addresses on the
Traefik network. A stopping task keeps serving for routingDrainSeconds (render/swarm_task.sh), longer
than Traefik's poll, so it is out of the router before it stops listening.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_docker as docker

from config.swarm import SwarmSettings
from facts.services import Service
from program.app import (
    BACKEND_PORT,
    BACKEND_STOP,
    FRONTEND_PORT,
    FRONTEND_STOP,
    GID,
    PREFECT_STOP,
    SERVICE,
    app_secrets,
    backend_healthcheck,
    backend_script,
    frontend_healthcheck,
    prefect_healthcheck,
    prefect_script,
)
from program.swarm_services import fixed_service
from program.swarm_vault import SwarmVault, SwarmVaultArgs, config_ref
from program.vault_agent import AgentSettings
from render import app_env, naming, traefik
from render import swarm as sw
from render import vault_artifacts as va
from render.hardening import Limits, Stop
from render.secrets import kept_merge

BACKEND_CONVERGE = "15m"  # migrations run before the new task turns healthy
FRONTEND_CONVERGE = "5m"
WORKER_CONVERGE = "5m"
WORKER = "worker"  # config/swarm.py's name of the prefect worker's settings


@dataclass
class SwarmAppArgs:
    env: str
    backend_image: str
    frontend_image: str
    route: traefik.Route
    backend_limits: Limits
    frontend_limits: Limits
    prefect_limits: Limits
    agent_limits: Limits
    internal_network: pulumi.Input[str]
    """Id of the internal overlay (Postgres, Redis)."""
    traefik_network: pulumi.Input[str]
    """Id of Dokploy's attachable overlay (Traefik, and the tasks' way out)."""
    agent: AgentSettings
    swarm: SwarmSettings
    monitor_seconds: int
    literals: Mapping[str, str]
    database_password: pulumi.Input[str]
    redis_password: pulumi.Input[str]
    operator_secrets: Mapping[str, pulumi.Input[str]]
    kept: pulumi.Input[Mapping[str, str]] = field(default_factory=dict)
    llm_encryption: bool = False
    prefect_enabled: bool = False
    openpanel_client_id: str = ""
    depends_on: Sequence[pulumi.Resource] = ()
    """The datastore services: a changed password reaches Postgres before the backend rolls."""


class SwarmApp(pulumi.ComponentResource):
    services: list[docker.Service]
    rolling: list[docker.Service]
    agent_bin: docker.Service
    vault: SwarmVault

    def __init__(self, name: str, args: SwarmAppArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("finance-report:app:App", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        env, swarm = args.env, args.swarm
        kept = pulumi.Output.from_input(args.kept).apply(lambda k: dict(k or {}))
        owned = app_secrets(self, name, env, args, kept)
        template = va.env_file_template(args.agent.kv_mount, env, SERVICE, app_env.APP_SECRET_KEYS, args.literals)
        self.vault = SwarmVault(
            f"{name}-vault",
            SwarmVaultArgs(
                service=SERVICE,
                settings=args.agent,
                kv_data=kept_merge(owned, kept),
                templates=[template],
                consumer_gid=GID,
                in_task=True,
            ),
            opts=child,
        )
        agent_image = str(args.agent.image)
        bin_volume = sw.agent_bin_volume(env, agent_image)
        self.agent_bin = fixed_service(
            f"{name}-agent-bin",
            dict(
                name=naming.container_name(Service.AGENT_BIN, env),
                labels=sw.service_labels(env, Service.AGENT_BIN),
                task_spec=docker.ServiceTaskSpecArgs(
                    container_spec=docker.ServiceTaskSpecContainerSpecArgs(
                        image=agent_image,
                        commands=sw.agent_bin_command(),
                        mounts=[
                            docker.ServiceTaskSpecContainerSpecMountArgs(
                                type="volume", source=bin_volume, target=sw.AGENT_BIN_DIR
                            )
                        ],
                        labels=sw.task_labels(env, Service.AGENT_BIN),
                        healthcheck=sw.healthcheck(["CMD-SHELL", f"test -x {sw.AGENT_BIN}"], interval=10),
                        **sw.hardened_container_spec(user="0:0"),
                    ),
                    **sw.task_settings(args.agent_limits, []),
                ),
                # One task on every node, so an app task finds the binary wherever it lands. A global
                # service cannot converge_config (facts.providers.SERVICE_CONVERGE): the task script waits.
                mode=docker.ServiceModeArgs(global_=True),
                **sw.pinned_update(),
            ),
            child,
        )
        task_script = config_ref(self, f"{name}-task-script", env, SERVICE, sw.TASK_SCRIPT_PATH, sw.task_script())
        app_mounts = [
            docker.ServiceTaskSpecContainerSpecMountArgs(
                type="tmpfs",
                target=self.vault.mount_path,
                tmpfs_options=docker.ServiceTaskSpecContainerSpecMountTmpfsOptionsArgs(
                    size_bytes=sw.APP_TMPFS_BYTES, mode=sw.APP_TMPFS_MODE
                ),
            ),
            docker.ServiceTaskSpecContainerSpecMountArgs(
                type="volume", source=bin_volume, target=sw.AGENT_BIN_DIR, read_only=True
            ),
        ]
        in_task_agent: dict[str, Any] = {
            "mounts": app_mounts,
            "secrets": self.vault.secrets,
            "configs": [*self.vault.configs, task_script],
        }
        after = pulumi.ResourceOptions(parent=self, depends_on=[self.agent_bin, self.vault.kv_secret, *args.depends_on])
        backend_drain = swarm.drain_seconds
        self.backend = fixed_service(
            f"{name}-backend",
            dict(
                name=naming.container_name(Service.BACKEND, env),
                labels=sw.service_labels(
                    env,
                    Service.BACKEND,
                    routing=sw.swarm_routing(traefik.api_labels(args.route, BACKEND_PORT), args.route.network, env),
                ),
                task_spec=docker.ServiceTaskSpecArgs(
                    container_spec=docker.ServiceTaskSpecContainerSpecArgs(
                        image=args.backend_image,
                        commands=sw.task_command(["sh", "-c", backend_script()]),
                        env=sw.task_env(backend_drain, self.vault.agent_config_path),
                        labels=sw.task_labels(env, Service.BACKEND, self.vault.restart_digest),
                        healthcheck=sw.healthcheck(backend_healthcheck(), start_period=60),
                        **in_task_agent,
                        **sw.hardened_container_spec(stop=Stop(backend_drain + BACKEND_STOP.seconds)),
                    ),
                    networks_advanceds=[
                        docker.ServiceTaskSpecNetworksAdvancedArgs(id=args.internal_network),
                        docker.ServiceTaskSpecNetworksAdvancedArgs(id=args.traefik_network),
                    ],
                    **sw.task_settings(args.backend_limits, swarm.constraints[Service.BACKEND]),
                ),
                mode=docker.ServiceModeArgs(
                    replicated=docker.ServiceModeReplicatedArgs(replicas=swarm.replicas[Service.BACKEND])
                ),
                converge_config=docker.ServiceConvergeConfigArgs(timeout=BACKEND_CONVERGE),
                **sw.rolling_update(args.monitor_seconds),
            ),
            after,
        )

        frontend_env = {
            "HOSTNAME": "0.0.0.0",
            "PORT": str(FRONTEND_PORT),
            "NEXT_PUBLIC_APP_URL": app_env.site_url(env, args.route.domain),
        }
        if args.openpanel_client_id:
            frontend_env["NEXT_PUBLIC_OPENPANEL_CLIENT_ID"] = args.openpanel_client_id
        self.frontend = fixed_service(
            f"{name}-frontend",
            dict(
                name=naming.container_name(Service.FRONTEND, env),
                labels=sw.service_labels(
                    env,
                    Service.FRONTEND,
                    routing=sw.swarm_routing(traefik.web_labels(args.route, FRONTEND_PORT), args.route.network, env),
                ),
                task_spec=docker.ServiceTaskSpecArgs(
                    container_spec=docker.ServiceTaskSpecContainerSpecArgs(
                        image=args.frontend_image,
                        # Next.js standalone's own command (app-contract), under the task script for the drain.
                        commands=sw.task_command(["node", "server.js"]),
                        env={**frontend_env, **sw.task_env(swarm.drain_seconds, None)},
                        configs=[task_script],
                        labels=sw.task_labels(env, Service.FRONTEND),
                        healthcheck=sw.healthcheck(frontend_healthcheck(), start_period=20),
                        **sw.hardened_container_spec(stop=Stop(swarm.drain_seconds + FRONTEND_STOP.seconds)),
                    ),
                    networks_advanceds=[docker.ServiceTaskSpecNetworksAdvancedArgs(id=args.traefik_network)],
                    **sw.task_settings(args.frontend_limits, swarm.constraints[Service.FRONTEND]),
                ),
                mode=docker.ServiceModeArgs(
                    replicated=docker.ServiceModeReplicatedArgs(replicas=swarm.replicas[Service.FRONTEND])
                ),
                converge_config=docker.ServiceConvergeConfigArgs(timeout=FRONTEND_CONVERGE),
                **sw.rolling_update(args.monitor_seconds),
            ),
            child,
        )
        self.services = [self.agent_bin, self.backend, self.frontend]
        self.rolling = [self.backend, self.frontend]
        self.worker: docker.Service | None = None
        if args.prefect_enabled:
            self.worker = fixed_service(
                f"{name}-prefect-worker",
                dict(
                    name=naming.container_name(Service.PREFECT_WORKER, env),
                    labels=sw.service_labels(env, Service.PREFECT_WORKER),
                    task_spec=docker.ServiceTaskSpecArgs(
                        container_spec=docker.ServiceTaskSpecContainerSpecArgs(
                            image=args.backend_image,
                            commands=sw.task_command(["sh", "-c", prefect_script()]),
                            # Not routed: nothing to drain from; the stop signal reaches the worker at once.
                            env=sw.task_env(0, self.vault.agent_config_path),
                            labels=sw.task_labels(env, Service.PREFECT_WORKER, self.vault.restart_digest),
                            healthcheck=sw.healthcheck(prefect_healthcheck(), start_period=30),
                            **in_task_agent,
                            **sw.hardened_container_spec(stop=PREFECT_STOP),
                        ),
                        networks_advanceds=[
                            docker.ServiceTaskSpecNetworksAdvancedArgs(id=args.internal_network),
                            docker.ServiceTaskSpecNetworksAdvancedArgs(id=args.traefik_network),
                        ],
                        **sw.task_settings(args.prefect_limits, swarm.constraints[WORKER]),
                    ),
                    mode=docker.ServiceModeArgs(
                        replicated=docker.ServiceModeReplicatedArgs(replicas=swarm.replicas[WORKER])
                    ),
                    converge_config=docker.ServiceConvergeConfigArgs(timeout=WORKER_CONVERGE),
                    **sw.rolling_update(args.monitor_seconds),
                ),
                after,
            )
            self.services.append(self.worker)
            self.rolling.append(self.worker)
        self.register_outputs({"services": [s.name for s in self.services]})
