"""The status command's reading of `docker ps` and its verdict (pure parts)."""

from __future__ import annotations

import json

from tools.status import ContainerState, parse_ps, problems


def ps_line(name: str, service: str, state: str = "running", status: str = "Up 2 minutes (healthy)", env: str = "staging") -> str:
    labels = f"finance-report.env={env},finance-report.service={service},traefik.enable=false"
    return json.dumps({"Names": name, "State": state, "Status": status, "Labels": labels})


def full_env(prefect: bool = False) -> list[str]:
    lines = [ps_line(f"finance_report-{s}-staging", s) for s in ("postgres", "redis", "backend", "frontend")]
    lines += [ps_line(f"finance_report-{s}-vault-agent-staging", "vault-agent") for s in ("postgres", "redis", "app")]
    if prefect:
        lines.append(ps_line("finance_report-prefect-worker-staging", "prefect-worker"))
    return lines


def test_health_is_read_from_the_status_column():
    states = parse_ps("\n".join([ps_line("a", "redis", status="Up 1 minute (unhealthy)"), ps_line("b", "postgres", status="Up 3 seconds (health: starting)"), ps_line("c", "backend", status="Exited (1) 2 minutes ago", state="exited")]))
    assert states == [
        ContainerState("c", "backend", "exited", "none"),
        ContainerState("b", "postgres", "running", "starting"),
        ContainerState("a", "redis", "running", "unhealthy"),
    ]


def test_a_complete_healthy_env_has_no_problem():
    assert problems(parse_ps("\n".join(full_env())), prefect=False) == []
    assert problems(parse_ps("\n".join(full_env())), prefect=True) == ["prefect-worker: 0 of 1 running"]


def test_missing_stopped_and_unhealthy_services_are_named():
    lines = full_env()
    lines[0] = ps_line("finance_report-postgres-staging", "postgres", state="exited", status="Exited (1)")
    lines[1] = ps_line("finance_report-redis-staging", "redis", status="Up 1 minute (unhealthy)")
    del lines[-1]
    assert problems(parse_ps("\n".join(lines)), prefect=False) == [
        "postgres: 0 of 1 running",
        "vault-agent: 2 of 3 running",
        "finance_report-redis-staging: health unhealthy",
    ]
