"""datastore-enforce-protected-data (invariant 3): stack-level, since a datastore container and its
data volume are two resources."""

from __future__ import annotations

from pulumi_policy import EnforcementLevel, ReportViolation, Severity, StackValidationArgs, StackValidationPolicy

from .common import CONTAINER, VOLUME, is_datastore, option, plain, service_of


def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    volumes = {plain(r.props.get("name")): r for r in args.resources if r.resource_type == VOLUME}
    for resource in args.resources:
        if resource.resource_type != CONTAINER or not is_datastore(resource.props):
            continue
        service = service_of(resource.props)
        if not option(resource, "delete_before_replace"):
            report_violation(f"{service} container {resource.name} is not deleteBeforeReplace; two servers on one data directory corrupt it.", resource.urn)
        for mount in plain(resource.props.get("mounts")) or []:
            if mount.get("type") != "volume" or str(mount.get("target", "")).startswith("/run/secrets"):
                continue
            volume = volumes.get(mount.get("source"))
            if volume is None:
                continue  # a volume this stack does not manage (adopted): nothing Pulumi could delete
            if not option(volume, "protect"):
                report_violation(f"Data volume {volume.name} of {service} is not protected; set protect=True so no update or destroy can delete it.", volume.urn)
            if option(volume, "retain_on_delete") is False:
                # retainOnDelete reaches this policy in the offline plan; the engine does not expose it
                # to CrossGuard (PolicyResourceOptions has no such field), where None means unknown.
                report_violation(f"Data volume {volume.name} of {service} is not retainOnDelete; set retain_on_delete=True so removing it from the program keeps the data.", volume.urn)


POLICY = StackValidationPolicy(
    name="datastore-enforce-protected-data",
    description="Requires Postgres and Redis data volumes to be protected and retained, and their containers delete-before-replace.",
    validate=validate,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.CRITICAL,
    remediation_steps="Create data volumes through components.data.data_storage (protect + retain_on_delete) and give datastore containers delete_before_replace=True.",
)
