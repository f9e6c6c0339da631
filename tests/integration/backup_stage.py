"""The backup service on the harness as `pulumi up` would run it, for the integration tests and the
benchmark: the program (run under mocks with this harness's OpenBao, S3 server and Postgres password)
gives the Vault side, the agent and the backup container's inputs; the container is created from them
the way the provider does, on a stand-in of the backup image.

Mapped, and only these: the program's container names become this harness's loopback addresses (the
container uses the host network: the harness's servers listen on loopback only, never elsewhere), and
the program's volume names become this stage's volumes.

The stand-in image is the postgres:16-alpine stand-in's files (tests/integration/images.py) plus what
program/backup_image/Dockerfile adds: the restic binary at /usr/local/bin/restic (Debian's 0.14
here, the official image's 0.18 on the host), /scratch owned by postgres (70:70, mode 0700), USER
postgres, STOPSIGNAL SIGINT inherited from the base.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import http.server
import json
import os
import secrets
import shutil
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clients.docker_api import DockerAPI
from render import backup_job as job
from tests.integration import provider
from tests.integration.harness import Docker, OpenBao, Postgres, S3Server, free_port, unavailable, wait_until
from tests.integration.images import build, postgres_rootfs
from tests.integration.sidecar import Artifacts, start_agent

BACKUP_IMAGE = "fr-harness/backup:standin"
CONTAINER = "docker:index/container:Container"


def backup_image(api: DockerAPI) -> str:
    restic = shutil.which("restic")
    if restic is None:
        unavailable("backup image", "restic is not installed (Debian package restic)")
    fs, bindir = postgres_rootfs()
    fs.binaries([restic])
    fs.file("/usr/local/bin/restic", Path(os.path.realpath(restic)).read_bytes(), 0o755)
    fs.directory("/scratch", 0o700, 70, 70)
    tail = (
        f"ENV PATH=/usr/local/bin:{bindir}:/bin PGDATA=/var/lib/postgresql/data LC_ALL=C.UTF-8\n"
        "STOPSIGNAL SIGINT\n"
        "USER postgres\n"
    )
    return build(api, BACKUP_IMAGE, fs.close(), tail)


# ------------------------------------------------------------------------------------------ helpers on loopback


class TcpProxy:
    """A loopback TCP forwarder in front of the S3 server: `close()` makes S3 unreachable (connections
    refused) without stopping the server, whose data lives in memory."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.listener: socket.socket | None = None
        self.open()

    def open(self) -> None:
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", self.port))
        self.listener.listen(64)
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def close(self) -> None:
        if self.listener is not None:
            self.listener.close()
            self.listener = None

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)


class Heartbeat:
    """An HTTP endpoint on loopback that counts the GETs of its secret path, as an external monitor would."""

    def __init__(self) -> None:
        self.token = secrets.token_hex(12)
        self.calls = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                ok = self.path == f"/ping/{outer.token}"
                outer.calls += ok
                self.send_response(200 if ok else 404)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/ping/{self.token}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()


def apply_roles(pg: Postgres, artifacts: Artifacts) -> None:
    """What the program's Postgres does at start (render/postgres.py: its start script's two psql inputs),
    on this harness's server: the roles with the program's passwords (from files on tmpfs, as the agent
    renders them), then the app's database handed to the app's role. The superuser's password is the
    program's afterwards."""
    import subprocess
    import tempfile
    from pathlib import Path

    from render import postgres

    values = artifacts.kv()["postgres"][1]
    directory = Path(tempfile.mkdtemp(prefix="frh-pg-secrets-", dir="/dev/shm"))
    try:
        for key, filename in postgres.PASSWORD_FILES.items():
            (directory / filename).write_text(values[key])
        for sql, password in (
            (postgres.password_sync_input(str(directory)), pg.password),
            (postgres.handover_input(), values["POSTGRES_PASSWORD"]),
        ):
            done = subprocess.run(
                [str(pg.bindir / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(pg.port),
                 "-U", "postgres", "-d", "postgres"],
                input=sql, capture_output=True, text=True, env={**os.environ, "PGPASSWORD": password}, timeout=60,
            )  # fmt: skip
            assert done.returncode == 0, done.stderr
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    pg.password = values["POSTGRES_PASSWORD"]


def apply_service(bao: OpenBao, artifacts: Artifacts, service: str) -> None:
    """What `pulumi up` does in Vault for one service: its policy, KV secret and AppRole."""
    client = bao.client()
    policy = f"finance_report-{artifacts.env}-{service}"
    client.sys.create_or_update_acl_policy(name=policy, policy=artifacts.policies()[policy])
    mount, data = artifacts.kv()[service]
    client.secrets.kv.v2.create_or_update_secret(
        path=f"finance_report/{artifacts.env}/{service}", secret=data, mount_point=mount
    )
    client.auth.approle.create_or_update_approle(role_name=policy, mount_point="approle", **artifacts.roles()[policy])


def write_kv(bao: OpenBao, artifacts: Artifacts, service: str, data: dict[str, str]) -> None:
    mount, _ = artifacts.kv()[service]
    bao.client().secrets.kv.v2.create_or_update_secret(
        path=f"finance_report/{artifacts.env}/{service}", secret=data, mount_point=mount
    )


# ------------------------------------------------------------------------------------------ the stage


@dataclass
class BackupStage:
    """One env's backup service on the harness: its Postgres (a server of its own on loopback), the S3
    server behind a proxy, the program's Vault side applied to OpenBao, its agent and its container."""

    docker: Docker
    openbao: OpenBao
    s3: S3Server
    agent_image: str
    image: str
    tag: str
    overrides: dict[str, Any] = field(default_factory=dict)
    state: dict[str, str] = field(default_factory=dict)
    heartbeat: Heartbeat | None = None

    def __post_init__(self) -> None:
        from tests.conftest import run_stack

        self.api = self.docker.api()
        self.proxy = TcpProxy(int(self.s3.url.rsplit(":", 1)[1]))
        secret_overrides = {"backupS3AccessKey": self.s3.access_key, "backupS3SecretKey": self.s3.secret_key}
        if self.heartbeat is not None:
            secret_overrides["backupHeartbeatUrl"] = self.heartbeat.url
        self.run = run_stack(
            "staging",
            {
                "vaultAddress": self.openbao.address,
                "backupS3Endpoint": self.proxy.url,
                "backupS3Bucket": self.s3.bucket,
                **self.overrides,
            },
            secret_overrides,
            state=self.state,
        )
        assert self.run.error is None, self.run.error
        self.artifacts = Artifacts(self.run)
        self.kv = dict(self.artifacts.kv()["backup"][1])
        self.inputs = self.artifacts.consumer("backup-container")
        self.envs = dict(e.split("=", 1) for e in self.inputs["envs"])
        self.pg = Postgres()
        self.pg.start()
        try:
            apply_roles(self.pg, self.artifacts)
            apply_service(self.openbao, self.artifacts, "backup")
            self.agent, self.secrets_volume, _ = start_agent(
                self.docker, self.agent_image, self.openbao, self.artifacts, "backup", self.tag
            )
        except BaseException:
            self.stop()  # a half-built stage leaves no server running
            raise
        self.scratch = self.docker.track("volume", f"frh-{self.tag}-scratch")
        self.docker.run("volume", "create", self.scratch)
        self.cid = ""

    # ---------------------------------------------------------------- Postgres of this env

    def sql(self, db: str, statement: Any, params: tuple = (), superuser: bool = False) -> list[tuple]:
        """As the app connects (its DATABASE_URL's role and password: what it creates, it owns, as after
        its migrations), or as the superuser for what only the superuser may do."""
        import psycopg
        from sqlalchemy.engine import make_url

        url = make_url(self.artifacts.kv()["app"][1]["DATABASE_URL"])
        user, password = ("postgres", self.pg.password) if superuser else (url.username, url.password)
        with psycopg.connect(
            host="127.0.0.1", port=self.pg.port, user=user, password=password, dbname=db, autocommit=True
        ) as conn:
            cursor = conn.execute(statement, params or None)
            return cursor.fetchall() if cursor.description else []

    # ---------------------------------------------------------------- the container

    def container_inputs(self, **env: str) -> dict[str, Any]:
        inputs = dict(self.inputs)
        envs = {**self.envs, "PGHOST": "127.0.0.1", "PGPORT": str(self.pg.port), **env}
        inputs["envs"] = [f"{k}={v}" for k, v in envs.items()]
        inputs["networksAdvanced"] = []
        inputs["networkMode"] = "host"
        mounts = []
        for mount in inputs["mounts"]:
            source = self.secrets_volume if mount["target"] == "/run/secrets/backup" else self.scratch
            mounts.append({**mount, "source": source})
        inputs["mounts"] = mounts
        return inputs

    def start(self, **env: str) -> str:
        inputs = self.container_inputs(**env)
        name = self.docker.track("container", f"frh-{self.tag}-{inputs['name']}")
        self.cid = provider.create(self.api, inputs, self.image, name=name)
        return self.cid

    def remove(self) -> None:
        if self.cid:
            provider.stop_for_delete(self.api, self.cid, self.inputs)
            self.docker.run("rm", "-f", self.cid, check=False)
            self.cid = ""

    def job(self, *args: str, timeout: float = 600) -> tuple[int, str, str]:
        """`fr-backup ARGS` in the container, as the operator commands run it (docker exec)."""
        proc = self.docker.run("exec", self.cid, job.SCRIPT_PATH, *args, check=False, timeout=timeout)
        return proc.returncode, proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace")

    def health(self) -> tuple[int, str]:
        """The program's health-check command, run in the container as Docker runs it."""
        test = self.inputs["healthcheck"]["tests"]
        assert test[0] == "CMD"
        proc = self.docker.run("exec", self.cid, *test[1:], check=False)
        return proc.returncode, proc.stdout.decode(errors="replace").strip()

    def wait_first_backup(self, seconds: float = 300) -> None:
        try:
            wait_until(lambda: self.health()[0] == 0, seconds, "the first backup", interval=1)
        except TimeoutError as err:
            logs = self.docker.run("logs", "--tail", "30", self.cid, check=False)
            raise AssertionError(f"{err}: {self.health()[1]}\n{logs.stderr.decode(errors='replace')}") from None

    def snapshots(self) -> list[dict[str, Any]]:
        code, out, err = self.job("list")
        assert code == 0, err
        return json.loads(out)

    def logs(self) -> str:
        return self.docker.run("logs", self.cid, check=False).stderr.decode(errors="replace")

    def stop(self) -> None:
        self.proxy.close()
        self.pg.stop()


# ------------------------------------------------------------------------------------------ synthetic snapshots


class ResticKeys:
    """restic's repository crypto (doc/design.rst: AES-256-CTR, Poly1305-AES MAC, scrypt key files) for a
    repository that `restic init` created: to write synthetic snapshot files straight into it (a history of
    more than 1,000 snapshots in seconds; restic itself then lists and decrypts them), and to re-seal its
    key with LOW_COST_KDF (low_cost_key_file)."""

    def __init__(self, key_file: bytes, password: str):
        data = json.loads(key_file)
        user = self.user_key(password, base64.b64decode(data["salt"]), data["N"], data["r"], data["p"])
        self.master_json = self.open(base64.b64decode(data["data"]), user)
        master = json.loads(self.master_json)
        self.key = (
            base64.b64decode(master["encrypt"]),
            base64.b64decode(master["mac"]["k"]),
            base64.b64decode(master["mac"]["r"]),
        )

    @staticmethod
    def user_key(password: str, salt: bytes, n: int, r: int, p: int) -> tuple[bytes, bytes, bytes]:
        """The key that opens a key file's master key: scrypt's 64 bytes as (AES key, MAC k, MAC r)."""
        derived = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=256 * 1024 * 1024, dklen=64)
        return derived[:32], derived[32:48], derived[48:64]

    @staticmethod
    def _mac(key: tuple[bytes, bytes, bytes], nonce: bytes, ciphertext: bytes) -> bytes:
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
        from cryptography.hazmat.primitives.poly1305 import Poly1305

        _, k, r = key
        s = Cipher(algorithms.AES(k), modes.ECB()).encryptor().update(nonce)
        return Poly1305.generate_tag(r + s, ciphertext)

    @classmethod
    def open(cls, blob: bytes, key: tuple[bytes, bytes, bytes]) -> bytes:
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

        nonce, ciphertext, mac = blob[:16], blob[16:-16], blob[-16:]
        if cls._mac(key, nonce, ciphertext) != mac:
            raise ValueError("MAC mismatch: wrong password")
        return Cipher(algorithms.AES(key[0]), modes.CTR(nonce)).decryptor().update(ciphertext)

    def seal(self, plaintext: bytes) -> bytes:
        return self.seal_with(self.key, plaintext)

    @classmethod
    def seal_with(cls, key: tuple[bytes, bytes, bytes], plaintext: bytes) -> bytes:
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

        nonce = os.urandom(16)
        ciphertext = Cipher(algorithms.AES(key[0]), modes.CTR(nonce)).encryptor().update(plaintext)
        return nonce + ciphertext + cls._mac(key, nonce, ciphertext)


# restic's own tests open the repositories they create with these scrypt parameters
# (internal/repository/testing.go, TestUseLowSecurityKDFParameters). `restic init` calibrates them to about
# half a second of CPU (crypto.Calibrate with repository.KDFTimeout, 500 ms), and every restic command pays
# that again to open the repository: in the backup tests, half of all the CPU the run used (restic: 145 of
# 281 CPU-seconds in test_backup_runs.py, process accounting).
LOW_COST_KDF = {"N": 128, "r": 1, "p": 1}


def low_cost_key_file(key_file: bytes, password: str) -> bytes:
    """The same key (master key, password, user, host, creation time) in a key file restic opens with
    LOW_COST_KDF."""
    data = json.loads(key_file)
    salt = os.urandom(64)  # restic's: crypto.NewSalt, 64 random bytes
    user = ResticKeys.user_key(password, salt, LOW_COST_KDF["N"], LOW_COST_KDF["r"], LOW_COST_KDF["p"])
    sealed = ResticKeys.seal_with(user, ResticKeys(key_file, password).master_json)
    data.update(LOW_COST_KDF, salt=base64.b64encode(salt).decode(), data=base64.b64encode(sealed).decode())
    return json.dumps(data).encode()


def use_low_cost_key(s3: S3Server, prefix: str, password: str) -> None:
    """Replace the repository's one key file with its LOW_COST_KDF copy, stored as restic stores a key
    file (named by the SHA-256 of its bytes). Only the harness's repositories, after the job created them:
    the job's own `restic init` is what the tests exercise."""
    client = s3.client()
    found = repository_keys(s3, prefix)
    assert len(found) == 1, f"{prefix}: expected the one key `restic init` made, found {found}"
    [old] = found
    new = low_cost_key_file(client.get_object(Bucket=s3.bucket, Key=old)["Body"].read(), password)
    client.put_object(Bucket=s3.bucket, Key=f"{prefix}/keys/{hashlib.sha256(new).hexdigest()}", Body=new)
    client.delete_object(Bucket=s3.bucket, Key=old)


def repository_keys(s3: S3Server, prefix: str) -> list[str]:
    """The key files of the repository under `prefix`: their object names."""
    listed = s3.client().list_objects_v2(Bucket=s3.bucket, Prefix=f"{prefix}/keys/")
    return [o["Key"] for o in listed.get("Contents", [])]


def repository_prefix(s3: S3Server, repository: str) -> str:
    """The object prefix of RESTIC_REPOSITORY `s3:<endpoint>/<bucket>/<prefix>`."""
    return repository.split(f"/{s3.bucket}/", 1)[1]


def write_snapshots(s3: S3Server, prefix: str, password: str, snapshots: list[dict[str, Any]]) -> None:
    """Store each snapshot document as restic does: encrypted, named by the SHA-256 of the stored bytes."""
    client = s3.client()
    crypto = ResticKeys(
        client.get_object(Bucket=s3.bucket, Key=repository_keys(s3, prefix)[0])["Body"].read(), password
    )
    for snapshot in snapshots:
        blob = crypto.seal(json.dumps(snapshot).encode())
        client.put_object(Bucket=s3.bucket, Key=f"{prefix}/snapshots/{hashlib.sha256(blob).hexdigest()}", Body=blob)
