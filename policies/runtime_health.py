"""docker-container-enforce-healthcheck-and-restart (invariant 5)."""

from __future__ import annotations

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy, Severity

from facts.tokens import CONTAINER

from .common import plain

RESTART_POLICIES = ("always", "unless-stopped", "on-failure")


def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
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


POLICY = ResourceValidationPolicy(
    name="docker-container-enforce-healthcheck-and-restart",
    description="Requires a health check and a restart policy on every long-running container.",
    validate=validate,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    remediation_steps="Pass healthcheck=render.hardening.healthcheck([...]) and restart='unless-stopped' "
    "(hardened_container_args sets it).",
)
