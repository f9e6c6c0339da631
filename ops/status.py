"""Status of one environment: what the program declares for the stack, against what runs on its Docker host.

The expected containers come from the program itself (run under mocks for the stack, as the offline plan
does): their `finance-report.env` and `finance-report.service` labels. The host is asked over the
stack's own connection (dockerHost and dockerSshOpts, as the provider connects) for the containers
carrying that env's label, so a staging status can never probe production. The public health URL is
checked too, whether or not the Docker host answered.

`uv run invoke status --stack staging [--docker-host URL] [--no-http]`
Exit codes: 0 every declared service runs healthy and the health URL answers 200; 1 otherwise (a problem
per line); 2 bad input (one line on stderr).
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from clients.docker_api import DockerAPI, DockerError
from clients.net_errors import why_unreachable
from config.stack_config import StackConfig
from facts.services import Service
from facts.tokens import CONTAINER
from ops import swarm_ops
from ops.command import run_task
from ops.program_run import ProgramRun, unwrap_secrets
from ops.stack_context import docker_host_override, load_stack, resolve_stack
from render import labels as L
from render.app_env import site_url


@dataclass(frozen=True)
class ContainerState:
    name: str
    service: str
    state: str  # running, exited, ...
    health: str  # healthy, unhealthy, starting, none


@dataclass(frozen=True)
class Declared:
    """What the program declares for a stack: its config and the services of its containers."""

    config: StackConfig
    services: Counter[str]
    swarm_services: dict[str, int] | None = None
    """runtime swarm: service name -> tasks (ops/swarm_ops.py); None for a containers stack."""

    @classmethod
    def of(cls, stack: str, config_file: Path | None = None) -> Declared:
        context = load_stack(stack, config_file)
        run = context.plan()
        swarm = swarm_ops.declared_services(run) if context.config.runtime == "swarm" else None
        return cls(context.config, declared_services(run), swarm)


def declared_services(run: ProgramRun) -> Counter[str]:
    """service label -> number of containers the program declares with it."""
    found: Counter[str] = Counter()
    for container in run.by_type(CONTAINER):
        labels = {item["label"]: item["value"] for item in unwrap_secrets(container.inputs.get("labels", []))}
        found[labels[L.SERVICE]] += 1
    return found


def parse_containers(listing: Sequence[dict[str, Any]]) -> list[ContainerState]:
    """GET /containers/json entries -> states. Health is in Status: 'Up 3 minutes (healthy)'."""
    states = []
    for row in listing:
        labels = row.get("Labels") or {}
        status = row.get("Status", "")
        health = next((h for h in ("unhealthy", "healthy", "health: starting") if f"({h})" in status), "none")
        name = (row.get("Names") or ["?"])[0].lstrip("/")
        states.append(
            ContainerState(name, labels.get(L.SERVICE, "?"), row.get("State", "?"), health.replace("health: ", ""))
        )
    return sorted(states, key=lambda s: (s.service, s.name))


def problems(states: Sequence[ContainerState], expected: Counter[str]) -> list[str]:
    found = []
    for service, count in sorted(expected.items()):
        running = [s for s in states if s.service == service and s.state == "running"]
        if len(running) < count:
            found.append(f"{service}: {len(running)} of {count} running")
    for s in states:
        if s.state == "running" and s.health != "healthy":
            found.append(f"{s.name}: health {s.health}")
    return found


def backup_ages(api: DockerAPI, states: Sequence[ContainerState], out: TextIO) -> list[str]:
    """Age of the last backup and of the last verified restore, read from the backup service's latest
    health probe (ops/backup_ops.py); a problem when either is older than the schedule allows, or when
    the probe printed something that is not the job's health line. No probe yet is not a problem here:
    the container is then not healthy either, which problems() reports."""
    from ops.backup_health import UnreadableHealth, age_problems, ages_line, read_ages

    found = []
    for s in states:
        if s.service != Service.BACKUP or s.state != "running":
            continue
        try:
            ages = read_ages(api, s.name)
        except DockerError as err:
            found.append(str(err))
            continue
        except UnreadableHealth as err:
            found.append(f"{s.name}: {err}")
            continue
        if ages is None:
            print(f"backups: {s.name}: no backup health probe yet", file=out)
            continue
        print(f"backups: {ages_line(ages)}", file=out)
        found += [f"{s.name}: {p}" for p in age_problems(ages)]
    return found


def http_status(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return str(response.status)
    except urllib.error.HTTPError as err:
        return str(err.code)
    except (urllib.error.URLError, OSError) as err:
        return f"unreachable ({why_unreachable(err)})"


def container_status(host: str, cfg: StackConfig, expected: Counter[str], out: TextIO) -> list[str]:
    """The env's containers on the host (by label), their health, and its backup's ages."""
    try:
        api = DockerAPI(host, cfg.docker_ssh_opts)
        listing = api.containers([f"{L.ENV}={cfg.env}"])
    except DockerError as err:
        return [str(err)]
    states = parse_containers(listing)
    for s in states:
        print(f"  {s.service:<15} {s.name:<48} {s.state:<10} {s.health}", file=out)
    return problems(states, expected) + backup_ages(api, states, out)


def swarm_status(host: str, cfg: StackConfig, expected: dict[str, int], out: TextIO) -> list[str]:
    """runtime swarm: the env's services with their tasks and update state, and the backup's ages (its task
    runs on the data node, the manager the stack connects to)."""
    try:
        api = DockerAPI(host, cfg.docker_ssh_opts)
        found, backups = swarm_ops.show_status(api, cfg.env, expected, out)
    except DockerError as err:
        return [str(err)]
    return found + backup_ages(api, parse_containers(backups), out)


def show_status(
    stack: str,
    docker_host: str | None = None,
    http: bool = True,
    config_file: str | None = None,
    out: TextIO | None = None,
) -> int:
    out = out or sys.stdout
    override = docker_host_override(docker_host)
    declared = Declared.of(resolve_stack(stack), Path(config_file) if config_file else None)
    cfg = declared.config
    host = override or cfg.docker_host
    found: list[str] = []
    print(f"env {cfg.env} on {host}", file=out)
    if declared.swarm_services is not None:  # runtime swarm: the manager's view of the env's services
        found += swarm_status(host, cfg, declared.swarm_services, out)
    else:
        found += container_status(host, cfg, declared.services, out)
    if http:
        url = f"{site_url(cfg.env, cfg.domain)}/api/health"
        code = http_status(url)
        print(f"  {'public health':<15} {url:<48} {code}", file=out)
        if code != "200":
            found.append(f"{url} answered {code}")
    for problem in found:
        print(f"problem: {problem}", file=out)
    return 1 if found else 0


def main(*args: Any, **kwargs: Any) -> int:
    """`uv run invoke status` as a command (one line and an exit code on bad input)."""
    return run_task("status", show_status, *args, **kwargs)
