"""The preview proxy on the harness engine, the way `pulumi up` would run it: a stand-in for the official
haproxy image, and the container created from the program's captured inputs.

No registry is reachable, so the image is Debian's haproxy binary with its shared libraries (ldd), a
static busybox for /bin/sh and `test`, and what the program relies on from the official image
(docker-library/haproxy 3.2/alpine): the entrypoint that turns `haproxy ...` into `haproxy -W -db ...`,
USER haproxy (uid 99), WORKDIR /var/lib/haproxy, STOPSIGNAL SIGUSR1, CMD reading
/usr/local/etc/haproxy/haproxy.cfg. Debian's binary is HAProxy 2.6, the pinned image 3.2: the generated
config uses only directives both accept.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import Any

from tests.integration.harness import DOCKER_SOCK, Docker, unavailable, wait_until

STANDIN = "fr-harness/haproxy:local"
HOST_DOCKER_SOCKET = "/var/run/docker.sock"
ENTRYPOINT = """#!/bin/sh
# Stand-in for the official image's docker-entrypoint.sh: an option or `haproxy` as first word runs
# `haproxy -W -db ...` (master-worker, in the foreground).
set -e
case "$1" in -*) set -- haproxy "$@" ;; esac
if [ "$1" = haproxy ]; then
  shift
  set -- haproxy -W -db "$@"
fi
exec "$@"
"""


def _libraries(binary: str) -> list[str]:
    out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    paths = re.findall(r"(?:=>\s*)?(/\S+)\s+\(0x", out)
    return sorted(set(paths))


def build_haproxy_image(docker: Docker) -> str:
    if docker.run("image", "inspect", STANDIN, check=False).returncode == 0:
        return STANDIN
    haproxy, busybox = shutil.which("haproxy"), shutil.which("busybox")
    if haproxy is None:
        unavailable("preview proxy image", "haproxy is not installed (Debian package haproxy)")
    if (
        busybox is None
        or "statically linked" not in subprocess.run(["file", "-L", busybox], capture_output=True, text=True).stdout
    ):
        unavailable("preview proxy image", "a static busybox is needed (Debian package busybox-static)")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", dereference=True) as tar:

        def add_dir(path: str, mode: int = 0o755, uid: int = 0) -> None:
            info = tarfile.TarInfo(path)
            info.type, info.mode, info.uid, info.gid = tarfile.DIRTYPE, mode, uid, uid
            tar.addfile(info)

        def add_file(path: str, data: bytes, mode: int = 0o644) -> None:
            info = tarfile.TarInfo(path)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))

        for d in (
            "bin",
            "tmp",
            "etc",
            "run",
            "proc",
            "sys",
            "dev",
            "usr",
            "usr/local",
            "usr/local/sbin",
            "usr/local/bin",
            "usr/local/etc",
            "usr/local/etc/haproxy",
            "var",
            "var/lib",
            "var/run",
        ):
            add_dir(d, 0o1777 if d == "tmp" else 0o755)
        add_dir("var/lib/haproxy", 0o755, uid=99)
        tar.add(haproxy, "usr/local/sbin/haproxy")
        for lib in _libraries(haproxy):
            tar.add(lib, lib.lstrip("/"), recursive=False)  # dereferenced: the loader finds a file at each ldd path
        tar.add(busybox, "bin/busybox")
        for applet in ("sh", "test", "cat", "ls", "grep", "sleep", "id"):
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type, link.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(link)
        add_file("usr/local/bin/docker-entrypoint.sh", ENTRYPOINT.encode(), 0o755)
        add_file(
            "etc/passwd", b"root:x:0:0:root:/root:/bin/sh\nhaproxy:x:99:99:haproxy:/var/lib/haproxy:/sbin/nologin\n"
        )
        add_file("etc/group", b"root:x:0:\nhaproxy:x:99:\n")
    changes = [
        "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        'ENTRYPOINT ["docker-entrypoint.sh"]',
        'CMD ["haproxy", "-f", "/usr/local/etc/haproxy/haproxy.cfg"]',
        "USER haproxy",
        "WORKDIR /var/lib/haproxy",
    ]
    args = [arg for change in changes for arg in ("--change", change)]
    base = f"{STANDIN}-base"
    docker.run("import", *args, "-", base, input=buffer.getvalue(), timeout=300)
    # `import --change` does not take STOPSIGNAL; the classic builder adds it on top of the local base
    # without asking any registry.
    build = subprocess.run(
        ["docker", "-H", f"unix://{docker.paths.sock}", "build", "-q", "-t", STANDIN, "-"],
        input=f"FROM {base}\nSTOPSIGNAL SIGUSR1\n".encode(),
        capture_output=True,
        timeout=300,
        env={**os.environ, "DOCKER_BUILDKIT": "0"},
    )
    if build.returncode != 0:
        raise RuntimeError(f"docker build of {STANDIN} failed: {build.stderr.decode(errors='replace').strip()}")
    return STANDIN


def host_path_map(socket_dir: Path, declared_dir: str) -> dict[str, str]:
    """The two host paths the program declares, as they exist on this machine: the harness engine's own
    socket instead of /var/run/docker.sock, a private directory instead of /run/<proxy name>."""
    return {HOST_DOCKER_SOCKET: DOCKER_SOCK, declared_dir: str(socket_dir)}


def start_proxy(docker: Docker, image: str, inputs: dict[str, Any], paths: dict[str, str]) -> str:
    """Create, upload into and start the proxy container exactly as declared (name, image, user, command,
    network, binds, labels, health check, limits, capabilities, restart, logs, stop), then wait healthy."""
    name = docker.track("container", inputs["name"])
    health = inputs["healthcheck"]
    binds = [f"{paths[v['hostPath']]}:{v['containerPath']}" for v in inputs["volumes"]]
    caps = inputs["capabilities"]
    args = [
        "create",
        "--name",
        name,
        "--user",
        inputs["user"],
        "--network",
        inputs["networkMode"],
        *[a for b in binds for a in ("--volume", b)],
        *[a for item in inputs["labels"] for a in ("--label", f"{item['label']}={item['value']}")],
        "--health-cmd",
        health["tests"][1],
        "--health-interval",
        "1s",
        "--health-retries",
        str(int(health["retries"])),
        "--health-start-period",
        "0s",
        "--memory",
        f"{int(inputs['memory'])}m",
        "--memory-swap",
        f"{int(inputs['memorySwap'])}m",
        *[a for c in caps["drops"] for a in ("--cap-drop", c)],
        *[a for c in caps.get("adds") or [] for a in ("--cap-add", c)],
        *[a for o in inputs["securityOpts"] for a in ("--security-opt", o)],
        "--restart",
        inputs["restart"],
        "--log-driver",
        inputs["logDriver"],
        *[a for k, v in inputs["logOpts"].items() for a in ("--log-opt", f"{k}={v}")],
        "--stop-timeout",
        str(int(inputs["stopTimeout"])),
        image,
        *inputs["command"],
    ]
    docker.run(*args)
    docker.copy_in(name, {u["file"]: u["content"] for u in inputs["uploads"]})
    docker.run("start", name)
    try:
        wait_until(lambda: docker.health(name) == "healthy", 30, "preview proxy")
    except TimeoutError:
        logs = docker.run("logs", name, check=False)
        raise AssertionError(
            f"preview proxy not healthy: {(logs.stdout + logs.stderr).decode(errors='replace')[-2000:]}"
        ) from None
    return name
