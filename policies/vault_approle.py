"""vault-approle-configure-hygiene (advisory)."""

from __future__ import annotations

import re

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
)

from facts.tokens import APPROLE_ROLE

from .common import UNKNOWN, known, plain

ROLE_NAME = re.compile(r"^finance_report-(?P<env>[a-z][a-z0-9]*)-(?P<service>[a-z][a-z0-9-]*)$")


def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != APPROLE_ROLE:
        return
    config = args.get_config()
    props, maximum, minimum = args.props, config["maxTokenTtlSeconds"], config["minTokenTtlSeconds"]
    role = plain(props.get("roleName")) or args.name
    if not plain(props.get("tokenNoDefaultPolicy")):
        report_violation(
            f"AppRole {role} attaches Vault's default policy; set token_no_default_policy=True so its token "
            "can do only what its own policy allows."
        )
    for field in ("tokenTtl", "tokenMaxTtl"):
        value = plain(props.get(field))
        if known(value) and (not value or value > maximum):
            report_violation(f"AppRole {role} has {field}={int(value or 0)}s; bound it to at most {maximum}s.")
    ttl_value = plain(props.get("tokenTtl"))
    if known(ttl_value) and ttl_value and ttl_value < minimum:
        # The agent's token cannot renew itself (no renew-self in the policy): it logs in again as the
        # token nears expiry, and with a very short TTL that becomes a login storm against Vault.
        report_violation(
            f"AppRole {role} has tokenTtl={int(ttl_value)}s; at least {minimum}s keeps the agent from "
            "logging in again every few seconds."
        )
    ttl = plain(props.get("secretIdTtl"))
    if known(ttl) and (not ttl or ttl > config["maxSecretIdTtlSeconds"]):
        life = "never expire" if not ttl else f"live {int(ttl) // 86400} days"
        report_violation(
            f"AppRole {role} issues secret-ids that {life}: one read off the host or minted with a leaked deploy "
            f"token outlives any rotation; set secretIdTtlDays (at most {config['maxSecretIdTtlSeconds'] // 86400})."
        )
    cidrs = props.get("secretIdBoundCidrs")
    if cidrs != UNKNOWN and not plain(cidrs):  # unset or empty: bound to nothing
        report_violation(
            f"AppRole {role}'s secret-ids and tokens work from any address; set vaultAgentCidrs to the Docker "
            "host's egress address (production's `pulumi up` refuses to run without it)."
        )


POLICY = ResourceValidationPolicy(
    name="vault-approle-configure-hygiene",
    description="Recommends AppRoles without the default policy, with token TTLs between bounds, and with "
    "expiring, CIDR-bound secret-ids.",
    validate=validate,
    enforcement_level=EnforcementLevel.ADVISORY,
    severity=Severity.MEDIUM,
    config_schema=PolicyConfigSchema(
        properties={
            "maxTokenTtlSeconds": {"type": "integer", "default": 86400},
            "minTokenTtlSeconds": {"type": "integer", "default": 300},
            "maxSecretIdTtlSeconds": {"type": "integer", "default": 32 * 86400},
        }
    ),
    remediation_steps=(
        "Use render.vault_artifacts.approle_settings(); set secretIdTtlDays and vaultAgentCidrs (docs/rotation.md "
        "'Secret-id lifetime and renewal')."
    ),
)
