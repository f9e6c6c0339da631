"""Engine layer: the real program through the Pulumi engine and the real providers (Automation API) on a
local file backend, against a Docker host and a Vault: what no mock can show.

1. preview, then up: every container running and healthy (asked of the Docker host itself);
2. a second preview reports no change (read-back forms, durations, log options, swap, secret outputs);
3. an image tag bump replaces the backend create-first with zero failed requests through Traefik (a
   bounded request loop during the update; the count is printed);
4. `up --replace <postgres-password urn>` rotates: Vault holds a new value, the backend is healthy on it;
5. destroy (after unprotecting the data volumes), leaving nothing but the retained data and KV.

It needs what only users' machines and GitHub Actions have (the `engine` workflow provides it): the Pulumi
CLI with the docker, vault, random and command plugins, a Docker host with Traefik on `dokploy-network`,
a Vault (OpenBao dev server) and an S3 endpoint with the stack's bucket. Where any is missing, the test is
skipped with one line saying what is missing and how to get it (tests/engine/__init__.py): NOT RUN,
never passed.

Environment: FR_ENGINE_DOCKER_HOST (ssh://user@host), FR_ENGINE_SSH_OPTS (JSON array, optional),
VAULT_ADDR (as the agents reach it), VAULT_TOKEN, FR_ENGINE_VAULT_CA (PEM path, optional; VAULT_CACERT
for pulumi itself), FR_ENGINE_IMAGE_TAG and FR_ENGINE_IMAGE_TAG_NEXT (two published tags),
FR_ENGINE_S3_ENDPOINT, FR_ENGINE_TRAEFIK_URL (https://127.0.0.1 by default).
"""

from __future__ import annotations

import json
import os
import shutil
import ssl
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.engine import PROGRAM_DIRS, engine_missing

pytestmark = pytest.mark.engine
STACK = "enginetest"
NEEDED = [
    "FR_ENGINE_DOCKER_HOST",
    "VAULT_ADDR",
    "VAULT_TOKEN",
    "FR_ENGINE_IMAGE_TAG",
    "FR_ENGINE_IMAGE_TAG_NEXT",
    "FR_ENGINE_S3_ENDPOINT",
]


def _requirements() -> dict[str, str]:
    why = engine_missing(NEEDED)
    if why is not None:
        pytest.skip(f"engine tier NOT RUN: {why}")
    return {k: os.environ[k] for k in NEEDED}


class RequestLoop:
    """GETs the public health route through Traefik every 100 ms, counting answers that are not 200."""

    def __init__(self, url: str, host: str):
        self.url, self.host = url, host
        self.ok = self.failed = 0
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._context = ssl.create_default_context()
        self._context.check_hostname = False
        self._context.verify_mode = ssl.CERT_NONE  # Traefik's default certificate: no ACME here

    def _run(self) -> None:
        while not self._stop.is_set():
            request = urllib.request.Request(self.url, headers={"Host": self.host})
            try:
                with urllib.request.urlopen(request, timeout=5, context=self._context) as response:
                    self.ok += response.status == 200
                    if response.status != 200:
                        self.failed += 1
                        self.failures.append(str(response.status))
            except Exception as err:
                self.failed += 1
                self.failures.append(type(err).__name__ + ": " + str(err)[:80])
            time.sleep(0.1)

    def __enter__(self) -> RequestLoop:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


def _inspect(docker_host: str, ssh_opts: list[str], name: str) -> dict:
    from clients.docker_api import DockerAPI

    response = DockerAPI(docker_host, ssh_opts).request("GET", f"/containers/{name}/json")
    return response.json() if response.status == 200 else {}


def test_preview_up_no_change_preview_rolling_bump_rotation_and_destroy(tmp_path):
    env = _requirements()
    from pulumi import automation as auto

    project = tmp_path / "project"
    for directory in PROGRAM_DIRS:
        shutil.copytree(ROOT / directory, project / directory, ignore=shutil.ignore_patterns("venv", "__pycache__"))
    for name in ("Pulumi.yaml", "__main__.py", "pyproject.toml", "uv.lock"):
        shutil.copy(ROOT / name, project / name)
    state = tmp_path / "state"
    state.mkdir()
    env_vars = {
        "PULUMI_BACKEND_URL": f"file://{state}",
        "PULUMI_CONFIG_PASSPHRASE": "engine-test-only",
        "VAULT_TOKEN": env["VAULT_TOKEN"],
    }
    if os.environ.get("FR_ENGINE_VAULT_CA"):
        env_vars["VAULT_CACERT"] = os.environ["FR_ENGINE_VAULT_CA"]
    stack = auto.create_or_select_stack(
        stack_name=STACK, work_dir=str(project), opts=auto.LocalWorkspaceOptions(env_vars=env_vars)
    )
    ssh_opts = json.loads(os.environ.get("FR_ENGINE_SSH_OPTS", "[]"))
    config = {
        "domain": "engine.test",
        "dockerHost": env["FR_ENGINE_DOCKER_HOST"],
        "vaultAddress": env["VAULT_ADDR"],
        "imageTag": env["FR_ENGINE_IMAGE_TAG"],
        "s3Endpoint": env["FR_ENGINE_S3_ENDPOINT"],
        "publicHealthGate": "false",  # engine.test is not in DNS: the test's own loop goes through Traefik
        "cutoverWatchSeconds": "20",
    }
    for key, value in config.items():
        stack.set_config(f"finance-report:{key}", auto.ConfigValue(value))
    stack.set_config("finance-report:dockerSshOpts", auto.ConfigValue(json.dumps(ssh_opts)))
    if os.environ.get("FR_ENGINE_VAULT_CA"):
        stack.set_config(
            "finance-report:vaultCaCert", auto.ConfigValue(Path(os.environ["FR_ENGINE_VAULT_CA"]).read_text())
        )
    for key in ("s3AccessKey", "s3SecretKey"):
        stack.set_config(f"finance-report:{key}", auto.ConfigValue(os.urandom(12).hex(), secret=True))
    traefik = os.environ.get("FR_ENGINE_TRAEFIK_URL", "https://127.0.0.1")
    try:
        # 1. preview and up
        preview = stack.preview(on_output=print)
        assert preview.change_summary.get("create", 0) >= 40
        up = stack.up(on_output=print)
        containers = up.outputs["containers"].value
        for name in containers.values():
            state_ = _inspect(env["FR_ENGINE_DOCKER_HOST"], ssh_opts, name).get("State", {})
            assert state_.get("Running") and state_.get("Health", {}).get("Status") == "healthy", name

        # 2. nothing changed: nothing to do
        again = stack.preview(expect_no_changes=True, on_output=print)
        assert set(again.change_summary) <= {"same"}, again.change_summary

        # 3. a new tag rolls the backend create-first: the API answers throughout
        old_backend = containers["backend"]
        stack.set_config("finance-report:imageTag", auto.ConfigValue(env["FR_ENGINE_IMAGE_TAG_NEXT"]))
        with RequestLoop(f"{traefik}/api/health", up.outputs["site_url"].value.removeprefix("https://")) as loop:
            bumped = stack.up(on_output=print)
        print(f"rolling update: {loop.ok} requests answered 200, {loop.failed} failed")
        assert loop.ok > 0 and loop.failed == 0, loop.failures[:10]
        assert bumped.outputs["containers"].value["backend"] != old_backend
        assert _inspect(env["FR_ENGINE_DOCKER_HOST"], ssh_opts, old_backend) == {}, (
            "the old revision is removed after the new one is healthy"
        )

        # 4. rotation of the Postgres password
        urn = next(
            r["urn"]
            for r in json.loads(stack.export_stack().json())["deployment"]["resources"]
            if r["urn"].endswith("::postgres-password")
        )
        rotated = stack.up(replace=[urn], on_output=print)
        assert rotated.summary.resource_changes.get("replace", 0) >= 1
        backend = _inspect(env["FR_ENGINE_DOCKER_HOST"], ssh_opts, rotated.outputs["containers"].value["backend"])
        assert backend["State"]["Health"]["Status"] == "healthy"
        again = stack.preview(expect_no_changes=True, on_output=print)
        assert set(again.change_summary) <= {"same"}, again.change_summary
    finally:
        subprocess.run(
            ["pulumi", "state", "unprotect", "--all", "--yes", "--stack", STACK],
            cwd=project,
            env={**os.environ, **env_vars},
            check=False,
        )
        stack.destroy(on_output=print)
        stack.workspace.remove_stack(STACK)
