"""docker-service-enforce-rolling-update (runtime swarm): backend, frontend and the prefect worker roll without
downtime and roll themselves back (docs/design/swarm.md section 3).

Docker replaces one task at a time, starting the new one and stopping the old one only once the new one is
RUNNING, i.e. healthy (order start-first); a new task that fails or exits within the monitor window fails
the update, and failure_action rollback returns the service to its previous spec (swarmkit
orchestrator/update/updater.go). A rollback must be start-first too, or it takes the service down. And
`pulumi up` must wait for the update (converge_config), or it never sees a rollback
(facts.providers.SERVICE_CONVERGE).
"""

from __future__ import annotations

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
)

from facts.tokens import SERVICE

from .common import UNKNOWN, plain, service_of, workload

ROLLING_SERVICES = ("backend", "frontend", "prefect-worker")


def seconds(text: str) -> int:
    total, number = 0, ""
    for char in text:
        if char.isdigit():
            number += char
        else:
            total += int(number or 0) * {"h": 3600, "m": 60, "s": 1}.get(char, 0)
            number = ""
    return total


def problems(name: str, props: dict, min_monitor: int) -> list[str]:
    service = service_of(workload(SERVICE, props) or {})
    what = f"{service} service {name}"
    update = props.get("updateConfig") or {}
    rollback = props.get("rollbackConfig") or {}
    found = []
    if update.get("order") != "start-first":
        found.append(
            f"{what} updates {update.get('order') or 'stop-first (the default)'}: its old task stops before the new "
            "one is healthy; set update_config order start-first."
        )
    if update.get("failureAction") not in ("rollback", UNKNOWN):
        found.append(
            f"{what} does not roll back a failed update (failure_action {update.get('failureAction') or 'pause'}); "
            "set update_config failure_action rollback."
        )
    if update and update.get("parallelism") == 0:
        found.append(f"{what} updates all its tasks at once (parallelism 0); set update_config parallelism 1.")
    monitor = update.get("monitor")
    if monitor != UNKNOWN and seconds(monitor or "5s") < min_monitor:
        found.append(
            f"{what} watches a new task for {monitor or '5s (the default)'} only; a task that fails later counts as "
            f"updated: set update_config monitor to {min_monitor}s or more (cutoverWatchSeconds)."
        )
    if rollback.get("order") != "start-first":
        found.append(
            f"{what} rolls back {rollback.get('order') or 'stop-first (the default)'}: a rollback would stop the "
            "serving tasks first; set rollback_config order start-first."
        )
    if not props.get("convergeConfig"):
        found.append(
            f"{what} has no converge_config: `pulumi up` returns before Docker's update ends and never sees a "
            "rollback; set converge_config with a timeout."
        )
    return found


def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != SERVICE:
        return
    props = plain(args.props)
    if service_of(workload(SERVICE, props) or {}) not in ROLLING_SERVICES:
        return
    for problem in problems(args.name, props, args.get_config()["minMonitorSeconds"]):
        report_violation(problem)


POLICY = ResourceValidationPolicy(
    name="docker-service-enforce-rolling-update",
    description="Requires the backend, frontend and worker services to update and roll back start-first, roll back a "
    "failed update on their own after a monitor window, and make `pulumi up` wait for it.",
    validate=validate,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    config_schema=PolicyConfigSchema(
        properties={"minMonitorSeconds": {"type": "integer", "default": 10, "minimum": 0}}
    ),
    remediation_steps="Declare rolling services with render.swarm.rolling_update() and a converge_config "
    "(program/swarm_app.py); keep cutoverWatchSeconds at minMonitorSeconds or more.",
)
