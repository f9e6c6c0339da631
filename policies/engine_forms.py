"""What the real provider does with a container's stop, durations and uploads (provider_facts), checked
on every container."""

from __future__ import annotations

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
)

from facts import providers
from facts.tokens import CONTAINER, SERVICE

from .common import UNKNOWN, known, plain, service_of, workload

DOCKER_STOP_DEFAULT = 10  # seconds `docker stop` waits when the container sets no stop_timeout


def validate_grace(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type == SERVICE:
        validate_service_grace(args, report_violation)
        return
    if args.resource_type != CONTAINER:
        return
    props = plain(args.props)
    grace, stop = props.get("destroyGraceSeconds"), props.get("stopTimeout")
    if grace == UNKNOWN or stop == UNKNOWN:
        return  # computed at preview
    needed = max(int(stop or DOCKER_STOP_DEFAULT), int(args.get_config()["minimums"].get(service_of(props) or "", 0)))
    if providers.delete_stop_seconds(props) < needed:
        report_violation(
            f"Container {args.name} is deleted with `docker stop -t {providers.delete_stop_seconds(props)}` "
            f"(destroy_grace_seconds); it needs {needed}s to stop cleanly, or it is killed mid-write."
        )


def seconds_of(text: str) -> int:
    """Whole seconds of a duration the program writes (1h, 1m30s, 45s)."""
    total, number = 0, ""
    for char in text:
        if char.isdigit():
            number += char
            continue
        total += int(number or 0) * {"h": 3600, "m": 60, "s": 1}.get(char, 0)
        number = ""
    return total


def validate_service_grace(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """Swarm stops a task with its spec's signal and stop_grace_period, on an update as on a delete (the
    provider's delete then waits that long: facts.providers.SERVICE_STOP_ON_DELETE); unset, Docker's 10 s."""
    spec = (plain(args.props).get("taskSpec") or {}).get("containerSpec") or {}
    grace = spec.get("stopGracePeriod")
    if grace == UNKNOWN:
        return
    service = service_of(workload(args.resource_type, args.props) or {}) or ""
    needed = max(DOCKER_STOP_DEFAULT, int(args.get_config()["minimums"].get(service, 0)))
    have = seconds_of(grace) if grace else DOCKER_STOP_DEFAULT
    if have < needed:
        report_violation(
            f"Service {args.name} stops its tasks with a grace of {grace or '10s (Docker default)'}; it needs "
            f"{needed}s to stop cleanly, or Swarm kills it mid-write."
        )


def validate_durations(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    for path in providers.SHORT_DURATION_FIELDS.get(args.resource_type, ()):
        value = providers.value_at(plain(args.props), path)
        if known(value) and value is not None and not providers.is_short_duration(str(value)):
            report_violation(
                f"{args.name} sets {'.'.join(path)} = {value!r}; the service resource reads it back shortened "
                "(1m, 1m30s, 1h), so every refresh shows a change: write it as facts.providers.short_duration does."
            )
    for block, field in providers.GO_DURATION_FIELDS.get(args.resource_type, ()):
        value = (plain(args.props.get(block)) or {}).get(field)
        if known(value) and value is not None and not providers.is_go_duration(str(value)):
            report_violation(
                f"{args.name} sets {block}.{field} = {value!r}; the provider reads it back as Go prints it, "
                "so every refresh shows a change: write it as Go's Duration.String() does (e.g. 1m0s for "
                "60s)."
            )


def validate_secret_outputs(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    declared = set(getattr(args.opts, "additional_secret_outputs", None) or [])
    for prop in providers.NESTED_SECRET_PROPERTIES.get(args.resource_type, ()):
        if plain(args.props.get(prop)) and prop not in declared:
            report_violation(
                f"{args.name} sets {prop}, which may hold a secret inside a list, without declaring it an "
                "additional secret output: the value could reach the state in plaintext."
            )


GRACE = ResourceValidationPolicy(
    name="docker-container-enforce-destroy-grace",
    description="Requires every container's destroy_grace_seconds to cover its stop timeout, and every Swarm service's "
    "stop grace, to cover each service's minimum.",
    validate=validate_grace,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    config_schema=PolicyConfigSchema(
        properties={
            "minimums": {"type": "object", "additionalProperties": {"type": "integer"}, "default": {"postgres": 60}}
        }
    ),
    remediation_steps="Use render.hardening.hardened_container_args(stop=Stop(seconds)), which sets stop_timeout and "
    "destroy_grace_seconds together.",
)
DURATIONS = ResourceValidationPolicy(
    name="docker-container-enforce-go-durations",
    description="Requires durations in the form the provider reads back (a container's health check: Go's "
    "Duration.String(); a service's: shortened, 1m not 1m0s).",
    validate=validate_durations,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.MEDIUM,
    remediation_steps="Build health checks with render.hardening.healthcheck(), which takes whole seconds and writes "
    "them with "
    "provider_facts.go_duration().",
)
SECRET_OUTPUTS = ResourceValidationPolicy(
    name="resource-enforce-secret-outputs",
    description="Requires properties that can hold a nested secret to be declared additional secret outputs.",
    validate=validate_secret_outputs,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.CRITICAL,
    remediation_steps="Declare containers with program.containers, which lists `uploads` in additional_secret_outputs.",
)
