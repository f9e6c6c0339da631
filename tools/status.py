"""Status of one environment: its containers (found by their `finance-report.env` label, so a staging
status can never probe production) with state and health, and the public health URL.

`uv run invoke status --stack staging [--docker-host URL] [--no-http]`
Exit codes: 0 every expected service running and healthy (and the health URL answers 200), 1 otherwise,
2 bad input (one line on stderr).
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

from components.app_env import site_url
from components.config import ConfigError, StackConfig, load_config
from tools.program_run import PROJECT, ROOT, with_missing_secrets
from tools.stack_file import StackFileError, read_stack_file

SERVICES = ("postgres", "redis", "backend", "frontend")
AGENTS = 3  # postgres, redis and app vault-agents


@dataclass(frozen=True)
class ContainerState:
    name: str
    service: str
    state: str  # running, exited, ...
    health: str  # healthy, unhealthy, starting, none


def parse_ps(lines: str) -> list[ContainerState]:
    """`docker ps --format '{{json .}}'` output -> states. Health is in Status: 'Up 3 min (healthy)'."""
    states = []
    for line in lines.splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        labels = dict(item.split("=", 1) for item in row.get("Labels", "").split(",") if "=" in item)
        status = row.get("Status", "")
        health = next((h for h in ("unhealthy", "healthy", "health: starting") if f"({h})" in status), "none")
        states.append(ContainerState(row["Names"], labels.get("finance-report.service", "?"), row.get("State", "?"), health.replace("health: ", "")))
    return sorted(states, key=lambda s: (s.service, s.name))


def problems(states: Sequence[ContainerState], prefect: bool) -> list[str]:
    found = []
    expected = {**{s: 1 for s in SERVICES}, "vault-agent": AGENTS, **({"prefect-worker": 1} if prefect else {})}
    for service, count in expected.items():
        running = [s for s in states if s.service == service and s.state == "running"]
        if len(running) < count:
            found.append(f"{service}: {len(running)} of {count} running")
    for s in states:
        if s.state == "running" and s.health not in ("healthy",):
            found.append(f"{s.name}: health {s.health}")
    return found


def load(stack: str, config_file: Optional[Path]) -> StackConfig:
    config, secret_keys = read_stack_file(config_file or ROOT / f"Pulumi.{stack}.yaml")
    config, secret_keys = with_missing_secrets(config, secret_keys)  # status needs no secret
    prefix = f"{PROJECT}:"
    raw = {k[len(prefix):]: v for k, v in config.items() if k.startswith(prefix)}
    return load_config(raw, stack, frozenset(k[len(prefix):] for k in secret_keys if k.startswith(prefix)))


def http_status(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - https URL from config
            return str(response.status)
    except urllib.error.HTTPError as err:
        return str(err.code)
    except (urllib.error.URLError, OSError) as err:
        return f"unreachable ({getattr(err, 'reason', err)})"


def main(stack: str, docker_host: Optional[str] = None, http: bool = True, config_file: Optional[str] = None) -> int:
    try:
        if not stack:
            raise StackFileError("--stack is required")
        cfg = load(stack, Path(config_file) if config_file else None)
    except (StackFileError, ConfigError) as err:
        print(f"status: {err}", file=sys.stderr)
        return 2
    host = docker_host or cfg.docker_host
    ps = subprocess.run(
        ["docker", "-H", host, "ps", "-a", "--filter", f"label=finance-report.env={cfg.env}", "--format", "{{json .}}"],
        capture_output=True, text=True, timeout=120,
    )
    if ps.returncode != 0:
        print(f"status: docker -H {host} ps failed: {ps.stderr.strip().splitlines()[-1] if ps.stderr.strip() else ps.returncode}", file=sys.stderr)
        return 1
    states = parse_ps(ps.stdout)
    print(f"env {cfg.env} on {host}")
    for s in states:
        print(f"  {s.service:<15} {s.name:<48} {s.state:<10} {s.health}")
    found = problems(states, bool(cfg.prefect_api_url))
    if http:
        url = f"{site_url(cfg.env, cfg.domain)}/api/health"
        code = http_status(url)
        print(f"  {'public health':<15} {url:<48} {code}")
        if code != "200":
            found.append(f"{url} answered {code}")
    for problem in found:
        print(f"problem: {problem}")
    return 1 if found else 0
