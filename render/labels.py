"""The labels every container carries, from one builder (pure).

Operators and tools find an env's containers by `finance-report.env` and tell them apart by
`finance-report.service` (status, logs, backups); a consumer's `finance-report.restart-digest` changes
exactly when a value or template it reads changes. Routing labels come from `render.traefik`; every
container that is not routed says `traefik.enable=false`, so Traefik never routes it even where
`exposedByDefault` is on.
"""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_docker as docker

from facts.services import Service

ENV = "finance-report.env"
SERVICE = "finance-report.service"
AGENT_FOR = "finance-report.agent-for"
RESTART_DIGEST = "finance-report.restart-digest"


def label_map(
    env: str, service: str, routing: Mapping[str, str] | None = None, agent_for: str | None = None
) -> dict[str, str]:
    """The plain labels of one container. `routing` are Traefik labels (traefik.enable=true included)."""
    if service not in set(Service):
        raise ValueError(f"unknown service {service}; add it to facts.services.Service")
    labels = dict(routing) if routing else {"traefik.enable": "false"}
    labels[ENV] = env
    labels[SERVICE] = service
    if agent_for is not None:
        labels[AGENT_FOR] = agent_for
    return labels


def container_labels(
    env: str,
    service: str,
    *,
    routing: Mapping[str, str] | None = None,
    agent_for: str | None = None,
    restart_digest: pulumi.Input[str] | None = None,
) -> list[docker.ContainerLabelArgs]:
    """`docker.Container(labels=...)`: the plain labels, sorted, then the restart digest when given."""
    labels = [
        docker.ContainerLabelArgs(label=k, value=v)
        for k, v in sorted(label_map(env, service, routing, agent_for).items())
    ]
    if restart_digest is not None:
        labels.append(docker.ContainerLabelArgs(label=RESTART_DIGEST, value=restart_digest))
    return labels


def resource_labels(env: str) -> list[docker.NetworkLabelArgs]:
    """Networks carry the env label too (volumes use `volume_labels`)."""
    return [docker.NetworkLabelArgs(label=ENV, value=env)]


def volume_labels(env: str) -> list[docker.VolumeLabelArgs]:
    return [docker.VolumeLabelArgs(label=ENV, value=env)]
