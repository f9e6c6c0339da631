"""The read-only Docker API proxy on a real engine: the container the program declares (staging with
`previewDockerProxy: true`), created from its captured inputs on the harness's dockerd with the engine's
own socket bound in, answers every read the provider makes for the program's resources and refuses every
write with 403, leaving the engine unchanged.

The reads are facts.providers.READ_CALLS with each placeholder filled by every object of that kind the
program declares (its containers, images, networks and volumes, plus the Traefik network it looks up),
created on the engine first; each is sent with and without the API version prefix the engine reports.
"""

from __future__ import annotations

import grp
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from clients.docker_api import DockerAPI
from facts.providers import READ_CALLS
from ops.program_run import ProgramRun, unwrap_secrets
from program import docker_proxy as dp
from tests.conftest import run_stack
from tests.integration.harness import free_port, start_process, unavailable, wait_until
from tests.integration.preview_proxy import build_haproxy_image, host_path_map, start_proxy

pytestmark = pytest.mark.integration

CONTAINER = "docker:index/container:Container"


def free_gid(first: int = 24001) -> int:
    """The first group id from `first` on that no group has: a run killed before its cleanup leaves its
    group behind, and another run on the machine may hold one at this moment."""
    gid = first
    while True:
        try:
            grp.getgrgid(gid)
        except KeyError:
            return gid
        gid += 1


PREVIEW_GID = free_gid()


def request(sock: str, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
    """One raw HTTP/1.1 request over a Unix socket: the path goes out exactly as given."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(20)
        s.connect(sock)
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: docker\r\nConnection: close\r\nContent-Type: "
            f"application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        s.sendall(head.encode() + body)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    status_line, _, rest = data.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


def declared_objects(run: ProgramRun) -> dict[str, list[str]]:
    """Every object a preview of the program reads, by the API collection it lives in."""
    names = lambda type_: sorted(unwrap_secrets(r.inputs)["name"] for r in run.by_type(type_))  # noqa: E731
    return {
        "containers": names(CONTAINER),
        "images": names("docker:index/remoteImage:RemoteImage"),
        "networks": names("docker:index/network:Network") + [run.outputs["networks"]["traefik"]],
        "volumes": names("docker:index/volume:Volume"),
    }


def read_calls(objects: dict[str, list[str]]) -> list[tuple[str, str]]:
    calls = []
    for method, template in READ_CALLS:
        placeholder = re.search(r"\{\w+\}", template)
        if placeholder is None:
            calls.append((method, template))
            continue
        collection = template.split("/")[1]
        assert objects[collection], f"the program declares no {collection} to read for {template}"
        calls += [(method, template.replace(placeholder.group(0), name)) for name in objects[collection]]
    return calls


@pytest.fixture(scope="module")
def proxied(docker_engine):
    run = run_stack("staging", {"previewDockerProxy": "true", "previewDockerProxyGid": str(PREVIEW_GID)})
    assert run.error is None, run.error
    inputs = unwrap_secrets(run.one(CONTAINER, "preview-docker-proxy-container").inputs)
    image = unwrap_secrets(run.one("docker:index/remoteImage:RemoteImage", "preview-docker-proxy-image").inputs)["name"]
    standin = build_haproxy_image(docker_engine)
    objects = declared_objects(run)
    created: list[tuple[str, str]] = []
    workdir = Path(tempfile.mkdtemp(prefix="fr-preview-proxy-"))
    os.chmod(workdir, 0o755)
    try:
        # What the provider would find on a deployed host: every declared image, network, volume and container.
        for ref in objects["images"]:
            docker_engine.run("tag", standin, ref)
            created.append(("image", ref))
        for net in objects["networks"]:
            docker_engine.run("network", "create", net)
            created.append(("network", net))
        for vol in objects["volumes"]:
            docker_engine.run("volume", "create", vol)
            created.append(("volume", vol))
        for name in objects["containers"]:
            if name != inputs["name"]:
                docker_engine.run("create", "--name", name, "--network", "none", standin, "true")
                created.append(("container", name))
        paths = host_path_map(workdir, dp.host_socket_dir("staging"))
        name = start_proxy(docker_engine, image, inputs, paths)
        yield {
            "run": run,
            "inputs": inputs,
            "name": name,
            "socket": str(workdir / "docker.sock"),
            "objects": objects,
            "paths": paths,
            "image": image,
        }
    finally:
        # Removed here, not at session end: test_status lists staging's containers by label.
        docker_engine.run("rm", "-f", inputs["name"], check=False)
        for kind, name in reversed(created):
            {
                "image": lambda n: docker_engine.run("rmi", n, check=False),
                "network": lambda n: docker_engine.run("network", "rm", n, check=False),
                "volume": lambda n: docker_engine.run("volume", "rm", "-f", n, check=False),
                "container": lambda n: docker_engine.run("rm", "-f", n, check=False),
            }[kind](name)
        subprocess.run(["rm", "-rf", str(workdir)], check=False)


def test_every_read_the_provider_makes_for_the_program_succeeds_through_the_proxy(proxied):
    sock = proxied["socket"]
    status, body = request(sock, "GET", "/version")
    assert status == 200, body
    version = "/v" + json.loads(body)["ApiVersion"]
    calls = read_calls(proxied["objects"])
    assert len(calls) > len(READ_CALLS)
    failures = []
    for method, path in calls:
        for prefixed in (path, version + path):
            status, body = request(sock, method, prefixed)
            if status != 200:
                failures.append(f"{method} {prefixed}: {status} {body[:120]!r}")
    assert failures == []


WRITES = [
    ("POST", "/containers/create?name=frh-preview-created", {"Image": "fr-harness/haproxy:local"}),
    ("POST", "/containers/{container}/start", None),
    ("POST", "/containers/{container}/stop", None),
    ("POST", "/containers/{container}/kill", None),
    ("POST", "/containers/{container}/restart", None),
    ("DELETE", "/containers/{container}?force=1", None),
    ("POST", "/containers/{container}/exec", {"Cmd": ["id"]}),
    ("PUT", "/containers/{container}/archive?path=/tmp", None),
    ("POST", "/images/create?fromImage=busybox&tag=1", None),
    ("POST", "/build", None),
    ("DELETE", "/images/{image}", None),
    ("POST", "/volumes/create", {"Name": "frh-preview-volume"}),
    ("DELETE", "/volumes/{volume}", None),
    ("POST", "/networks/create", {"Name": "frh-preview-network"}),
    ("DELETE", "/networks/{network}", None),
    ("POST", "/networks/{network}/connect", {"Container": "{container}"}),
    # reads that are not the provider's: files, logs and images out of the host
    ("GET", "/containers/{container}/archive?path=/", None),
    ("GET", "/containers/{container}/export", None),
    ("GET", "/containers/{container}/logs?stdout=1", None),
    ("GET", "/images/{image}/get", None),
    ("GET", "/containers/%2e%2e/images/json", None),
]


def engine_objects(docker_engine) -> dict[str, list[str]]:
    listings = {
        "containers": ("ps", "-a", "--format", "{{.Names}} {{.State}}"),
        "volumes": ("volume", "ls", "-q"),
        "networks": ("network", "ls", "--format", "{{.Name}}"),
        "images": ("images", "--format", "{{.Repository}}:{{.Tag}}"),
    }
    return {what: sorted(docker_engine.run(*args).stdout.decode().splitlines()) for what, args in listings.items()}


def test_every_write_is_refused_with_403_and_changes_nothing(proxied, docker_engine):
    sock, proxy = proxied["socket"], proxied["name"]
    fill = {
        "container": proxy,
        "image": proxied["image"],
        "volume": proxied["objects"]["volumes"][0],
        "network": proxied["objects"]["networks"][0],
    }
    before = engine_objects(docker_engine)
    for version in ("", "/v1.41"):
        for method, template, body in WRITES:
            path = version + template.format(**fill)
            payload = json.dumps(body).replace("{container}", proxy).encode() if body else b""
            status, answer = request(sock, method, path, payload)
            assert status == 403, f"{method} {path}: {status} {answer[:200]!r}"
    after = engine_objects(docker_engine)
    assert after == before
    assert docker_engine.health(proxy) == "healthy"


def test_the_proxy_container_runs_with_the_programs_hardening_and_no_network(proxied, docker_engine):
    inputs, c = proxied["inputs"], docker_engine.inspect(proxied["name"])
    host = c["HostConfig"]
    assert host["NetworkMode"] == "none" and list(c["NetworkSettings"]["Networks"]) == ["none"]
    assert not host.get("PortBindings") and not c["NetworkSettings"].get("Ports")
    assert host["Privileged"] is False and host["CapDrop"] == ["ALL"] and not host.get("CapAdd")
    assert host["SecurityOpt"] == inputs["securityOpts"] == ["no-new-privileges:true"]
    assert host["Memory"] == int(inputs["memory"]) * 1024 * 1024 == host["MemorySwap"]
    assert host["RestartPolicy"]["Name"] == inputs["restart"]
    assert host["LogConfig"] == {"Type": inputs["logDriver"], "Config": inputs["logOpts"]}
    assert c["Config"]["User"] == inputs["user"] == f"0:{PREVIEW_GID}"
    assert c["Config"]["StopSignal"] == "SIGUSR1"  # the image's: HAProxy's soft stop
    assert {m["Destination"] for m in c["Mounts"]} == {dp.ENGINE_SOCKET, dp.LISTEN_DIR}
    status = docker_engine.run("exec", proxied["name"], "cat", "/proc/1/status").stdout.decode()
    caps = dict(re.findall(r"^(Cap\w+):\s+([0-9a-f]+)$", status, re.M))
    assert caps["CapEff"] == caps["CapPrm"] == caps["CapBnd"] == "0" * 16, caps
    assert re.search(r"^NoNewPrivs:\s+1$", status, re.M)


def test_only_the_preview_group_may_open_the_proxy_socket(proxied):
    sock = proxied["socket"]
    st = os.stat(sock)
    assert (st.st_uid, st.st_gid, oct(st.st_mode & 0o777)) == (0, PREVIEW_GID, "0o660")
    probe = (
        "import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(b'GET /_ping "
        "HTTP/1.0\\r\\n\\r\\n'); print(s.recv(100).split()[1].decode())"
    )

    def as_user(*ids: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [
                "setpriv",
                *ids,
                "--clear-groups",
                "--inh-caps=-all",
                "--bounding-set=-all",
                os.sys.executable,
                "-c",
                probe,
                sock,
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )

    member = as_user("--reuid=65534", f"--regid={PREVIEW_GID}")
    assert member.returncode == 0 and member.stdout.strip() == "200", member.stderr
    other = as_user("--reuid=65534", "--regid=65534")
    assert other.returncode != 0 and "PermissionError" in other.stderr


def test_stopped_as_the_provider_stops_it_and_created_again_it_serves_on_the_same_path(proxied, docker_engine):
    name, inputs = proxied["name"], proxied["inputs"]
    grace = int(inputs["destroyGraceSeconds"])
    docker_engine.run("stop", "-t", str(grace), name, timeout=grace + 20)
    assert docker_engine.inspect(name)["State"]["ExitCode"] == 0  # SIGUSR1: soft stop, not a kill
    docker_engine.run("rm", name)
    assert Path(proxied["socket"]).exists()  # a stale socket, as after a crash or reboot
    start_proxy(docker_engine, proxied["image"], inputs, proxied["paths"])
    wait_until(lambda: request(proxied["socket"], "GET", "/_ping")[0] == 200, 10, "proxy after re-create")
    assert request(proxied["socket"], "POST", "/containers/create", b"{}")[0] == 403


@pytest.fixture(scope="module")
def preview_sshd(proxied):
    """A loopback sshd with a preview user whose only key carries docs/ci-credentials.md's authorized_keys line for the
    proxy's socket, as the Dokploy host is set up. The user exists only for this module."""
    sshd, socat = shutil.which("sshd") or "/usr/sbin/sshd", shutil.which("socat")
    if not Path(sshd).exists() or socat is None or shutil.which("ssh-keygen") is None:
        unavailable(
            "preview sshd",
            "sshd, socat and ssh-keygen are needed (Debian packages openssh-server, socat, openssh-client)",
        )
    work = Path(tempfile.mkdtemp(prefix="fr-preview-sshd-"))  # sshd reads the keys as the user: not under a 0700 dir
    os.chmod(work, 0o755)
    user, group = "frpreview" + secrets.token_hex(3), "frpreviewg" + secrets.token_hex(3)
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "ci-preview-staging", "-f", str(work / "client")],
        check=True,
    )
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(work / "host")], check=True)
    (work / "keys").mkdir()
    port = free_port()
    process = None
    try:
        subprocess.run(["groupadd", "--gid", str(PREVIEW_GID), group], check=True, capture_output=True)
        subprocess.run(
            ["useradd", "--gid", group, "--no-create-home", "--home-dir", "/nonexistent", "--shell", "/bin/sh", user],
            check=True,
            capture_output=True,
        )
        # No password, but not locked ("!"): sshd refuses a locked account even with a valid key.
        subprocess.run(["usermod", "-p", "*", user], check=True, capture_output=True)
        line = dp.authorized_keys_line((work / "client.pub").read_text(), proxied["socket"])
        (work / "keys" / user).write_text(line + "\n")
        config = work / "sshd_config"
        config.write_text(
            f"ListenAddress 127.0.0.1\nPort {port}\nHostKey {work / 'host'}\nPidFile {work / 'sshd.pid'}\n"
            f"AuthorizedKeysFile {work / 'keys'}/%u\nAllowUsers {user}\nPasswordAuthentication "
            "no\nKbdInteractiveAuthentication no\n"
            "UsePAM no\nStrictModes no\nPermitRootLogin no\n"  # StrictModes: the keys live under /tmp for the test
        )
        Path("/run/sshd").mkdir(exist_ok=True)  # privilege separation directory
        process = start_process("preview-sshd", [sshd, "-D", "-e", "-f", str(config)])
        wait_until(lambda: socket.create_connection(("127.0.0.1", port), timeout=1).close() is None, 20, "preview sshd")
        known = work / "known_hosts"
        known.write_text(
            f"[127.0.0.1]:{port} "
            + (work / "host.pub").read_text().split(" ", 2)[0]
            + " "
            + (work / "host.pub").read_text().split(" ", 2)[1]
            + "\n"
        )
        opts = [
            "-i",
            str(work / "client"),
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "BatchMode=yes",
            "-o",
            f"UserKnownHostsFile={known}",
            "-o",
            "StrictHostKeyChecking=yes",
        ]
        yield {"host": f"ssh://{user}@127.0.0.1:{port}", "opts": opts, "process": process}
    finally:
        if process:
            process.stop()
        subprocess.run(["userdel", user], capture_output=True)
        subprocess.run(["groupdel", group], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


def test_the_preview_key_reaches_the_proxy_over_ssh_as_the_provider_connects(preview_sshd):
    api = DockerAPI(preview_sshd["host"], preview_sshd["opts"])  # ssh ... -- host docker system dial-stdio
    assert api.request("GET", "/_ping").status == 200
    assert api.get("/version")["ApiVersion"]
    assert api.request("POST", "/containers/create", body={"Image": "fr-harness/haproxy:local"}).status == 403
    assert api.request("POST", "/v1.41/volumes/create", body={"Name": "frh-preview-ssh"}).status == 403


def test_the_preview_key_can_run_no_command_and_forward_nothing(preview_sshd):
    parts = urlsplit(preview_sshd["host"])
    base = ["ssh", *preview_sshd["opts"], "-p", str(parts.port), "-l", parts.username]
    # Whatever command is asked for, the session is the pipe into the proxy: `id` is just bytes HAProxy refuses.
    shell = subprocess.run([*base, "--", "127.0.0.1", "id"], input=b"id\n", capture_output=True, timeout=30)
    assert b"uid=" not in shell.stdout and b"400 Bad request" in shell.stdout, shell.stdout[:200]
    forward = subprocess.run(
        [*base, "-W", f"127.0.0.1:{parts.port}", "--", "127.0.0.1"], input=b"", capture_output=True, timeout=30
    )
    assert forward.returncode != 0 and b"prohibited" in forward.stderr, forward.stderr


def test_the_preview_group_id_passes_over_a_group_a_killed_run_left_behind():
    """fresh CI clones on a reused machine failed all 7 tests here: groupadd found the fixed gid taken by
    the group of a run killed before its cleanup."""
    if os.geteuid() != 0:
        unavailable("groupadd", "adding a group needs root, as the preview sshd fixture does")
    left = free_gid(PREVIEW_GID + 100)
    name = "frpreviewgleft" + secrets.token_hex(3)
    subprocess.run(["groupadd", "--gid", str(left), name], check=True, capture_output=True)
    try:
        assert grp.getgrgid(left).gr_name == name
        assert free_gid(left) > left
    finally:
        subprocess.run(["groupdel", name], check=True, capture_output=True)
