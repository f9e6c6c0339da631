"""A Docker Swarm of this harness's own: one dockerd per node, each in a network and UTS namespace of its own
(docs/design/swarm.md section 9), an OpenBao its tasks reach over TLS, and the images they run.

Topology (FR_HARNESS_ID `swarm`: the manager is `swarm-mgr`, the worker FR_HARNESS_ID2, default `swarm2`):

    host netns                         netns frs-<id>-mgr (manager)               netns frs-<id2> (worker)
    OpenBao 127.0.0.1:<tls port> <-- socat <-unix-> socat 10.<o>.250.1:8200     10.<o>.250.2 (veth)
    pytest --unix--> dockerd sockets   bridge frsbr0 10.<o>.250.1/24 <---veth--->  dockerd, joined as worker

- `ip netns exec` hides the cgroup mount from dockerd ("Devices cgroup isn't mounted"), so each daemon
  starts under `nsenter --net` (and `unshare --uts`: each node has a hostname of its own, which placement
  constraints name). A bridge device carries the address (the `dummy` link type is missing here).
- Nothing leaves namespaces this harness made: the tasks reach OpenBao through a socat pair that ends on
  loopback in the host namespace, and pytest reaches the daemons and the routing proxy through unix sockets.
- The kernel here has VXLAN (overlay networks work) but no IPVS: a service's virtual IP does not answer.
  Tests reach tasks by their addresses (the routing stand-in, `dnsrr` datastores), as Traefik does.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from clients.docker_api import DockerAPI
from tests.integration.harness import (
    WORK,
    EnginePaths,
    Process,
    bao_binary,
    free_port,
    start_process,
    unavailable,
    wait_until,
)

_ID = os.environ.get("FR_HARNESS_ID", "") or "swarm"
SECOND_ID = os.environ.get("FR_HARNESS_ID2", "") or f"{_ID}2"
OCTET = 60 + sum(map(ord, _ID)) % 60  # the link 10.<o>.250.0/24 exists only inside this harness's namespaces
LINK = f"10.{OCTET}.250"
VAULT_PORT = 8200
DATA_PATH_PORT = 47891


def run(argv: list[str], check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:6])} failed: {done.stderr.strip() or done.stdout.strip()}")
    return done


@dataclass
class Node:
    """One dockerd in its own network and UTS namespaces."""

    ident: str
    address: str
    process: Process | None = None

    @property
    def paths(self) -> EnginePaths:
        return EnginePaths(self.ident)

    @property
    def netns(self) -> str:
        return f"frs-{self.ident}"

    @property
    def hostname(self) -> str:
        return f"frs-{self.ident}"

    @property
    def host(self) -> str:
        return f"unix://{self.paths.sock}"

    def api(self) -> DockerAPI:
        return DockerAPI(self.host, timeout=120)

    def docker(self, *args: str, check: bool = True, input: bytes | None = None, timeout: float = 180):
        done = subprocess.run(["docker", "-H", self.host, *args], capture_output=True, input=input, timeout=timeout)
        if check and done.returncode != 0:
            raise RuntimeError(f"docker {' '.join(args[:3])} on {self.ident}: {done.stderr.decode().strip()}")
        return done

    def in_netns(self, argv: list[str]) -> list[str]:
        return ["nsenter", f"--net=/var/run/netns/{self.netns}", *argv]

    def start(self) -> None:
        paths = self.paths
        # A node starts as a fresh swarm member each session; its images (data root) are kept.
        shutil.rmtree(paths.root / "swarm", ignore_errors=True)
        argv = self.in_netns(
            [
                "unshare",
                "--uts",
                "sh",
                "-c",
                'hostname "$0" && exec "$@"',
                self.hostname,
                "dockerd",
                "--host",
                self.host,
                "--data-root",
                str(paths.root),
                "--exec-root",
                str(paths.exec_root),
                "--pidfile",
                paths.pidfile,
                "--bridge",
                "none",
            ]
        )
        self.process = start_process(f"dockerd-{self.ident}", argv)
        try:
            wait_until(
                lambda: self.docker("info", check=False, timeout=10).returncode == 0, 60, f"dockerd {self.ident}"
            )
        except TimeoutError as err:
            unavailable("Swarm node", f"{err}; log: {self.process.tail()}")

    def stop(self) -> None:
        self.docker("swarm", "leave", "--force", check=False, timeout=60)
        if self.process:
            self.process.stop()


@dataclass
class Swarm:
    """The manager (and later a worker) of this harness's swarm, and the link between their namespaces."""

    # Not the plain harness id: tests/integration/harness.py's engine of the same session already has it.
    manager: Node = field(default_factory=lambda: Node(f"{_ID}-mgr", f"{LINK}.1"))
    worker: Node | None = None
    vault_relay: list[Process] = field(default_factory=list)

    def start(self) -> None:
        if shutil.which("dockerd") is None or shutil.which("nsenter") is None or os.geteuid() != 0:
            unavailable("Swarm", "dockerd, nsenter and root are needed")
        self._netns(self.manager.netns)
        for argv in (
            ["ip", "-n", self.manager.netns, "link", "add", "frsbr0", "type", "bridge"],
            ["ip", "-n", self.manager.netns, "addr", "add", f"{self.manager.address}/24", "dev", "frsbr0"],
            ["ip", "-n", self.manager.netns, "link", "set", "frsbr0", "up"],
        ):
            run(argv)
        self.manager.start()
        done = self.manager.docker(
            "swarm",
            "init",
            "--advertise-addr",
            self.manager.address,
            "--listen-addr",
            f"{self.manager.address}:2377",
            "--data-path-port",
            str(DATA_PATH_PORT),
            "--default-addr-pool",
            f"10.{OCTET + 1}.0.0/16",
            check=False,
        )
        if done.returncode != 0:
            unavailable("Swarm", f"docker swarm init: {done.stderr.decode().strip()}")

    @staticmethod
    def _netns(name: str) -> None:
        run(["ip", "netns", "del", name], check=False)
        run(["ip", "netns", "add", name])
        run(["ip", "-n", name, "link", "set", "lo", "up"])

    def add_worker(self) -> Node:
        """A second dockerd in its own namespace, linked by a veth pair to the manager's bridge, joined as a
        worker. Raises RuntimeError with the daemon's own words when the join fails."""
        worker = Node(SECOND_ID, f"{LINK}.2")
        self._netns(worker.netns)
        run(
            [
                "ip",
                "-n",
                self.manager.netns,
                "link",
                "add",
                "frsv0",
                "type",
                "veth",
                "peer",
                "name",
                "eth0",
                "netns",
                worker.netns,
            ]
        )
        run(["ip", "-n", self.manager.netns, "link", "set", "frsv0", "master", "frsbr0", "up"])
        run(["ip", "-n", worker.netns, "addr", "add", f"{worker.address}/24", "dev", "eth0"])
        run(["ip", "-n", worker.netns, "link", "set", "eth0", "up"])
        worker.start()
        self.worker = worker
        token = self.manager.docker("swarm", "join-token", "-q", "worker").stdout.decode().strip()
        worker.docker(
            "swarm",
            "join",
            "--token",
            token,
            "--advertise-addr",
            worker.address,
            f"{self.manager.address}:2377",
            timeout=120,
        )
        wait_until(lambda: len(self.ready_nodes()) == 2, 60, "the worker to be ready")
        return worker

    def ready_nodes(self) -> list[dict]:
        return [n for n in self.manager.api().get("/nodes") if (n.get("Status") or {}).get("State") == "ready"]

    def node_id(self, node: Node) -> str:
        (found,) = [n["ID"] for n in self.manager.api().get("/nodes") if n["Description"]["Hostname"] == node.hostname]
        return found

    def relay_vault(self, tls_port: int) -> str:
        """socat pair: <link>.1:8200 in the manager's namespace -> a unix socket -> 127.0.0.1:<tls_port> in the
        host's. Returns the address tasks use (https://<link>.1:8200)."""
        sock = WORK / f"frs-{_ID}-vault.sock"
        sock.unlink(missing_ok=True)
        WORK.mkdir(parents=True, exist_ok=True)
        self.vault_relay.append(
            start_process(
                f"socat-vault-host-{_ID}",
                ["socat", f"UNIX-LISTEN:{sock},fork,mode=600", f"TCP:127.0.0.1:{tls_port}"],
            )
        )
        wait_until(sock.exists, 10, "the vault relay socket")
        self.vault_relay.append(
            start_process(
                f"socat-vault-netns-{_ID}",
                self.manager.in_netns(
                    [
                        "socat",
                        f"TCP-LISTEN:{VAULT_PORT},bind={self.manager.address},fork,reuseaddr",
                        f"UNIX-CONNECT:{sock}",
                    ]
                ),
            )
        )
        return f"https://{self.manager.address}:{VAULT_PORT}"

    def stop(self) -> None:
        for process in self.vault_relay:
            process.stop()
        for node in (self.worker, self.manager):
            if node is not None:
                node.stop()
                run(["ip", "netns", "del", node.netns], check=False)


# ------------------------------------------------------------------------------------------ OpenBao over TLS


@dataclass
class TlsOpenBao:
    """An OpenBao dev server for the swarm's tasks: plain http on loopback for the tests, and a TLS listener
    whose certificate (from a CA of the harness's own) names the address tasks use, so the agents verify
    Vault with the program's vaultCaCert exactly as on a host with a private CA."""

    san: str
    address: str = ""
    tls_port: int = 0
    root_token: str = ""
    ca_pem: str = ""
    process: Process | None = None
    _dir: Path | None = None

    def start(self) -> None:
        binary = bao_binary()
        self._dir = Path(tempfile.mkdtemp(prefix="frs-bao-"))
        d = self._dir
        run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=frs-test-ca",
                "-keyout",
                str(d / "ca.key"),
                "-out",
                str(d / "ca.pem"),
            ]
        )
        run(
            [
                "openssl",
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-subj",
                "/CN=frs-vault",
                "-keyout",
                str(d / "tls.key"),
                "-out",
                str(d / "tls.csr"),
            ]
        )
        (d / "san.ext").write_text(f"subjectAltName = IP:{self.san}, IP:127.0.0.1\n")
        run(
            [
                "openssl",
                "x509",
                "-req",
                "-in",
                str(d / "tls.csr"),
                "-CA",
                str(d / "ca.pem"),
                "-CAkey",
                str(d / "ca.key"),
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                str(d / "san.ext"),
                "-out",
                str(d / "tls.pem"),
            ]
        )
        self.ca_pem = (d / "ca.pem").read_text()
        port, self.tls_port = free_port(), free_port()
        (d / "extra.hcl").write_text(
            f'listener "tcp" {{\n  address = "127.0.0.1:{self.tls_port}"\n  tls_cert_file = "{d}/tls.pem"\n'
            f'  tls_key_file = "{d}/tls.key"\n}}\n'
        )
        self.root_token = "root-" + secrets.token_hex(12)
        self.address = f"http://127.0.0.1:{port}"
        self.process = start_process(
            f"openbao-swarm-{_ID}",
            [
                binary,
                "server",
                "-dev",
                f"-dev-root-token-id={self.root_token}",
                f"-dev-listen-address=127.0.0.1:{port}",
                f"-config={d / 'extra.hcl'}",
            ],
        )
        try:
            wait_until(lambda: self.client().sys.is_initialized(), 60, "OpenBao")
        except TimeoutError as err:
            unavailable("OpenBao (swarm)", f"{err}; log: {self.process.tail()}")
        client = self.client()
        if "approle/" not in client.sys.list_auth_methods():
            client.sys.enable_auth_method("approle")

    def client(self, token: str | None = None):
        import hvac

        return hvac.Client(url=self.address, token=token or self.root_token, timeout=10)

    def stop(self) -> None:
        if self.process:
            self.process.stop()
        if self._dir:
            shutil.rmtree(self._dir, ignore_errors=True)


# ------------------------------------------------------------------------------------------ images


def copy_images(source: Node, target: Node, images: list[str]) -> None:
    """No registry: every node gets the images from the manager (`docker save | docker load`)."""
    saved = source.docker("save", *images, timeout=600).stdout
    target.docker("load", input=saved, timeout=600)


def wait_for(check, timeout: float, what: str, interval: float = 1.0):
    """Poll `check` until it returns a truthy value; return it."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except Exception as err:  # a daemon busy with an update answers late
            last = err
        time.sleep(interval)
    raise TimeoutError(f"{what} not reached after {timeout:.0f}s (last: {json.dumps(last, default=str)[:300]})")
