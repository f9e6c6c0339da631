"""The routing stand-in for Traefik's swarm provider, and a bounded request loop through it.

Traefik cannot be built here, so this reproduces what the tests rely on from its swarm provider
(traefik/traefik fd5a576, pkg/provider/docker/pswarm.go): every `refreshSeconds` (default 15 s, :41, :101)
it lists the services with `traefik.enable=true`, and for each the tasks with desired state `running` whose
state is `running` (:265-289), routing to each task's address on the network `traefik.swarm.network`
names (:292-340) at the port `traefik.http.services.<name>.loadbalancer.server.port` gives. Here a
poller in the test process does exactly that selection against the manager's API and hands the list to an
HAProxy (the Debian binary in the stand-in image of tests/integration/preview_proxy.py) through its
runtime API; HAProxy runs in a container on the attachable overlay, as Dokploy's Traefik does, and
listens on a unix socket bind-mounted from this harness's work directory.

What it cannot show compared to Traefik: its rule matching, TLS and middlewares (the strip-prefix and retry
labels are not interpreted: requests go straight to the backend's tasks and a failed request is not
retried, so the zero-failure figures hold without Traefik's retry), Traefik's own handling of a server
removed mid-connection, and its poll timing against Docker events. HAProxy keeps in-flight requests of a
server set to maintenance, as Traefik keeps its open connections.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from clients.docker_api import DockerAPI
from tests.integration.harness import WORK, Docker
from tests.integration.preview_proxy import build_haproxy_image

SLOTS = 8
CONFIG = """global
  stats socket /sock/admin.sock mode 600 level admin
defaults
  mode http
  timeout connect 2s
  timeout client 30s
  timeout server 30s
frontend fe
  bind unix@/sock/proxy.sock mode 666
  default_backend be
backend be
  balance roundrobin
  server-template t 1-{slots} 127.0.0.1:1 disabled
"""


def routed_servers(api: DockerAPI) -> list[tuple[str, str, int]]:
    """(service, task address, port) of every task Traefik's swarm provider would route to."""
    servers = []
    networks = {n["Id"]: n["Name"] for n in api.get("/networks")}
    for service in api.get("/services", filters=json.dumps({"label": ["traefik.enable=true"]})):
        labels = service["Spec"].get("Labels") or {}
        network = labels.get("traefik.swarm.network")
        ports = [v for k, v in labels.items() if k.startswith("traefik.http.services.") and k.endswith(".server.port")]
        if not network or not ports:
            continue
        tasks = api.get("/tasks", filters=json.dumps({"service": [service["ID"]], "desired-state": ["running"]}))
        for task in tasks:
            if (task.get("Status") or {}).get("State") != "running":
                continue
            for attachment in task.get("NetworksAttachments") or []:
                if networks.get(attachment["Network"]["ID"]) == network and attachment.get("Addresses"):
                    servers.append((service["Spec"]["Name"], attachment["Addresses"][0].split("/")[0], int(ports[0])))
    return sorted(servers)


@dataclass
class RoutingProxy:
    """HAProxy on the Traefik network, fed by a pswarm-like poller every `refresh` seconds."""

    docker: Docker
    api: DockerAPI
    network: str
    refresh: float = 2.0
    ident: str = "swarm"
    directory: Path = field(init=False)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    assigned: dict[str, str] = field(default_factory=dict)  # "addr:port" -> server slot
    polls: int = 0

    def start(self) -> None:
        image = build_haproxy_image(self.docker)
        self.directory = WORK / f"frs-{self.ident}-proxy"
        self.directory.mkdir(parents=True, exist_ok=True)
        for stale in self.directory.glob("*.sock"):
            stale.unlink()
        (self.directory / "haproxy.cfg").write_text(CONFIG.format(slots=SLOTS))
        self.docker.run("rm", "-f", f"frs-{self.ident}-proxy", check=False)
        self.docker.run(
            "run",
            "-d",
            "--name",
            f"frs-{self.ident}-proxy",
            "--user",
            "0",
            "--network",
            self.network,
            "-v",
            f"{self.directory}:/sock",
            image,
            "haproxy",
            "-f",
            "/sock/haproxy.cfg",
        )
        deadline = time.monotonic() + 30
        while not (self.directory / "admin.sock").exists():
            if time.monotonic() > deadline:
                raise TimeoutError(self.docker.run("logs", f"frs-{self.ident}-proxy", check=False).stderr.decode())
            time.sleep(0.2)
        self.sync()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def admin(self, command: str) -> str:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.connect(str(self.directory / "admin.sock"))
            s.sendall(command.encode() + b"\n")
            return s.makefile().read()

    def sync(self) -> None:
        wanted = {f"{addr}:{port}" for _, addr, port in routed_servers(self.api)}
        for target, slot in list(self.assigned.items()):
            if target not in wanted:
                self.admin(f"set server be/{slot} state maint")
                del self.assigned[target]
        free = [f"t{i}" for i in range(1, SLOTS + 1) if f"t{i}" not in self.assigned.values()]
        for target in sorted(wanted - set(self.assigned)):
            slot = free.pop(0)
            addr, port = target.split(":")
            self.admin(f"set server be/{slot} addr {addr} port {port}")
            self.admin(f"set server be/{slot} state ready")
            self.assigned[target] = slot
        self.polls += 1

    def _poll(self) -> None:
        while not self._stop.wait(self.refresh):
            try:
                self.sync()
            except Exception:  # a daemon busy with an update answers late: next poll
                continue

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)
        self.docker.run("rm", "-f", f"frs-{self.ident}-proxy", check=False)

    def get(self, path: str, timeout: float = 5) -> tuple[int, str]:
        conn = http.client.HTTPConnection("proxy", timeout=timeout)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        sock.connect(str(self.directory / "proxy.sock"))
        conn.sock = sock
        try:
            conn.request("GET", path, headers={"Host": "report-staging.zitian.party", "Connection": "close"})
            response = conn.getresponse()
            return response.status, response.read().decode(errors="replace").strip()
        finally:
            conn.close()


@dataclass
class RequestLoop:
    """Requests one after another through the proxy until stopped (or `limit` seconds): every answer counted."""

    proxy: RoutingProxy
    path: str = "/version"
    limit: float = 900
    interval: float = 0.05
    ok: int = 0
    failed: list[str] = field(default_factory=list)
    bodies: Counter = field(default_factory=Counter)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> RequestLoop:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        end = time.monotonic() + self.limit
        while not self._stop.is_set() and time.monotonic() < end:
            try:
                status, body = self.proxy.get(self.path)
            except OSError as err:
                self.failed.append(f"{type(err).__name__}: {err}")
            else:
                if status == 200:
                    self.ok += 1
                    self.bodies[body.split()[0] if body else ""] += 1
                else:
                    self.failed.append(f"HTTP {status}: {body[:80]}")
            time.sleep(self.interval)

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=30)
