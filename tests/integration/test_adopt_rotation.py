"""Adoption, then rotation, on real OpenBao and a real Postgres (stand-in image), with the program's own
artifacts at every step.

1. Vault holds the compose deployment's values. `invoke adopt` reads them from OpenBao and hands
   `pulumi import` (recorded here: the Pulumi CLI cannot run on these machines) an import file on tmpfs,
   mode 0600, removed afterwards, whose ids are today's values; no value is ever in an argument.
2. The program, with those values in its state (what the import does), writes the same values back:
   Postgres initialised with the compose password keeps accepting it, and the app's rendered
   DATABASE_URL (the app's own role, made by Postgres's start script) connects.
3. `pulumi up --replace <postgres-password urn>` (a new value in state): the agent renders it, the
   replaced Postgres applies it to its role at start, the old password is refused, the new one connects,
   and the app's re-rendered DATABASE_URL (which never held it) still connects.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from ops import adopt
from ops.program_run import unwrap_secrets
from tests.conftest import run_stack
from tests.integration import provider
from tests.integration.sidecar import Artifacts, apply_vault, consumer, start_agent

pytestmark = pytest.mark.integration
CONTAINER = "docker:index/container:Container"
COMPOSE = {
    "postgres": {"POSTGRES_PASSWORD": "compose-pg-" + secrets.token_urlsafe(12) + "%@'$ é"},
    "redis": {"PASSWORD": "compose-redis-" + secrets.token_hex(8)},
    "app": {
        "SECRET_KEY": "compose-key-" + secrets.token_hex(24),
        "S3_ACCESS_KEY": "compose-s3-" + secrets.token_hex(4),
        "EXTRA_FLAG": "kept-" + secrets.token_hex(6),
        "EXTRA_LIMITS": {"rpm": 60, "burst": [1, 2], "on": True},
    },
}


class Recorder:
    """Stands in for the Pulumi CLI's two commands: records what `invoke adopt` hands them."""

    def __init__(self):
        self.argv: list[list[str]] = []
        self.import_file: dict = {}
        self.file_mode = 0
        self.file_path = ""
        self.config: dict[str, bytes] = {}

    def __call__(self, argv, stdin):
        import subprocess

        self.argv.append(list(argv))
        if argv[1] == "import":
            self.file_path = argv[argv.index("--file") + 1]
            self.file_mode = stat.S_IMODE(os.stat(self.file_path).st_mode)
            self.import_file = json.loads(Path(self.file_path).read_text())
        elif argv[1:3] == ["config", "set"]:
            self.config[argv[-1]] = stdin
        return subprocess.CompletedProcess(argv, 0, b"", b"")


@pytest.fixture
def compose_values(openbao, program):
    client = openbao.client()
    for service, data in COMPOSE.items():
        client.secrets.kv.v2.create_or_update_secret(
            path=f"finance_report/staging/{service}", secret=data, mount_point="secret"
        )
    yield COMPOSE
    apply_vault(openbao, program["staging"])  # the program's values back, for the other tests


def test_adopt_keeps_todays_values_and_a_replace_then_rotates_the_postgres_password(
    docker_engine, agent_image, postgres_image, openbao, compose_values, monkeypatch, capsys
):
    # 1. adopt
    monkeypatch.setenv("VAULT_TOKEN", openbao.root_token)
    recorder = Recorder()
    assert (
        adopt.main("staging", vault_address=openbao.address, yes=True, runner=recorder, check_cli=lambda _why: None)
        == 0
    )
    out = capsys.readouterr()
    flat = json.dumps(recorder.argv) + out.out + out.err
    assert not [v for doc in COMPOSE.values() for v in doc.values() if isinstance(v, str) and v in flat], (
        "a value reached an argument or the output"
    )
    assert (
        recorder.file_path.startswith("/dev/shm/")
        and recorder.file_mode == 0o600
        and not os.path.exists(recorder.file_path)
    )
    ids = {e["logicalName"]: e["id"] for e in recorder.import_file["resources"] if "id" in e}
    # the backup repository password already in Vault (the program's, applied by the `program` fixture) is adopted too
    backup_password = openbao.client().secrets.kv.v2.read_secret_version(
        path="finance_report/staging/backup", mount_point="secret", raise_on_deleted_version=True
    )["data"]["data"]["RESTIC_PASSWORD"]
    assert ids == {
        "postgres-password": COMPOSE["postgres"]["POSTGRES_PASSWORD"],
        "redis-password": COMPOSE["redis"]["PASSWORD"],
        "app-secret-key": COMPOSE["app"]["SECRET_KEY"],
        "backup-restic-password": backup_password,
    }
    assert json.loads(recorder.config["finance-report:vaultKeptValues"]) == {
        "app": {"EXTRA_FLAG": COMPOSE["app"]["EXTRA_FLAG"], "EXTRA_LIMITS": COMPOSE["app"]["EXTRA_LIMITS"]}
    }
    assert recorder.config["finance-report:s3AccessKey"] == COMPOSE["app"]["S3_ACCESS_KEY"].encode()
    assert recorder.config["finance-report:vaultValuesAdopted"] == b"true"

    # 2. the first up after adoption writes today's values back
    settings = {
        "vaultAddress": openbao.address,
        "vaultValuesAdopted": "true",
        "postgresDataPath": None,
        "redisDataPath": None,
    }
    secrets_cfg = {"vaultKeptValues": recorder.config["finance-report:vaultKeptValues"].decode()}
    adopted = Artifacts(run_stack("staging", settings, secrets_cfg, state=ids))
    apply_vault(openbao, adopted)
    stored = openbao.client().secrets.kv.v2.read_secret_version(
        path="finance_report/staging/postgres", mount_point="secret", raise_on_deleted_version=True
    )["data"]["data"]
    # today's superuser password kept; the app's and the backup's roles get generated passwords of their own
    assert {k: v for k, v in stored.items() if k in COMPOSE["postgres"]} == COMPOSE["postgres"]
    assert set(stored) - set(COMPOSE["postgres"]) == {"APP_DB_PASSWORD", "BACKUP_DB_PASSWORD"}
    assert COMPOSE["postgres"]["POSTGRES_PASSWORD"] not in (stored["APP_DB_PASSWORD"], stored["BACKUP_DB_PASSWORD"])
    app_doc = openbao.client().secrets.kv.v2.read_secret_version(
        path="finance_report/staging/app", mount_point="secret", raise_on_deleted_version=True
    )["data"]["data"]
    assert app_doc["EXTRA_LIMITS"] == COMPOSE["app"]["EXTRA_LIMITS"], "a non-string value is written back with its type"
    deployment = Deployment(docker_engine, agent_image, postgres_image, openbao, adopted)
    try:
        deployment.postgres()
        assert deployment.connects(COMPOSE["postgres"]["POSTGRES_PASSWORD"]), deployment.last_error
        app_url = make_url(deployment.rendered_database_url())
        assert app_url.username != "postgres", "the app connects as its own role, not the superuser"
        assert deployment.connects(app_url.password, app_url.username), deployment.last_error

        # 3. rotate: the random resource replaced, a new value in state
        rotated_value = "rotated-" + secrets.token_urlsafe(16) + "@%"
        rotated = Artifacts(
            run_stack("staging", settings, secrets_cfg, state={**ids, "postgres-password": rotated_value})
        )
        assert rotated.kv()["postgres"][1]["POSTGRES_PASSWORD"] == rotated_value
        apply_vault(openbao, rotated)
        deployment.artifacts = rotated
        deployment.postgres(replace=True)
        assert not deployment.connects(COMPOSE["postgres"]["POSTGRES_PASSWORD"]), "the old password still works"
        assert deployment.connects(rotated_value)
        url = make_url(deployment.rendered_database_url())
        assert url.password != rotated_value, "the superuser's password is in no app URL"
        assert deployment.connects(url.password, url.username), deployment.last_error
    finally:
        docker_engine.cleanup()


class Deployment:
    """Postgres and its agent, and the app's agent, on the harness, as the program declares them."""

    def __init__(self, docker, agent_image, postgres_image, openbao, artifacts):
        self.docker, self.api, self.agent_image, self.postgres_image, self.openbao, self.artifacts = (
            docker,
            docker.api(),
            agent_image,
            postgres_image,
            openbao,
            artifacts,
        )
        self.network = docker.track("network", "frh-rot-internal")
        docker.run("network", "create", "--internal", self.network)
        self.data = docker.track("volume", "frh-rot-pgdata")
        docker.run("volume", "create", self.data)
        self.volume = None
        self.container = None
        self.agent = None

    def postgres(self, replace: bool = False) -> None:
        inputs = unwrap_secrets(self.artifacts.run.one(CONTAINER, "postgres-container").inputs)
        if replace:  # delete-first, as the program declares: the agent first, then Postgres
            self.docker.run("rm", "-f", self.agent)
            provider.stop_for_delete(self.api, self.container, inputs)
            self.docker.run("rm", "-f", self.container)
        self.agent, self.volume, _ = start_agent(
            self.docker, self.agent_image, self.openbao, self.artifacts, "postgres", "rot", volume=self.volume
        )
        created = dict(inputs)
        created["mounts"] = [
            {**m, "source": self.volume if m["target"].startswith("/run/secrets") else self.data}
            for m in inputs["mounts"]
        ]
        alias = inputs["networksAdvanced"][0]["name"]
        self.container = provider.create(
            self.api,
            created,
            self.postgres_image,
            name=self.docker.track("container", "frh-rot-postgres"),
            networks={alias: self.network},
        )
        self.docker.wait_healthy(self.container, 180, "postgres")

    def connects(self, password: str, user: str = "postgres") -> bool:
        """A client on the internal network, over TCP as the app connects (scram-sha-256)."""
        host = naming_alias(self.artifacts)
        proc = self.docker.run(
            "run",
            "--rm",
            "--network",
            self.network,
            "-e",
            "PGPASSWORD",
            "--entrypoint",
            "psql",
            self.postgres_image,
            "-h",
            host,
            "-U",
            user,
            "-d",
            "finance_report",
            "-tAc",
            "SELECT 1",
            check=False,
            env={"PGPASSWORD": password},
        )
        self.last_error = proc.stderr.decode(errors="replace").strip()[-300:]
        return proc.returncode == 0 and proc.stdout.strip() == b"1"

    def rendered_database_url(self) -> str:
        agent, volume, _ = start_agent(self.docker, self.agent_image, self.openbao, self.artifacts, "app", "rot-app")
        try:
            dump = consumer(
                self.docker,
                self.agent_image,
                volume,
                "app",
                'set -a; . /run/secrets/app/app.env; printf %s "$DATABASE_URL"',
            )
        finally:
            self.docker.run("rm", "-f", agent)
            self.docker.run("volume", "rm", "-f", volume, check=False)
        return dump


def naming_alias(artifacts: Artifacts) -> str:
    inputs = unwrap_secrets(artifacts.run.one(CONTAINER, "postgres-container").inputs)
    return inputs["networksAdvanced"][0]["aliases"][0]
