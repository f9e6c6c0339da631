"""Settings every long-running container gets (invariant 5; CIS Docker Benchmark section 5). Pure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import pulumi_docker as docker

RESTART_POLICY = "unless-stopped"
NO_NEW_PRIVILEGES = "no-new-privileges:true"


@dataclass(frozen=True)
class Limits:
    memory_mb: int
    log_max_size: str
    log_max_files: int


def hardened_container_args(limits: Limits, cap_add: Sequence[str] = ()) -> dict[str, Any]:
    """Keyword arguments for docker.Container: restart policy, memory limit, rotated json-file logs,
    no privilege escalation, every capability dropped except `cap_add`."""
    return {
        "restart": RESTART_POLICY,
        "memory": limits.memory_mb,
        "memory_swap": limits.memory_mb,  # equal to memory: no swap on top of the limit
        "log_driver": "json-file",
        "log_opts": {"max-size": limits.log_max_size, "max-file": str(limits.log_max_files)},
        "security_opts": [NO_NEW_PRIVILEGES],
        "privileged": False,
        "capabilities": docker.ContainerCapabilitiesArgs(drops=["ALL"], adds=sorted(cap_add)),
    }


def healthcheck(test: list[str], interval: str = "10s", timeout: str = "5s", retries: int = 5, start_period: str = "10s") -> docker.ContainerHealthcheckArgs:
    return docker.ContainerHealthcheckArgs(tests=test, interval=interval, timeout=timeout, retries=retries, start_period=start_period)
