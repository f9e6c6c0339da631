"""The backup service's health line (`fr-backup health`, render/backup_job.sh), read from the container's
latest Docker health probe: ages of the last backup and of the last verified restore. Used by `invoke status`
and the backup commands."""

from __future__ import annotations

import re
from dataclasses import dataclass

from clients.docker_api import DockerAPI

_HEALTH_RE = re.compile(r"last_backup=(\d+) last_verified=(\d+) max_age=(\d+) now=(\d+) result: (.*)")


@dataclass(frozen=True)
class Ages:
    backup: int | None
    """Seconds since the last successful backup (None: never)."""
    verified: int | None
    """Seconds since the last verified restore (None: never)."""
    max_age: int
    result: str


def parse_health_output(output: str) -> Ages | None:
    """The backup health check's line (`fr-backup health`), as Docker keeps it in State.Health.Log."""
    match = _HEALTH_RE.search(output or "")
    if not match:
        return None
    backup, verified, max_age, now = (int(match.group(i)) for i in range(1, 5))
    return Ages(now - backup if backup else None, now - verified if verified else None, max_age, match.group(5).strip())


def human_age(seconds: int | None) -> str:
    if seconds is None:
        return "never"
    if seconds < 3600:
        return f"{seconds // 60}m ago"
    if seconds < 48 * 3600:
        return f"{seconds // 3600}h {seconds % 3600 // 60}m ago"
    return f"{seconds // 86400}d {seconds % 86400 // 3600}h ago"


def ages_line(ages: Ages) -> str:
    """The ages, flagged first in capitals when stale or when the last run failed: `invoke status` shows
    it above its problem lines."""
    stale = any(age is None or age > ages.max_age for age in (ages.backup, ages.verified))
    flags = [word for word, on in (("STALE", stale), ("LAST RUN FAILED", not ages.result.startswith("ok"))) if on]
    return (
        "".join(f"{flag}: " for flag in flags)
        + f"last backup {human_age(ages.backup)}, last verified restore {human_age(ages.verified)} (allowed: "
        f"{ages.max_age // 3600}h)"
    )


def age_problems(ages: Ages) -> list[str]:
    found = []
    for what, age in (("backup", ages.backup), ("verified restore", ages.verified)):
        if age is None or age > ages.max_age:
            found.append(f"last {what} {human_age(age)}, older than the {ages.max_age // 3600}h the schedule allows")
    if not ages.result.startswith("ok"):
        found.append(f"last backup run: {ages.result[:200]}")
    return found


HEALTH_LINE = "`last_backup=... last_verified=... max_age=... now=... result: ...`"


class UnreadableHealth(Exception):
    """The latest health probe printed something that is not the job's health line."""


def read_ages(api: DockerAPI, container: str) -> Ages | None:
    """From the container's latest health probe: a read (GET), nothing runs on the host. None: no probe
    has run yet; UnreadableHealth: one ran and printed something else than `fr-backup health` prints."""
    health = (api.get(f"/containers/{container}/json").get("State") or {}).get("Health") or {}
    log = health.get("Log") or []
    if not log:
        return None
    output = log[-1].get("Output", "") or ""
    ages = parse_health_output(output)
    if ages is None:
        raise UnreadableHealth(
            f"its latest health probe printed {output.strip()[:80]!r}, not the backup job's {HEALTH_LINE} "
            "line: backup ages unknown"
        )
    return ages
