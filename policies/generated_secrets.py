"""generated-secret-enforce-protection (mandatory): stack-level, since what it catches is a resource that
is not in the plan at all."""

from __future__ import annotations

from pulumi_policy import EnforcementLevel, ReportViolation, Severity, StackValidationArgs, StackValidationPolicy

from facts.envs import is_preview_env
from facts.generated_secrets import DATA_BEARING_SECRETS

from .common import option


def _stack_of(urn: str) -> str:
    return urn.split("::", 1)[0].rsplit(":", 1)[-1]  # urn:pulumi:<stack>::<project>::<type>::<name>


def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    if not args.resources or is_preview_env(_stack_of(args.resources[0].urn)):
        return  # a pull request's values go with it
    found = {(r.resource_type, r.name): r for r in args.resources}
    for name, (type_, depends) in DATA_BEARING_SECRETS.items():
        resource = found.get((type_, name))
        if resource is None:
            report_violation(
                f"The generated secret {name} is missing from the plan: the update would write its dependants "
                f"without it and then delete it, and {depends} would be lost. Keep declaring it (protected) "
                "whatever the config."
            )
        elif not option(resource, "protect"):
            report_violation(
                f"The generated secret {name} is not protected: a replace or destroy would lose {depends}. Set "
                "protect=True (render.secrets.generated_options).",
                resource.urn,
            )


POLICY = StackValidationPolicy(
    name="generated-secret-enforce-protection",
    description="Requires the generated secrets that data depends on (SECRET_KEY, LLM key, restic password) in "
    "every plan, protected.",
    validate=validate,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.CRITICAL,
    remediation_steps="Declare them with render.secrets.generated_options(protect=...) in every config; rotate "
    "SECRET_KEY with `uv run invoke rotate --what secret-key` (it unprotects, replaces, protects again).",
)
