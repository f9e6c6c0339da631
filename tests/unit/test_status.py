"""The status command's expectations come from the program, and its verdict from the host's answer (pure
parts; tests/integration/test_status.py runs it against a real Docker engine)."""

from __future__ import annotations

from collections import Counter

from ops.status import ContainerState, declared_services, parse_containers, problems


def listing(
    name: str, service: str, state: str = "running", status: str = "Up 2 minutes (healthy)", env: str = "staging"
) -> dict:
    """One entry of GET /containers/json as the Docker API returns it."""
    return {
        "Names": [f"/{name}"],
        "State": state,
        "Status": status,
        "Labels": {"finance-report.env": env, "finance-report.service": service},
    }


def test_the_declared_services_are_read_from_the_programs_containers(production, staging):
    assert declared_services(production) == Counter(
        {"postgres": 1, "redis": 1, "backend": 1, "frontend": 1, "prefect-worker": 1, "backup": 1, "vault-agent": 4}
    )
    assert declared_services(staging) == Counter(
        {"postgres": 1, "redis": 1, "backend": 1, "frontend": 1, "backup": 1, "vault-agent": 4}
    )


def test_health_is_read_from_the_status_column():
    states = parse_containers(
        [
            listing("a", "redis", status="Up 1 minute (unhealthy)"),
            listing("b", "postgres", status="Up 3 seconds (health: starting)"),
            listing("c", "backend", status="Exited (1) 2 minutes ago", state="exited"),
        ]
    )
    assert states == [
        ContainerState("c", "backend", "exited", "none"),
        ContainerState("b", "postgres", "running", "starting"),
        ContainerState("a", "redis", "running", "unhealthy"),
    ]


def test_missing_stopped_and_unhealthy_services_are_named(staging):
    expected = declared_services(staging)
    rows = [listing(f"finance_report-{s}-staging", s) for s in ("postgres", "redis", "backend", "frontend", "backup")]
    rows += [
        listing(f"finance_report-{s}-vault-agent-staging", "vault-agent")
        for s in ("postgres", "redis", "app", "backup")
    ]
    assert problems(parse_containers(rows), expected) == []
    rows[0] = listing("finance_report-postgres-staging", "postgres", state="exited", status="Exited (1)")
    rows[1] = listing("finance_report-redis-staging", "redis", status="Up 1 minute (unhealthy)")
    rows[2] = listing("finance_report-backend-staging", "backend", status="Up 4 seconds (health: starting)")
    rows[3] = listing("finance_report-frontend-staging", "frontend", status="Up 2 days")  # no health check at all
    del rows[-1]
    assert problems(parse_containers(rows), expected) == [
        "postgres: 0 of 1 running",
        "vault-agent: 3 of 4 running",
        "finance_report-backend-staging: health starting",  # not yet serving: not healthy either
        "finance_report-frontend-staging: health none",  # every container the program declares has a health check
        "finance_report-redis-staging: health unhealthy",
    ]


class HealthAPI:
    """GET /containers/{name}/json as the Docker API answers it: the health probes' log, newest last."""

    def __init__(self, *outputs: str):
        self.outputs = outputs

    def get(self, path: str) -> dict:
        return {"State": {"Health": {"Status": "healthy", "Log": [{"ExitCode": 0, "Output": o} for o in self.outputs]}}}


def test_a_backup_health_output_the_status_cannot_read_is_a_problem():
    """An unreadable probe must not pass as "no probe yet": status would then vouch for backups it
    cannot see (a job whose health line changed, a health command that is not the job's)."""
    import io
    import time

    from ops.status import backup_ages

    states = [ContainerState("finance_report-backup-staging", "backup", "running", "healthy")]
    now = int(time.time())
    good = f"last_backup={now - 60} last_verified={now - 60} max_age=172800 now={now} result: ok {now - 60} run=r1\n"
    out = io.StringIO()
    assert backup_ages(HealthAPI(good), states, out) == []
    assert out.getvalue() == "backups: last backup 1m ago, last verified restore 1m ago (allowed: 48h)\n"
    out = io.StringIO()
    assert backup_ages(HealthAPI(), states, out) == []
    assert out.getvalue() == "backups: finance_report-backup-staging: no backup health probe yet\n"
    assert backup_ages(HealthAPI(good, "backup ok\n"), states, io.StringIO()) == [
        "finance_report-backup-staging: its latest health probe printed 'backup ok', not the backup job's "
        "`last_backup=... last_verified=... max_age=... now=... result: ...` line: backup ages unknown"
    ]


class HostListing:
    """The Docker host as `invoke status` reads it (GET /containers/json, GET /containers/<id>/json): the
    program's own containers under their declared names and labels, each running and healthy unless
    named in `unhealthy`; no backup health probe has run yet."""

    def __init__(self, run, unhealthy: tuple[str, ...] = ()):
        from ops.program_run import unwrap_secrets

        self.rows = []
        for container in run.by_type("docker:index/container:Container"):
            inputs = unwrap_secrets(container.inputs)
            labels = {item["label"]: item["value"] for item in inputs["labels"]}
            health = "unhealthy" if inputs["name"] in unhealthy else "healthy"
            self.rows.append(
                {
                    "Names": [f"/{inputs['name']}"],
                    "State": "running",
                    "Status": f"Up 1 hour ({health})",
                    "Labels": labels,
                }
            )

    def containers(self, filters):
        return self.rows

    def get(self, path):
        return {"State": {"Health": {"Log": []}}}


def test_status_exits_1_when_a_service_is_unhealthy_and_0_when_all_are(staging, monkeypatch):
    """The exit code is what the deploy workflow's last step and an operator's script act on."""
    import io

    from ops import status

    host = HostListing(staging)
    monkeypatch.setattr(status, "DockerAPI", lambda *args: host)
    out = io.StringIO()
    assert status.main("staging", http=False, out=out) == 0, out.getvalue()
    redis = next(row["Names"][0][1:] for row in host.rows if row["Labels"]["finance-report.service"] == "redis")
    sick = HostListing(staging, unhealthy=(redis,))
    monkeypatch.setattr(status, "DockerAPI", lambda *args: sick)
    out = io.StringIO()
    assert status.main("staging", http=False, out=out) == 1
    assert f"problem: {redis}: health unhealthy" in out.getvalue()


def test_status_exits_1_when_the_docker_host_cannot_be_reached(tmp_path):
    import io

    from ops import status

    out = io.StringIO()
    assert status.main("staging", docker_host=f"unix://{tmp_path}/no-docker.sock", http=False, out=out) == 1
    assert "problem: " in out.getvalue()
