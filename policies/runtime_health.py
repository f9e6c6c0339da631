"""docker-container-enforce-healthcheck-and-restart (invariant 5)."""

from __future__ import annotations

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy, Severity

from facts.tokens import CONTAINER, SERVICE

from .common import plain, workload

RESTART_POLICIES = ("always", "unless-stopped", "on-failure")
SERVICE_RESTART_CONDITIONS = ("any", "on-failure")


def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type == SERVICE:
        validate_service(args, report_violation)
        return
    if args.resource_type != CONTAINER or plain(args.props.get("rm")) or plain(args.props.get("mustRun")) is False:
        return  # one-shot containers are not long-running
    health = plain(args.props.get("healthcheck")) or {}
    tests = health.get("tests") or []
    if not tests or tests[0] not in ("CMD", "CMD-SHELL") or len(tests) < 2:
        report_violation(
            f"Container {args.name} has no health check; add one so deploys wait for health and Traefik "
            "routes only to healthy containers."
        )
    if plain(args.props.get("restart")) not in RESTART_POLICIES:
        report_violation(
            f"Container {args.name} has restart policy {plain(args.props.get('restart')) or 'no'}; expected "
            f"one of {', '.join(RESTART_POLICIES)}."
        )


def validate_service(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """A Swarm task reaches RUNNING (and Traefik's list) only after its first healthy check, and an update
    waits for it: without a health check, a task that has not started to serve counts as up."""
    health = plain((workload(args.resource_type, args.props) or {}).get("healthcheck")) or {}
    tests = health.get("tests") or []
    if not tests or tests[0] not in ("CMD", "CMD-SHELL") or len(tests) < 2:
        report_violation(
            f"Service {args.name} has no health check; add one so Swarm starts routing to a task, and an "
            "update replaces the next one, only once it is healthy."
        )
    condition = ((plain(args.props).get("taskSpec") or {}).get("restartPolicy") or {}).get("condition")
    if condition not in SERVICE_RESTART_CONDITIONS:
        report_violation(
            f"Service {args.name} has restart condition {condition or '(Docker default)'}; expected one of "
            f"{', '.join(SERVICE_RESTART_CONDITIONS)}."
        )


POLICY = ResourceValidationPolicy(
    name="docker-container-enforce-healthcheck-and-restart",
    description="Requires a health check and a restart policy on every long-running container and service.",
    validate=validate,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    remediation_steps="Pass healthcheck=render.hardening.healthcheck([...]) and restart='unless-stopped' "
    "(hardened_container_args sets it).",
)
