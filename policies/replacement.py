"""How the engine will replace each container and secrets volume (facts/providers.py): rolling
services create-first under a new name, everything with a fixed name delete-first.

Resource policies, not stack policies: the engine runs a resource policy on the resource's inputs, a stack
policy on the resources' final outputs (pulumi/pulumi step_generator.go:3518, "AnalyzeStack is called on
the final outputs"), where read-back attributes would change the hash of the arguments. Even a resource
policy sees the inputs after the provider's Check, which adds the Terraform defaults and `__defaults`
(facts/bridge_check.py): the names are recomputed over the program's own arguments, those removed.
"""

from __future__ import annotations

import re

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy, Severity

from facts import providers
from facts.bridge_check import without_check_defaults
from facts.revision import REVISION_LENGTH, options_digest, revision_name
from facts.tokens import CONTAINER, SERVICE, SWARM_CONFIG, SWARM_SECRET, VOLUME

from .common import UNKNOWN, plain, service_of

ROLLING_SERVICES = ("backend", "frontend")
_REVISION_RE = re.compile(rf"^(?P<prefix>.+)-[0-9a-f]{{{REVISION_LENGTH}}}$")
_OBJECT_HASH_RE = re.compile(r"-[0-9a-f]{8}$")  # render.swarm.swarm_object_name


def _strategy(args: ResourceValidationArgs) -> str:
    return providers.effective_strategy(
        args.resource_type, plain(args.props), getattr(args.opts, "delete_before_replace", None)
    )[0]


def _all_known(value) -> bool:
    """No value the engine has yet to compute (None is a known value: unset)."""
    if isinstance(value, dict):
        return all(_all_known(v) for v in value.values())
    if isinstance(value, list):
        return all(_all_known(v) for v in value)
    return value != UNKNOWN


def is_tmpfs_volume(props) -> bool:
    return (props.get("driverOpts") or {}).get("type") == "tmpfs"


def volume_identity(props) -> dict:
    """What of a volume forces its replacement (facts.providers.REPLACE_FACTS[VOLUME]), but its name."""
    return {
        k: v for k, v in props.items() if k in (providers.replacing_properties(VOLUME, props) or []) and k != "name"
    }


def validate_rolling(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != CONTAINER or service_of(args.props) not in ROLLING_SERVICES:
        return
    props = without_check_defaults(plain(args.props))
    service = service_of(props)
    if _strategy(args) != providers.CREATE_BEFORE_DELETE:
        report_violation(
            f"{service} container {args.name} is replaced delete-first: the service is down until its "
            "replacement is healthy; set delete_before_replace=False (program.containers.rolling_container)."
        )
    if not _all_known(props):
        return  # a preview with values still unknown: the name is computed from them
    name = str(props.get("name", ""))
    match = _REVISION_RE.match(name)
    if not match or name != revision_name(match.group("prefix"), props):
        report_violation(
            f"{service} container {args.name} is named {name}, not by the hash of its arguments: a "
            "replacement could reuse the name, which Docker refuses while the old one runs."
        )


def validate_fixed(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    props = without_check_defaults(plain(args.props))
    if args.resource_type == CONTAINER and service_of(props) not in ROLLING_SERVICES:
        if _strategy(args) != providers.DELETE_BEFORE_REPLACE:
            report_violation(
                f"Container {args.name} has a fixed name but would be replaced create-first: the create "
                "fails on the name (and two datastores on one data directory corrupt it); set "
                "delete_before_replace=True."
            )
    elif args.resource_type == SERVICE:
        if _strategy(args) != providers.DELETE_BEFORE_REPLACE:
            report_violation(
                f"Service {args.name} has a fixed name but would be replaced create-first: the create fails on the "
                "name while the old service exists; set delete_before_replace=True "
                "(program.swarm_services.fixed_service)."
            )
    elif args.resource_type in (SWARM_SECRET, SWARM_CONFIG) and _all_known(props):
        name = str(props.get("name", ""))
        if _strategy(args) != providers.DELETE_BEFORE_REPLACE and not _OBJECT_HASH_RE.search(name):
            report_violation(
                f"Swarm {'secret' if args.resource_type == SWARM_SECRET else 'config'} {name} is replaced "
                "create-first under a name that does not change with its data: Docker refuses a second object of "
                "that name; end its name with a hash of the data (render.swarm.secret_name, config_name)."
            )
    elif args.resource_type == VOLUME and is_tmpfs_volume(props) and _all_known(props):
        name = str(props.get("name", ""))
        if _strategy(args) != providers.DELETE_BEFORE_REPLACE and not name.endswith(
            "-" + options_digest(volume_identity(props))
        ):
            report_violation(
                f"Secrets volume {name} is replaced create-first under a name that does not carry what "
                "replaces it (driver, options, labels): Docker would return the old volume; end its name "
                "with facts.revision.options_digest of those, or replace it delete-first."
            )


ROLLING = ResourceValidationPolicy(
    name="docker-container-enforce-rolling-replacement",
    description="Requires backend and frontend containers to be replaced create-first under a name hashed from every "
    "argument.",
    validate=validate_rolling,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    remediation_steps="Declare rolling services with program.containers.rolling_container(), which sets "
    "delete_before_replace=False and names the container by facts.revision.revision_name().",
)
FIXED = ResourceValidationPolicy(
    name="docker-resource-enforce-delete-before-replace",
    description="Requires fixed-name containers and Swarm services, and secrets volumes and Swarm secrets and configs "
    "whose name does not carry what replaces them, to be replaced delete-first.",
    validate=validate_fixed,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    remediation_steps="Declare fixed-name containers with program.containers.fixed_container(); name secrets volumes "
    "with "
    "program.named.volume().",
)
