"""The `runtime: swarm` settings of one stack (docs/swarm.md), validated, and the rules between them and
the other keys. `config/stack_config.py` calls `swarm_settings` once; a `containers` stack gets None and
its config is what it was before the key existed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from config.errors import ConfigError

ROLLING = ("backend", "frontend", "worker")


@dataclass(frozen=True)
class SwarmSettings:
    """What a swarm stack adds to the shared config: where the data lives, how many tasks, where they run."""

    data_node: str
    """Hostname of the node holding Postgres, Redis and the backup service (placement constraint)."""
    replicas: Mapping[str, int]
    """backend, frontend, worker -> tasks."""
    constraints: Mapping[str, tuple[str, ...]]
    """backend, frontend, worker -> placement constraints from config (the datastores' are not configurable)."""
    drain_seconds: int
    """How long a stopping routed task keeps serving before its process gets the stop signal."""


def swarm_settings(v: Mapping[str, Any], registry_token_set: bool) -> SwarmSettings | None:
    """None for `runtime: containers` (the swarm keys are then not read); the swarm settings otherwise,
    or a ConfigError naming the key that cannot go with swarm."""
    if v["runtime"] != "swarm":
        return None
    if not v["swarmDataNode"]:
        raise ConfigError(
            "swarmDataNode",
            "",
            "the hostname of the Swarm node that holds the data (`docker node ls`) when runtime is swarm",
        )
    if registry_token_set:
        # The provider sends registry credentials with every service create/update and Swarm keeps them in
        # the service spec, i.e. in its raft store (facts.providers.SERVICE_REGISTRY_AUTH): refuse them.
        raise ConfigError(
            "registryToken",
            "set",
            "empty when runtime is swarm: Swarm would keep the pull token in its raft store with every service "
            "(use public images, or `docker login` on each node)",
            secret=True,
        )
    return SwarmSettings(
        data_node=v["swarmDataNode"],
        replicas={s: v[f"{s}Replicas"] for s in ROLLING},
        constraints={s: tuple(v[f"{s}Constraints"]) for s in ROLLING},
        drain_seconds=v["routingDrainSeconds"],
    )
