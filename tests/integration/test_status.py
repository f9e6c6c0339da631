"""`invoke status` against a real Docker engine. The containers carry exactly the labels the program
declares (taken from its captured resource inputs, never written here), so a container the program
labels wrongly, or a status that filters on a label the program does not set, fails this test.

The backup service's stand-in keeps the contract status reads: the program's own health check command
(`fr-backup health`), its uploaded job script and its settings (envs), run by Docker's health probes, so
status reads the real job's output; its state is what a successful run leaves in the scratch volume.
Every other stand-in's health check is `true`: status reads only their health state."""

from __future__ import annotations

import pytest

from ops.program_run import unwrap_secrets
from ops.status import main
from tests.conftest import run_stack
from tests.integration.harness import DOCKER_SOCK, wait_until

pytestmark = pytest.mark.integration
CONTAINER = "docker:index/container:Container"


def declared(stack: str) -> list[tuple[str, dict[str, str]]]:
    return [(inputs["name"], labels) for inputs, labels in declared_inputs(stack)]


def declared_inputs(stack: str) -> list[tuple[dict, dict[str, str]]]:
    run = run_stack(stack)
    assert run.error is None, run.error
    found = []
    for c in run.by_type(CONTAINER):
        inputs = unwrap_secrets(c.inputs)
        found.append((inputs, {i["label"]: i["value"] for i in inputs["labels"]}))
    return found


def start_like_the_program(docker, image: str, name: str, labels: dict[str, str]) -> str:
    name = docker.track("container", f"frh-status-{name}")
    flags = [arg for key, value in labels.items() for arg in ("--label", f"{key}={value}")]
    docker.run(
        "run",
        "-d",
        "--name",
        name,
        "--network",
        "none",
        *flags,
        "--health-cmd",
        "true",
        "--health-interval",
        "1s",
        image,
        "sleep",
        "600",
    )
    return name


# What a successful run of the job leaves in its state directory (render/backup_job.py: last-backup,
# last-verified, last-result), written here because the stand-in has no database or repository to back up.
_SUCCESSFUL_RUN_STATE = (
    'mkdir -p "$1" && now=$(date -u +%s) && echo "$now" > "$1/last-backup" && echo "$now" > "$1/last-verified" '
    '&& printf "ok %s run=standin snapshot=0123abcd tables=3\\n" "$now" > "$1/last-result" && exec sleep 600'
)


def start_backup_like_the_program(docker, image: str, inputs: dict, edit_script=None) -> str:
    """The program's backup container on a busybox stand-in: its labels, envs, uploaded job script and
    health check command as declared (the probe interval shortened to 1s); no network, Vault or secrets
    mount; it sleeps instead of `fr-backup loop`. `edit_script` changes the uploaded script (a job whose
    health line is not what status reads)."""
    from render import backup_job as job
    from tests.integration import provider

    assert inputs["healthcheck"]["tests"] == job.healthcheck_command()
    (upload,) = [u for u in inputs["uploads"] if u["file"] == job.SCRIPT_PATH]
    standin = {
        **{k: inputs[k] for k in ("labels", "envs", "restart", "capabilities", "securityOpts", "stopSignal")},
        "uploads": [{**upload, "content": edit_script(upload["content"]) if edit_script else upload["content"]}],
        "healthcheck": {**inputs["healthcheck"], "interval": "1s"},
        "entrypoints": ["/bin/sh", "-c", _SUCCESSFUL_RUN_STATE, "state"],
        "command": [f"{job.SCRATCH}/state"],
        "networkMode": "none",
    }
    name = docker.track("container", f"frh-status-{inputs['name']}")
    provider.create(docker.api(), standin, image, name=name)
    return name


def start_staging(docker, image: str, edit_backup_script=None) -> list[str]:
    """Every container staging declares, started like the program, until Docker calls each healthy."""
    names = [
        start_backup_like_the_program(docker, image, inputs, edit_backup_script)
        if labels["finance-report.service"] == "backup"
        else start_like_the_program(docker, image, inputs["name"], labels)
        for inputs, labels in declared_inputs("staging")
    ]
    wait_until(lambda: all(docker.health(n) == "healthy" for n in names), 60, "status test containers")
    return names


def test_status_passes_for_the_declared_containers_sees_only_its_env_and_names_what_is_missing(
    docker_engine, agent_image, capsys
):
    docker = docker_engine
    try:
        # production's datastore on the same host must never appear in staging's status
        prod_name, prod_labels = next(d for d in declared("production") if d[1]["finance-report.service"] == "postgres")
        start_like_the_program(docker, agent_image, prod_name, prod_labels)
        names = start_staging(docker, agent_image)

        code = main("staging", docker_host=f"unix://{DOCKER_SOCK}", http=False)
        out = capsys.readouterr().out
        listed = sorted(line.split()[1] for line in out.splitlines() if line.startswith("  "))
        assert listed == sorted(names), "exactly the staging containers; never production's"
        assert "backups: last backup 0m ago, last verified restore 0m ago (allowed: 48h)" in out, (
            "the job's own health line, read from Docker's probe"
        )
        assert code == 0, out

        agent = next(n for n in names if "app-vault-agent" in n)
        docker.run("rm", "-f", agent)
        assert main("staging", docker_host=f"unix://{DOCKER_SOCK}", http=False) == 1
        assert "problem: vault-agent: 3 of 4 running" in capsys.readouterr().out
    finally:
        docker.cleanup()


def test_a_backup_health_output_status_cannot_read_is_a_problem(docker_engine, agent_image, capsys):
    """A job whose health line changed (here: its keys renamed) still passes Docker's health check, so
    the container is healthy; status must not read that as "no probe yet" and pass."""
    docker = docker_engine
    renamed = "last_backup=$b last_verified=$v"
    try:
        names = start_staging(
            docker,
            agent_image,
            lambda script: (
                script.replace(renamed, "backup=$b verified=$v")
                if renamed in script
                else pytest.fail("the job's health line changed")
            ),
        )
        backup = next(n for n in names if n.startswith("frh-status-finance_report-backup-staging"))

        assert main("staging", docker_host=f"unix://{DOCKER_SOCK}", http=False) == 1
        out = capsys.readouterr().out
        problems = [line for line in out.splitlines() if line.startswith("problem:")]
        assert len(problems) == 1, out
        assert problems[0].startswith(f"problem: {backup}: its latest health probe printed 'backup="), out
        assert problems[0].endswith(
            ", not the backup job's `last_backup=... last_verified=... max_age=... now=... result: ...` "
            "line: backup ages unknown"
        ), out
        assert "no backup health probe yet" not in out
    finally:
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
