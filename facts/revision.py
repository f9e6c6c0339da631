"""Revision names of rolling containers (pure; shared by the program and the policy pack).

A rolling container (backend, frontend) is replaced create-before-delete, so its replacement must carry a
new name or Docker refuses the create. Its name ends in a hash of every argument it is created with
(engine-shaped, as the engine and CrossGuard see them), except the name itself: any change that replaces
the container renames it, including arguments added to the program later. The policy recomputes the hash
from what the engine received, so a program that leaves an argument out of the hash fails the plan.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

REVISION_LENGTH = 10


def canonical(value: Any) -> Any:
    """JSON-ready form that does not depend on how a value travelled: engine numbers arrive as floats
    (1024.0), unset values as None or absent."""
    if isinstance(value, Mapping):
        return {str(k): canonical(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0])) if v is not None}
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return [canonical(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def revision(props: Mapping[str, Any]) -> str:
    """Hash of every argument but `name`."""
    body = {k: v for k, v in props.items() if k != "name"}
    text = json.dumps(canonical(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:REVISION_LENGTH]


def revision_name(prefix: str, props: Mapping[str, Any]) -> str:
    return f"{prefix}-{revision(props)}"


def is_revision_named(props: Mapping[str, Any]) -> bool:
    """Whether the name ends in the hash of every other argument: then any change renames, so replaces, it."""
    name = str(props.get("name") or "")
    prefix = name.rpartition("-")[0]
    return bool(prefix) and name == revision_name(prefix, props)


def options_digest(options: Mapping[str, Any]) -> str:
    """Short hash of what replaces a network or volume, carried at the end of its name
    (program/named.py): Docker silently returns an existing volume of the same name with its old
    options (facts.providers.VOLUME_CREATE_REUSES), so new options must mean a new name."""
    return hashlib.sha256(json.dumps(canonical(dict(options)), sort_keys=True).encode()).hexdigest()[:8]
