"""The operator commands' view of a `runtime: swarm` stack (docs/swarm.md "Operating"): what `status`, `logs`
and `doctor` ask a Swarm manager, over the stack's own connection, instead of listing containers.

- status: the env's services (by their `finance-report.env` label), each with its running and desired tasks,
  its update state (a rolled-back or paused update is a problem: the service runs its previous spec), and
  why a task is not running (`no suitable node`, a failed health check).
- logs: `GET /services/{id}/logs`, every task's log through the manager, current and earlier tasks alike.
- doctor: the connected engine is an active Swarm manager and is the data node; the data node is ready and
  active; the Traefik network is an attachable overlay; the swarm is autolocked (the AppRole pair is in raft:
  warned, not failed); the daemon gives containers no-new-privileges (a service cannot set it:
  facts.providers.SERVICE_NO_NEW_PRIVILEGES).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from clients.docker_api import DockerAPI
from facts.services import Service
from facts.tokens import SERVICE
from ops.program_run import ProgramRun, unwrap_secrets
from render import labels as L

BAD_UPDATE_STATES = ("rollback_completed", "rollback_started", "rollback_paused", "paused")
GLOBAL = -1


# ------------------------------------------------------------------------------------------ declared (pure)


def declared_services(run: ProgramRun) -> dict[str, int]:
    """service name -> tasks the program declares (GLOBAL for a global service)."""
    found = {}
    for service in run.by_type(SERVICE):
        props = unwrap_secrets(service.inputs)
        mode = props.get("mode") or {}
        found[props["name"]] = GLOBAL if mode.get("global") else int((mode.get("replicated") or {}).get("replicas", 1))
    return found


# ------------------------------------------------------------------------------------------ status (pure)


@dataclass(frozen=True)
class ServiceState:
    name: str
    service: str
    """The `finance-report.service` label."""
    desired: int
    running: int
    update: str
    """UpdateStatus.State, or "" when the service was never updated."""
    update_message: str
    waiting: tuple[str, ...]
    """Why tasks that should run do not: each not-running task's state and error (or message)."""


def service_states(services: Sequence[Mapping[str, Any]], tasks: Sequence[Mapping[str, Any]]) -> list[ServiceState]:
    """GET /services and GET /tasks (the env's) -> one state per service."""
    states = []
    for s in services:
        spec = s.get("Spec") or {}
        own = [t for t in tasks if t.get("ServiceID") == s.get("ID") and t.get("DesiredState") == "running"]
        running = [t for t in own if (t.get("Status") or {}).get("State") == "running"]
        mode = spec.get("Mode") or {}
        desired = len(own) if "Global" in mode else int((mode.get("Replicated") or {}).get("Replicas", 1))
        waiting = tuple(
            sorted(
                f"{(t.get('Status') or {}).get('State')}: "
                f"{(t.get('Status') or {}).get('Err') or (t.get('Status') or {}).get('Message', '')}"
                for t in own
                if (t.get("Status") or {}).get("State") != "running"
            )
        )
        update = s.get("UpdateStatus") or {}
        states.append(
            ServiceState(
                name=spec.get("Name", "?"),
                service=(spec.get("Labels") or {}).get(L.SERVICE, "?"),
                desired=desired,
                running=len(running),
                update=update.get("State", ""),
                update_message=update.get("Message", ""),
                waiting=waiting,
            )
        )
    return sorted(states, key=lambda s: (s.service, s.name))


def status_problems(states: Sequence[ServiceState], declared: Mapping[str, int]) -> list[str]:
    found = []
    by_name = {s.name: s for s in states}
    for name, tasks in sorted(declared.items()):
        state = by_name.get(name)
        if state is None:
            found.append(f"{name}: no such service")
            continue
        wanted = state.desired if tasks == GLOBAL else tasks
        if state.running < wanted:
            why = f" ({'; '.join(state.waiting)})" if state.waiting else ""
            found.append(f"{name}: {state.running} of {wanted} tasks running{why}")
        if state.update in BAD_UPDATE_STATES:
            found.append(
                f"{name}: update {state.update}: {state.update_message}; it runs its previous spec: "
                "`pulumi up --refresh` re-applies the stack's"
            )
    return found


def show_status(api: DockerAPI, env: str, declared: Mapping[str, int], out) -> tuple[list[str], list[dict]]:
    """Print the env's services; return (problems, the env's containers on this node for the backup check)."""
    label = json.dumps({"label": [f"{L.ENV}={env}"]})
    services = api.get("/services", filters=label)
    tasks = api.get("/tasks", filters=json.dumps({"desired-state": ["running"]}))
    states = service_states(services, tasks)
    for s in states:
        running = f"{s.running}/{s.desired}"
        print(f"  {s.service:<15} {s.name:<48} {running:<10} {s.update or 'created'}", file=out)
        for reason in s.waiting:
            print(f"  {'':<15} {'':<48} {reason}", file=out)
    return status_problems(states, declared), api.containers([f"{L.ENV}={env}", f"{L.SERVICE}={Service.BACKUP}"])


# ------------------------------------------------------------------------------------------ logs


def find_service(api: DockerAPI, filters: Sequence[str]) -> dict[str, Any] | None:
    """The one service carrying every `key=value` label (the newest, should an earlier one linger)."""
    found = api.get("/services", filters=json.dumps({"label": list(filters)}))
    return max(found, key=lambda s: s.get("CreatedAt", ""), default=None)


# ------------------------------------------------------------------------------------------ doctor (pure)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    warn_only: bool = False
    """Reported, never failing the doctor (autolock: docs/swarm.md "Secret zero")."""


def manager_checks(info: Mapping[str, Any], data_node: str) -> list[Check]:
    """GET /info of the engine the stack connects to."""
    swarm = info.get("Swarm") or {}
    active = swarm.get("LocalNodeState") == "active"
    manager = bool(swarm.get("ControlAvailable"))
    checks = [
        Check(
            "swarm manager",
            active and manager,
            f"{info.get('Name')}: swarm {swarm.get('LocalNodeState') or 'inactive'}"
            + (", manager" if manager else ", not a manager"),
            ""
            if active and manager
            else "run `docker swarm init` there (Dokploy's installer does), or point dockerHost at a manager",
        )
    ]
    hostname = info.get("Name", "")
    checks.append(
        Check(
            "data node",
            hostname == data_node,
            f"the connected manager is {hostname}, swarmDataNode is {data_node}",
            ""
            if hostname == data_node
            else "set swarmDataNode to the manager dockerHost reaches (its volumes and the backup image are made "
            "there), or connect dockerHost to the data node",
        )
    )
    options = info.get("SecurityOptions") or []
    nnp = any("no-new-privileges" in str(o) for o in options)
    checks.append(
        Check(
            "daemon no-new-privileges",
            nnp,
            "the daemon gives every container no-new-privileges"
            if nnp
            else "the daemon does not set no-new-privileges by default, and a Swarm service cannot set it itself",
            "" if nnp else 'add "no-new-privileges": true to /etc/docker/daemon.json on every node and restart dockerd',
        )
    )
    return checks


def node_checks(nodes: Sequence[Mapping[str, Any]], data_node: str) -> list[Check]:
    """GET /nodes: the data node exists, is ready and takes tasks."""
    found = [n for n in nodes if (n.get("Description") or {}).get("Hostname") == data_node]
    if not found:
        names = ", ".join(sorted((n.get("Description") or {}).get("Hostname", "?") for n in nodes))
        return [Check("data node state", False, f"no node {data_node} in the swarm ({names})", "fix swarmDataNode")]
    node = found[0]
    state = (node.get("Status") or {}).get("State")
    availability = (node.get("Spec") or {}).get("Availability")
    ok = state == "ready" and availability == "active"
    return [
        Check(
            "data node state",
            ok,
            f"{data_node} is {state}, {availability}",
            "" if ok else f"`docker node update --availability active {data_node}` (Postgres waits Pending until then)",
        )
    ]


def network_check(network: Mapping[str, Any] | None, name: str) -> Check:
    """Dokploy's network, as Traefik's swarm provider and the services need it."""
    if network is None:
        return Check("traefik network", False, f"network {name} does not exist", "start Dokploy's Traefik")
    ok = network.get("Driver") == "overlay" and bool(network.get("Attachable"))
    return Check(
        "traefik network",
        ok,
        f"{name} ({network.get('Driver')}, {'attachable' if network.get('Attachable') else 'not attachable'})",
        "" if ok else "recreate it as an attachable overlay: docker network create -d overlay --attachable " + name,
    )


def autolock_check(swarm: Mapping[str, Any]) -> Check:
    """GET /swarm: the raft key on the managers' disks unless autolock is on."""
    locked = bool(((swarm.get("Spec") or {}).get("EncryptionConfig") or {}).get("AutoLockManagers"))
    return Check(
        "swarm autolock",
        locked,
        "autolock is on: the raft store (with the AppRole pairs) is unreadable without the unlock key"
        if locked
        else "autolock is off: the key of the raft store, which holds each service's AppRole pair, is on the "
        "managers' disks",
        "" if locked else "`docker swarm update --autolock=true` and keep the unlock key off the host (docs/swarm.md)",
        warn_only=True,
    )


def swarm_checks(api: DockerAPI, data_node: str, traefik_network: str) -> list[Check]:
    info = api.get("/info")
    checks = manager_checks(info, data_node)
    if not checks[0].ok:
        return checks
    checks += node_checks(api.get("/nodes"), data_node)
    response = api.request("GET", f"/networks/{traefik_network}")
    checks.append(network_check(response.json() if response.status == 200 else None, traefik_network))
    checks.append(autolock_check(api.get("/swarm")))
    return checks
