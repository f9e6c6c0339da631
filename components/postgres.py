"""PostgresComponent: the app's own PostgreSQL 16, password delivered by its vault-agent sidecar."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_docker as docker
import pulumi_random as random

from components import naming
from components import vault_artifacts as va
from components.app_env import POSTGRES_DB, POSTGRES_USER
from components.data import data_storage
from components.hardening import Limits, hardened_container_args, healthcheck
from components.vault_agent import AgentSettings, VaultAgentSidecar, keep_or_generate, secrets_mount

SERVICE = "postgres"
GID = 70  # postgres user/group in the alpine image (app-contract: data dir owned by uid 70)
DATA_DIR = "/var/lib/postgresql/data"
# The entrypoint chowns the data dir and drops to the postgres user.
CAPABILITIES = ("CHOWN", "DAC_OVERRIDE", "FOWNER", "SETGID", "SETUID")


def password_file() -> str:
    return f"{va.secrets_mount_path(SERVICE)}/password"


def healthcheck_command() -> list[str]:
    return ["CMD-SHELL", f"pg_isready -q -h 127.0.0.1 -U {POSTGRES_USER} -d {POSTGRES_DB}"]


def password_sync_input(path: str) -> str:
    """psql input that sets the role's password to the content of `path` without the password ever
    being in an argument, the environment or the statement log (`\\set` reads it through a backtick)."""
    return f"\\set pw `cat {path}`\nALTER ROLE {POSTGRES_USER} PASSWORD :'pw';\n"


def start_script() -> str:
    """Run the image's entrypoint, then align the role's password with the rendered file.

    Postgres applies POSTGRES_PASSWORD(_FILE) only when it initialises an empty data directory, so a
    password changed in Vault would otherwise never reach the database (a known pain of the compose
    deployment). psql reads the password through `\\set ... `cat file``: it never appears in a command
    line or an environment; it connects over the local socket (trusted by the image). Signals are forwarded so `docker stop` shuts Postgres down cleanly.
    """
    return (
        "docker-entrypoint.sh postgres &\n"
        "pid=$!\n"
        "trap 'kill -TERM \"$pid\" 2>/dev/null' TERM INT\n"
        f"until pg_isready -q -h 127.0.0.1 -U {POSTGRES_USER} -d {POSTGRES_DB}; do\n"
        '  kill -0 "$pid" 2>/dev/null || break\n'
        "  sleep 1\n"
        "done\n"
        'if kill -0 "$pid" 2>/dev/null; then\n'
        f"  psql -v ON_ERROR_STOP=1 -q -U {POSTGRES_USER} -d {POSTGRES_DB} <<'SQL' || echo 'finance-report: password sync failed' >&2\n"
        f"{password_sync_input(password_file())}"
        "SQL\n"
        "fi\n"
        # A trap interrupts `wait`; wait again until the server is gone, then exit with its status.
        'while kill -0 "$pid" 2>/dev/null; do wait "$pid"; done\n'
        'wait "$pid"\n'
    )


@dataclass
class PostgresArgs:
    env: str
    """Environment name."""
    image: str
    """Pinned PostgreSQL 16 image reference."""
    limits: Limits
    """Memory and log limits."""
    internal_network: pulumi.Input[str]
    """The env's internal network: the only network Postgres joins."""
    agent: AgentSettings
    """Shared vault-agent settings."""
    data_path: str = ""
    """Existing host directory to adopt; empty: a protected, retained named volume."""


class PostgresComponent(pulumi.ComponentResource):
    password: pulumi.Output[str]
    """Secret: the superuser password (the app's DATABASE_URL is built from it)."""
    container_name: pulumi.Output[str]
    sidecar: VaultAgentSidecar

    def __init__(self, name: str, args: PostgresArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("finance-report:datastore:Postgres", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        generated = random.RandomPassword(f"{name}-password", length=32, special=True, override_special="!#%+-.:=?@^_~", opts=child)
        self.password = keep_or_generate(args.agent.existing_values(SERVICE, self), "POSTGRES_PASSWORD", generated.result)

        template = va.password_template(args.agent.kv_mount, args.env, SERVICE, "POSTGRES_PASSWORD")
        self.sidecar = VaultAgentSidecar(
            f"{name}-vault",
            args.agent.sidecar_args(SERVICE, {"POSTGRES_PASSWORD": self.password}, [template], GID),
            opts=child,
        )
        image = docker.RemoteImage(f"{name}-image", name=args.image, keep_locally=True, opts=child)

        storage = data_storage(name, SERVICE, args.env, args.data_path, DATA_DIR, self)

        container_name = naming.container_name(SERVICE, args.env)
        self.container = docker.Container(
            f"{name}-container",
            name=container_name,
            image=image.image_id,
            entrypoints=["sh", "-c"],
            command=[start_script()],
            envs=[f"POSTGRES_USER={POSTGRES_USER}", f"POSTGRES_DB={POSTGRES_DB}", f"POSTGRES_PASSWORD_FILE={password_file()}"],
            mounts=[secrets_mount(self.sidecar), *storage.mounts],
            volumes=storage.volumes,
            networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=args.internal_network, aliases=[container_name])],
            labels=[
                docker.ContainerLabelArgs(label="traefik.enable", value="false"),
                docker.ContainerLabelArgs(label="finance-report.service", value=SERVICE),
                docker.ContainerLabelArgs(label="finance-report.restart-digest", value=self.sidecar.restart_digest),
            ],
            healthcheck=healthcheck(healthcheck_command(), start_period="30s"),
            wait=True,
            wait_timeout=300,
            stop_timeout=60,
            **hardened_container_args(args.limits, CAPABILITIES),
            # Two servers on one data directory corrupt it: the old container goes first.
            # replace_on_changes: a new restart digest must restart the server, whatever the provider
            # considers updatable in place.
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True, replace_on_changes=["labels"], depends_on=[self.sidecar.container]),
        )
        self.container_name = self.container.name
        self.register_outputs({"container_name": self.container_name, "password": self.password})
