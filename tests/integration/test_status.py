"""`invoke status` against a real Docker engine: it lists exactly one env's containers, found by label,
and its exit code follows their state and health."""

from __future__ import annotations

import pytest

from tests.integration.harness import DOCKER_SOCK, wait_until
from tools.status import main

pytestmark = pytest.mark.integration

STAGING = [("postgres", "postgres"), ("redis", "redis"), ("backend", "backend-staging-0123456789"), ("frontend", "frontend-staging-0123456789")]


def labelled(docker, image: str, name: str, env: str, service: str) -> str:
    docker.track("container", name)
    docker.run(
        "run", "-d", "--name", name, "--network", "none",
        "--label", f"finance-report.env={env}", "--label", f"finance-report.service={service}",
        "--health-cmd", "true", "--health-interval", "1s",
        image, "sleep", "600",
    )
    return name


def test_status_sees_only_its_env_and_fails_until_every_service_is_healthy(docker_engine, agent_image, capsys):
    docker = docker_engine
    labelled(docker, agent_image, "frh-status-finance_report-postgres", "production", "postgres")
    names = [labelled(docker, agent_image, f"frh-status-finance_report-{n}-staging" if "staging" not in n else f"frh-status-finance_report-{n}", "staging", s) for s, n in STAGING]
    names += [labelled(docker, agent_image, f"frh-status-finance_report-{s}-vault-agent-staging", "staging", "vault-agent") for s in ("postgres", "redis")]
    wait_until(lambda: all(docker.health(n) == "healthy" for n in names), 30, "status test containers")

    assert main("staging", docker_host=f"unix://{DOCKER_SOCK}", http=False) == 1
    out = capsys.readouterr().out
    listed = [line.split()[1] for line in out.splitlines() if line.startswith("  ")]
    assert sorted(listed) == sorted(names), "exactly the staging containers; never production's"
    assert "problem: vault-agent: 2 of 3 running" in out

    names.append(labelled(docker, agent_image, "frh-status-finance_report-app-vault-agent-staging", "staging", "vault-agent"))
    wait_until(lambda: docker.health(names[-1]) == "healthy", 30, "app agent")
    assert main("staging", docker_host=f"unix://{DOCKER_SOCK}", http=False) == 0, capsys.readouterr().out
    docker.cleanup()


def test_status_with_a_bad_stack_file_exits_2(tmp_path, capsys):
    bad = tmp_path / "Pulumi.staging.yaml"
    bad.write_text("config:\n  finance-report:env: Staging\n")
    assert main("staging", config_file=str(bad)) == 2
    assert capsys.readouterr().err.startswith('status: config finance-report:env = "Staging" is invalid')
