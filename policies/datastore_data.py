"""datastore-enforce-protected-data (invariant 3): stack-level, since a datastore container and its
data volume are two resources."""

from __future__ import annotations

from pulumi_policy import EnforcementLevel, ReportViolation, Severity, StackValidationArgs, StackValidationPolicy

from facts.envs import is_preview_env
from facts.tokens import VOLUME

from .common import is_datastore, labels, option, plain, service_of, workloads

ENV_LABEL = "finance-report.env"


def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    volumes = {plain(r.props.get("name")): r for r in args.resources if r.resource_type == VOLUME}
    for _, props in workloads(args.resources):  # containers, and Swarm services' tasks
        if not is_datastore(props):
            continue
        service = service_of(props)
        # (Its replacement strategy is docker-resource-enforce-delete-before-replace's concern.)
        sources = [
            m.get("source")
            for m in plain(props.get("mounts")) or []
            if m.get("type") == "volume" and not str(m.get("target", "")).startswith("/run/secrets")
        ]
        # A named volume can also be attached through `volumes` (volume_name): it is data all the same.
        sources += [v.get("volumeName") for v in plain(props.get("volumes")) or [] if v.get("volumeName")]
        for source in sources:
            volume = volumes.get(source)
            if volume is None:
                continue  # a volume this stack does not manage (adopted): nothing Pulumi could delete
            if is_preview_env(labels(volume.props).get(ENV_LABEL, "")):
                continue  # a PR's test data goes with its PR (preview-stack-disallow-shared-resources checks the label)
            if not option(volume, "protect"):
                report_violation(
                    f"Data volume {volume.name} of {service} is not protected; set protect=True so no update "
                    "or destroy can delete it.",
                    volume.urn,
                )
            if option(volume, "retain_on_delete") is False:
                # retainOnDelete reaches this policy in the offline plan; the engine does not expose it
                # to CrossGuard (PolicyResourceOptions has no such field), where None means unknown.
                report_violation(
                    f"Data volume {volume.name} of {service} is not retainOnDelete; set "
                    "retain_on_delete=True so removing it from the program keeps the data.",
                    volume.urn,
                )


POLICY = StackValidationPolicy(
    name="datastore-enforce-protected-data",
    description="Requires Postgres and Redis data volumes, however attached, to be protected and retained.",
    validate=validate,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.CRITICAL,
    remediation_steps="Create data volumes through program.data.data_storage (protect + retain_on_delete).",
)
