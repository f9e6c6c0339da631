"""How the engine will replace each container and secrets volume (policies/provider_facts.py): rolling
services create-first under a new name, everything with a fixed name delete-first."""

from __future__ import annotations

import re

from pulumi_policy import EnforcementLevel, ReportViolation, Severity, StackValidationArgs, StackValidationPolicy

from . import provider_facts as facts
from .common import CONTAINER, VOLUME, is_vault_agent, known, option, plain, service_of
from .revision import REVISION_LENGTH, options_digest, revision_name

ROLLING_SERVICES = ("backend", "frontend")
_REVISION_RE = re.compile(rf"^(?P<prefix>.+)-[0-9a-f]{{{REVISION_LENGTH}}}$")


def _strategy(resource) -> str:
    return facts.effective_strategy(resource.resource_type, plain(resource.props), option(resource, "delete_before_replace"))[0]


def _all_known(value) -> bool:
    if isinstance(value, dict):
        return all(_all_known(v) for v in value.values())
    if isinstance(value, list):
        return all(_all_known(v) for v in value)
    return known(value)


def validate_rolling(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    for resource in args.resources:
        if resource.resource_type != CONTAINER or service_of(resource.props) not in ROLLING_SERVICES:
            continue
        props = plain(resource.props)
        service = service_of(props)
        if _strategy(resource) != facts.CREATE_BEFORE_DELETE:
            report_violation(f"{service} container {resource.name} is replaced delete-first: the service is down until its replacement is healthy; set delete_before_replace=False (components.containers.rolling_container).", resource.urn)
        if not _all_known(props):
            continue  # a preview with values still unknown: the name is computed from them
        name = str(props.get("name", ""))
        match = _REVISION_RE.match(name)
        if not match or name != revision_name(match.group("prefix"), props):
            report_violation(f"{service} container {resource.name} is named {name}, not by the hash of its arguments: a replacement could reuse the name, which Docker refuses while the old one runs.", resource.urn)


def validate_fixed(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    written = {m.get("source") for r in args.resources if r.resource_type == CONTAINER and is_vault_agent(r.props) for m in plain(r.props.get("mounts")) or []}
    for resource in args.resources:
        props = plain(resource.props)
        if resource.resource_type == CONTAINER and service_of(props) not in ROLLING_SERVICES:
            if _strategy(resource) != facts.DELETE_BEFORE_REPLACE:
                report_violation(f"Container {resource.name} has a fixed name but would be replaced create-first: the create fails on the name (and two datastores on one data directory corrupt it); set delete_before_replace=True.", resource.urn)
        elif resource.resource_type == VOLUME and props.get("name") in written:
            name, opts = str(props.get("name", "")), props.get("driverOpts") or {}
            if _strategy(resource) != facts.DELETE_BEFORE_REPLACE and known(name) and not name.endswith("-" + options_digest(opts)):
                report_violation(f"Secrets volume {name} is replaced create-first under the same name: Docker returns the old volume with its old options; end its name with the hash of its driver options or replace it delete-first.", resource.urn)


ROLLING = StackValidationPolicy(
    name="docker-container-enforce-rolling-replacement",
    description="Requires backend and frontend containers to be replaced create-first under a name hashed from every argument.",
    validate=validate_rolling,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    remediation_steps="Declare rolling services with components.containers.rolling_container(), which sets delete_before_replace=False and names the container by policies.revision.revision_name().",
)
FIXED = StackValidationPolicy(
    name="docker-resource-enforce-delete-before-replace",
    description="Requires fixed-name containers, and secrets volumes whose name does not carry their options, to be replaced delete-first.",
    validate=validate_fixed,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    remediation_steps="Declare fixed-name containers with components.containers.fixed_container(); name secrets volumes with naming.secrets_volume_name(..., options_digest(driver_opts)).",
)
