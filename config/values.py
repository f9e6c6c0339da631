"""What a config value may look like (pure predicates and parsers, no config knowledge)."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

ENV_RE = re.compile(r"^[a-z][a-z0-9]{0,19}$")
LABEL_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
SHA_RE = re.compile(r"^[0-9a-f]{7,40}$")
REPO_RE = re.compile(r"^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-]+[a-z0-9]+)*)*$")
SIZE_RE = re.compile(r"^[1-9][0-9]*[kmg]$")
BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
MOUNT_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*(/[a-z0-9][a-z0-9_-]*)*$")
TIME_RE = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
PREFIX_RE = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$")
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


@dataclass(frozen=True)
class ImageRef:
    """A parsed `repository[:tag][@sha256:digest]`."""

    repository: str
    tag: str | None = None
    digest: str | None = None

    def __str__(self) -> str:
        return self.repository + (f":{self.tag}" if self.tag else "") + (f"@{self.digest}" if self.digest else "")

    @property
    def pinned(self) -> bool:
        return bool(self.digest) or (bool(self.tag) and self.tag != "latest")


PLACEMENT_RE = re.compile(
    r"^node\.(hostname|id|role|platform\.os|platform\.arch|labels\.[A-Za-z0-9_.-]+)\s*(==|!=)\s*[A-Za-z0-9_.:/-]+$"
)


def is_placement_constraint(value: str) -> bool:
    """A Swarm placement constraint the scheduler understands (swarmkit manager/constraint/constraint.go)."""
    return PLACEMENT_RE.match(value) is not None


def is_fqdn(value: str) -> bool:
    if not value or len(value) > 253 or "." not in value:
        return False
    labels = value.split(".")
    return all(LABEL_RE.match(label) for label in labels) and not labels[-1].isdigit()


def parse_image(value: str) -> ImageRef | None:
    """Parse an image reference; None when it is not one."""
    rest, digest = value, None
    if "@" in rest:
        rest, digest = rest.split("@", 1)
        if not DIGEST_RE.match(digest):
            return None
    tag = None
    last = rest.rsplit("/", 1)[-1]
    if ":" in last:
        rest, tag = rest.rsplit(":", 1)
        if not TAG_RE.match(tag):
            return None
    if not REPO_RE.match(rest):
        return None
    return ImageRef(rest, tag, digest)


def is_image_repository(value: str) -> bool:
    """A repository without tag or digest (the tag comes from another key)."""
    ref = parse_image(value)
    return ref is not None and not ref.tag and "@" not in value


def is_http_url(value: str, allow_http_hosts: frozenset[str] | None = None) -> bool:
    """An http(s) URL without credentials, query or fragment; http only for `allow_http_hosts` when given."""
    try:
        parts = urlsplit(value)
        host = parts.hostname
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        return False
    if not host or parts.username or parts.password or parts.query or parts.fragment:
        return False
    if parts.scheme == "https":
        return True
    return parts.scheme == "http" and (allow_http_hosts is None or host in allow_http_hosts)


def is_endpoint_url(value: str) -> bool:
    """An http(s) URL of a server, without a path."""
    return is_http_url(value) and urlsplit(value).path in ("", "/")


def is_ssh_host(value: str) -> bool:
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        return False
    host = parts.hostname or ""
    ip_like = re.fullmatch(r"[0-9.]+", host) is not None
    return (
        parts.scheme == "ssh"
        and bool(parts.username)
        and parts.password is None
        and (ip_like or is_fqdn(host) or LABEL_RE.match(host) is not None)
        and parts.path in ("", "/")
        and not parts.query
    )


def is_host_path(value: str) -> bool:
    return value.startswith("/") and ".." not in value.split("/") and "//" not in value and value != "/"


def is_key_prefix(value: str) -> bool:
    return bool(PREFIX_RE.match(value)) and ".." not in value.split("/")


def is_pem_certificate(value: str) -> bool:
    text = value.strip()
    return text.startswith("-----BEGIN CERTIFICATE-----") and text.endswith("-----END CERTIFICATE-----")


def is_cidr(value: str) -> bool:
    try:
        ipaddress.ip_network(value, strict=True)
    except ValueError:
        return False
    return True
