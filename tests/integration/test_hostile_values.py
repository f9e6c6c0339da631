"""Hostile secret values through the whole path, on real software: written to OpenBao, rendered by
`bao agent` with the program's own agent config and templates, then read the way each consumer reads
them (sourced by sh, included by redis-server, read by psql), and used to connect to real PostgreSQL
and Redis servers through the composed DATABASE_URL and REDIS_URL. Also the program's Redis and
Postgres health-check commands against the real servers.

The agent runs on the host here (one process per example is fast enough for property tests); its
container paths are mapped into a directory on /dev/shm, so rendered values stay in memory.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
import redis as redis_client
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import make_url

from render import app_env
from render import postgres as pg_component
from render import redis as redis_component
from tests.integration.harness import bao_binary, free_port, redis_server_binary, wait_until
from tests.integration.sidecar import Artifacts, write_host_agent

pytestmark = pytest.mark.integration

HOSTILE = list("'\"$`\\ #=@:/%") + [
    "é",
    "中",
    "ß",
    "🔑",
    "\t",
    "a",
    "Z",
    "9",
    "-",
    "{",
    "}",
    "!",
    "&",
    ";",
    "|",
    "*",
    "?",
    "~",
    "(",
    ")",
    "<",
    ">",
]
hostile_text = st.text(alphabet=st.sampled_from(HOSTILE), min_size=1, max_size=40)
HYPOTHESIS = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def render_on_host(bao, artifacts: Artifacts, service: str) -> dict[str, str]:
    """Run `bao agent` once with the program's config and templates; return the rendered files."""
    root = Path(tempfile.mkdtemp(prefix="frh-agent-", dir="/dev/shm"))
    try:
        config = write_host_agent(bao, artifacts, service, root, exit_after_auth=True)
        proc = subprocess.run([bao_binary(), "agent", f"-config={config}"], capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr[-2000:]
        out_dir = root / "secrets" / service
        return {p.name: p.read_bytes().decode() for p in out_dir.iterdir()}
    finally:
        shutil.rmtree(root, ignore_errors=True)


def put(bao, env: str, service: str, data: dict[str, str]) -> None:
    bao.client().secrets.kv.v2.create_or_update_secret(
        path=f"finance_report/{env}/{service}", secret=data, mount_point="secret"
    )


def source_env_file(text: str, keys: list[str]) -> dict[str, str]:
    """Source the file with /bin/sh as the backend does (`set -a; . file`), print the values NUL-separated."""
    shm = Path(tempfile.mkdtemp(prefix="frh-env-", dir="/dev/shm"))
    try:
        path = shm / "app.env"
        path.write_bytes(text.encode())
        printer = " ".join(f'"${{{k}}}"' for k in keys)
        proc = subprocess.run(
            ["sh", "-c", f"set -a; . {path}; set +a; printf '%s\\0' {printer}"], capture_output=True, timeout=10
        )
        assert proc.returncode == 0, proc.stderr.decode(errors="replace")
        return dict(zip(keys, proc.stdout.decode().split("\0"), strict=False))
    finally:
        shutil.rmtree(shm, ignore_errors=True)


@pytest.fixture(scope="module")
def staging(program) -> Artifacts:
    return program["staging"]


@HYPOTHESIS
@given(values=st.lists(hostile_text, min_size=9, max_size=9))
@example(
    values=["it's", 'say "hi"', "$HOME", "`id`", "a b  c", "#not a comment", "k=v=w", "p@ss:w/rd%20", "back\\slash\\"]
)
def test_app_secrets_round_trip_exactly_through_agent_and_sh(openbao, staging, values):
    _mount, original = staging.kv()["app"]
    keys = sorted(original)
    hostile = dict(zip(keys, values, strict=False))
    put(openbao, "staging", "app", hostile)
    try:
        rendered = render_on_host(openbao, staging, "app")["app.env"]
        assert source_env_file(rendered, keys) == hostile
    finally:
        put(openbao, "staging", "app", original)


# ------------------------------------------------------------------------------------------ Redis


def start_redis(conf: Path, port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [
            redis_server_binary(),
            str(conf),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(conf.parent),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until(lambda: _redis_answers(port), 15, "redis-server")
    except TimeoutError:
        proc.kill()
        raise AssertionError(
            "redis-server did not start with the rendered config: "
            + proc.stdout.read().decode(errors="replace")[-1500:]
        ) from None
    return proc


def connect(**kwargs) -> redis_client.Redis:
    """A client that fails at once: redis-py retries connection errors (authentication failures
    included) with backoff by default."""
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    url = kwargs.pop("url", None)
    options = {"socket_timeout": 2, "retry": Retry(NoBackoff(), 0)}
    return redis_client.from_url(url, **options) if url else redis_client.Redis(**kwargs, **options)


def _redis_answers(port: int) -> bool:
    try:
        connect(host="127.0.0.1", port=port).ping()
    except redis_client.AuthenticationError:
        return True  # up, and refusing us without the password
    except redis_client.ResponseError as err:
        return "NOAUTH" in str(err)
    except redis_client.ConnectionError:
        return False
    return True


@HYPOTHESIS
@given(password=hostile_text)
@example(password='"; requirepass x; "')
@example(password="\\x41 not hex")
def test_redis_takes_the_rendered_password_and_redis_url_connects_with_it(openbao, staging, password):
    _, original = staging.kv()["redis"]
    put(openbao, "staging", "redis", {"PASSWORD": password})
    shm = Path(tempfile.mkdtemp(prefix="frh-redis-", dir="/dev/shm"))
    proc = None
    try:
        files = render_on_host(openbao, staging, "redis")
        assert files["password"] == password
        (shm / "redis.conf").write_text(files["redis.conf"])
        port = free_port()
        proc = start_redis(shm / "redis.conf", port)
        assert connect(host="127.0.0.1", port=port, password=password).ping()
        url = app_env.redis_url(password, "staging").replace("finance_report-redis-staging:6379", f"127.0.0.1:{port}")
        assert connect(url=url).ping()
        with pytest.raises(redis_client.AuthenticationError):
            connect(host="127.0.0.1", port=port, password=password + "x").ping()
    finally:
        if proc:
            proc.kill()
            proc.wait()
        shutil.rmtree(shm, ignore_errors=True)
        put(openbao, "staging", "redis", original)


def test_the_redis_health_check_passes_with_the_rendered_password_and_fails_without(openbao, staging):
    """The program's exact command, in a private network and mount namespace where Redis listens on its
    default port and /run/secrets/redis is a fresh tmpfs holding the rendered files."""
    files = render_on_host(openbao, staging, "redis")
    command = redis_component.healthcheck_command()
    assert command[0] == "CMD-SHELL"
    shm = Path(tempfile.mkdtemp(prefix="frh-redis-hc-", dir="/dev/shm"))
    try:
        for name, content in files.items():
            (shm / name).write_text(content)
        script = f"""
set -u
ip link set lo up
mkdir -p /run/secrets && mount -t tmpfs tmpfs /run/secrets && mkdir -p /run/secrets/redis
cp {shm}/password {shm}/redis.conf /run/secrets/redis/
{redis_server_binary()} /run/secrets/redis/redis.conf --port 6379 --bind 127.0.0.1 --save '' --appendonly no --dir /tmp --daemonize yes --pidfile /tmp/frh-redis.pid > /dev/null
for i in $(seq 50); do redis-cli -h 127.0.0.1 ping 2>/dev/null | grep -q NOAUTH && break; sleep 0.1; done
sh -c {shlex.quote(command[1])}; echo "with=$?"
printf wrong > /run/secrets/redis/password
sh -c {shlex.quote(command[1])}; echo "wrong=$?"
rm /run/secrets/redis/password
sh -c {shlex.quote(command[1])}; echo "without=$?"
kill "$(cat /tmp/frh-redis.pid)"
"""
        proc = subprocess.run(
            ["unshare", "--net", "--mount", "sh", "-c", script], capture_output=True, text=True, timeout=60
        )
        results = dict(line.split("=") for line in proc.stdout.split() if "=" in line)
        assert results == {"with": "0", "wrong": "1", "without": "1"}, proc.stdout + proc.stderr
    finally:
        shutil.rmtree(shm, ignore_errors=True)


# ------------------------------------------------------------------------------------------ PostgreSQL


def psql(postgres_server, stdin: str, password: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            str(postgres_server.bindir / "psql"),
            "-v",
            "ON_ERROR_STOP=1",
            "-q",
            "-h",
            "127.0.0.1",
            "-p",
            str(postgres_server.port),
            "-U",
            "postgres",
            "-d",
            "finance_report",
        ],
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, "PGPASSWORD": password},
        timeout=30,
    )


async def _select_one(url: str) -> int:
    import asyncpg

    parsed = make_url(url)  # how the backend (SQLAlchemy) reads DATABASE_URL
    conn = await asyncpg.connect(
        host=parsed.host, port=parsed.port, user=parsed.username, password=parsed.password, database=parsed.database
    )
    try:
        return await conn.fetchval("SELECT 1")
    finally:
        await conn.close()


@HYPOTHESIS
@given(password=hostile_text)
@example(password="'; DROP ROLE postgres; --")
@example(password=":'pw' `whoami` \\set")
def test_the_apps_role_takes_the_rendered_password_and_database_url_connects(
    openbao, staging, postgres_server, password
):
    """The rendered files are applied with the program's own sync input (psql \\set from each file), then
    the backend's DATABASE_URL, composed by the program, connects with the app's role and password."""
    _, original = staging.kv()["postgres"]
    put(openbao, "staging", "postgres", {**original, "APP_DB_PASSWORD": password})
    shm = Path(tempfile.mkdtemp(prefix="frh-pg-", dir="/dev/shm"))
    try:
        rendered = render_on_host(openbao, staging, "postgres")
        assert rendered["app-password"] == password
        rendered["password"] = postgres_server.password  # the superuser keeps its own: this test holds the server
        for name, value in rendered.items():
            (shm / name).write_text(value)
        result = psql(postgres_server, pg_component.password_sync_input(str(shm)), postgres_server.password)
        assert result.returncode == 0, result.stderr
        url = app_env.database_url(password, "staging").replace(
            "finance_report-postgres-staging:5432", f"127.0.0.1:{postgres_server.port}"
        )
        assert asyncio.run(_select_one(url)) == 1
    finally:
        shutil.rmtree(shm, ignore_errors=True)
        put(openbao, "staging", "postgres", original)


def test_the_postgres_health_check_passes_against_the_real_server(postgres_server):
    command = pg_component.healthcheck_command()
    env = {**os.environ, "PATH": f"{postgres_server.bindir}:{os.environ['PATH']}", "PGPORT": str(postgres_server.port)}
    assert subprocess.run(["sh", "-c", command[1]], env=env, timeout=30).returncode == 0
    down = {**env, "PGPORT": str(free_port())}
    assert subprocess.run(["sh", "-c", command[1]], env=down, timeout=30).returncode != 0


def test_a_running_agent_re_renders_a_changed_kv_value_without_a_restart(openbao, staging):
    """KV v2 values are not leases: the agent re-reads them on static_secret_render_interval, so a value
    changed out of band reaches the files. The program's interval (1m) is shortened to 2s here only."""
    root = Path(tempfile.mkdtemp(prefix="frh-interval-", dir="/dev/shm"))
    proc = None
    try:
        config = write_host_agent(openbao, staging, "redis", root, exit_after_auth=False)
        text = config.read_text()
        assert 'static_secret_render_interval = "1m"' in text, "the program's agent config must re-read KV periodically"
        config.write_text(text.replace('static_secret_render_interval = "1m"', 'static_secret_render_interval = "2s"'))
        proc = subprocess.Popen(
            [bao_binary(), "agent", f"-config={config}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        password = root / "secrets" / "redis" / "password"
        wait_until(
            lambda: password.exists() and password.read_text() == staging.kv()["redis"][1]["PASSWORD"],
            30,
            "first render",
        )
        changed = "changed-" + secrets.token_hex(8)
        put(openbao, "staging", "redis", {"PASSWORD": changed})
        wait_until(lambda: password.read_text() == changed, 30, "re-render of the changed value")
    finally:
        if proc:
            proc.terminate()
            proc.wait(timeout=10)
        put(openbao, "staging", "redis", staging.kv()["redis"][1])
        shutil.rmtree(root, ignore_errors=True)
