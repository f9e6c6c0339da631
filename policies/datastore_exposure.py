"""datastore-disallow-exposure (invariant 3)."""

from __future__ import annotations

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
)

from facts.tokens import CONTAINER, SERVICE

from .common import is_datastore, labels, network_names, plain, service_of, workload


def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type == SERVICE:
        validate_service(args, report_violation)
        return
    if args.resource_type != CONTAINER or not is_datastore(args.props):
        return
    service, traefik_network = service_of(args.props), args.get_config()["traefikNetwork"]
    if plain(args.props.get("ports")) or plain(args.props.get("publishAllPorts")):
        report_violation(
            f"{service} container {args.name} publishes ports; datastores are reached only over the internal network."
        )
    if traefik_network in network_names(args.props):
        report_violation(
            f"{service} container {args.name} joins the Traefik network {traefik_network}; datastores join "
            "only the env's internal network."
        )
    if plain(args.props.get("networkMode")) == "host":
        report_violation(f"{service} container {args.name} uses the host network.")
    if labels(args.props).get("traefik.enable") != "false":
        report_violation(
            f"{service} container {args.name} lacks traefik.enable=false; set it so Traefik never routes to "
            "a datastore."
        )


def validate_service(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """runtime swarm: a service names its networks by id (facts.providers.SERVICE_NETWORK_READ_AS_ID), so the
    Traefik network cannot be told by name; a datastore service joins exactly one network, the internal one."""
    props = workload(args.resource_type, args.props) or {}
    if not is_datastore(props):
        return
    service = service_of(props)
    if plain(props.get("ports")):
        report_violation(
            f"{service} service {args.name} publishes ports; datastores are reached only over the internal network."
        )
    joined = network_names(props)
    if len(joined) != 1:
        report_violation(
            f"{service} service {args.name} joins {len(joined)} networks; datastores join only the env's internal "
            "overlay."
        )
    if labels(props).get("traefik.enable") != "false":
        report_violation(
            f"{service} service {args.name} lacks traefik.enable=false; set it so Traefik never routes to a datastore."
        )


POLICY = ResourceValidationPolicy(
    name="datastore-disallow-exposure",
    description="Prohibits published ports, the Traefik network (any network but the internal one, for a service) and "
    "Traefik routing on Postgres and Redis.",
    validate=validate,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.CRITICAL,
    config_schema=PolicyConfigSchema(properties={"traefikNetwork": {"type": "string", "default": "dokploy-network"}}),
    remediation_steps="Remove ports, attach only the internal network, and label the container traefik.enable=false.",
)
