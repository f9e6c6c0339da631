"""The backup policies (invariant 9): every env's database has a scheduled backup service, its repository
is off the Docker host, and its retention keeps at least a week of dailies.

They read what the backup container declares (components/backup.py, components/backup_job.py): its
`finance-report.service=backup` label and its non-secret settings in `envs` (RESTIC_REPOSITORY,
BACKUP_TIME, BACKUP_INTERVAL_HOURS, BACKUP_KEEP_DAILY, PGHOST).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Mapping, Optional
from urllib.parse import urlsplit

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

from .common import CONTAINER, known, plain, service_of

BACKUP = "backup"
DOCKER_PROVIDER = "pulumi:providers:docker"
_TIME_RE = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
# Names and addresses that are the Docker host itself, seen from it or from a container on it.
HOST_LOCAL_NAMES = {"localhost", "host.docker.internal", "gateway.docker.internal", "0.0.0.0"}


def envs(props: Mapping[str, Any]) -> dict[str, str]:
    return dict(str(e).split("=", 1) for e in plain(props.get("envs")) or [] if "=" in str(e))


def _int(value: Optional[str]) -> Optional[int]:
    return int(value) if value is not None and value.isdigit() else None


# ------------------------------------------------------------------------------------------ a backup service per env


def validate_present(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    containers = [r for r in args.resources if r.resource_type == CONTAINER]
    backups = [c for c in containers if service_of(c.props) == BACKUP]
    for postgres in (c for c in containers if service_of(c.props) == "postgres"):
        name = plain(postgres.props.get("name"))
        if not known(name):
            continue
        serving = [b for b in backups if envs(b.props).get("PGHOST") == name]
        if not serving:
            report_violation(f"Postgres {name} has no backup service: no container labelled finance-report.service=backup dumps it (PGHOST={name}).", postgres.urn)
            continue
        for backup in serving:
            settings = envs(backup.props)
            if not _TIME_RE.match(settings.get("BACKUP_TIME", "")) or not (_int(settings.get("BACKUP_INTERVAL_HOURS")) or 0) > 0:
                report_violation(f"Backup container {backup.name} has no schedule: BACKUP_TIME (HH:MM) and BACKUP_INTERVAL_HOURS (> 0) must be set.", backup.urn)


PRESENT = StackValidationPolicy(
    name="stack-enforce-database-backup",
    description="Requires a scheduled backup service for every Postgres of the stack.",
    validate=validate_present,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.CRITICAL,
    remediation_steps="Declare components.backup.BackupComponent for the env (components/stack.py does): it sets PGHOST, BACKUP_TIME and BACKUP_INTERVAL_HOURS.",
)


# ------------------------------------------------------------------------------------------ off the host


def docker_hosts(args: StackValidationArgs) -> set[str]:
    """Host names of the Docker hosts the stack deploys to (its docker providers' `host`)."""
    hosts = set()
    for r in args.resources:
        if r.resource_type == DOCKER_PROVIDER and known(plain(r.props.get("host"))):
            hosts.add((urlsplit(str(plain(r.props["host"]))).hostname or "").lower())
    return hosts - {""}


def on_host_reason(repository: str, hosts: set[str]) -> Optional[str]:
    """Why a restic repository is not off the Docker host, or None."""
    if not repository.startswith("s3:"):
        return f"is {repository.split(':', 1)[0] or 'a local path'}, not S3-compatible storage"
    endpoint = repository[3:]
    host = (urlsplit(endpoint).hostname or "").lower() if "://" in endpoint else endpoint.split("/", 1)[0].split(":", 1)[0].lower()
    if not host:
        return "names no S3 endpoint"
    if host in hosts:
        return f"is on the Docker host {host} itself"
    if host in HOST_LOCAL_NAMES:
        return f"points at {host}, the Docker host itself"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if address.is_loopback or address.is_unspecified or address.is_link_local:
        return f"points at {host}, the Docker host itself"
    return None


def validate_off_host(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    hosts = docker_hosts(args)
    for r in args.resources:
        if r.resource_type != CONTAINER or service_of(r.props) != BACKUP:
            continue
        repository = envs(r.props).get("RESTIC_REPOSITORY", "")
        if not known(repository):
            continue
        reason = on_host_reason(repository, hosts) if repository else "is not set"
        if reason:
            report_violation(f"Backup container {r.name}: its repository {repository or '(RESTIC_REPOSITORY)'} {reason}; backups must leave the host.", r.urn)


OFF_HOST = StackValidationPolicy(
    name="backup-disallow-on-host-repository",
    description="Prohibits a backup repository on the Docker host: it must be S3-compatible storage elsewhere.",
    validate=validate_off_host,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.CRITICAL,
    remediation_steps="Set backupS3Endpoint (or s3Endpoint) to the platform MinIO's URL on another machine, never the dockerHost, localhost or a loopback address.",
)


# ------------------------------------------------------------------------------------------ retention


def validate_retention(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != CONTAINER or service_of(args.props) != BACKUP:
        return
    minimum = args.get_config()["minDaily"]
    daily = _int(envs(args.props).get("BACKUP_KEEP_DAILY"))
    if daily is None or daily < minimum:
        report_violation(f"Backup container {args.name} keeps {daily if daily is not None else 'no'} daily backups; keep at least {minimum} (backupKeepDaily).")


RETENTION = ResourceValidationPolicy(
    name="backup-enforce-minimum-retention",
    description="Requires the backup retention to keep at least a configured number of daily backups.",
    validate=validate_retention,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    config_schema=PolicyConfigSchema(properties={"minDaily": {"type": "integer", "default": 7, "minimum": 1}}),
    remediation_steps="Set backupKeepDaily to 7 or more.",
)

POLICIES = [PRESENT, OFF_HOST, RETENTION]
