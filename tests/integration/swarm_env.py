"""One env of the program, `runtime: swarm`, on this harness's swarm (tests/integration/swarm_harness.py): the
program's own inputs for staging with the runtime switched, its Vault side applied to an OpenBao the tasks
reach over TLS, its Swarm objects and services created as the provider would (swarm_provider.py), and a
routing stand-in in front of the backend (swarm_routing.py).

Config given to the program for this harness, all through its own keys: the images (stand-ins built here:
no registry), vaultAddress/vaultCaCert (the TLS relay and the harness CA), swarmDataNode (the manager's
hostname), named volumes for the data (no host directories), cutoverWatchSeconds 15 (Docker's monitor
window; 60 s in the committed stacks) and routingDrainSeconds 6 (above the stand-in's 2 s poll, as the
default 20 s is above Traefik's 15 s). Every other setting is the program's.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from ops.program_run import ProgramRun
from tests.conftest import run_stack
from tests.integration.harness import Docker
from tests.integration.images import postgres_image
from tests.integration.sidecar import Artifacts, apply_vault, approle_pair
from tests.integration.swarm_harness import Node, Swarm, TlsOpenBao, copy_images
from tests.integration.swarm_images import REPOSITORY, backend_image
from tests.integration.swarm_provider import CONFIG, SECRET, Deployment
from tests.integration.swarm_routing import RoutingProxy

STACK = "staging"
TRAEFIK_NETWORK = "dokploy-network"
VAULT_SERVICES = ("postgres", "redis", "app", "backup")
# What runs here: the agent binary on every node, Postgres with its agent, the backend.
SERVICES = ["app-agent-bin", "postgres-vault-agent", "postgres-service", "app-backend"]
DRAIN_SECONDS = 6
WATCH_SECONDS = 15


@dataclass
class SwarmEnv:
    swarm: Swarm
    vault: TlsOpenBao
    vault_url: str = ""
    images: dict[str, str] = field(default_factory=dict)
    deployment: Deployment | None = None
    proxy: RoutingProxy | None = None
    runs: list[ProgramRun] = field(default_factory=list)

    @property
    def manager(self) -> Node:
        return self.swarm.manager

    def docker(self, node: Node) -> Docker:
        return Docker(paths=node.paths)

    def start(self) -> None:
        self.vault.start()
        self.vault_url = self.swarm.relay_vault(self.vault.tls_port)
        api = self.manager.api()
        self.images = {
            "agent": self.docker(self.manager).build_agent_image(),
            "postgres": postgres_image(api),
            "v1": backend_image(api, "v1"),
            "v2": backend_image(api, "v2"),
            "broken": backend_image(api, "broken", broken=True),
        }
        self.manager.docker("network", "create", "-d", "overlay", "--attachable", TRAEFIK_NETWORK)

    def overrides(self, **extra: Any) -> dict[str, Any]:
        return {
            "runtime": "swarm",
            "swarmDataNode": self.manager.hostname,
            "vaultAddress": self.vault_url,
            "vaultCaCert": self.vault.ca_pem,
            "vaultAgentImage": self.images["agent"],
            "postgresImage": self.images["postgres"],
            "backendImage": REPOSITORY,
            "imageTag": "v1",
            "postgresDataPath": None,
            "redisDataPath": None,
            "adoptVaultValues": "false",
            "cutoverWatchSeconds": str(WATCH_SECONDS),
            "routingDrainSeconds": str(DRAIN_SECONDS),
            **extra,
        }

    def program(self, secret_overrides: dict[str, str] | None = None, **extra: Any) -> ProgramRun:
        run = run_stack(STACK, self.overrides(**extra), secret_overrides)
        assert run.error is None, run.error
        self.runs.append(run)
        return run

    def approle_secrets(self, run: ProgramRun) -> dict[str, str]:
        """Swarm secret resource -> the real credential OpenBao minted, base64 (what Pulumi would hand Docker
        from the Vault resources' outputs)."""
        out = {}
        for service in VAULT_SERVICES:
            role = run.one("vault:appRole/authBackendRole:AuthBackendRole", f"{service}-vault-role").inputs["roleName"]
            role_id, secret_id = approle_pair(self.vault, role)
            out[f"{service}-vault-swarm-role-id"] = base64.b64encode(role_id.encode()).decode()
            out[f"{service}-vault-swarm-secret-id"] = base64.b64encode(secret_id.encode()).decode()
        return out

    def deploy(self, run: ProgramRun) -> Deployment:
        apply_vault(self.vault, Artifacts(run))
        self.deployment = Deployment(self.manager.api(), self.approle_secrets(run))
        self.deployment.lookup_network(TRAEFIK_NETWORK)
        self.deployment.apply(run, SERVICES)
        self.proxy = RoutingProxy(
            self.docker(self.manager), self.manager.api(), TRAEFIK_NETWORK, ident=self.manager.ident
        )
        self.proxy.start()
        return self.deployment

    def roll(self, run: ProgramRun, service: str = "app-backend") -> str:
        """`pulumi up` of a changed program: Vault first, new Swarm secrets and configs (created beside the old
        ones), then the service update, converged."""
        assert self.deployment is not None
        apply_vault(self.vault, Artifacts(run))
        known = set(self.deployment.ids)
        for r in run.by_type(CONFIG):
            self.deployment.config(r)  # the config of this content: an existing one, or a new one
        for r in run.by_type(SECRET):
            if f"{r.name}-id" not in known:
                self.deployment.secret(r)
        resource = run.one("docker:index/service:Service", service)
        self.deployment.update_service(resource)
        return self.deployment.converge(resource)

    def add_worker(self) -> Node:
        worker = self.swarm.add_worker()
        copy_images(self.manager, worker, [self.images[k] for k in ("agent", "v1", "v2")])
        return worker

    def stop(self) -> None:
        if self.proxy:
            self.proxy.stop()
        self.vault.stop()
