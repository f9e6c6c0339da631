"""The Docker host's memory budget, checked by the offline plan (docs/pr-environments.md, "Host memory budget").

Every container the program declares has a memory limit; one host runs the committed stacks (production,
staging) and up to `maxPrEnvs` PR environments. The budget adds, from the program's own
captured inputs (run under mocks, as the offline plan runs it):

- each committed stack on the host: every container's limit, plus a second revision of each rolling
  container (backend, frontend): during a cutover the new revision runs beside the old one for at least
  the watch period, and updates of different stacks may overlap (one concurrency group per stack);
- `maxPrEnvs` times a PR env generated from the template, counted the same way;

and compares the peak with `hostMemoryMb` (what the host gives this project's containers: its total
minus Dokploy, Traefik and the OS). The committed stacks on one host must agree on both keys. With
hostMemoryMb 0 nothing is checked, and the plan says so.

A `runtime: swarm` stack counts its services: each task's limit times its replicas (a global service once
per node), plus one extra task of every start-first service (an update starts the new task before the
old one stops). Its memory is also shown per node: what is pinned to the data node (node.hostname), what
runs on every node (agent-bin), and the app tasks Swarm places on any node with room (their reservation
equals their limit, so a node without room gets none). The host check stays conservative: the manager
the stack connects to is counted as if every task ran on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from config.errors import ConfigError
from config.stack_config import StackConfig
from config.stack_file import read_stack_file
from facts.envs import is_pr_env
from facts.project import PROJECT
from facts.tokens import CONTAINER, SERVICE
from ops.command import bad_input
from ops.program_run import ROOT, ProgramRun, run_program, unwrap_secrets, with_missing_secrets
from ops.stack_context import committed_stacks, load_stack

MIB = 1024 * 1024
EVERY_NODE, ANY_NODE = "every node", "any node"


@dataclass(frozen=True)
class StackMemory:
    """Memory limits (MiB) of one stack's containers, from the program's captured inputs."""

    stack: str
    steady_mb: int
    rolling_mb: int
    """Limits of the create-before-delete containers: a second revision runs during each cutover."""
    nodes: Mapping[str, int] = field(default_factory=dict)
    """runtime swarm: steady MiB per node (a data node's hostname, every node, any node); empty for containers."""

    @property
    def peak_mb(self) -> int:
        return self.steady_mb + self.rolling_mb


def stack_memory(stack: str, run: ProgramRun) -> StackMemory:
    steady = rolling = 0
    for container in run.by_type(CONTAINER):
        memory = int(unwrap_secrets(container.inputs).get("memory") or 0)
        steady += memory
        if container.options.get("deleteBeforeReplace") is False:  # rolled create-first (program/containers.py)
            rolling += memory
    nodes: dict[str, int] = {}
    for service in run.by_type(SERVICE):
        props = unwrap_secrets(service.inputs)
        task = props.get("taskSpec") or {}
        memory = int(((task.get("resources") or {}).get("limits") or {}).get("memoryBytes") or 0) // MIB
        mode = props.get("mode") or {}
        replicas = 1 if mode.get("global") else int((mode.get("replicated") or {}).get("replicas") or 1)
        steady += memory * replicas
        if (props.get("updateConfig") or {}).get("order") == "start-first":
            rolling += memory  # parallelism 1: one new task beside the old ones
        node = EVERY_NODE if mode.get("global") else pinned_node(task) or ANY_NODE
        nodes[node] = nodes.get(node, 0) + memory * replicas
    return StackMemory(stack, steady, rolling, nodes)


def pinned_node(task: Mapping[str, Any]) -> str | None:
    """The hostname a task is pinned to (placement constraint node.hostname==<name>), or None."""
    for constraint in (task.get("placement") or {}).get("constraints") or []:
        key, _, value = str(constraint).partition("==")
        if key.strip() == "node.hostname" and value.strip():
            return value.strip()
    return None


@dataclass
class Budget:
    host: str
    host_memory_mb: int
    max_pr_envs: int
    stacks: list[StackMemory] = field(default_factory=list)
    pr_env: StackMemory | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def peak_mb(self) -> int:
        pr_envs = self.max_pr_envs * (self.pr_env.peak_mb if self.pr_env else 0)
        return sum(s.peak_mb for s in self.stacks) + pr_envs

    @property
    def over(self) -> bool:
        return self.host_memory_mb > 0 and self.peak_mb > self.host_memory_mb

    def lines(self) -> list[str]:
        if self.host_memory_mb == 0:
            return [f"Host memory budget ({self.host}): not checked (hostMemoryMb is 0)"]
        lines = [
            f"Host memory budget ({self.host}): peak {self.peak_mb} MiB of hostMemoryMb {self.host_memory_mb} MiB"
            + (" -- OVER" if self.over else "")
        ]
        for s in self.stacks:
            lines.append(f"  {s.stack:<12} {s.steady_mb:>6} MiB + {s.rolling_mb} MiB during a cutover")
            for node, mb in sorted(s.nodes.items()):
                lines.append(f"    swarm {node:<14} {mb:>6} MiB")
        if self.pr_env is not None:
            lines.append(
                f"  PR envs      {self.max_pr_envs} x ({self.pr_env.steady_mb} MiB + "
                f"{self.pr_env.rolling_mb} MiB during a cutover)  (maxPrEnvs {self.max_pr_envs})"
            )
        return lines + [f"  problem: {p}" for p in self.problems]

    def to_json(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "hostMemoryMb": self.host_memory_mb,
            "maxPrEnvs": self.max_pr_envs,
            "peakMb": self.peak_mb,
            "stacks": {
                s.stack: {
                    "steadyMb": s.steady_mb,
                    "rollingMb": s.rolling_mb,
                    **({"perNodeMb": dict(sorted(s.nodes.items()))} if s.nodes else {}),
                }
                for s in self.stacks
            },
            "prEnv": {"steadyMb": self.pr_env.steady_mb, "rollingMb": self.pr_env.rolling_mb} if self.pr_env else None,
            "over": self.over,
            "problems": list(self.problems),
        }


def _load(stack: str, path: Path) -> tuple[StackConfig, dict[str, str], list[str]]:
    try:
        context = load_stack(stack, path)
    except ConfigError as err:
        raise bad_input(f"{path.name}: {err}") from None
    return context.config, context.engine_config, context.secret_keys


def _measure(stack: str, config: Mapping[str, str], secret_keys: list[str]) -> StackMemory:
    run = run_program(stack, config, secret_keys)
    if run.error is not None:
        raise bad_input(f"stack {stack}: {str(run.error).splitlines()[0]}")
    return stack_memory(stack, run)


def host_of(docker_host: str) -> str:
    return urlsplit(docker_host).hostname or docker_host


def host_budget(
    stack: str, run: ProgramRun | None = None, config_file: Path | None = None, root: Path = ROOT
) -> Budget:
    """The budget of the host `stack` deploys to. `run` is `stack`'s program run when the caller has it
    (the offline plan); `config_file` replaces `stack`'s own stack file."""
    from ops import pr_env

    own_cfg, own_config, own_secrets = _load(stack, config_file or root / f"Pulumi.{stack}.yaml")
    host = host_of(own_cfg.docker_host)
    members: list[tuple[str, StackConfig, dict[str, str], list[str]]] = []
    if not is_pr_env(stack):
        members.append((stack, own_cfg, own_config, own_secrets))
    for other in committed_stacks(root):
        if other == stack:
            continue
        path = root / f"Pulumi.{other}.yaml"
        # Placed by its dockerHost as written: a stack elsewhere (a user's half-written new one included)
        # cannot change this host's budget, so only a stack here must be valid.
        written_host = read_stack_file(path)[0].get(f"{PROJECT}:dockerHost", "")
        if host_of(written_host) != host:
            continue
        cfg, config, secret_keys = _load(other, path)
        members.append((other, cfg, config, secret_keys))
    budget = Budget(host, own_cfg.host_memory_mb, own_cfg.max_pr_envs)
    for key, attr in (("hostMemoryMb", "host_memory_mb"), ("maxPrEnvs", "max_pr_envs")):
        values = {name: getattr(cfg, attr) for name, cfg, _, _ in members} | {stack: getattr(own_cfg, attr)}
        if len(set(values.values())) > 1:
            budget.problems.append(
                f"{key} differs between the stacks on {host}: "
                + ", ".join(f"{n} {v}" for n, v in sorted(values.items()))
                + "; set the same value in each"
            )
    if budget.host_memory_mb == 0:
        return budget
    for name, _, config, secret_keys in members:
        if name == stack and run is not None:
            budget.stacks.append(stack_memory(name, run))
        else:
            budget.stacks.append(_measure(name, config, secret_keys))
    if budget.max_pr_envs:
        template = pr_env.load_template()
        if template.base in [m[0] for m in members]:
            base = next(m[2] for m in members if m[0] == template.base)
            pr_env_config = pr_env.pr_env_config(1, base, template)
            config = {k: pr_env.engine_text(v) for k, v in pr_env_config.items()}
            config, secret_keys = with_missing_secrets(config, [])
            budget.pr_env = _measure("pr1", config, secret_keys)
        else:
            budget.problems.append(
                f"maxPrEnvs is {budget.max_pr_envs} but PR envs are based on {template.base}, which "
                "deploys to another host"
            )
    if budget.over:
        budget.problems.append(
            f"the peak, {budget.peak_mb} MiB, exceeds hostMemoryMb {budget.host_memory_mb} MiB: lower memory "
            "limits or maxPrEnvs, or give the host more memory"
        )
    return budget
