"""docker-container-enforce-memory-limit and docker-container-enforce-log-rotation (advisory)."""

from __future__ import annotations

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
)

from facts.tokens import CONTAINER

from .common import known, plain


def validate_memory(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != CONTAINER:
        return
    memory, maximum = plain(args.props.get("memory")), args.get_config()["maxMemoryMb"]
    if not known(memory):
        return
    if not memory:
        report_violation(
            f"Container {args.name} has no memory limit; set memory (MiB) so one service cannot starve the host."
        )
    elif memory > maximum:
        report_violation(
            f"Container {args.name} has a memory limit of {int(memory)} MiB, above the maximum of {maximum} MiB."
        )


def validate_logs(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != CONTAINER:
        return
    driver, opts = plain(args.props.get("logDriver")), plain(args.props.get("logOpts")) or {}
    if driver not in (None, "json-file", "local"):
        return  # shipped elsewhere; rotation is that driver's business
    if not opts.get("max-size") or not opts.get("max-file"):
        report_violation(f"Container {args.name} logs without rotation; set log_opts max-size and max-file.")


MEMORY = ResourceValidationPolicy(
    name="docker-container-enforce-memory-limit",
    description="Requires a memory limit under the configured maximum on every container.",
    validate=validate_memory,
    enforcement_level=EnforcementLevel.ADVISORY,
    severity=Severity.MEDIUM,
    config_schema=PolicyConfigSchema(properties={"maxMemoryMb": {"type": "integer", "default": 4096, "minimum": 16}}),
    remediation_steps="Set the service's <service>MemoryMb config key (render.hardening.Limits).",
)
LOGS = ResourceValidationPolicy(
    name="docker-container-enforce-log-rotation",
    description="Requires json-file log rotation (max-size and max-file) on every container.",
    validate=validate_logs,
    enforcement_level=EnforcementLevel.ADVISORY,
    severity=Severity.LOW,
    remediation_steps=(
        "Use render.hardening.hardened_container_args(), which sets log_opts from logMaxSize/logMaxFiles."
    ),
)
