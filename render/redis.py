"""Redis 7 (alpine): the image contract the program relies on and the container's process (pure).

Contract of `redis:7.4.x-alpine` (docker-library/redis, copies in the shared reference folder): user
redis 999, group redis 1000; WORKDIR and VOLUME /data; when started as root with `redis-server` first,
the entrypoint runs `find . \\! -user redis -exec chown redis '{}' +` under `set -e`, then steps down to
redis; it sets umask 0077, so Redis creates `appendonlydir` 0700.

The server runs as 999:1000 directly. As root with every capability dropped but CHOWN/SETGID/SETUID the
entrypoint's `find` cannot read an `appendonlydir` (0700, owned by redis) and Redis never starts again
on its own data; as its own user no step is skipped that the data needs, and no capability is needed.
"""

from __future__ import annotations

from render import vault_artifacts as va
from render.datastore_spec import DatastoreSpec
from render.hardening import Stop

SERVICE = "redis"
USER = "999:1000"  # redis:redis in the alpine image (the debian image is 999:999)
DATA_DIR = "/data"
STOP = Stop(seconds=30)  # the image's SIGTERM: Redis flushes the AOF and exits


def password_file() -> str:
    return f"{va.secrets_mount_path(SERVICE)}/password"


def conf_file() -> str:
    return f"{va.secrets_mount_path(SERVICE)}/redis.conf"


def healthcheck_command() -> list[str]:
    """Authenticated PING: the password goes through REDISCLI_AUTH of this one process, not argv."""
    return ["CMD-SHELL", f'REDISCLI_AUTH="$(cat {password_file()})" redis-cli -h 127.0.0.1 ping | grep -q PONG']


def server_command(memory_mb: int) -> list[str]:
    """The rendered config file carries only `requirepass`; the rest is not secret."""
    maxmemory = max(memory_mb * 3 // 4, 8)  # headroom under the container limit for fork/AOF rewrite
    return [
        "redis-server",
        conf_file(),
        "--appendonly",
        "yes",
        "--dir",
        DATA_DIR,
        "--maxmemory",
        f"{maxmemory}mb",
        "--maxmemory-policy",
        "noeviction",
    ]


def spec(kv_mount: str, env: str, memory_mb: int) -> DatastoreSpec:
    return DatastoreSpec(
        service=SERVICE,
        user=USER,
        data_dir=DATA_DIR,
        password_key="PASSWORD",
        generated={},
        templates=[va.password_template(kv_mount, env, SERVICE, "PASSWORD"), va.redis_conf_template(kv_mount, env)],
        process={"command": server_command(memory_mb)},
        health=healthcheck_command(),
        stop=STOP,
        start_period=10,
        wait_timeout=120,
    )
