"""A small Docker Engine API client for the operator tools (status, doctor, logs, backups), reaching the
same daemon the same way the Pulumi docker provider does.

For `ssh://user@host[:port]` the provider runs `ssh <sshOpts> user@host -- docker system dial-stdio`
(the docker CLI's connection helper, kreuzwerker/terraform-provider-docker internal/provider/config.go)
and speaks HTTP over the pipe. The docker CLI has no way to pass the stack's `dockerSshOpts`, and docker-py
starts ssh without them, so this module does what the provider does: HTTP/1.1 over the ssh pipe, or over
the unix socket for `unix://` hosts (the harness and a local engine).

Errors are `DockerError` with one line naming the host and what failed; nothing here prints.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import shutil
import signal
import socket
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any
from urllib.parse import quote, urlencode, urlsplit

from clients.net_errors import why_unreachable


class DockerError(Exception):
    """The Docker host could not be reached or answered an error (one line)."""


@dataclass
class Response:
    status: int
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body or b"null")
        except json.JSONDecodeError:
            raise DockerError(
                f"the Docker API answered {self.status} with a body that is not JSON: {self.body[:80]!r}"
            ) from None


class _PipeSocket:
    """What http.client needs from a socket, over an ssh process's stdin and stdout."""

    def __init__(self, proc: subprocess.Popen[bytes]):
        self.proc = proc

    def sendall(self, data: bytes) -> None:
        assert self.proc.stdin is not None  # started with stdin=PIPE
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def makefile(self, mode: str, *args: Any, **kwargs: Any) -> IO[bytes] | None:
        return self.proc.stdout

    def close(self) -> None:
        pass


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def connection_problem(err: BaseException, proc: subprocess.Popen[bytes] | None = None) -> str:
    """Why the engine could not be reached, in words (never an errno or an exception class)."""
    if isinstance(err, FileNotFoundError):
        return "no such socket"
    if isinstance(err, PermissionError):
        return "permission denied on the socket (is this user in the docker group?)"
    if isinstance(err, (BrokenPipeError, ConnectionResetError, http.client.HTTPException)):
        exited = proc.poll() if proc is not None else None
        return "the connection closed before the engine answered" + (
            f" (ssh exited {exited})" if exited is not None else ""
        )
    return why_unreachable(err)


def ssh_command(host: str, ssh_opts: Sequence[str] = ()) -> list[str]:
    """The ssh command line the provider's connection helper runs for `ssh://user@host[:port]`."""
    parts = urlsplit(host)
    if parts.scheme != "ssh" or not parts.hostname:
        raise DockerError(f"docker host {host} is not ssh://user@host[:port]")
    argv = ["ssh", *ssh_opts]
    if parts.port:
        argv += ["-p", str(parts.port)]
    if parts.username:
        argv += ["-l", parts.username]
    return [*argv, "--", parts.hostname, "docker", "system", "dial-stdio"]


def docker_host_problem(host: str) -> str | None:
    """Why `host` is not an address this client can reach, or None: `unix:///path` or `ssh://user@host[:port]`."""
    parts = urlsplit(host)
    if parts.scheme == "unix" and parts.path:
        return None
    if parts.scheme == "ssh" and parts.hostname:
        return None
    return f"docker host {host} must be unix:///path or ssh://user@host[:port]"


@dataclass
class DockerAPI:
    host: str
    """`unix:///path/to/docker.sock` or `ssh://user@host[:port]`."""
    ssh_opts: Sequence[str] = field(default_factory=tuple)
    timeout: float = 60

    def _connect(self) -> tuple[http.client.HTTPConnection, subprocess.Popen[bytes] | None]:
        parts = urlsplit(self.host)
        if parts.scheme == "unix":
            conn = http.client.HTTPConnection("docker", timeout=self.timeout)
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(self.timeout)
            try:
                sock.connect(parts.path)
            except OSError as err:
                sock.close()
                raise DockerError(f"cannot reach the Docker engine at {self.host}: {connection_problem(err)}") from None
            conn.sock = sock
            return conn, None
        if parts.scheme == "ssh":
            if shutil.which("ssh") is None:
                raise DockerError("ssh is not installed: it is needed to reach the Docker host " + self.host)
            proc = subprocess.Popen(
                ssh_command(self.host, self.ssh_opts),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                # Ctrl-C in the operator's terminal is the command's to handle (a restore defers it until
                # its exec ends: ops/backup_ops.py), not a reason for ssh to cut a connection mid-answer;
                # OpenSSH keeps an inherited SIG_IGN for SIGINT (clientloop.c).
                preexec_fn=_ignore_sigint,
            )
            conn = http.client.HTTPConnection("docker", timeout=self.timeout)
            conn.sock = _PipeSocket(proc)
            return conn, proc
        raise DockerError(f"docker host {self.host} must be unix:///path or ssh://user@host[:port]")

    @staticmethod
    def _close(conn: http.client.HTTPConnection, proc: subprocess.Popen[bytes] | None) -> str:
        conn.close()
        if proc is None:
            return ""
        assert proc.stdin is not None and proc.stderr is not None  # started with stdin and stderr PIPE
        with contextlib.suppress(OSError):  # ssh has gone already (a broken pipe): its stderr says why
            proc.stdin.close()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        err = proc.stderr.read().decode(errors="replace").strip()
        return err.splitlines()[-1] if err else ""

    def request(
        self,
        method: str,
        path: str,
        query: Mapping[str, Any] | None = None,
        body: Any = None,
        raw: bytes | None = None,
        content_type: str = "application/x-tar",
    ) -> Response:
        """One API call. `body` is sent as JSON; `raw` as bytes of `content_type` (a tar for /build, archive)."""
        url = quote(path, safe="/:@") + (("?" + urlencode(query)) if query else "")
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        kind = content_type if raw is not None else "application/json"
        conn, proc = self._connect()
        try:
            conn.request(
                method,
                url,
                body=data,
                headers={
                    "Host": "docker",
                    "Connection": "close",
                    **({"Content-Type": kind} if data is not None else {}),
                },
            )
            answer = conn.getresponse()
            response = Response(answer.status, answer.read())
        except (OSError, http.client.HTTPException) as err:
            # ssh's last stderr line says why (host key, auth, connection refused) better than the pipe error.
            detail = self._close(conn, proc) or connection_problem(err, proc)
            raise DockerError(f"cannot reach the Docker engine at {self.host}: {detail}") from None
        self._close(conn, proc)
        return response

    def stream(
        self, path: str, query: Mapping[str, Any] | None = None, method: str = "GET", body: Any = None
    ) -> Iterator[bytes]:
        """A call whose answer is read as it arrives (logs --follow, an exec's output); `body` is sent as JSON."""
        url = quote(path, safe="/:@") + (("?" + urlencode(query)) if query else "")
        data = json.dumps(body).encode() if body is not None else None
        conn, proc = self._connect()
        try:
            headers = {"Host": "docker", **({"Content-Type": "application/json"} if data is not None else {})}
            conn.request(method, url, body=data, headers=headers)
            answer = conn.getresponse()
            if answer.status >= 400:
                raise DockerError(
                    f"{path}: the Docker API answered {answer.status}: "
                    f"{answer.read()[:200].decode(errors='replace').strip()}"
                )
            while True:
                chunk = answer.read1(65536) if hasattr(answer, "read1") else answer.read(65536)
                if not chunk:
                    return
                yield chunk
        except (OSError, http.client.HTTPException) as err:
            detail = self._close(conn, proc) or connection_problem(err, proc)
            raise DockerError(f"cannot reach the Docker engine at {self.host}: {detail}") from None
        finally:
            self._close(conn, proc)

    def get(self, path: str, **query: Any) -> Any:
        response = self.request("GET", path, {k: v for k, v in query.items() if v is not None} or None)
        if response.status >= 400:
            message = (
                response.json().get("message", "")
                if response.body.startswith(b"{")
                else response.body[:200].decode(errors="replace")
            )
            raise DockerError(f"GET {path}: the Docker API answered {response.status}: {message}")
        return response.json()

    def containers(self, labels: Sequence[str], all_: bool = True) -> list[dict[str, Any]]:
        """Containers carrying every `key=value` label (GET /containers/json)."""
        found: list[dict[str, Any]] = self.get(
            "/containers/json", all="1" if all_ else "0", filters=json.dumps({"label": list(labels)})
        )
        return found
