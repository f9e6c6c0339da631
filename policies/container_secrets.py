"""docker-container-disallow-plaintext-secrets (invariant 1)."""

from __future__ import annotations

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy, Severity

from .common import CONTAINER, SECRET_FLAG_RE, SECRET_KEY_RE, known, labels, plain, secret_value_reason


def findings(props) -> list[str]:
    found = []
    for entry in plain(props.get("envs")) or []:
        if not known(entry):
            continue
        key, _, value = str(entry).partition("=")
        if SECRET_KEY_RE.search(key) and not key.endswith("_FILE") and value and not value.startswith("/"):
            found.append(f"env {key} holds a secret-looking value")
        elif value and (reason := secret_value_reason(value)):
            found.append(f"env {key} holds {reason}")
    for key, value in labels(props).items():
        if SECRET_KEY_RE.search(key or "") and value and not str(value).startswith("/"):
            found.append(f"label {key} holds a secret-looking value")
        elif value and (reason := secret_value_reason(str(value))):
            found.append(f"label {key} holds {reason}")
    for field in ("entrypoints", "command"):
        args = [a for a in plain(props.get(field)) or [] if known(a)]
        for i, arg in enumerate(args):
            arg = str(arg)
            flag = SECRET_FLAG_RE.match(arg)
            if flag and (flag.group(2) or i + 1 < len(args)):
                found.append(f"{field} passes {arg.split('=')[0]} on the command line")
            elif reason := secret_value_reason(arg):
                found.append(f"{field} holds {reason}")
    return found


def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != CONTAINER:
        return
    for finding in findings(args.props):
        report_violation(f"Container {args.name}: {finding}. Deliver secrets as files rendered by its vault-agent into the tmpfs secrets volume.")


POLICY = ResourceValidationPolicy(
    name="docker-container-disallow-plaintext-secrets",
    description="Prohibits secret-looking keys or values in a container's env, labels or command.",
    validate=validate,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.CRITICAL,
    remediation_steps=(
        "1. Remove the value from envs/labels/command. "
        "2. Store it in the service's Vault KV secret (the component's kv_data). "
        "3. Render it with the service's vault-agent template and read it from /run/secrets/<service> (or a *_FILE variable)."
    ),
)
