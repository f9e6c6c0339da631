"""AppComponent: backend and frontend (rolled without downtime) and the optional prefect worker.

The backend and the worker read the whole injected environment from the app's vault-agent file; the
frontend needs no secret and gets no secrets mount.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence

import pulumi
import pulumi_command as command
import pulumi_docker as docker
import pulumi_random as random

from components import app_env, naming, traefik
from components import vault_artifacts as va
from components.hardening import Limits, hardened_container_args, healthcheck
from components.vault_agent import AgentSettings, VaultAgentSidecar, keep_or_generate, secrets_mount

SERVICE = "app"
GID = 0  # the backend image runs as root (app-contract)
BACKEND_PORT = 8000
FRONTEND_PORT = 3000
ENV_FILE = f"{va.secrets_mount_path(SERVICE)}/app.env"
SECRETS_WAIT_SECONDS = 60


def source_env_then(command: str) -> str:
    """Shell that waits for the rendered env file, exports everything in it, then runs `command`."""
    return (
        "set -eu\n"
        "i=0\n"
        f'until [ -s "{ENV_FILE}" ]; do\n'
        "  i=$((i + 1))\n"
        f'  if [ "$i" -gt {SECRETS_WAIT_SECONDS} ]; then echo "finance-report: {ENV_FILE} was not rendered" >&2; exit 1; fi\n'
        "  sleep 1\n"
        "done\n"
        f'set -a; . "{ENV_FILE}"; set +a\n'
        f"{command}\n"
    )


def backend_script() -> str:
    """Forward-only, backward-compatible migrations (app-contract) run before the new code serves; the
    app takes an advisory lock itself, so an old and a new container never migrate twice."""
    return source_env_then(f"alembic upgrade head\nexec uvicorn src.main:app --host 0.0.0.0 --port {BACKEND_PORT}")


def prefect_script() -> str:
    return source_env_then("exec sh scripts/prefect_worker_entrypoint.sh")


def backend_healthcheck() -> list[str]:
    return ["CMD", "curl", "-fsS", "-o", "/dev/null", f"http://127.0.0.1:{BACKEND_PORT}/health"]


def frontend_healthcheck() -> list[str]:
    probe = f"fetch('http://127.0.0.1:{FRONTEND_PORT}/').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
    return ["CMD", "node", "-e", probe]


def prefect_healthcheck() -> list[str]:
    """The API probe does not apply to the worker (app-contract): check its process is alive."""
    return ["CMD-SHELL", "for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < \"$f\" | grep -q 'worker start' && exit 0; done; exit 1"]


def public_health_gate_command(urls: Sequence[str], attempts: int = 60, delay_seconds: int = 5) -> str:
    """Run by `pulumi up` where it runs: the deploy is done only when the public routes answer through
    Traefik and TLS (today's pain: a deploy counted as done when the container started)."""
    checks = " && ".join(
        f"curl -fsS -o /dev/null --max-time 10 --retry {attempts} --retry-delay {delay_seconds} --retry-all-errors {url}" for url in urls
    )
    return checks


def revision(spec: Mapping[str, Any], restart_digest: str) -> str:
    """Short hash of everything that defines a rolling container; a new revision means a new name."""
    text = json.dumps({"spec": spec, "digest": restart_digest}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def fernet_key(random_base64: str) -> str:
    """Fernet keys are urlsafe base64 of 32 bytes; RandomBytes gives standard base64."""
    return random_base64.replace("+", "-").replace("/", "_")


@dataclass
class AppArgs:
    env: str
    """Environment name."""
    backend_image: str
    """Pinned backend image reference (also runs the prefect worker)."""
    frontend_image: str
    """Pinned frontend image reference."""
    route: traefik.Route
    """Domain, entrypoint, cert resolver and Traefik network."""
    backend_limits: Limits
    frontend_limits: Limits
    prefect_limits: Limits
    internal_network: pulumi.Input[str]
    """Network shared with Postgres and Redis."""
    traefik_network: pulumi.Input[str]
    """Existing Traefik network (also the backend's way out to S3 and OTEL)."""
    agent: AgentSettings
    literals: Mapping[str, str]
    """Non-secret backend variables (app_env.backend_literals)."""
    postgres_password: pulumi.Input[str]
    redis_password: pulumi.Input[str]
    operator_secrets: Mapping[str, pulumi.Input[str]]
    """S3_ACCESS_KEY, S3_SECRET_KEY and the optional S3_PUBLIC_*, ZAI_API_KEY (absent: "")."""
    llm_encryption: bool = False
    prefect_enabled: bool = False
    openpanel_client_id: str = ""
    public_health_gate: bool = True
    """Wait for the public health URL and site root after every backend or frontend change."""
    depends_on: Sequence[pulumi.Resource] = ()
    """Datastore containers the backend must find healthy before it starts."""


class AppComponent(pulumi.ComponentResource):
    backend_name: pulumi.Output[str]
    frontend_name: pulumi.Output[str]
    prefect_name: Optional[pulumi.Output[str]]
    sidecar: VaultAgentSidecar

    def __init__(self, name: str, args: AppArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("finance-report:app:App", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        env = args.env
        existing = args.agent.existing_values(SERVICE, self)

        secret_key = random.RandomPassword(f"{name}-secret-key", length=64, special=False, opts=child)
        kv_data: dict[str, pulumi.Input[str]] = {
            "DATABASE_URL": pulumi.Output.from_input(args.postgres_password).apply(lambda pw: app_env.database_url(pw, env)),
            "REDIS_URL": pulumi.Output.from_input(args.redis_password).apply(lambda pw: app_env.redis_url(pw, env)),
            "SECRET_KEY": keep_or_generate(existing, "SECRET_KEY", secret_key.result),
            "LLM_ENCRYPTION_KEYS": "",
        }
        if args.llm_encryption:
            fernet = random.RandomBytes(f"{name}-llm-key", length=32, opts=child)
            kv_data["LLM_ENCRYPTION_KEYS"] = keep_or_generate(existing, "LLM_ENCRYPTION_KEYS", fernet.base64.apply(fernet_key))
        for key in ("S3_ACCESS_KEY", "S3_SECRET_KEY", "S3_PUBLIC_ACCESS_KEY", "S3_PUBLIC_SECRET_KEY", "ZAI_API_KEY"):
            kv_data[key] = args.operator_secrets.get(key, "")
        if set(kv_data) != set(app_env.APP_SECRET_KEYS):
            raise RuntimeError("app KV keys and the env-file template disagree")  # a programming error

        template = va.env_file_template(args.agent.kv_mount, env, SERVICE, app_env.APP_SECRET_KEYS, args.literals)
        self.sidecar = VaultAgentSidecar(
            f"{name}-vault",
            args.agent.sidecar_args(SERVICE, pulumi.Output.secret(pulumi.Output.all(**kv_data)), [template], GID),
            opts=child,
        )
        digest = self.sidecar.restart_digest
        backend_image = docker.RemoteImage(f"{name}-backend-image", name=args.backend_image, keep_locally=True, opts=child)
        frontend_image = docker.RemoteImage(f"{name}-frontend-image", name=args.frontend_image, keep_locally=True, opts=child)
        internal, public = naming.internal_network_name(env), args.route.network

        backend_labels = {**traefik.api_labels(args.route, BACKEND_PORT), "finance-report.env": env, "finance-report.service": "backend"}
        # Every plain value the container is built from: its hash names the revision, so any change
        # that replaces the container also gives the replacement a new name (no name clash during
        # create-before-delete).
        backend_spec = {
            "image": args.backend_image,
            "command": [backend_script()],
            "labels": backend_labels,
            "healthcheck": {"test": backend_healthcheck(), "start_period": "60s"},
            "stop_timeout": 30,
            "limits": vars(args.backend_limits),
            "networks": [internal, public],
            "secrets": va.secrets_mount_path(SERVICE),
        }
        self.backend = docker.Container(
            f"{name}-backend",
            name=digest.apply(lambda d: naming.revision_container_name("backend", env, revision(backend_spec, d))),
            image=backend_image.image_id,
            entrypoints=["sh", "-c"],
            command=backend_spec["command"],
            mounts=[secrets_mount(self.sidecar)],
            networks_advanced=[
                docker.ContainerNetworksAdvancedArgs(name=args.internal_network),
                docker.ContainerNetworksAdvancedArgs(name=args.traefik_network),
            ],
            labels=_labels(backend_labels, digest),
            healthcheck=healthcheck(**backend_spec["healthcheck"]),
            wait=True,  # the replacement must be healthy before Pulumi deletes the old container
            wait_timeout=600,
            stop_timeout=backend_spec["stop_timeout"],
            **hardened_container_args(args.backend_limits),
            # Default create-before-delete: the new revision's name differs, so both run during the swap.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.sidecar.container, *args.depends_on]),
        )

        frontend_labels = {**traefik.web_labels(args.route, FRONTEND_PORT), "finance-report.env": env, "finance-report.service": "frontend"}
        frontend_envs = ["HOSTNAME=0.0.0.0", f"PORT={FRONTEND_PORT}", f"NEXT_PUBLIC_APP_URL={app_env.site_url(env, args.route.domain)}"]
        if args.openpanel_client_id:
            frontend_envs.append(f"NEXT_PUBLIC_OPENPANEL_CLIENT_ID={args.openpanel_client_id}")
        frontend_spec = {
            "image": args.frontend_image,
            "envs": frontend_envs,
            "labels": frontend_labels,
            "healthcheck": {"test": frontend_healthcheck(), "start_period": "20s"},
            "limits": vars(args.frontend_limits),
            "networks": [public],
        }
        frontend_revision = revision(frontend_spec, "")
        self.frontend = docker.Container(
            f"{name}-frontend",
            name=naming.revision_container_name("frontend", env, frontend_revision),
            image=frontend_image.image_id,
            envs=frontend_envs,
            networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=args.traefik_network)],
            labels=[docker.ContainerLabelArgs(label=k, value=v) for k, v in sorted(frontend_labels.items())],
            healthcheck=healthcheck(**frontend_spec["healthcheck"]),
            wait=True,
            wait_timeout=300,
            **hardened_container_args(args.frontend_limits),
            opts=child,
        )

        self.prefect_name = None
        if args.prefect_enabled:
            prefect = docker.Container(
                f"{name}-prefect-worker",
                name=naming.container_name("prefect-worker", env),
                image=backend_image.image_id,
                entrypoints=["sh", "-c"],
                command=[prefect_script()],
                mounts=[secrets_mount(self.sidecar)],
                networks_advanced=[
                    docker.ContainerNetworksAdvancedArgs(name=args.internal_network),
                    docker.ContainerNetworksAdvancedArgs(name=args.traefik_network),
                ],
                labels=_labels({"traefik.enable": "false", "finance-report.env": env, "finance-report.service": "prefect-worker"}, digest),
                healthcheck=healthcheck(prefect_healthcheck(), start_period="30s"),
                **hardened_container_args(args.prefect_limits),
                # Not routed and not scaled: one worker at a time under its operator-known name.
                opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True, replace_on_changes=["labels"], depends_on=[self.sidecar.container, *args.depends_on]),
            )
            self.prefect_name = prefect.name

        if args.public_health_gate:
            site = app_env.site_url(env, args.route.domain)
            command.local.Command(
                f"{name}-public-health-gate",
                create=public_health_gate_command([f"{site}/api/health", f"{site}/"]),
                # A new revision of either container re-runs the gate.
                triggers=[self.backend.name, self.frontend.name],
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.backend, self.frontend]),
            )

        self.backend_name = self.backend.name
        self.frontend_name = self.frontend.name
        outputs = {"backend_name": self.backend_name, "frontend_name": self.frontend_name}
        if self.prefect_name is not None:
            outputs["prefect_name"] = self.prefect_name
        self.register_outputs(outputs)


def _labels(static: Mapping[str, str], digest: pulumi.Output[str]) -> list[docker.ContainerLabelArgs]:
    labels = [docker.ContainerLabelArgs(label=k, value=v) for k, v in sorted(static.items())]
    return labels + [docker.ContainerLabelArgs(label="finance-report.restart-digest", value=digest)]
