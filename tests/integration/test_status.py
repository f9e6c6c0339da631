"""`invoke status` against a real Docker engine. The containers carry exactly the labels the program
declares (taken from its captured resource inputs, never written here), so a container the program
labels wrongly, or a status that filters on a label the program does not set, fails this test."""

from __future__ import annotations

import pytest

from tests.conftest import run_stack
from tests.integration.harness import DOCKER_SOCK, wait_until
from tools.program_run import unwrap_secrets
from tools.status import main

pytestmark = pytest.mark.integration
CONTAINER = "docker:index/container:Container"


def declared(stack: str) -> list[tuple[str, dict[str, str]]]:
    run = run_stack(stack)
    assert run.error is None, run.error
    return [(c.inputs["name"], {i["label"]: i["value"] for i in unwrap_secrets(c.inputs["labels"])}) for c in run.by_type(CONTAINER)]


def start_like_the_program(docker, image: str, name: str, labels: dict[str, str]) -> str:
    name = docker.track("container", f"frh-status-{name}")
    flags = [arg for key, value in labels.items() for arg in ("--label", f"{key}={value}")]
    docker.run("run", "-d", "--name", name, "--network", "none", *flags, "--health-cmd", "true", "--health-interval", "1s", image, "sleep", "600")
    return name


def test_status_passes_for_the_declared_containers_sees_only_its_env_and_names_what_is_missing(docker_engine, agent_image, capsys):
    docker = docker_engine
    # production's datastore on the same host must never appear in staging's status
    prod_name, prod_labels = next(d for d in declared("production") if d[1]["finance-report.service"] == "postgres")
    start_like_the_program(docker, agent_image, prod_name, prod_labels)
    names = [start_like_the_program(docker, agent_image, name, labels) for name, labels in declared("staging")]
    wait_until(lambda: all(docker.health(n) == "healthy" for n in names), 60, "status test containers")

    code = main("staging", docker_host=f"unix://{DOCKER_SOCK}", http=False)
    out = capsys.readouterr().out
    listed = sorted(line.split()[1] for line in out.splitlines() if line.startswith("  "))
    assert listed == sorted(names), "exactly the staging containers; never production's"
    assert code == 0, out

    agent = next(n for n in names if "app-vault-agent" in n)
    docker.run("rm", "-f", agent)
    assert main("staging", docker_host=f"unix://{DOCKER_SOCK}", http=False) == 1
    assert "problem: vault-agent: 3 of 4 running" in capsys.readouterr().out
    docker.cleanup()


def test_an_unreachable_docker_host_is_one_problem_line_not_a_traceback(capsys):
    assert main("staging", docker_host="unix:///nonexistent/docker.sock", http=False) == 1
    out = capsys.readouterr().out
    assert "problem: cannot reach the Docker engine at unix:///nonexistent/docker.sock" in out


def test_status_with_a_bad_stack_file_exits_2(tmp_path, capsys):
    bad = tmp_path / "Pulumi.staging.yaml"
    bad.write_text("config:\n  finance-report:env: Staging\n")
    assert main("staging", config_file=str(bad)) == 2
    assert capsys.readouterr().err.startswith('status: config finance-report:env = "Staging" is invalid')
