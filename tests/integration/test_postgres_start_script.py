"""The Postgres container's start script on a real PostgreSQL server.

Postgres applies POSTGRES_PASSWORD(_FILE) only when it initialises an empty data directory, so a
password rotated in Vault never reached the database in the compose deployment. The program's start
script re-applies the rendered password at every start. Here the exact script runs against a data
directory initialised with an old password, with `docker-entrypoint.sh` standing in for the image's
entrypoint (it starts the real server as the postgres user, with the image's pg_hba: local trust,
host scram-sha-256), in a private mount namespace where /run/secrets/postgres is a fresh tmpfs.
"""

from __future__ import annotations

import os
import secrets
import shlex
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import psycopg
import pytest

from components import postgres as pg_component
from tests.integration.harness import _pg_bin, free_port, unavailable, wait_until

pytestmark = pytest.mark.integration


def _connect(port: int, password: str) -> bool:
    with psycopg.connect(host="127.0.0.1", port=port, user="postgres", password=password, dbname="finance_report", connect_timeout=3) as conn:
        return conn.execute("SELECT 1").fetchone() == (1,)


def test_start_script_applies_a_rotated_password_and_stops_postgres_cleanly():
    bindir = _pg_bin()
    if bindir is None or shutil.which("unshare") is None:
        unavailable("PostgreSQL start-script test", "initdb or unshare missing")
    root = Path(tempfile.mkdtemp(prefix="frh-pgstart-", dir="/tmp"))
    shutil.chown(root, "postgres", "postgres")
    port, old, new = free_port(), "old-" + secrets.token_hex(8), "new-'\"$`\\ é" + secrets.token_hex(8)
    try:
        (root / "pw").write_text(old)
        shutil.chown(root / "pw", "postgres", "postgres")
        subprocess.run(
            ["runuser", "-u", "postgres", "--", str(bindir / "initdb"), "-D", str(root / "data"), "-U", "postgres", "--auth-local=trust", "--auth-host=scram-sha-256", f"--pwfile={root / 'pw'}"],
            check=True, capture_output=True,
        )
        (root / "pw").unlink()
        # The image creates POSTGRES_DB when it initialises; do the same in single-user mode.
        subprocess.run(["runuser", "-u", "postgres", "--", str(bindir / "postgres"), "--single", "-D", str(root / "data"), "postgres"], input=b"CREATE DATABASE finance_report;\n", check=True, capture_output=True)
        shim = root / "bin" / "docker-entrypoint.sh"
        shim.parent.mkdir()
        shim.write_text(
            "#!/bin/sh\n"
            # setpriv execs like the image's gosu (runuser would stay as a parent and exit 143 on TERM)
            f"exec setpriv --reuid=postgres --regid=postgres --init-groups {bindir}/postgres -D {root}/data -c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={root}\n"
        )
        shim.chmod(0o755)
        new_file = Path(tempfile.mkdtemp(prefix="frh-pgpw-", dir="/dev/shm")) / "password"
        new_file.write_text(new)
        script = pg_component.start_script()
        wrapper = (
            "mkdir -p /run/secrets && mount -t tmpfs tmpfs /run/secrets && mkdir /run/secrets/postgres\n"
            f"cp {new_file} /run/secrets/postgres/password\n"
            f"exec sh -c {shlex.quote(script)}\n"
        )
        env = {**os.environ, "PATH": f"{shim.parent}:{bindir}:{os.environ['PATH']}", "PGPORT": str(port), "PGHOST": str(root)}
        log = open(root / "start.log", "wb")
        proc = subprocess.Popen(["unshare", "--mount", "sh", "-c", wrapper], env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            try:
                wait_until(lambda: _connect(port, new), 60, "postgres accepting the rotated password")
            except TimeoutError as err:
                raise AssertionError(f"{err}: {(root / 'start.log').read_text(errors='replace')[-2000:]}") from None
            with pytest.raises(psycopg.OperationalError):
                _connect(port, old)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=60) == 0, "the script must exit with the server's clean status"
        finally:
            if proc.poll() is None:
                proc.kill()
        output = (root / "start.log").read_text(errors="replace")
        assert "database system is shut down" in output, output[-2000:]
        assert "password sync failed" not in output
        assert new not in output, "the password must not be logged"
        shutil.rmtree(new_file.parent, ignore_errors=True)
    finally:
        subprocess.run(["pkill", "-f", f"{root}/data"], check=False)
        shutil.rmtree(root, ignore_errors=True)
