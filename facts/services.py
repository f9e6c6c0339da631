"""The services of one env, named once: every list of services in the project derives from these.

`Service` is what a container is, as its `finance-report.service` label says (status, logs and backups
find containers by it). `VaultService` is a service with a Vault side of its own (KV path, policy,
AppRole, vault-agent sidecar): `app` serves the backend, the frontend and the prefect worker.
"""

from __future__ import annotations

from enum import StrEnum


class Service(StrEnum):
    POSTGRES = "postgres"
    REDIS = "redis"
    BACKEND = "backend"
    FRONTEND = "frontend"
    PREFECT_WORKER = "prefect-worker"
    VAULT_AGENT = "vault-agent"
    BACKUP = "backup"
    DOCKER_PROXY = "docker-proxy"
    """The read-only Docker API proxy that previews reach (program/docker_proxy.py); opt-in per stack."""
    AGENT_BIN = "agent-bin"
    """runtime swarm: the global service that puts the agent binary on every node (program/swarm_app.py)."""


class VaultService(StrEnum):
    POSTGRES = "postgres"
    REDIS = "redis"
    APP = "app"
    BACKUP = "backup"


ROLLING_SERVICES = (Service.BACKEND, Service.FRONTEND)
"""Replaced create-first under a new revision name, without downtime (facts/revision.py)."""
DATASTORES = (Service.POSTGRES, Service.REDIS)
"""Singletons on protected data, replaced delete-first."""
