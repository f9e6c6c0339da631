"""Stand-in images for the official `postgres:16.x-alpine` and `redis:7.4.x-alpine` (no registry is
reachable here), built from Debian's server binaries with the official images' contract the program
relies on (facts from the docker-library Dockerfiles and entrypoints of the pinned versions, copied in
/work/shared/reference/images; docs/testing.md "The real-systems harness" lists them):

| contract | postgres:16-alpine | redis:7.4-alpine |
|---|---|---|
| service user and group | postgres 70:70 | redis 999, group redis 1000 |
| data directory | PGDATA /var/lib/postgresql/data (1777, postgres), VOLUME | /data (redis), VOLUME, WORKDIR /data |
| STOPSIGNAL | SIGINT (fast shutdown) | SIGTERM (Docker's default) |
| entrypoint as root | `find "$PGDATA" \\! -user postgres -exec chown postgres {} +`, chmod 700, then re-exec itself through gosu as postgres | under `set -e`: `find . \\! -user redis -exec chown redis {} +`, then gosu to redis |
| sample config | `listen_addresses = '*'` | — |
| entrypoint as the service user | initdb only on an empty PGDATA (password from POSTGRES_PASSWORD(_FILE), `host all all all scram-sha-256` appended, POSTGRES_DB created), then exec | umask 0077 when it is 0022, then exec (Redis creates appendonlydir 0700) |

The entrypoints below are this project's own scripts reproducing those steps (busybox sh, as alpine's is);
gosu is stood in by util-linux `setpriv`, which execs like gosu does. Differences that remain: Debian's
PostgreSQL is 15 (the app runs 16) and Redis 7.0, glibc instead of musl.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import tarfile
from collections.abc import Iterable
from pathlib import Path

from clients.docker_api import DockerAPI

POSTGRES_IMAGE = "fr-harness/postgres:16-alpine-standin"
REDIS_IMAGE = "fr-harness/redis:7.4-alpine-standin"
APP_IMAGE = "fr-harness/app:standin"

PASSWD = "root:x:0:0:root:/root:/bin/sh\npostgres:x:70:70:PostgreSQL:/var/lib/postgresql:/bin/sh\nredis:x:999:1000:Redis:/data:/sbin/nologin\nnobody:x:65534:65534::/:/sbin/nologin\n"
GROUP = "root:x:0:\npostgres:x:70:\nredis:x:1000:redis\nnogroup:x:65534:\n"

GOSU = """#!/bin/sh
# gosu stand-in: exec the command as the user, with its groups, in this process (like gosu, unlike su).
user="$1"; shift
exec setpriv --reuid="$user" --regid="$user" --init-groups -- "$@"
"""

POSTGRES_ENTRYPOINT = r"""#!/bin/sh
set -e
if [ "${1#-}" != "$1" ]; then set -- postgres "$@"; fi
if [ "$1" = postgres ]; then
  if [ -n "${POSTGRES_PASSWORD_FILE:-}" ]; then
    POSTGRES_PASSWORD="$(cat "$POSTGRES_PASSWORD_FILE")"; export POSTGRES_PASSWORD; unset POSTGRES_PASSWORD_FILE
  fi
  : "${POSTGRES_USER:=postgres}"; : "${POSTGRES_DB:=$POSTGRES_USER}"; export POSTGRES_USER POSTGRES_DB
  mkdir -p "$PGDATA"
  chmod 00700 "$PGDATA" || :
  mkdir -p /var/run/postgresql || :
  chmod 03775 /var/run/postgresql || :
  if [ "$(id -u)" = 0 ]; then
    find "$PGDATA" \! -user postgres -exec chown postgres '{}' +
    find /var/run/postgresql \! -user postgres -exec chown postgres '{}' +
    exec gosu postgres "$0" "$@"
  fi
  if [ ! -s "$PGDATA/PG_VERSION" ]; then
    if [ -z "${POSTGRES_PASSWORD:-}" ]; then
      echo "Error: Database is uninitialized and superuser password is not specified." >&2; exit 1
    fi
    # like the official <(printf ...): the password reaches initdb through a pipe, never a file
    fifo="$(mktemp -u)"; mkfifo -m 600 "$fifo"
    printf '%s\n' "$POSTGRES_PASSWORD" > "$fifo" &
    initdb --username="$POSTGRES_USER" --pwfile="$fifo" $POSTGRES_INITDB_ARGS
    rm -f "$fifo"
    auth="$(postgres -C password_encryption)"
    printf '\nhost all all all %s\n' "$auth" >> "$PGDATA/pg_hba.conf"
    pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p 5432" -w start
    exists="$(psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --dbname postgres --tuples-only --set db="$POSTGRES_DB" -c "SELECT 1 FROM pg_database WHERE datname = :'db'" </dev/null || :)"
    if [ -z "$(echo "$exists" | tr -d ' ')" ]; then
      echo "CREATE DATABASE \"$POSTGRES_DB\";" | psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --dbname postgres
    fi
    pg_ctl -D "$PGDATA" -m fast -w stop
    echo "PostgreSQL init process complete; ready for start up."
  else
    echo "PostgreSQL Database directory appears to contain a database; Skipping initialization"
  fi
fi
exec "$@"
"""

REDIS_ENTRYPOINT = r"""#!/bin/sh
set -e
if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then set -- redis-server "$@"; fi
if [ "$1" = redis-server ] && [ "$(id -u)" = 0 ]; then
  find . \! -user redis -exec chown redis '{}' +
  exec gosu redis "$0" "$@"
fi
um="$(umask)"
if [ "$um" = '0022' ]; then umask 0077; fi
exec "$@"
"""


def _shared_libraries(paths: Iterable[str]) -> set[str]:
    libs: set[str] = set()
    for path in paths:
        out = subprocess.run(["ldd", path], capture_output=True, text=True).stdout
        for line in out.splitlines():
            parts = line.split()
            if "=>" in parts and len(parts) > parts.index("=>") + 1 and parts[parts.index("=>") + 1].startswith("/"):
                libs.add(parts[parts.index("=>") + 1])
            elif parts and parts[0].startswith("/"):
                libs.add(parts[0])
    return libs


class RootFs:
    """A tar of a root filesystem: busybox for the shell tools, given binaries with their libraries."""

    def __init__(self) -> None:
        self.buffer = io.BytesIO()
        self.tar = tarfile.open(fileobj=self.buffer, mode="w")  # noqa: SIM115 - closed by build()
        self.seen: set[str] = set()

    def directory(self, path: str, mode: int = 0o755, uid: int = 0, gid: int = 0) -> None:
        parts = path.strip("/").split("/")
        for i in range(1, len(parts)):
            parent = "/".join(parts[:i])
            if parent not in self.seen:
                self.seen.add(parent)
                info = tarfile.TarInfo(parent)
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                self.tar.addfile(info)
        name = path.strip("/")
        self.seen.add(name)
        info = tarfile.TarInfo(name)
        info.type, info.mode, info.uid, info.gid = tarfile.DIRTYPE, mode, uid, gid
        self.tar.addfile(info)

    def file(self, path: str, content: bytes, mode: int = 0o644) -> None:
        self.directory(str(Path(path).parent))
        info = tarfile.TarInfo(path.strip("/"))
        info.size, info.mode = len(content), mode
        self.tar.addfile(info, io.BytesIO(content))

    def symlink(self, path: str, target: str) -> None:
        self.directory(str(Path(path).parent))
        info = tarfile.TarInfo(path.strip("/"))
        info.type, info.linkname = tarfile.SYMTYPE, target
        self.tar.addfile(info)

    def host_file(self, path: str, mode: int | None = None) -> None:
        if path.strip("/") in self.seen:
            return
        self.seen.add(path.strip("/"))
        real = os.path.realpath(path)
        self.file(path, Path(real).read_bytes(), mode if mode is not None else os.stat(real).st_mode & 0o7777)

    def host_tree(self, root: str) -> None:
        for dirpath, _dirnames, filenames in os.walk(root):
            for name in filenames:
                full = os.path.join(dirpath, name)
                if os.path.islink(full) and not os.path.exists(full):
                    continue
                self.host_file(full)

    def busybox(self) -> None:
        busybox = shutil.which("busybox")
        self.file("/bin/busybox", Path(busybox).read_bytes(), 0o755)
        applets = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True).stdout.split()
        for applet in applets:
            if applet != "busybox":
                self.symlink(f"/bin/{applet}", "busybox")

    def binaries(self, paths: Iterable[str]) -> None:
        paths = list(paths)
        for path in [*paths, *sorted(_shared_libraries(paths))]:
            self.host_file(path)

    def close(self) -> bytes:
        self.tar.close()
        return self.buffer.getvalue()


def build(api: DockerAPI, tag: str, rootfs: bytes, dockerfile_tail: str) -> str:
    """`FROM scratch`, the root filesystem, then image settings (STOPSIGNAL, VOLUME, ...), built by the
    engine itself (POST /build): `docker import` cannot set STOPSIGNAL."""
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        for name, data in (
            ("rootfs.tar", rootfs),
            ("Dockerfile", f"FROM scratch\nADD rootfs.tar /\n{dockerfile_tail}".encode()),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    response = api.request("POST", "/build", {"t": tag, "rm": "1", "forcerm": "1"}, raw=context.getvalue())
    lines = [json.loads(line) for line in response.body.decode().splitlines() if line.strip()]
    errors = [
        line.get("error") or line.get("errorDetail", {}).get("message")
        for line in lines
        if "error" in line or "errorDetail" in line
    ]
    if response.status >= 400 or errors:
        raise RuntimeError(f"building {tag} failed: {errors or response.body[:300]!r}")
    return tag


def _base() -> RootFs:
    fs = RootFs()
    fs.busybox()
    fs.directory("/tmp", 0o1777)
    fs.directory("/root", 0o700)
    fs.file("/etc/passwd", PASSWD.encode())
    fs.file("/etc/group", GROUP.encode())
    fs.file("/etc/nsswitch.conf", b"passwd: files\ngroup: files\nhosts: files dns\n")
    fs.binaries(["/usr/bin/setpriv"])
    fs.file("/usr/local/bin/gosu", GOSU.encode(), 0o755)
    return fs


def postgres_image(api: DockerAPI) -> str:
    fs, bindir = postgres_rootfs()
    fs.file("/usr/local/bin/docker-entrypoint.sh", POSTGRES_ENTRYPOINT.encode(), 0o755)
    tail = (
        f"ENV PATH=/usr/local/bin:{bindir}:/bin PGDATA=/var/lib/postgresql/data LC_ALL=C.UTF-8\n"
        "VOLUME /var/lib/postgresql/data\n"
        'ENTRYPOINT ["docker-entrypoint.sh"]\n'
        "STOPSIGNAL SIGINT\n"
        'CMD ["postgres"]\n'
    )
    return build(api, POSTGRES_IMAGE, fs.close(), tail)


def postgres_rootfs() -> tuple[RootFs, Path]:
    """The postgres:16-alpine stand-in's files (servers, clients, users, directories); the backup stand-in
    (tests/integration/backup_stage.py) is built on the same files, as the real one is built FROM it."""
    bindir = sorted(Path("/usr/lib/postgresql").glob("*/bin"))[-1]
    version = bindir.parent.name
    fs = _base()
    programs = [
        str(bindir / p)
        for p in ("postgres", "initdb", "pg_ctl", "psql", "pg_isready", "pg_dump", "pg_restore", "pg_dumpall")
    ]
    fs.binaries(programs)
    libdir = f"/usr/lib/postgresql/{version}/lib"
    fs.host_tree(libdir)
    fs.binaries([str(p) for p in Path(libdir).glob("*.so")])
    # The official image edits the sample config: listen_addresses = '*' (its Dockerfile, "make the sample
    # config easier to munge"); initdb copies it into every new data directory.
    sample = f"/usr/share/postgresql/{version}/postgresql.conf.sample"
    text = re.sub(r"(?m)^#?(listen_addresses)\s*=\s*\S+.*$", "listen_addresses = '*'", Path(sample).read_text())
    fs.seen.add(sample.strip("/"))
    fs.file(sample, text.encode())
    fs.host_tree(f"/usr/share/postgresql/{version}")
    fs.host_tree("/usr/share/zoneinfo")
    fs.host_tree("/usr/lib/locale/C.utf8")  # glibc's C.UTF-8 (musl needs none): initdb checks LC_*
    fs.directory("/var/lib/postgresql", 0o755, 70, 70)
    fs.directory("/var/lib/postgresql/data", 0o1777, 70, 70)
    fs.directory("/var/run/postgresql", 0o3777, 70, 70)
    fs.directory("/docker-entrypoint-initdb.d")
    return fs, bindir


def redis_image(api: DockerAPI) -> str:
    fs = _base()
    fs.binaries(["/usr/bin/redis-server", "/usr/bin/redis-cli"])
    fs.directory("/data", 0o755, 999, 1000)
    fs.file("/usr/local/bin/docker-entrypoint.sh", REDIS_ENTRYPOINT.encode(), 0o755)
    tail = (
        "ENV PATH=/usr/local/bin:/usr/bin:/bin\n"
        "VOLUME /data\n"
        "WORKDIR /data\n"
        'ENTRYPOINT ["docker-entrypoint.sh"]\n'
        'CMD ["redis-server"]\n'
    )
    return build(api, REDIS_IMAGE, fs.close(), tail)


def app_image(api: DockerAPI) -> str:
    """Stands in for the backend and frontend images where only their declared settings matter (the
    read-back test): a shell, and a default command as the real images have."""
    fs = _base()
    return build(api, APP_IMAGE, fs.close(), 'ENV PATH=/usr/local/bin:/bin\nCMD ["sleep", "3600"]\n')
