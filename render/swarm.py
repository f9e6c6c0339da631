"""Pure builders for runtime swarm (docs/design/swarm.md): what a Swarm service of this project is made of,
as `pulumi_docker.Service` arguments. Nothing here declares a resource.

- Rolling services (backend, frontend, worker) update start-first and roll back on a failed update;
  Docker's monitor window is the watched cutover (`rolling_update`).
- Pinned singletons (Postgres, Redis, their agents, backup) update stop-first on the data node: never
  two servers on one data directory (`pinned_update`).
- Every duration is written the way the provider reads it back (facts.providers.SHORT_DURATION_FACT).
- Hardening is what the service resource can express (facts.providers.SERVICE_NO_NEW_PRIVILEGES,
  SERVICE_NO_SWAP): capabilities, user, memory limit = reservation, rotated json-file logs, a restart
  policy, a stop grace.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_docker as docker

from facts.providers import short_duration
from render import naming
from render.hardening import Limits, Stop
from render.labels import ENV, RESTART_DIGEST, SERVICE, label_map

MIB = 1024 * 1024
TASK_SCRIPT = Path(__file__).with_name("swarm_task.sh")
AGENT_BIN_SCRIPT = Path(__file__).with_name("swarm_agent_bin.sh")
TASK_SCRIPT_PATH = "/finance-report/task.sh"
AGENT_BIN_DIR = "/vault/bin"
AGENT_BIN = f"{AGENT_BIN_DIR}/vault"
AGENT_WAIT_SECONDS = 120
APP_TMPFS_BYTES = 1 * MIB
APP_TMPFS_MODE = 0o700  # the app images run as root; nobody else in the task reads the rendered files
CREDENTIAL_MODE = 0o400
RESTART_DELAY = 5
UPDATE_DELAY = 10
ROLLBACK_MONITOR = 30
RETRY_ATTEMPTS = 2
DEFAULT_STOP = Stop()


@dataclass(frozen=True)
class Rolling:
    """How a rolling service (backend, frontend, worker) updates, from config."""

    replicas: int
    monitor_seconds: int
    """Docker's watched cutover: a new task that fails or exits within it fails the update (cutoverWatchSeconds)."""
    converge_timeout: str
    """How long `pulumi up` waits for an update to complete (longer than migrations and start periods)."""
    constraints: Sequence[str] = ()


def rolling_update(monitor_seconds: int) -> dict[str, Any]:
    """update_config and rollback_config of a rolling service: one task at a time, the new one started
    and healthy before the old one stops, any failed task rolls the whole service back to its previous spec
    (swarmkit orchestrator/update/updater.go; docs/design/swarm.md section 3)."""
    return {
        "update_config": docker.ServiceUpdateConfigArgs(
            parallelism=1,
            order="start-first",
            failure_action="rollback",
            monitor=short_duration(monitor_seconds),
            delay=short_duration(UPDATE_DELAY),
            max_failure_ratio="0.0",
        ),
        "rollback_config": docker.ServiceRollbackConfigArgs(
            parallelism=1,
            order="start-first",
            failure_action="pause",
            monitor=short_duration(ROLLBACK_MONITOR),
            delay=short_duration(0),
            max_failure_ratio="0.0",
        ),
    }


def pinned_update() -> dict[str, Any]:
    """update_config and rollback_config of a pinned singleton: the old task stops before the new one
    starts (two Postgres on one data directory corrupt it); a new spec that does not start rolls back,
    stop-first too."""
    return {
        "update_config": docker.ServiceUpdateConfigArgs(
            parallelism=1,
            order="stop-first",
            failure_action="rollback",
            monitor=short_duration(ROLLBACK_MONITOR),
            delay=short_duration(0),
            max_failure_ratio="0.0",
        ),
        "rollback_config": docker.ServiceRollbackConfigArgs(
            parallelism=1,
            order="stop-first",
            failure_action="pause",
            monitor=short_duration(ROLLBACK_MONITOR),
            delay=short_duration(0),
            max_failure_ratio="0.0",
        ),
    }


def data_node_constraint(node: str) -> str:
    return f"node.hostname=={node}"


def healthcheck(
    test: list[str], interval: int = 10, timeout: int = 5, retries: int = 5, start_period: int = 10
) -> docker.ServiceTaskSpecContainerSpecHealthcheckArgs:
    return docker.ServiceTaskSpecContainerSpecHealthcheckArgs(
        tests=test,
        interval=short_duration(interval),
        timeout=short_duration(timeout),
        retries=retries,
        start_period=short_duration(start_period),
    )


def hardened_container_spec(stop: Stop = DEFAULT_STOP, user: str | None = None, cap_add: Sequence[str] = ()) -> dict:
    """container_spec keyword arguments every task gets: every capability dropped but `cap_add`, a stop
    grace Swarm honours when it stops or replaces the task (and the provider's delete waits for)."""
    spec: dict[str, Any] = {
        "cap_drops": ["ALL"],
        "cap_adds": sorted(cap_add),
        "stop_grace_period": short_duration(stop.seconds),
    }
    if stop.signal:
        spec["stop_signal"] = stop.signal
    if user:
        spec["user"] = user
    return spec


def task_settings(limits: Limits, constraints: Sequence[str]) -> dict[str, Any]:
    """task_spec keyword arguments every task gets: memory limit and an equal reservation (the scheduler
    places a task only on a node with that much free), a restart policy, rotated json-file logs, placement."""
    memory = limits.memory_mb * MIB
    return {
        "resources": docker.ServiceTaskSpecResourcesArgs(
            limits=docker.ServiceTaskSpecResourcesLimitsArgs(memory_bytes=memory),
            reservation=docker.ServiceTaskSpecResourcesReservationArgs(memory_bytes=memory),
        ),
        "restart_policy": docker.ServiceTaskSpecRestartPolicyArgs(condition="any", delay=short_duration(RESTART_DELAY)),
        "log_driver": docker.ServiceTaskSpecLogDriverArgs(
            name="json-file", options={"max-size": limits.log_max_size, "max-file": str(limits.log_max_files)}
        ),
        "placement": docker.ServiceTaskSpecPlacementArgs(constraints=sorted(constraints)) if constraints else None,
    }


def service_labels(
    env: str, service: str, routing: Mapping[str, str] | None = None, agent_for: str | None = None
) -> list[docker.ServiceLabelArgs]:
    """The service's own labels (Spec.Annotations.Labels): what Traefik's swarm provider and the operator
    tools read. A change to them updates the service without replacing a task."""
    return [
        docker.ServiceLabelArgs(label=k, value=v)
        for k, v in sorted(label_map(env, service, routing, agent_for).items())
    ]


def task_labels(
    env: str, service: str, restart_digest: pulumi.Input[str] | None = None, agent_for: str | None = None
) -> list[docker.ServiceTaskSpecContainerSpecLabelArgs]:
    """The task containers' labels: env and service (docker ps, logs by label), and the restart digest,
    which is part of the task template, so a changed value rolls the service (invariant 6)."""
    labels = [
        docker.ServiceTaskSpecContainerSpecLabelArgs(label=k, value=v)
        for k, v in sorted(label_map(env, service, agent_for=agent_for).items())
        if k in (ENV, SERVICE, "finance-report.agent-for")
    ]
    if restart_digest is not None:
        labels.append(docker.ServiceTaskSpecContainerSpecLabelArgs(label=RESTART_DIGEST, value=restart_digest))
    return labels


def swarm_routing(labels: Mapping[str, str], network: str, env: str) -> dict[str, str]:
    """Traefik labels for its swarm provider, from the docker provider's (render.traefik): the network
    label is `traefik.swarm.network` (a `traefik.docker.*` label on a service is deprecated, and both on one
    service an error: traefik pkg/provider/docker/shared_labels.go:72,81), and every router also retries a
    request once on another task when a task dies without notice (middlewares/retry.md:6-7). The service
    port label is already there: the swarm provider has no port detection (providers/swarm.md:363-370)."""
    retry = naming.traefik_name("retry", env)
    out = {k: v for k, v in labels.items() if not k.startswith("traefik.docker.")}
    out["traefik.swarm.network"] = network
    out[f"traefik.http.middlewares.{retry}.retry.attempts"] = str(RETRY_ATTEMPTS)
    for key in [k for k in out if k.startswith("traefik.http.routers.") and k.endswith(".rule")]:
        router = key[: -len(".rule")]
        chain = [m for m in out.get(f"{router}.middlewares", "").split(",") if m]
        out[f"{router}.middlewares"] = ",".join([*chain, retry])
    return out


def task_script() -> str:
    return TASK_SCRIPT.read_text()


def task_command(command: Sequence[str]) -> list[str]:
    """`commands` (the entrypoint) of a rolling task: the task script, then the service's own command."""
    return ["sh", TASK_SCRIPT_PATH, *command]


def task_env(drain_seconds: int, agent_config: str | None) -> dict[str, str]:
    """What the task script reads: the drain, and where the agent binary and its config are (no secret)."""
    env = {"FR_DRAIN_SECONDS": str(drain_seconds)}
    if agent_config:
        env |= {
            "FR_AGENT_BIN": AGENT_BIN,
            "FR_AGENT_CONFIG": agent_config,
            "FR_AGENT_WAIT_SECONDS": str(AGENT_WAIT_SECONDS),
        }
    return env


SWARM_NAME_MAX = 64  # swarmkit refuses longer secret and config names ("only 64 [a-zA-Z0-9-_.] characters allowed")
OBJECT_DIGEST_LENGTH = 8


def swarm_object_name(env: str, owner: str, label: str, digest: str) -> str:
    """`finance_report-<owner>-<label><sfx>-<digest>` of a Swarm secret or config: its data is immutable
    (facts.providers.REPLACE_FACTS[SWARM_SECRET]), so new data is a new name, created beside the old one
    while services still use it. At most 64 characters whatever the env (its name has up to 20): the label
    is cut, never the env suffix or the digest."""
    head, tail = f"{naming.PREFIX}-{owner}-", f"{naming.env_suffix(env)}-{digest[:OBJECT_DIGEST_LENGTH]}"
    room = SWARM_NAME_MAX - len(head) - len(tail)
    return f"{head}{label[:room].rstrip('-._')}{tail}"


def secret_name(env: str, owner: str, label: str, key: bytes, value: str) -> str:
    """A Swarm secret's name: the digest is an HMAC under the stack's random key, so it reveals nothing of
    the value."""
    return swarm_object_name(env, owner, label, hmac.new(key, value.encode(), hashlib.sha256).hexdigest())


def config_name(env: str, owner: str, label: str, content: str) -> str:
    """A Swarm config's name: its content is not secret, a plain hash names it."""
    return swarm_object_name(env, owner, label, hashlib.sha256(content.encode()).hexdigest())


def config_label(path: str) -> str:
    """The part of a config's name that says which file it is: agent, ca, task, job, or tpl-<template> (a label
    never starts with a service word, which policies/stack_env_isolation.py would read as an env)."""
    filename = path.rsplit("/", 1)[-1]
    known = {"agent.hcl": "agent", "vault-ca.pem": "ca", "task.sh": "task", "fr-backup": "job"}
    if filename in known:
        return known[filename]
    return "tpl-" + filename.removesuffix(".ctmpl").replace(".", "-")


def agent_bin_volume(env: str, image: str) -> str:
    """The node-local volume the agent-bin service fills; a new agent image is a new volume, hence a new
    task template for every task that mounts it (they roll onto the new binary)."""
    return f"{naming.PREFIX}-agent-bin{naming.env_suffix(env)}-{hashlib.sha256(image.encode()).hexdigest()[:12]}"


def agent_bin_command() -> list[str]:
    """The agent-bin task's process: render/swarm_agent_bin.sh, with the volume's mount point."""
    return ["sh", "-c", AGENT_BIN_SCRIPT.read_text(), "agent-bin", AGENT_BIN_DIR]
