"""BackupComponent: the env's backup service (invariant 9; docs/backups.md).

One container per env, `finance_report-backup<sfx>`, runs render/backup_job.py's script: on a
schedule (and on demand, `uv run invoke backup`) it dumps the env's Postgres into an encrypted restic
repository in S3-compatible storage off the host, restores every new backup into a throwaway server
inside itself to check it, and prunes only after that check passed. Its own vault-agent, policy, AppRole
and KV path (`secret/data/finance_report/<env>/backup`) deliver the S3 credentials, the repository
password and the database password as one env file in a tmpfs volume mounted read-only.

Networks: the env's internal network (to reach Postgres) and an egress network of its own (to reach
S3 and the heartbeat URL); no Traefik, no published port, no Docker socket.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pulumi
import pulumi_docker as docker
import pulumi_random as random

from config.stack_config import BackupSettings
from program import named
from program.containers import fixed_container
from program.vault_agent import AgentSettings, VaultAgentSidecar, secrets_mount
from render import app_env, naming, postgres
from render import backup_job as job
from render import vault_artifacts as va
from render.hardening import Limits, Stop, hardened_container_args, healthcheck
from render.labels import container_labels, resource_labels, volume_labels
from render.secrets import generated_options, keeps_data, kept_merge

SERVICE = job.SERVICE
IMAGE_CONTEXT = Path(__file__).resolve().parent / "backup_image"
STOP = Stop(
    seconds=60, signal="SIGTERM"
)  # a backup in progress finishes its current step; restic leaves no partial snapshot
HEALTH_INTERVAL = 30
# The first backup of a new env (dump, upload, restore check) runs before the service turns healthy.
START_PERIOD = 900


# ------------------------------------------------------------------------------------------ settings (pure)


def image_name(env: str, postgres_image: str, restic_image: str, dockerfile: bytes) -> str:
    """`finance_report-backup<sfx>:<hash>`: a new Dockerfile or base gives a new tag, so a new image and a
    replaced container (a RemoteImage's `build` alone is not a replacing input: provider_facts). Named per
    env like everything else, so staging never names (or untags) production's image."""
    digest = hashlib.sha256(b"\0".join([postgres_image.encode(), restic_image.encode(), dockerfile])).hexdigest()[:16]
    return f"{naming.container_name(SERVICE, env)}:{digest}"


def egress_network_name(env: str) -> str:
    """The backup service's own way out (S3, heartbeat): no other container joins it."""
    return f"{naming.PREFIX}-backup-egress{naming.env_suffix(env)}"


def scratch_volume_name(env: str) -> str:
    return f"{naming.PREFIX}-backup-scratch{naming.env_suffix(env)}"


def job_settings(settings: BackupSettings, env: str) -> job.JobSettings:
    return job.JobSettings(
        repository=settings.repository,
        host_tag=naming.container_name(SERVICE, env),
        time=settings.time,
        interval_hours=settings.interval_hours,
        keep_daily=settings.keep_daily,
        keep_weekly=settings.keep_weekly,
        keep_safety_days=settings.keep_safety_days,
        max_drop_percent=settings.max_drop_percent,
        pg_host=naming.container_name("postgres", env),
        pg_port=app_env.POSTGRES_PORT,
        pg_user=postgres.BACKUP_ROLE,
        db_owner=postgres.APP_ROLE,
        pg_database=app_env.POSTGRES_DB,
    )


def env_template(kv_mount: str, env: str) -> va.Template:
    """Every credential in one sh-sourceable file, each value single-quoted (any byte but NUL survives)."""
    return va.env_file_template(kv_mount, env, SERVICE, job.SECRET_KEYS, {}, filename=job.ENV_FILE)


# ------------------------------------------------------------------------------------------ component


@dataclass
class BackupArgs:
    env: str
    """Environment name."""
    settings: BackupSettings
    """Schedule, retention, repository and memory (from config)."""
    postgres_image: str
    """The env's pinned Postgres image: the backup image is built on it (same major version as the server)."""
    limits: Limits
    """Memory (backupMemoryMb: dump, upload and the restore-check server share it) and log limits."""
    internal_network: pulumi.Input[str]
    """The env's internal network, where Postgres answers."""
    agent: AgentSettings
    """Shared vault-agent settings."""
    database_password: pulumi.Input[str]
    """Secret: the password of the backup's database role (render/postgres.BACKUP_ROLE; the backup KV holds
    its own copy)."""
    s3_access_key: pulumi.Input[str]
    """Secret: S3 access key for the repository."""
    s3_secret_key: pulumi.Input[str]
    """Secret: S3 secret key for the repository."""
    heartbeat_url: pulumi.Input[str] = ""
    """Secret: URL called after each verified backup ("" when off)."""
    kept: pulumi.Input[Mapping[str, str]] = field(default_factory=dict)
    """Values already in the backup KV secret that the program does not own (kept, never dropped)."""
    depends_on: Sequence[pulumi.Resource] = field(default_factory=tuple)
    """The Postgres container: the first backup runs as soon as the service starts."""


class BackupComponent(pulumi.ComponentResource):
    container: docker.Container
    container_name: pulumi.Output[str]
    sidecar: VaultAgentSidecar
    repository: str
    """The restic repository URL (no credentials)."""

    def __init__(self, name: str, args: BackupArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("finance-report:backup:Backup", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        env, settings = args.env, args.settings

        # Generated once and kept in state (encrypted) and Vault; rotating it would orphan every backup
        # made with it, so it is rotated only by `restic key add/remove` by hand (docs/backups.md).
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
        self.sidecar = args.agent.sidecar(
            self, f"{name}-vault", SERVICE, kept_merge(kv, args.kept), [env_template(args.agent.kv_mount, env)], job.GID
        )

        dockerfile = (IMAGE_CONTEXT / "Dockerfile").read_bytes()
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
            f"{name}-egress", egress_network_name(env), child, driver="bridge", labels=resource_labels(env)
        )
        # Not protected: it holds the job's state and, during a check only, the throwaway server's files.
        scratch = docker.Volume(f"{name}-scratch", name=scratch_volume_name(env), labels=volume_labels(env), opts=child)

        self.repository = settings.repository
        self.egress_network = egress.name
        container_name = naming.container_name(SERVICE, env)
        self.container = fixed_container(
            f"{name}-container",
            dict(
                name=container_name,
                image=image.image_id,
                entrypoints=[job.SCRIPT_PATH],
                command=["loop"],
                envs=job.job_envs(job_settings(settings, env)),
                uploads=[docker.ContainerUploadArgs(file=job.SCRIPT_PATH, content=job.script(), permissions="0755")],
                mounts=[
                    secrets_mount(self.sidecar),
                    docker.ContainerMountArgs(type="volume", source=scratch.name, target=job.SCRATCH),
                ],
                networks_advanced=[
                    docker.ContainerNetworksAdvancedArgs(name=args.internal_network),
                    docker.ContainerNetworksAdvancedArgs(name=egress.name),
                ],
                labels=container_labels(env, SERVICE, restart_digest=self.sidecar.restart_digest),
                healthcheck=healthcheck(
                    job.healthcheck_command(),
                    interval=HEALTH_INTERVAL,
                    timeout=10,
                    retries=2,
                    start_period=START_PERIOD,
                ),
                # Not waited for: its health reports the last backup (one S3 outage makes it unhealthy until
                # the next good run), a signal of its own that must not block deploys. It must run: the
                # provider checks that (must_run) and the rollout gate too.
                **hardened_container_args(args.limits, stop=STOP, user=job.USER),
            ),
            pulumi.ResourceOptions(parent=self, depends_on=[self.sidecar.container, *args.depends_on]),
        )
        self.container_name = self.container.name
        self.register_outputs({"container_name": self.container_name, "repository": self.repository})
