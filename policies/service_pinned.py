"""docker-service-enforce-pinned-singleton (runtime swarm): Postgres, Redis, their vault-agents and the backup
service run exactly once, on the data node, and are replaced stop-first (docs/design/swarm.md section 4).

Their data (and the agents' tmpfs volume) is on one node: a task elsewhere would start on an empty data
directory, and two servers on one data directory corrupt it (docker-library/postgres#171). The
datastores resolve by DNS to their task (dnsrr): a virtual IP goes through IPVS, which drops idle pooled
connections after 900 s (moby/moby#31208) and is not even available on some kernels.
"""

from __future__ import annotations

import re

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy, Severity

from facts.tokens import SERVICE

from .common import DATASTORES, UNKNOWN, plain, service_of, workload

PINNED_SERVICES = (*DATASTORES, "vault-agent", "backup")
_NODE_RE = re.compile(r"^node\.hostname\s*==\s*\S+$")


def problems(name: str, props: dict) -> list[str]:
    service = service_of(workload(SERVICE, props) or {})
    what = f"{service} service {name}"
    mode = props.get("mode") or {}
    found = []
    replicas = (mode.get("replicated") or {}).get("replicas")
    if mode.get("global") or replicas not in (1, UNKNOWN):
        found.append(
            f"{what} runs {'on every node' if mode.get('global') else f'{replicas} tasks'}; it must run exactly once "
            "(mode replicated, replicas 1)."
        )
    for block in ("updateConfig", "rollbackConfig"):
        order = (props.get(block) or {}).get("order") or "stop-first"  # Docker's default
        if order != "stop-first":
            found.append(
                f"{what} {'updates' if block == 'updateConfig' else 'rolls back'} {order}: two tasks on one data "
                f"directory for a while; set {'update' if block == 'updateConfig' else 'rollback'}_config order "
                "stop-first."
            )
    constraints = ((props.get("taskSpec") or {}).get("placement") or {}).get("constraints") or []
    if UNKNOWN not in constraints and not any(_NODE_RE.match(str(c)) for c in constraints):
        found.append(
            f"{what} is not pinned to a node (placement constraint node.hostname==<swarmDataNode>): Swarm could "
            "start it on another node, away from its data."
        )
    if service in DATASTORES and (props.get("endpointSpec") or {}).get("mode") not in ("dnsrr", UNKNOWN):
        found.append(
            f"{what} is reached through a virtual IP; set endpoint_spec mode dnsrr (IPVS drops idle pooled "
            "connections after 900 s, moby/moby#31208)."
        )
    return found


def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != SERVICE:
        return
    props = plain(args.props)
    if service_of(workload(SERVICE, props) or {}) not in PINNED_SERVICES:
        return
    for problem in problems(args.name, props):
        report_violation(problem)


POLICY = ResourceValidationPolicy(
    name="docker-service-enforce-pinned-singleton",
    description="Requires Postgres, Redis, their agents and the backup service to run once, pinned to a node, "
    "replaced stop-first, and the datastores to resolve by DNS (dnsrr).",
    validate=validate,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.CRITICAL,
    remediation_steps="Declare them with render.swarm.pinned_update() and data_node_constraint(swarmDataNode) "
    "(program/swarm_datastore.py, swarm_vault.py, swarm_backup.py).",
)
