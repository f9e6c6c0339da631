"""Settings every long-running container gets (invariant 5; CIS Docker Benchmark section 5). Pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi_docker as docker

from facts.providers import go_duration

RESTART_POLICY = "unless-stopped"
NO_NEW_PRIVILEGES = "no-new-privileges:true"


@dataclass(frozen=True)
class Limits:
    memory_mb: int
    log_max_size: str
    log_max_files: int


@dataclass(frozen=True)
class Stop:
    """How the container is stopped. `docker stop` (and a restart) waits `seconds` after `signal`; the
    provider's delete waits `destroy_grace_seconds`, which is 0 (SIGKILL at once) unless set
    (facts.providers.STOP_ON_DELETE), so both are the same here."""

    seconds: int = 10
    signal: str | None = None
    """None keeps the image's STOPSIGNAL."""


def hardened_container_args(
    limits: Limits, cap_add: Sequence[str] = (), stop: Stop = Stop(), user: str | None = None
) -> dict[str, Any]:
    """Keyword arguments for docker.Container: restart policy, memory limit, rotated json-file logs,
    no privilege escalation, every capability dropped except `cap_add`, a graceful stop on delete."""
    args: dict[str, Any] = {
        "restart": RESTART_POLICY,
        "memory": limits.memory_mb,
        "memory_swap": limits.memory_mb,  # equal to memory: no swap on top of the limit
        "log_driver": "json-file",
        "log_opts": {"max-size": limits.log_max_size, "max-file": str(limits.log_max_files)},
        "security_opts": [NO_NEW_PRIVILEGES],
        "privileged": False,
        "capabilities": docker.ContainerCapabilitiesArgs(drops=["ALL"], adds=sorted(cap_add)),
        "stop_timeout": stop.seconds,
        "destroy_grace_seconds": stop.seconds,
    }
    if stop.signal:
        args["stop_signal"] = stop.signal
    if user:
        args["user"] = user
    return args


def healthcheck(
    test: list[str], interval: int = 10, timeout: int = 5, retries: int = 5, start_period: int = 10
) -> docker.ContainerHealthcheckArgs:
    """Durations in whole seconds, written the way the provider reads them back (Go's Duration.String()),
    so a refresh finds nothing to change."""
    return docker.ContainerHealthcheckArgs(
        tests=test,
        interval=go_duration(interval),
        timeout=go_duration(timeout),
        retries=retries,
        start_period=go_duration(start_period),
    )
