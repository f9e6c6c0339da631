"""AppComponent: backend and frontend (rolled without downtime) and the optional prefect worker.

The backend and the worker read the whole injected environment from the app's vault-agent file; the
frontend needs no secret and gets no secrets mount.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import pulumi
import pulumi_docker as docker
import pulumi_random as random

from facts.services import Service
from program.containers import fixed_container, rolling_container
from program.vault_agent import AgentSettings, VaultAgentSidecar, secrets_mount
from render import app_env, naming, traefik
from render import vault_artifacts as va
from render.hardening import Limits, Stop, hardened_container_args, healthcheck
from render.labels import container_labels
from render.secrets import generated_options, keeps_data, kept_merge, llm_keys

SERVICE = "app"
GID = 0  # the backend image runs as root (app-contract)
BACKEND_PORT = 8000
FRONTEND_PORT = 3000
ENV_FILE = f"{va.secrets_mount_path(SERVICE)}/app.env"
SECRETS_WAIT_SECONDS = 60
BACKEND_STOP = Stop(seconds=30)  # uvicorn finishes in-flight requests on SIGTERM
FRONTEND_STOP = Stop(seconds=15)
PREFECT_STOP = Stop(seconds=60)  # a flow run in progress gets time to report its state


def source_env_then(command: str) -> str:
    """Shell that waits for the rendered env file, exports everything in it, then runs `command`."""
    return (
        "set -eu\n"
        "i=0\n"
        f'until [ -s "{ENV_FILE}" ]; do\n'
        "  i=$((i + 1))\n"
        f'  if [ "$i" -gt {SECRETS_WAIT_SECONDS} ]; then echo "finance-report: {ENV_FILE} was not rendered" '
        ">&2; exit 1; fi\n"
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
    """The API probe does not apply to the worker (app-contract): a process running `prefect worker
    start` must exist. The pattern `[w]orker start` matches that command line but not its own: the
    checking shell's and grep's command lines hold `[w]orker`, which the pattern does not match."""
    return [
        "CMD-SHELL",
        "for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < \"$f\" 2>/dev/null | grep -q 'prefect [w]orker "
        "start' && exit 0; done; exit 1",
    ]


def fernet_key(random_base64: str) -> str:
    """Fernet keys are urlsafe base64 of 32 bytes; RandomBytes gives standard base64."""
    return random_base64.replace("+", "-").replace("/", "_")


def app_secrets(parent: pulumi.Resource, name: str, env: str, args: AppSecretsArgs, kept: pulumi.Output) -> dict:
    """The app's KV values the program owns (generated or from config), children of `parent` named from
    `name`: both runtimes declare them alike, so an env keeps its values when it changes runtime."""
    keep = keeps_data(env)  # facts.generated_secrets: protected outside a preview
    secret_key = random.RandomPassword(
        f"{name}-secret-key", length=64, special=False, opts=generated_options(parent, protect=keep)
    )
    # Declared whatever llmEncryption says: turning it off must not delete the key data was encrypted
    # with (render.secrets.llm_keys keeps it in the list).
    fernet = random.RandomBytes(f"{name}-llm-key", length=32, opts=generated_options(parent, protect=keep))
    generated_llm = fernet.base64.apply(fernet_key)
    owned: dict[str, pulumi.Input[str]] = {
        "DATABASE_URL": pulumi.Output.from_input(args.database_password).apply(
            lambda pw: app_env.database_url(pw, env)
        ),
        "REDIS_URL": pulumi.Output.from_input(args.redis_password).apply(lambda pw: app_env.redis_url(pw, env)),
        "SECRET_KEY": secret_key.result,
        # Never blanked: keys kept from before stay after the generated one (or alone when off).
        "LLM_ENCRYPTION_KEYS": pulumi.Output.all(generated_llm, kept).apply(
            lambda gk: llm_keys(gk[0], gk[1].get("LLM_ENCRYPTION_KEYS"), args.llm_encryption)
        ),
    }
    for key in ("S3_ACCESS_KEY", "S3_SECRET_KEY", "S3_PUBLIC_ACCESS_KEY", "S3_PUBLIC_SECRET_KEY", "ZAI_API_KEY"):
        owned[key] = args.operator_secrets.get(key, "")
    if set(owned) != set(app_env.APP_SECRET_KEYS):
        raise RuntimeError("app KV keys and the env-file template disagree")  # a programming error
    return owned


class AppSecretsArgs(Protocol):
    """What app_secrets reads (AppArgs, and runtime swarm's app args, have these)."""

    database_password: pulumi.Input[str]
    redis_password: pulumi.Input[str]
    operator_secrets: Mapping[str, pulumi.Input[str]]
    llm_encryption: bool


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
    database_password: pulumi.Input[str]
    """Secret: the password of the app's database role (render/postgres.APP_ROLE), for DATABASE_URL."""
    redis_password: pulumi.Input[str]
    operator_secrets: Mapping[str, pulumi.Input[str]]
    """S3_ACCESS_KEY, S3_SECRET_KEY and the optional S3_PUBLIC_*, ZAI_API_KEY (absent: "")."""
    kept: pulumi.Input[Mapping[str, str]] = field(default_factory=dict)
    """Values already in the app's KV secret that the program does not own (kept, never dropped)."""
    llm_encryption: bool = False
    prefect_enabled: bool = False
    openpanel_client_id: str = ""
    depends_on: Sequence[docker.Container] = ()
    """Datastore containers the backend must find healthy before it starts."""


class AppComponent(pulumi.ComponentResource):
    containers: list[docker.Container]
    """Every container of the app (agent, backend, frontend, worker): the rollout gate checks them."""
    rolling: list[docker.Container]
    """Backend and frontend: the rollout gate watches each new revision."""
    backend_name: pulumi.Output[str]
    frontend_name: pulumi.Output[str]
    prefect_name: pulumi.Output[str] | None
    sidecar: VaultAgentSidecar

    def __init__(self, name: str, args: AppArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("finance-report:app:App", name, None, opts)
        self.sidecar = self._vault_sidecar(name, args)
        backend_image, frontend_image = self._images(name, args)
        self.backend = self._backend(name, args, backend_image)
        self.frontend = self._frontend(name, args, frontend_image)
        self.containers: list[docker.Container] = [self.sidecar.container, self.backend, self.frontend]
        self.rolling: list[docker.Container] = [self.backend, self.frontend]
        self.prefect_name = None
        if args.prefect_enabled:
            prefect = self._prefect_worker(name, args, backend_image)
            self.prefect_name = prefect.name
            self.containers.append(prefect)
        self._outputs()

    def _vault_sidecar(self, name: str, args: AppArgs) -> VaultAgentSidecar:
        """The app's KV values (owned and kept) and the agent that renders them into the env file."""
        kept = pulumi.Output.from_input(args.kept).apply(lambda k: dict(k or {}))
        owned = app_secrets(self, name, args.env, args, kept)
        template = va.env_file_template(args.agent.kv_mount, args.env, SERVICE, app_env.APP_SECRET_KEYS, args.literals)
        return args.agent.sidecar(self, f"{name}-vault", SERVICE, kept_merge(owned, kept), [template], GID)

    def _images(self, name: str, args: AppArgs) -> tuple[docker.RemoteImage, docker.RemoteImage]:
        child = pulumi.ResourceOptions(parent=self)
        backend = docker.RemoteImage(f"{name}-backend-image", name=args.backend_image, keep_locally=True, opts=child)
        frontend = docker.RemoteImage(f"{name}-frontend-image", name=args.frontend_image, keep_locally=True, opts=child)
        return backend, frontend

    def _backend(self, name: str, args: AppArgs, image: docker.RemoteImage) -> docker.Container:
        """Migrates, then serves the API; starts once its agent and the datastores are healthy."""
        env = args.env
        return rolling_container(
            f"{name}-backend",
            naming.container_name(Service.BACKEND, env),
            dict(
                image=image.image_id,
                entrypoints=["sh", "-c"],
                command=[backend_script()],
                mounts=[secrets_mount(self.sidecar)],
                networks_advanced=[
                    docker.ContainerNetworksAdvancedArgs(name=args.internal_network),
                    docker.ContainerNetworksAdvancedArgs(name=args.traefik_network),
                ],
                labels=container_labels(
                    env,
                    Service.BACKEND,
                    routing=traefik.api_labels(args.route, BACKEND_PORT),
                    restart_digest=self.sidecar.restart_digest,
                ),
                healthcheck=healthcheck(backend_healthcheck(), start_period=60),
                wait=True,  # the replacement must be healthy before Pulumi deletes the old container
                wait_timeout=600,
                **hardened_container_args(args.backend_limits, stop=BACKEND_STOP),
            ),
            pulumi.ResourceOptions(parent=self, depends_on=[self.sidecar.container, *args.depends_on]),
        )

    def _frontend(self, name: str, args: AppArgs, image: docker.RemoteImage) -> docker.Container:
        """Serves the site; needs no secret and gets no secrets mount."""
        env = args.env
        frontend_envs = [
            "HOSTNAME=0.0.0.0",
            f"PORT={FRONTEND_PORT}",
            f"NEXT_PUBLIC_APP_URL={app_env.site_url(env, args.route.domain)}",
        ]
        if args.openpanel_client_id:
            frontend_envs.append(f"NEXT_PUBLIC_OPENPANEL_CLIENT_ID={args.openpanel_client_id}")
        return rolling_container(
            f"{name}-frontend",
            naming.container_name(Service.FRONTEND, env),
            dict(
                image=image.image_id,
                envs=frontend_envs,
                networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=args.traefik_network)],
                labels=container_labels(env, Service.FRONTEND, routing=traefik.web_labels(args.route, FRONTEND_PORT)),
                healthcheck=healthcheck(frontend_healthcheck(), start_period=20),
                wait=True,
                wait_timeout=300,
                **hardened_container_args(args.frontend_limits, stop=FRONTEND_STOP),
            ),
            pulumi.ResourceOptions(parent=self),
        )

    def _prefect_worker(self, name: str, args: AppArgs, image: docker.RemoteImage) -> docker.Container:
        """The prefect worker runs from the backend image with the backend's environment."""
        env = args.env
        return fixed_container(
            f"{name}-prefect-worker",
            dict(
                name=naming.container_name(Service.PREFECT_WORKER, env),
                image=image.image_id,
                entrypoints=["sh", "-c"],
                command=[prefect_script()],
                mounts=[secrets_mount(self.sidecar)],
                networks_advanced=[
                    docker.ContainerNetworksAdvancedArgs(name=args.internal_network),
                    docker.ContainerNetworksAdvancedArgs(name=args.traefik_network),
                ],
                labels=container_labels(env, Service.PREFECT_WORKER, restart_digest=self.sidecar.restart_digest),
                healthcheck=healthcheck(prefect_healthcheck(), start_period=30),
                **hardened_container_args(args.prefect_limits, stop=PREFECT_STOP),
            ),
            # Not routed and not scaled: one worker at a time under its operator-known name.
            pulumi.ResourceOptions(parent=self, depends_on=[self.sidecar.container, *args.depends_on]),
        )

    def _outputs(self) -> None:
        self.backend_name = self.backend.name
        self.frontend_name = self.frontend.name
        outputs = {"backend_name": self.backend_name, "frontend_name": self.frontend_name}
        if self.prefect_name is not None:
            outputs["prefect_name"] = self.prefect_name
        self.register_outputs(outputs)
