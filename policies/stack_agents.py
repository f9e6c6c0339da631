"""stack-enforce-agent-for-secrets-volume: a consumer without a writer would wait on an empty volume."""

from __future__ import annotations

from pulumi_policy import EnforcementLevel, ReportViolation, Severity, StackValidationArgs, StackValidationPolicy

from facts.tokens import CONTAINER

from .common import SECRETS_ROOT, is_vault_agent, known, plain


def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    containers = [r for r in args.resources if r.resource_type == CONTAINER]
    written = set()
    for agent in (c for c in containers if is_vault_agent(c.props)):
        for mount in plain(agent.props.get("mounts")) or []:
            if str(mount.get("target", "")).startswith(SECRETS_ROOT) and not mount.get("readOnly"):
                written.add(mount.get("source"))
    for resource in containers:
        if is_vault_agent(resource.props):
            continue
        for mount in plain(resource.props.get("mounts")) or []:
            source = mount.get("source")
            if str(mount.get("target", "")).startswith(SECRETS_ROOT) and known(source) and source not in written:
                report_violation(
                    f"Container {resource.name} mounts secrets volume {source}, which no vault-agent in this "
                    "stack writes.",
                    resource.urn,
                )


POLICY = StackValidationPolicy(
    name="stack-enforce-agent-for-secrets-volume",
    description="Requires every container that mounts a secrets volume to have a vault-agent in the stack writing that "
    "volume.",
    validate=validate,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    remediation_steps="Create the consumer's secrets through a VaultAgentSidecar and mount it with "
    "vault_agent.secrets_mount(sidecar).",
)
