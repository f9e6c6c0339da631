"""Engine layer: `invoke rollback` through the Automation API on a local stack (docs/rollback.md).

1. Two updates (the previous tag, then the current one) give the stack a history.
2. `--list` prints it and changes nothing: same stack file, no new update.
3. A rollback redeploys the previous tag as a normal update: the backend is the revision of step 1 again
   (same inputs, same revision name), the current one is gone, and the history's newest update says so.
4. A failed cutover: the current tag with a rollout gate that cannot pass (publicHealthGate on a domain
   no Traefik routes) fails the update, leaving the failed revision live and the serving one pending
   deletion; the rollback then keeps the serving container (same id, never restarted) and deletes the
   failed one.

Needs what only users' machines and GitHub Actions have (the Pulumi CLI with the docker, vault, random
and command plugins, a Docker host, a Vault); elsewhere it is skipped with the reason, reported as not
run, never as passed. Environment: as tests/engine/test_automation_api.py, plus
FR_ENGINE_PREVIOUS_IMAGE_TAG (an earlier tag of the app images).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from tests.conftest import ROOT
from tests.engine import PROGRAM_DIRS, engine_missing

pytestmark = pytest.mark.engine
STACK = "enginerb"


NEEDED = [
    "FR_ENGINE_DOCKER_HOST",
    "VAULT_ADDR",
    "VAULT_TOKEN",
    "FR_ENGINE_IMAGE_TAG",
    "FR_ENGINE_PREVIOUS_IMAGE_TAG",
]


def _requirements() -> dict[str, str]:
    why = engine_missing(NEEDED)
    if why is not None:
        pytest.skip(f"engine tier NOT RUN: {why}")
    return {k: os.environ[k] for k in NEEDED}


def _inspect(host: str, name: str) -> dict:
    done = subprocess.run(["docker", "-H", host, "inspect", name], capture_output=True, text=True)
    return json.loads(done.stdout)[0] if done.returncode == 0 else {}


def test_list_then_rollback_then_rollback_after_a_failed_cutover(tmp_path, monkeypatch):
    env = _requirements()
    from pulumi import automation as auto

    from ops import rollback

    project = tmp_path / "project"
    for directory in PROGRAM_DIRS:
        shutil.copytree(ROOT / directory, project / directory, ignore=shutil.ignore_patterns("venv", "__pycache__"))
    for name in ("Pulumi.yaml", "__main__.py", "pyproject.toml", "uv.lock", ".gitignore"):
        shutil.copy(ROOT / name, project / name)
    # rollback deploys only a clean checkout of main's tip or the deployed commit (ops/git_guard.py): the
    # copy is a repository whose main holds everything, committed again after each config change, as an
    # operator commits the stack file.
    subprocess.run(["git", "init", "-q", "-b", "main", str(project)], check=True)

    def commit_all() -> None:
        subprocess.run(["git", "-C", str(project), "add", "-A"], check=True)
        subprocess.run(
            [
                "git",
                "-C",
                str(project),
                "-c",
                "user.name=engine",
                "-c",
                "user.email=engine@example.invalid",
                "commit",
                "-q",
                "--allow-empty",
                "-m",
                "engine test",
            ],
            check=True,
        )

    # The policy pack runs in its own virtualenv (PulumiPolicy.yaml), as in the deploy workflow.
    subprocess.run(["uv", "venv", str(project / "policies/venv"), "--python", "3.11"], check=True)
    subprocess.run(
        [
            "uv",
            "pip",
            "install",
            "--require-hashes",
            "--python",
            str(project / "policies/venv/bin/python"),
            "-r",
            str(project / "policies/requirements.txt"),
        ],
        check=True,
    )
    # The policy config is derived from the stack file by the rollback itself (ops/policy_pack.py).

    state = tmp_path / "state"
    state.mkdir()
    env_vars = {
        "PULUMI_BACKEND_URL": f"file://{state}",
        "PULUMI_CONFIG_PASSPHRASE": "engine-test-only",
        "VAULT_TOKEN": env["VAULT_TOKEN"],
    }
    for key, value in env_vars.items():
        monkeypatch.setenv(key, value)  # ops.rollback drives the CLI and the Automation API in this process
    stack = auto.create_or_select_stack(
        stack_name=STACK, work_dir=str(project), opts=auto.LocalWorkspaceOptions(env_vars=env_vars)
    )
    config = {
        "env": STACK,
        "domain": "engine.test",
        "dockerHost": env["FR_ENGINE_DOCKER_HOST"],
        "vaultAddress": env["VAULT_ADDR"],
        "imageTag": env["FR_ENGINE_PREVIOUS_IMAGE_TAG"],
        "s3Endpoint": os.environ.get("FR_ENGINE_S3_ENDPOINT", "https://s3.engine.test"),
        "publicHealthGate": "false",
        "cutoverWatchSeconds": "10",
    }
    for key, value in config.items():
        stack.set_config(f"finance-report:{key}", auto.ConfigValue(value))
    for key in ("s3AccessKey", "s3SecretKey"):
        stack.set_config(f"finance-report:{key}", auto.ConfigValue(os.urandom(12).hex(), secret=True))
    stack_file = project / f"Pulumi.{STACK}.yaml"
    host = env["FR_ENGINE_DOCKER_HOST"]
    try:
        previous = stack.up().outputs["containers"].value["backend"]
        stack.set_config("finance-report:imageTag", auto.ConfigValue(env["FR_ENGINE_IMAGE_TAG"]))
        current = stack.up().outputs["containers"].value["backend"]
        assert previous != current

        commit_all()
        before, versions = stack_file.read_bytes(), len(stack.history(show_secrets=False))
        assert rollback.main(STACK, list_only=True, root=project) == 0
        assert stack_file.read_bytes() == before and len(stack.history(show_secrets=False)) == versions

        assert rollback.main(STACK, yes=True, root=project) == 0
        assert stack.outputs()["containers"].value["backend"] == previous
        assert _inspect(host, previous)["State"]["Running"] and not _inspect(host, current)
        newest = stack.history(page_size=1, show_secrets=False)[0]
        assert (newest.kind, newest.result, newest.message) == (
            "update",
            "succeeded",
            f"invoke rollback to {env['FR_ENGINE_PREVIOUS_IMAGE_TAG']}",
        )

        # A failed cutover: the current tag behind a gate that cannot pass.
        serving = _inspect(host, previous)
        stack.set_config("finance-report:imageTag", auto.ConfigValue(env["FR_ENGINE_IMAGE_TAG"]))
        stack.set_config("finance-report:publicHealthGate", auto.ConfigValue("true"))
        with pytest.raises(auto.CommandError):
            stack.up()
        assert _inspect(host, current)["State"]["Running"], "the failed revision was created"
        assert _inspect(host, previous)["Id"] == serving["Id"], "the serving revision kept serving"
        stack.set_config("finance-report:publicHealthGate", auto.ConfigValue("false"))
        commit_all()
        assert rollback.main(STACK, yes=True, root=project) == 0
        kept = _inspect(host, previous)
        assert kept["Id"] == serving["Id"] and kept["State"]["StartedAt"] == serving["State"]["StartedAt"], (
            "the serving revision was never restarted"
        )
        assert not _inspect(host, current), "the failed revision is deleted"
    finally:
        subprocess.run(["pulumi", "state", "unprotect", "--all", "--yes", "--stack", STACK], cwd=project, check=False)
        stack.destroy()
        stack.workspace.remove_stack(STACK)
