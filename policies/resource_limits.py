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

from facts.tokens import SERVICE

from .common import MIB, kind, known, plain, workload


def validate_memory(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    props = workload(args.resource_type, args.props)  # a container, or a Swarm service's task
    if props is None:
        return
    memory, maximum = plain(props.get("memory")), args.get_config()["maxMemoryMb"]
    if not known(memory):
        return
    what = f"{kind(args.resource_type)} {args.name}"
    if not memory:
        report_violation(f"{what} has no memory limit; set memory (MiB) so one service cannot starve the host.")
    elif memory > maximum:
        report_violation(f"{what} has a memory limit of {int(memory)} MiB, above the maximum of {maximum} MiB.")
    elif args.resource_type == SERVICE:
        reserved = (((plain(args.props).get("taskSpec") or {}).get("resources") or {}).get("reservation") or {}).get(
            "memoryBytes"
        )
        if known(reserved) and (reserved or 0) / MIB != memory:
            report_violation(
                f"{what} reserves {int((reserved or 0) / MIB)} MiB of its {int(memory)} MiB limit; reserve the limit, "
                "so Swarm places a task only on a node with that much memory free."
            )


def validate_logs(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    props = workload(args.resource_type, args.props)
    if props is None:
        return
    driver, opts = plain(props.get("logDriver")), plain(props.get("logOpts")) or {}
    if driver not in (None, "json-file", "local"):
        return  # shipped elsewhere; rotation is that driver's business
    if not opts.get("max-size") or not opts.get("max-file"):
        report_violation(
            f"{kind(args.resource_type)} {args.name} logs without rotation; set log_opts max-size and max-file."
        )


MEMORY = ResourceValidationPolicy(
    name="docker-container-enforce-memory-limit",
    description="Requires a memory limit under the configured maximum on every container and service.",
    validate=validate_memory,
    enforcement_level=EnforcementLevel.ADVISORY,
    severity=Severity.MEDIUM,
    config_schema=PolicyConfigSchema(properties={"maxMemoryMb": {"type": "integer", "default": 4096, "minimum": 16}}),
    remediation_steps="Set the service's <service>MemoryMb config key (render.hardening.Limits).",
)
LOGS = ResourceValidationPolicy(
    name="docker-container-enforce-log-rotation",
    description="Requires json-file log rotation (max-size and max-file) on every container and service.",
    validate=validate_logs,
    enforcement_level=EnforcementLevel.ADVISORY,
    severity=Severity.LOW,
    remediation_steps=(
        "Use render.hardening.hardened_container_args(), which sets log_opts from logMaxSize/logMaxFiles."
    ),
)
