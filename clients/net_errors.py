"""Why a connection failed, in the words an operator acts on (pure).

urllib, requests/urllib3 and botocore each wrap the socket error that matters (the name does not resolve,
the port refuses, no answer, an untrusted certificate) in their own exceptions; this walks the chain
(`reason`, `args`, `__cause__`, `__context__`) to it.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator

DNS = "its name does not resolve (DNS)"
REFUSED = "the connection was refused (nothing listens on that address and port)"
TIMEOUT = "no answer before the timeout (a firewall, or the wrong address)"
UNTRUSTED = "its TLS certificate is not trusted"
TLS = "the TLS handshake failed"
UNKNOWN = "no connection"


def _chain(err: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo = [err]
    while todo:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        nested = [
            getattr(current, "reason", None),
            current.__cause__,
            current.__context__,
            *getattr(current, "args", ()),
        ]
        todo.extend(e for e in nested if isinstance(e, BaseException))


def why_unreachable(err: BaseException) -> str:
    for e in _chain(err):
        name = type(e).__name__
        if isinstance(e, socket.gaierror) or name == "NameResolutionError":
            return DNS
        if isinstance(e, ssl.SSLCertVerificationError):
            return f"{UNTRUSTED} ({e.verify_message})" if e.verify_message else UNTRUSTED
        if isinstance(e, ConnectionRefusedError):
            return REFUSED
        if isinstance(e, (TimeoutError, socket.timeout)) or name in (
            "ConnectTimeoutError",
            "ConnectTimeout",
            "ReadTimeout",
        ):
            return TIMEOUT
    for e in _chain(err):
        if isinstance(e, ssl.SSLError):
            return TLS
    return UNKNOWN
