"""A Docker Engine API on a unix socket, for the operator commands' host-side logic: the container list
it is given, and execs whose multiplexed output it streams frame by frame (with a pause between frames,
so a client that collects everything before printing can be told from one that streams). Only the
endpoints the backup commands call are answered; anything else is a 404, as the engine answers an
unknown path."""

from __future__ import annotations

import json
import socketserver
import struct
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any


@dataclass
class Exec:
    """What an exec prints: (stream, text) frames, 1 stdout or 2 stderr, `pause` seconds apart."""

    frames: Sequence[tuple[int, str]] = ()
    exit_code: int = 0
    pause: float = 0.0


@dataclass
class Engine:
    containers: list[dict[str, Any]] = field(default_factory=list)
    execs: list[Exec] = field(default_factory=list)
    """Answered in order, one per exec created."""
    requests: list[tuple[str, str]] = field(default_factory=list)
    commands: list[list[str]] = field(default_factory=list)
    sent_at: list[float] = field(default_factory=list)
    """When each exec frame was sent (time.monotonic)."""


def frame(stream: int, text: str) -> bytes:
    payload = text.encode()
    return bytes([stream, 0, 0, 0]) + struct.pack(">I", len(payload)) + payload


def _handler(engine: Engine):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _json(self, status: int, value: Any) -> None:
            body = json.dumps(value).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _body(self) -> Any:
            length = int(self.headers.get("Content-Length") or 0)
            return json.loads(self.rfile.read(length) or b"null")

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            engine.requests.append(("GET", path))
            if path == "/containers/json":
                self._json(200, engine.containers)
            elif path.startswith("/exec/") and path.endswith("/json"):
                index = int(path.split("/")[2])
                self._json(200, {"Running": False, "ExitCode": engine.execs[index].exit_code})
            else:
                self._json(404, {"message": f"page not found: {path}"})

        def do_POST(self) -> None:
            path = self.path.split("?", 1)[0]
            engine.requests.append(("POST", path))
            body = self._body()
            if path.startswith("/containers/") and path.endswith("/exec"):
                engine.commands.append(list(body["Cmd"]))
                self._json(201, {"Id": str(len(engine.commands) - 1)})
            elif path.startswith("/exec/") and path.endswith("/start"):
                run = engine.execs[int(path.split("/")[2])]
                self.send_response(200)
                self.send_header("Content-Type", "application/vnd.docker.raw-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for stream, text in run.frames:
                    data = frame(stream, text)
                    self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                    self.wfile.flush()
                    engine.sent_at.append(time.monotonic())
                    time.sleep(run.pause)
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
            else:
                self._json(404, {"message": f"page not found: {path}"})

    return Handler


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


@contextmanager
def fake_docker(socket_path: Path, engine: Engine) -> Iterator[str]:
    """Serve `engine` on `socket_path`; yields the `unix://` host to hand the commands."""
    server = _Server(str(socket_path), _handler(engine))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"unix://{socket_path}"
    finally:
        server.shutdown()
        server.server_close()


def backup_row(run: Any) -> dict[str, Any]:
    """The program's backup container (its name and labels as declared) as GET /containers/json lists it
    when it runs."""
    from facts.services import Service
    from ops.program_run import unwrap_secrets
    from render import labels as L

    for container in run.by_type("docker:index/container:Container"):
        inputs = unwrap_secrets(container.inputs)
        labels = {item["label"]: item["value"] for item in inputs.get("labels", [])}
        if labels.get(L.SERVICE) == Service.BACKUP:
            return {"Id": "b" * 12, "Names": [f"/{inputs['name']}"], "State": "running", "Labels": labels}
    raise LookupError("the program declares no backup container")
