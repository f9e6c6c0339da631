"""secrets-volume-enforce-tmpfs-read-only (invariant 1): stack-level, since a mount and the volume it
names are two resources.

A secrets volume is one a vault-agent writes (or any tmpfs volume mounted under /run/secrets): every
mount of it is judged, wherever it is mounted, so a consumer cannot get read-write access by mounting the
volume at another path.
"""

from __future__ import annotations

from pulumi_policy import EnforcementLevel, ReportViolation, Severity, StackValidationArgs, StackValidationPolicy

from facts.tokens import SERVICE, VOLUME

from .common import SECRETS_ROOT, is_vault_agent, kind, known, plain, workloads


def is_tmpfs(volume_props) -> bool:
    opts = plain(volume_props.get("driverOpts")) or {}
    return (
        plain(volume_props.get("driver")) in (None, "local")
        and opts.get("type") == "tmpfs"
        and "size=" in str(opts.get("o", ""))
    )


def secrets_volumes(resources) -> set:
    """Names of volumes that hold rendered secrets: written by an agent, or mounted under /run/secrets."""
    names = set()
    for _, props in workloads(resources):
        for mount in plain(props.get("mounts")) or []:
            if mount.get("type") == "tmpfs":
                continue  # a Swarm task's own tmpfs: not a volume anything else can mount
            if str(mount.get("target", "")).startswith(SECRETS_ROOT) or is_vault_agent(props):
                names.add(mount.get("source"))
    return names


def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    volumes = {plain(r.props.get("name")): r for r in args.resources if r.resource_type == VOLUME}
    secret_names = secrets_volumes(args.resources)
    for resource, props in workloads(args.resources):
        what = f"{kind(resource.resource_type)} {resource.name}"
        for bind in plain(props.get("volumes")) or []:
            path = str(bind.get("containerPath", "")) + " " + str(bind.get("hostPath", ""))
            if bind.get("hostPath") and (SECRETS_ROOT in path or "secret" in path.lower()):
                report_violation(
                    f"Container {resource.name} binds host path {bind.get('hostPath')} for secrets; secrets "
                    "must never be on the host's disk. Mount the service's tmpfs secrets volume instead.",
                    resource.urn,
                )
            if bind.get("volumeName") in secret_names:
                report_violation(
                    f"Container {resource.name} attaches secrets volume {bind.get('volumeName')} through "
                    "`volumes`; mount it with `mounts`, read-only.",
                    resource.urn,
                )
        for mount in plain(props.get("mounts")) or []:
            target, source = str(mount.get("target", "")), mount.get("source")
            if not (target.startswith(SECRETS_ROOT) or source in secret_names):
                continue
            if resource.resource_type == SERVICE and mount.get("type") == "tmpfs":
                # runtime swarm: the task renders its own secrets into it and it goes with the task.
                if not (mount.get("tmpfsOptions") or {}).get("sizeBytes"):
                    report_violation(
                        f"{what} mounts {target} as tmpfs without a size; set tmpfs_options size_bytes.",
                        resource.urn,
                    )
                continue
            if mount.get("type") != "volume":
                report_violation(
                    f"{what} mounts {target} as {mount.get('type')}; expected a tmpfs-backed named volume"
                    + (" (or, for a Swarm task, its own sized tmpfs)." if resource.resource_type == SERVICE else "."),
                    resource.urn,
                )
                continue
            volume = volumes.get(source)
            if known(source) and (volume is None or not is_tmpfs(volume.props)):
                report_violation(
                    f"{what} mounts {source} at {target}, which is not a tmpfs volume "
                    "with a size limit; expected driver_opts type=tmpfs, device=tmpfs, o=size=...",
                    resource.urn,
                )
            if not is_vault_agent(props) and not mount.get("readOnly"):
                report_violation(
                    f"{what} mounts secrets volume {source} read-write at {target}; consumers must mount it read-only.",
                    resource.urn,
                )


POLICY = StackValidationPolicy(
    name="secrets-volume-enforce-tmpfs-read-only",
    description="Requires every secrets mount to be a tmpfs-backed volume mounted read-only by its consumers, and "
    "prohibits host binds of secret files.",
    validate=validate,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.CRITICAL,
    remediation_steps="Mount the sidecar's volume with vault_agent.secrets_mount(); create it with "
    "vault_artifacts.tmpfs_driver_opts(); never bind host files under /run/secrets.",
)
