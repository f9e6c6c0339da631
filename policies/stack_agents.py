"""stack-enforce-agent-for-secrets-volume: a consumer without a writer would wait on an empty volume."""

from __future__ import annotations

from pulumi_policy import EnforcementLevel, ReportViolation, Severity, StackValidationArgs, StackValidationPolicy

from .common import SECRETS_ROOT, is_vault_agent, kind, known, plain, workloads


def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    running = list(workloads(args.resources))  # containers, and Swarm services' tasks
    written = set()
    for _, props in ((r, p) for r, p in running if is_vault_agent(p)):
        for mount in plain(props.get("mounts")) or []:
            if str(mount.get("target", "")).startswith(SECRETS_ROOT) and not mount.get("readOnly"):
                written.add(mount.get("source"))
    for resource, props in running:
        if is_vault_agent(props):
            continue
        for mount in plain(props.get("mounts")) or []:
            source = mount.get("source")
            if mount.get("type") == "tmpfs":
                continue  # a Swarm task's own tmpfs, written by the agent it runs itself
            if str(mount.get("target", "")).startswith(SECRETS_ROOT) and known(source) and source not in written:
                report_violation(
                    f"{kind(resource.resource_type)} {resource.name} mounts secrets volume {source}, which no "
                    "vault-agent in this stack writes.",
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
