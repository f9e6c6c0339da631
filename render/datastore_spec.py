"""What a datastore (Postgres, Redis) is, as pure data: its image contract and process (render/postgres.py,
render/redis.py build one; program/datastore.py declares the containers from it)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from render import vault_artifacts as va
from render.hardening import Stop


@dataclass(frozen=True)
class DatastoreSpec:
    """One datastore's image contract and process, as pure data."""

    service: str
    """postgres or redis: the container, KV, policy and role names derive from it."""
    user: str
    """uid:gid the server runs as: the image's own service user, so no capability is needed."""
    data_dir: str
    """Where the image keeps its data."""
    password_key: str
    """Key of the password in the service's KV secret."""
    generated: Mapping[str, str]
    """More passwords the program generates into the same KV secret: KV key -> resource name suffix
    (Postgres: its app's and its backup's roles)."""
    templates: Sequence[va.Template]
    """Files its agent renders (password, config include)."""
    process: Mapping[str, Any]
    """entrypoints/command/envs of the container."""
    health: list[str]
    """Health-check test."""
    stop: Stop
    """Stop signal and grace: the server must shut down cleanly within it."""
    start_period: int = 30
    wait_timeout: int = 120

    @property
    def gid(self) -> int:
        return int(self.user.split(":")[1])
