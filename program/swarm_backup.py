"""SwarmBackup: the env's backup service under runtime swarm (docs/design/swarm.md section 5).

The same job as under runtime containers (program/backup.py: render/backup_job.py's script, its own
vault-agent, policy, AppRole and KV path, the image built over the env's Postgres image), as one replica
pinned to the data node: its restore check needs disk next to Postgres, and its image, built on that
node, is found there without a registry. It updates stop-first (one job at a time on the scratch volume).
The job script, an upload under runtime containers, is a Swarm config here (no secret in it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_docker as docker
import pulumi_random as random

from config.stack_config import BackupSettings
from program import named
from program.backup import (
    HEALTH_INTERVAL,
    IMAGE_CONTEXT,
    SERVICE,
    START_PERIOD,
    STOP,
    egress_network_name,
    env_template,
    image_name,
    job_settings,
    scratch_volume_name,
)
from program.swarm_services import fixed_service
from program.swarm_vault import SwarmVault, SwarmVaultArgs, config_ref
from program.vault_agent import AgentSettings
from render import backup_job as job
from render import naming
from render import swarm as sw
from render.hardening import Limits
from render.labels import resource_labels, volume_labels
from render.secrets import generated_options, keeps_data, kept_merge

# The task turns healthy at its first probe (its health check reports backups, never fails on them), while
# the first backup of a new env (dump, upload, restore check) runs.
CONVERGE = "20m"
SCRIPT_MODE = 0o555


@dataclass
class SwarmBackupArgs:
    env: str
    settings: BackupSettings
    postgres_image: str
    limits: Limits
    internal_network: pulumi.Input[str]
    """Id of the internal overlay, where Postgres answers."""
    agent: AgentSettings
    data_node: str
    database_password: pulumi.Input[str]
    s3_access_key: pulumi.Input[str]
    s3_secret_key: pulumi.Input[str]
    heartbeat_url: pulumi.Input[str] = ""
    kept: pulumi.Input[Mapping[str, str]] = field(default_factory=dict)
    depends_on: Sequence[pulumi.Resource] = field(default_factory=tuple)


class SwarmBackup(pulumi.ComponentResource):
    service: docker.Service
    vault: SwarmVault
    repository: str

    def __init__(self, name: str, args: SwarmBackupArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("finance-report:backup:Backup", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        env, settings = args.env, args.settings
        password = random.RandomPassword(
            f"{name}-restic-password", length=48, special=False, opts=generated_options(self, protect=keeps_data(env))
        )
        kv: Mapping[str, pulumi.Input[str]] = {
            "AWS_ACCESS_KEY_ID": args.s3_access_key,
            "AWS_SECRET_ACCESS_KEY": args.s3_secret_key,
            "RESTIC_PASSWORD": password.result,
            "PGPASSWORD": args.database_password,
            "HEARTBEAT_URL": args.heartbeat_url,
        }
        self.vault = SwarmVault(
            f"{name}-vault",
            SwarmVaultArgs(
                service=SERVICE,
                settings=args.agent,
                kv_data=kept_merge(kv, args.kept),
                templates=[env_template(args.agent.kv_mount, env)],
                consumer_gid=job.GID,
                in_task=False,
                data_node=args.data_node,
            ),
            opts=child,
        )
        dockerfile = (IMAGE_CONTEXT / "Dockerfile").read_bytes()
        # Built by the engine the stack connects to, the manager that is also the data node (config/swarm.py).
        image = docker.RemoteImage(
            f"{name}-image",
            name=image_name(env, args.postgres_image, settings.restic_image, dockerfile),
            build=docker.RemoteImageBuildArgs(
                context=str(IMAGE_CONTEXT.relative_to(IMAGE_CONTEXT.parent.parent)),
                dockerfile="Dockerfile",
                build_args={"POSTGRES_IMAGE": args.postgres_image, "RESTIC_IMAGE": settings.restic_image},
            ),
            keep_locally=True,
            opts=child,
        )
        egress = named.network(
            f"{name}-egress", egress_network_name(env), child, driver="overlay", labels=resource_labels(env)
        )
        scratch = docker.Volume(f"{name}-scratch", name=scratch_volume_name(env), labels=volume_labels(env), opts=child)
        script = config_ref(
            self,
            f"{name}-job-script",
            env,
            SERVICE,
            job.SCRIPT_PATH,
            job.script(),
            SCRIPT_MODE,
        )
        self.repository = settings.repository
        self.service = fixed_service(
            f"{name}-service",
            dict(
                name=naming.container_name(SERVICE, env),
                labels=sw.service_labels(env, SERVICE),
                task_spec=docker.ServiceTaskSpecArgs(
                    container_spec=docker.ServiceTaskSpecContainerSpecArgs(
                        image=image.name,
                        commands=[job.SCRIPT_PATH],
                        args=["loop"],
                        env=dict(e.split("=", 1) for e in job.job_envs(job_settings(settings, env))),
                        mounts=[
                            *self.vault.consumer_mounts(),
                            docker.ServiceTaskSpecContainerSpecMountArgs(
                                type="volume", source=scratch.name, target=job.SCRATCH
                            ),
                        ],
                        configs=[script],
                        labels=sw.task_labels(env, SERVICE, self.vault.restart_digest),
                        # Report-only: Swarm would replace a task whose backup failed, over and over, and
                        # hold every update of it until the next good backup (facts.providers.SWARM_TASK_HEALTH).
                        healthcheck=sw.healthcheck(
                            job.healthcheck_command(report_only=True),
                            interval=HEALTH_INTERVAL,
                            timeout=10,
                            retries=2,
                            start_period=START_PERIOD,
                        ),
                        **sw.hardened_container_spec(stop=STOP, user=job.USER),
                    ),
                    networks_advanceds=[
                        docker.ServiceTaskSpecNetworksAdvancedArgs(id=args.internal_network),
                        docker.ServiceTaskSpecNetworksAdvancedArgs(id=egress.id),
                    ],
                    **sw.task_settings(args.limits, [sw.data_node_constraint(args.data_node)]),
                ),
                mode=docker.ServiceModeArgs(replicated=docker.ServiceModeReplicatedArgs(replicas=1)),
                converge_config=docker.ServiceConvergeConfigArgs(timeout=CONVERGE),
                **sw.pinned_update(),
            ),
            pulumi.ResourceOptions(
                parent=self, depends_on=[*([self.vault.agent] if self.vault.agent else []), *args.depends_on]
            ),
        )
        self.register_outputs({"service_name": self.service.name, "repository": self.repository})
