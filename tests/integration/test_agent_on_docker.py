"""The vault-agent sidecar on a real Docker engine with a real OpenBao: the program's volume driver
options, agent command, uploads (agent config and templates), health checks and hardening settings,
taken from the program's resource inputs.

Shown here: the volume is tmpfs inside the containers; the agent renders each service's files into it;
the consumer mounts it read-only and sees them; the backend's env file carries every injected variable
in the formats the app enforces; no secret value appears in `docker inspect` or under the Docker data
root on disk.
"""

from __future__ import annotations

import json
import secrets
import socket
import time
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy.engine import make_url

from tests.integration.harness import DOCKER_ROOT, Docker
from tests.integration.sidecar import FILES, consumer, start_agent

pytestmark = pytest.mark.integration

# app-contract, "Environment the backend must receive": injected by the deployment.
INJECTED = [
    "DATABASE_URL",
    "REDIS_URL",
    "ENVIRONMENT",
    "SECRET_KEY",
    "S3_ENDPOINT",
    "S3_ACCESS_KEY",
    "S3_SECRET_KEY",
    "S3_BUCKET",
    "S3_PUBLIC_ENDPOINT",
    "S3_PUBLIC_BUCKET",
    "S3_PUBLIC_ACCESS_KEY",
    "S3_PUBLIC_SECRET_KEY",
    "NEXT_PUBLIC_APP_URL",
    "CORS_ORIGINS",
    "AI_PROVIDER",
    "ZAI_API_KEY",
    "LLM_ENCRYPTION_KEYS",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_SERVICE_NAME",
    "OTEL_RESOURCE_ATTRIBUTES",
    "GIT_COMMIT_SHA",
]


@pytest.fixture(scope="module")
def rendered(docker_engine, agent_image, openbao, program):
    """All three production agents running, with what their consumers read."""
    artifacts = program["production"]
    out = {}
    for service in ("postgres", "redis", "app"):
        agent, volume, seconds = start_agent(docker_engine, agent_image, openbao, artifacts, service, "render")
        files = {
            f: consumer(docker_engine, agent_image, volume, service, f"cat /run/secrets/{service}/{f}")
            for f in FILES[service]
        }
        out[service] = {"agent": agent, "volume": volume, "files": files, "seconds": seconds}
    yield out
    for service in out.values():
        docker_engine.run("rm", "-f", service["agent"], check=False)


def test_the_volume_is_tmpfs_with_the_declared_size_inside_containers(docker_engine, agent_image, rendered):
    mounts = consumer(docker_engine, agent_image, rendered["postgres"]["volume"], "postgres", "cat /proc/mounts")
    line = next(m for m in mounts.splitlines() if " /run/secrets/postgres " in m)
    fstype, options = line.split()[2], line.split()[3].split(",")
    assert fstype == "tmpfs"
    assert "ro" in options, "the consumer's mount must be read-only"
    assert "size=1024k" in options and "mode=750" in options and "gid=70" in options


def test_consumers_cannot_write_the_secrets_volume(docker_engine, agent_image, rendered):
    out = consumer(
        docker_engine, agent_image, rendered["app"]["volume"], "app", "touch /run/secrets/app/x 2>&1 || echo refused"
    )
    assert "refused" in out


def test_postgres_and_redis_files_hold_exactly_their_vault_values(rendered, program):
    kv = program["production"].kv()
    assert rendered["postgres"]["files"]["password"] == kv["postgres"][1]["POSTGRES_PASSWORD"]
    assert rendered["redis"]["files"]["password"] == kv["redis"][1]["PASSWORD"]
    password = kv["redis"][1]["PASSWORD"].replace("\\", "\\\\").replace('"', '\\"')
    assert rendered["redis"]["files"]["redis.conf"] == f'requirepass "{password}"\n'


def test_non_root_consumers_read_their_files_through_the_group(docker_engine, agent_image, rendered):
    listing = consumer(
        docker_engine, agent_image, rendered["postgres"]["volume"], "postgres", "id -u; ls -ln /run/secrets/postgres"
    )
    uid, _, entry = listing.splitlines()[:3]
    assert uid == "70"
    mode, _, owner, group = entry.split()[:4]
    assert (mode, owner, group) == ("-r--r-----", "0", "70")


def test_the_backend_env_file_carries_every_injected_variable_in_the_app_formats(
    docker_engine, agent_image, rendered, program
):
    # Sourced the way the backend's start command does: `set -a; . file; set +a`.
    dump = consumer(
        docker_engine,
        agent_image,
        rendered["app"]["volume"],
        "app",
        "set -a; . /run/secrets/app/app.env; set +a; env -0",
    )
    env = dict(item.split("=", 1) for item in dump.split("\0") if "=" in item)
    missing = [k for k in INJECTED if k not in env]
    assert missing == []
    url = make_url(env["DATABASE_URL"])
    assert (
        url.drivername == "postgresql+asyncpg"
        and url.host == "finance_report-postgres"
        and url.database == "finance_report"
    )
    postgres = program["production"].kv()["postgres"][1]
    assert url.username == "finance_report_app" and url.password == postgres["APP_DB_PASSWORD"], (
        "the app's own role, never the superuser"
    )
    assert env["REDIS_URL"].startswith("redis://:") and env["REDIS_URL"].endswith("@finance_report-redis:6379/0")
    assert env["ENVIRONMENT"] == "production"
    assert "deployment.environment=production" in env["OTEL_RESOURCE_ATTRIBUTES"].split(",")
    assert len(env["SECRET_KEY"].encode()) >= 32
    for key in env["LLM_ENCRYPTION_KEYS"].split(","):
        Fernet(key.encode())  # raises unless urlsafe base64 of 32 bytes
    assert (
        env["NEXT_PUBLIC_APP_URL"] == "https://report.zitian.party" and env["S3_BUCKET"] == "finance-report-production"
    )


def test_the_backend_start_wrapper_exports_the_rendered_environment(docker_engine, agent_image, rendered, program):
    from program.app import source_env_then

    # uvicorn is a child process: it sees only what the wrapper exported
    child = 'exec sh -c \'printf "%s|%s" "$DATABASE_URL" "$ENVIRONMENT"\''
    out = consumer(docker_engine, agent_image, rendered["app"]["volume"], "app", source_env_then(child))
    assert out == program["production"].kv()["app"][1]["DATABASE_URL"] + "|production"


def secret_values(program) -> list[str]:
    values = []
    for _, (_, data) in program["production"].kv().items():
        values += [v for v in data.values() if isinstance(v, str) and len(v) >= 12]
    return values


def test_no_secret_value_appears_in_docker_inspect(docker_engine, agent_image, rendered, program):
    values = secret_values(program)
    assert len(values) >= 5
    for service in rendered.values():
        dumped = json.dumps(docker_engine.inspect(service["agent"]))
        assert not [v for v in values if v in dumped], f"{service['agent']} exposes a secret in docker inspect"


def scan_for(root: Path, needles: list[bytes], same_filesystem: bool) -> list[str]:
    """Files under `root` containing any needle. With same_filesystem, mounts below root (the live
    tmpfs volumes) are not entered: only what is on disk counts."""
    device = root.stat().st_dev
    hits = []
    for path in root.rglob("*"):
        try:
            if same_filesystem and path.lstat().st_dev != device:
                continue
            if not path.is_file() or path.is_symlink() or path.stat().st_size > 300 * 1024 * 1024:
                continue
            data = path.read_bytes()
        except OSError:
            continue
        if any(n in data for n in needles):
            hits.append(str(path))
    return hits


def test_only_the_agents_credentials_are_on_disk_each_0400_and_nothing_after_removal(
    docker_engine, agent_image, rendered, program
):
    """docs/secrets.md "What is on disk": rendered secrets never; the role-id and secret-id an agent logs in with
    are uploaded into its container's writable layer (the provider copies uploads before start, where
    no tmpfs exists yet), readable by the agent's uid only, bound to the Docker host's address when
    vaultAgentCidrs is set, and gone with the container."""
    from tests.integration.sidecar import MINTED

    needles = [v.encode() for v in secret_values(program)]
    assert scan_for(DOCKER_ROOT, needles, same_filesystem=True) == [], (
        "a rendered secret is on disk while the agents run"
    )
    credentials = {name: MINTED[name] for name in (s["agent"] for s in rendered.values())}
    found = scan_for(DOCKER_ROOT, [c.encode() for pair in credentials.values() for c in pair], same_filesystem=True)
    expected_suffixes = ("/diff/vault/approle/role-id", "/diff/vault/approle/secret-id")
    assert found and all(path.endswith(expected_suffixes) for path in found), found
    assert len(found) == 2 * len(credentials), "one role-id and one secret-id per agent, nowhere else"
    for path in found:
        mode = Path(path).stat().st_mode & 0o777
        assert mode == 0o400 and Path(path).stat().st_uid == 0, f"{path} is {oct(mode)}"
    for service in rendered.values():
        docker_engine.run("rm", "-f", service["agent"])
    # With no container mounting them, the tmpfs volumes hold nothing; the credentials left with their layers.
    leftover = [v.encode() for v in secret_values(program)] + [
        c.encode() for pair in credentials.values() for c in pair
    ]
    assert scan_for(DOCKER_ROOT, leftover, same_filesystem=False) == []


def test_a_new_agent_is_healthy_only_once_it_has_rendered_itself(docker_engine, agent_image, openbao, program):
    """A consumer that keeps the secrets volume mounted keeps the previous agent's files in it. A
    replacement agent that cannot reach Vault must not look healthy on those stale files: consumers
    would restart on old values (the defect: KV changed, consumers restarted before the agent rendered)."""
    artifacts = program["staging"]
    agent, volume, _ = start_agent(docker_engine, agent_image, openbao, artifacts, "app", "stale-1")
    holder = docker_engine.track("container", "frh-stale-holder")
    docker_engine.run(
        "run",
        "-d",
        "--name",
        holder,
        "--network",
        "none",
        "--mount",
        f"type=volume,source={volume},target=/run/secrets/app,readonly",
        agent_image,
        "sleep",
        "600",
    )
    docker_engine.run("rm", "-f", agent)
    assert (
        consumer(docker_engine, agent_image, volume, "app", "test -s /run/secrets/app/app.env && echo stale").strip()
        == "stale"
    )

    # A Vault that accepts connections and never answers: the new agent runs, but cannot render.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    try:
        blocked, _, _ = start_agent(
            docker_engine,
            agent_image,
            openbao,
            artifacts,
            "app",
            "stale-2",
            until="started",
            volume=volume,
            vault_address=f"http://127.0.0.1:{silent.getsockname()[1]}",
        )
        time.sleep(6)
        assert docker_engine.inspect(blocked)["State"]["Running"], "the agent must still be waiting for Vault"
        assert docker_engine.health(blocked) != "healthy", "healthy on the previous agent's files"
        docker_engine.run("rm", "-f", blocked)
    finally:
        silent.close()

    client = openbao.client()
    new_value = "rotated-" + secrets.token_hex(8)
    client.secrets.kv.v2.patch(
        path="finance_report/staging/app", secret={"S3_SECRET_KEY": new_value}, mount_point="secret"
    )
    try:
        start_agent(docker_engine, agent_image, openbao, artifacts, "app", "stale-3", volume=volume)
        assert f"S3_SECRET_KEY='{new_value}'" in consumer(
            docker_engine, agent_image, volume, "app", "cat /run/secrets/app/app.env"
        )
    finally:
        mount, data = artifacts.kv()["app"]
        client.secrets.kv.v2.create_or_update_secret(path="finance_report/staging/app", secret=data, mount_point=mount)
        docker_engine.run("rm", "-f", holder, check=False)


def test_the_prefect_worker_health_check_fails_without_the_worker_and_passes_with_it(
    docker_engine, agent_image, program
):
    command = program["production"].consumer("app-prefect-worker")["healthcheck"]["tests"][1]
    alone = docker_engine.run("run", "--rm", "--network", "none", agent_image, "sh", "-c", command, check=False)
    assert alone.returncode != 0, "the check matched its own command line"
    worker = docker_engine.track("container", "frh-prefect-worker")
    docker_engine.run(
        "run",
        "-d",
        "--name",
        worker,
        "--network",
        "none",
        agent_image,
        "sh",
        "-c",
        "sleep 600; :",
        "prefect",
        "worker",
        "start",
    )
    assert docker_engine.run("exec", worker, "sh", "-c", command, check=False).returncode == 0
    docker_engine.run("rm", "-f", worker)


# ------------------------------------------------------------------------------------------ health checks


def run_health(docker: Docker, image: str, command: str, setup: str) -> int:
    script = f"{setup}\n{command}"
    proc = docker.run(
        "run", "--rm", "--network", "none", "--tmpfs", "/run/secrets/redis", image, "sh", "-c", script, check=False
    )
    return proc.returncode


def test_the_agent_health_check_fails_until_every_file_is_complete(docker_engine, agent_image, program):
    command = program["production"].agent("redis")["healthcheck"]["tests"][1]
    d = "/run/secrets/redis"
    assert run_health(docker_engine, agent_image, command, ":") != 0, "no files: unhealthy"
    assert run_health(docker_engine, agent_image, command, f"printf pw > {d}/password") != 0, (
        "one file missing: unhealthy"
    )
    assert run_health(docker_engine, agent_image, command, f"printf pw > {d}/password; : > {d}/redis.conf") != 0, (
        "empty file: unhealthy"
    )
    unresolved = f"printf pw > {d}/password; printf 'requirepass \"<no value>\"' > {d}/redis.conf"
    assert run_health(docker_engine, agent_image, command, unresolved) != 0, "unresolved value: unhealthy"
    assert (
        run_health(
            docker_engine,
            agent_image,
            command,
            f"printf pw > {d}/password; printf 'requirepass \"pw\"' > {d}/redis.conf",
        )
        == 0
    )


def test_a_kv_change_re_renders_and_changes_the_digest_of_exactly_its_consumers(
    docker_engine, agent_image, openbao, program
):
    """Change one app secret in Vault, render every service again: only the app's rendered file and
    the app consumers' restart digest differ."""
    from render import vault_artifacts as va

    artifacts = program["staging"]
    key = secrets.token_bytes(32)

    def render_all(tag: str) -> tuple[dict[str, str], dict[str, str]]:
        files, digests = {}, {}
        client = openbao.client()
        for service in ("postgres", "redis", "app"):
            agent, volume, _ = start_agent(docker_engine, agent_image, openbao, artifacts, service, tag)
            files[service] = "".join(
                consumer(docker_engine, agent_image, volume, service, f"cat /run/secrets/{service}/{f}")
                for f in FILES[service]
            )
            data = client.secrets.kv.v2.read_secret_version(
                path=f"finance_report/staging/{service}", mount_point="secret", raise_on_deleted_version=True
            )["data"]["data"]
            templates = [
                va.Template(p.rsplit("/", 1)[-1][: -len(".ctmpl")], c)
                for p, c in artifacts.uploads(service).items()
                if p.endswith(".ctmpl")
            ]
            digests[service] = va.restart_digest(key, templates, data)
            docker_engine.run("rm", "-f", agent)
        return files, digests

    before_files, before_digests = render_all("digest-a")
    client = openbao.client()
    client.secrets.kv.v2.patch(
        path="finance_report/staging/app",
        secret={"S3_SECRET_KEY": "rotated-" + secrets.token_hex(8)},
        mount_point="secret",
    )
    after_files, after_digests = render_all("digest-b")
    assert {s for s in before_files if before_files[s] != after_files[s]} == {"app"}
    assert {s for s in before_digests if before_digests[s] != after_digests[s]} == {"app"}
    # put the program's value back for the other tests
    mount, data = artifacts.kv()["app"]
    client.secrets.kv.v2.create_or_update_secret(path="finance_report/staging/app", secret=data, mount_point=mount)
