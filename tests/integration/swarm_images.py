"""The backend stand-in for the Swarm tests (no registry: built here, as tests/integration/images.py builds the
datastores'). What runtime swarm relies on from the real backend image (app-contract): it runs as root, has
`sh`, and the program's task runs `sh -c` with `alembic upgrade head` then `exec uvicorn ... --port 8000`,
health-checked by `curl -fsS -o /dev/null http://127.0.0.1:8000/health`. Here:

- `alembic` connects to the database of the rendered DATABASE_URL (the driver suffix +asyncpg dropped for
  psql), as migrations do: a task that cannot reach Postgres with the rendered password fails at start;
- `uvicorn` serves, with busybox httpd, /health (absent in the `broken` variant: its health check fails),
  /version (the image's version and the task's hostname), /db (what Postgres answered at start) and
  /s3key (the SHA-256 of the rendered S3_ACCESS_KEY: which value the task runs with, never the value);
  httpd stops on SIGTERM like uvicorn;
- `curl` is a shim over busybox wget for exactly the health check's arguments.

Built on the Postgres stand-in's files, which carry psql and its libraries.
"""

from __future__ import annotations

import hashlib

from clients.docker_api import DockerAPI
from tests.integration.images import build, postgres_rootfs

ALEMBIC = r"""#!/bin/sh
set -eu
url=$(printf '%s' "$DATABASE_URL" | sed 's/+asyncpg//')
psql "$url" -v ON_ERROR_STOP=1 -qc 'CREATE TABLE IF NOT EXISTS alembic_version (version_num varchar(32) PRIMARY KEY)'
"""

UVICORN = r"""#!/bin/sh
set -eu
mkdir -p /tmp/www
printf '%s %s\n' "$(cat /etc/fr-version)" "$(hostname)" > /tmp/www/version
url=$(printf '%s' "$DATABASE_URL" | sed 's/+asyncpg//')
printf '%s %s\n' "$(psql "$url" -Atc 'select current_database()')" "$(hostname)" > /tmp/www/db
printf '%s' "${S3_ACCESS_KEY:-}" | sha256sum | cut -d' ' -f1 > /tmp/www/s3key
if [ ! -e /etc/fr-broken ]; then echo ok > /tmp/www/health; fi
exec httpd -f -p 8000 -h /tmp/www
"""

CURL = r"""#!/bin/sh
# curl -fsS -o /dev/null URL (the backend's health check) -> wget, which fails on an HTTP error too
for url; do :; done
exec wget -q -O /dev/null "$url"
"""


# Named by the scripts' content, so a changed stand-in is rebuilt, not taken from an earlier session's cache.
REPOSITORY = "fr-harness/swarm-backend-" + hashlib.sha256((ALEMBIC + UVICORN + CURL).encode()).hexdigest()[:8]


def backend_image(api: DockerAPI, version: str, broken: bool = False) -> str:
    tag = f"{REPOSITORY}:{version}"
    if api.request("GET", f"/images/{tag}/json").status == 200:
        return tag
    fs, bindir = postgres_rootfs()
    fs.file("/usr/local/bin/alembic", ALEMBIC.encode(), 0o755)
    fs.file("/usr/local/bin/uvicorn", UVICORN.encode(), 0o755)
    fs.file("/usr/local/bin/curl", CURL.encode(), 0o755)
    fs.file("/etc/fr-version", f"{version}\n".encode())
    if broken:
        fs.file("/etc/fr-broken", b"")
    tail = f"ENV PATH=/usr/local/bin:{bindir}:/bin LC_ALL=C.UTF-8\n"
    return build(api, tag, fs.close(), tail)
