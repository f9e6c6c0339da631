"""Engine layer: the real program through the Pulumi engine (Automation API) on a local stack:
preview, up, a second preview that must show no change, checks on the real host, destroy.

It needs what only users' machines and GitHub Actions have: the Pulumi CLI with the docker, vault and
random provider plugins, a Docker host and a Vault. Where they are missing (as on the machines this
project is built and CI'd on, which cannot download the CLI or plugins), the test is skipped with the
reason: it is reported as not run, never as passed.

Environment: FR_ENGINE_DOCKER_HOST (ssh://user@host), VAULT_ADDR, VAULT_TOKEN, FR_ENGINE_IMAGE_TAG,
FR_ENGINE_S3_ENDPOINT (optional).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.engine
STACK = "enginetest"


def _requirements() -> dict[str, str]:
    if shutil.which("pulumi") is None:
        pytest.skip("engine layer NOT RUN: no `pulumi` CLI here (the CLI and provider plugins cannot be installed from this workplace's registries)")
    needed = ["FR_ENGINE_DOCKER_HOST", "VAULT_ADDR", "VAULT_TOKEN", "FR_ENGINE_IMAGE_TAG"]
    missing = [k for k in needed if not os.environ.get(k)]
    if missing:
        pytest.skip(f"engine layer NOT RUN: set {', '.join(missing)} to point it at a disposable Docker host and Vault")
    return {k: os.environ[k] for k in needed}


def test_preview_up_no_change_preview_and_destroy(tmp_path):
    env = _requirements()
    from pulumi import automation as auto

    project = tmp_path / "project"
    shutil.copytree(ROOT / "components", project / "components")
    for name in ("Pulumi.yaml", "__main__.py", "pyproject.toml", "uv.lock"):
        shutil.copy(ROOT / name, project / name)
    state = tmp_path / "state"
    state.mkdir()
    env_vars = {"PULUMI_BACKEND_URL": f"file://{state}", "PULUMI_CONFIG_PASSPHRASE": "engine-test-only", "VAULT_TOKEN": env["VAULT_TOKEN"]}
    stack = auto.create_or_select_stack(stack_name=STACK, work_dir=str(project), opts=auto.LocalWorkspaceOptions(env_vars=env_vars))
    config = {
        "env": STACK,
        "domain": "engine.test",
        "dockerHost": env["FR_ENGINE_DOCKER_HOST"],
        "vaultAddress": env["VAULT_ADDR"],
        "imageTag": env["FR_ENGINE_IMAGE_TAG"],
        "s3Endpoint": os.environ.get("FR_ENGINE_S3_ENDPOINT", "https://s3.engine.test"),
        "publicHealthGate": "false",  # engine.test is not routed by any Traefik
    }
    for key, value in config.items():
        stack.set_config(f"finance-report:{key}", auto.ConfigValue(value))
    for key in ("s3AccessKey", "s3SecretKey"):
        stack.set_config(f"finance-report:{key}", auto.ConfigValue(os.urandom(12).hex(), secret=True))
    try:
        preview = stack.preview()
        assert preview.change_summary.get("create", 0) >= 40
        up = stack.up()
        containers = up.outputs["containers"].value
        for name in containers.values():
            inspect = subprocess.run(["docker", "-H", env["FR_ENGINE_DOCKER_HOST"], "inspect", name], capture_output=True, text=True, check=True)
            state_ = json.loads(inspect.stdout)[0]["State"]
            assert state_["Running"], name
        again = stack.preview(expect_no_changes=True)
        assert set(again.change_summary) <= {"same"}
    finally:
        subprocess.run(["pulumi", "state", "unprotect", "--all", "--yes", "--stack", STACK], cwd=project, env={**os.environ, **env_vars}, check=False)
        stack.destroy()
        stack.workspace.remove_stack(STACK)
