"""vault-kv-enforce-env-path."""

from __future__ import annotations

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy, Severity

from facts.envs import kv_env_prefix
from facts.tokens import KV_SECRET

from .common import ENV_KV_SCHEMA, known, plain


def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != KV_SECRET:
        return
    config = args.get_config()
    name, mount = plain(args.props.get("name")), plain(args.props.get("mount"))
    if not known(name):
        return
    prefix = kv_env_prefix(config["env"])
    if not str(name).startswith(prefix) or "/" in str(name)[len(prefix) :] or str(name) == prefix:
        report_violation(
            f"KV secret {args.name} writes {mount}/{name}; this stack may only write "
            f"{config['kvMount']}/{prefix}<service>."
        )
    elif known(mount) and mount != config["kvMount"]:
        report_violation(f"KV secret {args.name} writes to mount {mount}; expected {config['kvMount']}.")


POLICY = ResourceValidationPolicy(
    name="vault-kv-enforce-env-path",
    description="Requires KV secrets to live under finance_report/<env>/ of this stack's env "
    "(finance_report/previews/<env>/ for a preview).",
    validate=validate,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.CRITICAL,
    config_schema=ENV_KV_SCHEMA,
    remediation_steps="Name KV secrets with render.naming.kv_name(env, service).",
)
