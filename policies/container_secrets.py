"""docker-container-disallow-plaintext-secrets (invariant 1): env, labels, command, entrypoint and the
health check are in `docker inspect` and in the provider's state; none may carry a credential."""

from __future__ import annotations

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy, Severity

from .common import (
    SECRET_FILE_PATH_RE,
    SECRET_FLAG_RE,
    is_secret_key,
    kind,
    known,
    labels,
    plain,
    secret_value_reason,
    workload,
)


def _env_finding(key: str, value: str) -> str | None:
    if key.upper().endswith("_FILE"):
        # the documented way to pass a secret: the path of a rendered file, and nothing else
        return None if SECRET_FILE_PATH_RE.match(value) else f"env {key} is not the path of a file under /run/secrets"
    if is_secret_key(key) and value:
        return f"env {key} holds a secret-looking value"
    if value and (reason := secret_value_reason(value)):
        return f"env {key} holds {reason}"
    return None


def _args_findings(field: str, args: list) -> list[str]:
    found = []
    for i, arg in enumerate(args):
        arg = str(arg)
        flag = SECRET_FLAG_RE.match(arg)
        if flag and (flag.group(2) or i + 1 < len(args)):
            found.append(f"{field} passes {arg.split('=')[0]} on the command line")
        elif reason := secret_value_reason(arg):
            found.append(f"{field} holds {reason}")
    return found


def findings(props) -> list[str]:
    found = []
    for entry in plain(props.get("envs")) or []:
        if known(entry):
            key, _, value = str(entry).partition("=")
            if finding := _env_finding(key, value):
                found.append(finding)
    for key, value in labels(props).items():
        if is_secret_key(key or "") and value:
            found.append(f"label {key} holds a secret-looking value")
        elif value and (reason := secret_value_reason(str(value))):
            found.append(f"label {key} holds {reason}")
    for field in ("entrypoints", "command"):
        found += _args_findings(field, [a for a in plain(props.get(field)) or [] if known(a)])
    health = plain(props.get("healthcheck")) or {}
    found += _args_findings("healthcheck", [a for a in health.get("tests") or [] if known(a)])
    return found


def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    props = workload(args.resource_type, args.props)  # a container, or a Swarm service's task
    if props is None:
        return
    for finding in findings(props):
        report_violation(
            f"{kind(args.resource_type)} {args.name}: {finding}. Deliver secrets as files rendered by its "
            "vault-agent into the tmpfs secrets volume."
        )


POLICY = ResourceValidationPolicy(
    name="docker-container-disallow-plaintext-secrets",
    description="Prohibits secret-looking keys or values in a container's or service's env, labels, command or health "
    "check.",
    validate=validate,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.CRITICAL,
    remediation_steps=(
        "1. Remove the value from envs/labels/command/healthcheck. "
        "2. Store it in the service's Vault KV secret (the component's kv_data). "
        "3. Render it with the service's vault-agent template and read it from /run/secrets/<service> (or a "
        "*_FILE variable naming that file)."
    ),
)
