"""Reads a `Pulumi.<stack>.yaml` the way the Pulumi CLI does, so the offline plan, `invoke status` and the
tests see the values `pulumi up` would hand to the program.

The CLI parses stack files with Go's yaml.v3, which follows YAML 1.2, and decodes each config scalar into
a Go string: the program receives the text as written (`imageTag: 0421337` is "0421337", `1.10` stays
"1.10", `yes` is the string "yes", not a boolean), a null (`imageTag:`) is the empty string, and a
duplicate key is an error. PyYAML resolves YAML 1.1 types (`yes`/`off` booleans, octal `0421337`), so
this module composes the node tree (which keeps every scalar's source text and position) and applies
the YAML 1.2 rules itself. Every problem is one line naming the file, line and column; no value is
echoed, since a stack file may hold secrets.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from config.errors import provider_key_problem
from facts.project import PROJECT

# Namespaces a stack file of this project may use: its own, the engine's, and the default providers the
# program does use (`docker:` and `vault:` are refused: config.errors.provider_key_problem).
KNOWN_NAMESPACES = (PROJECT, "pulumi", "random", "command")
# Top-level keys of a stack file (pulumi/pulumi sdk/go/common/workspace/project.go, ProjectStack).
TOP_LEVEL_KEYS = ("config", "secretsprovider", "encryptedkey", "encryptionsalt", "environment")

_NULL = re.compile(r"^(~|null|Null|NULL|)$")


class StackFileError(Exception):
    """A stack file that cannot be read as Pulumi stack config (one line, no value echoed)."""


@dataclass
class StackFile:
    config: dict[str, str] = field(default_factory=dict)
    """`namespace:key` -> the string the engine passes to the program (objects and arrays as JSON)."""
    secret_keys: list[str] = field(default_factory=list)
    """Keys whose value is `secure:` (encrypted): replaced by placeholders, still marked secret."""


def _where(label: str, node: yaml.Node) -> str:
    mark = node.start_mark
    return f"stack file {label} line {mark.line + 1} column {mark.column + 1}"


def _plain(node: yaml.Node) -> Any:
    """A node as YAML 1.2 data: scalars keep their source text, nulls become None."""
    if isinstance(node, yaml.ScalarNode):
        if node.style is None and _NULL.match(node.value):
            return None
        return node.value
    if isinstance(node, yaml.SequenceNode):
        return [_plain(item) for item in node.value]
    return {_plain(k): _plain(v) for k, v in node.value}


def _json_value(node: yaml.Node) -> Any:
    """Structured config values reach the program as JSON; the CLI types their scalars (YAML 1.2)."""
    if isinstance(node, yaml.ScalarNode):
        if node.style is not None:
            return node.value
        text = node.value
        if _NULL.match(text):
            return None
        if text in ("true", "True", "TRUE", "false", "False", "FALSE"):
            return text.lower() == "true"
        if re.fullmatch(r"[-+]?[0-9]+", text):
            return int(text)
        return text
    if isinstance(node, yaml.SequenceNode):
        return [_json_value(item) for item in node.value]
    return {str(_plain(k)): _json_value(v) for k, v in node.value}


def _check_duplicates(label: str, node: yaml.Node) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, yaml.Node] = {}
        for key, value in node.value:
            plain = _plain(key) if isinstance(key, yaml.ScalarNode) else id(key)
            if plain in seen:
                first = seen[plain].start_mark.line + 1
                raise StackFileError(
                    f"{_where(label, key)}: key {plain} is defined twice (first at line {first}); keep one"
                )
            seen[plain] = key
            _check_duplicates(label, value)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _check_duplicates(label, item)


def _decode(raw: bytes, label: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        column = err.start - (raw.rfind(b"\n", 0, err.start) + 1) + 1
        raise StackFileError(
            f"stack file {label} line {line} column {column}: not valid UTF-8 (byte 0x{raw[err.start]:02x}); "
            "save it as UTF-8"
        ) from None


def _compose(text: str, label: str) -> yaml.Node | None:
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f" line {mark.line + 1} column {mark.column + 1}" if mark else ""
        problem = (err.problem or err.context or "invalid YAML").strip()
        raise StackFileError(f"stack file {label}{where}: not valid YAML: {problem}") from None
    except yaml.YAMLError as err:
        raise StackFileError(f"stack file {label}: not valid YAML: {str(err).splitlines()[0]}") from None


def _suggest(word: str, choices: Iterable[str]) -> str:
    choices = list(choices)
    lowered = {c.lower(): c for c in choices}
    match = lowered.get(word.lower()) or next(iter(difflib.get_close_matches(word, choices, n=1, cutoff=0.6)), None)
    return f"; did you mean {match}?" if match else ""


def parse_stack_file(raw: bytes, label: str) -> StackFile:
    """Parse the bytes of a stack file; `label` names it in errors."""
    root = _compose(_decode(raw, label), label)
    result = StackFile()
    if root is None:
        return result
    if not isinstance(root, yaml.MappingNode):
        raise StackFileError(f"{_where(label, root)}: expected a mapping with a `config:` mapping")
    _check_duplicates(label, root)
    for key_node, value_node in root.value:
        top = _plain(key_node)
        if top not in TOP_LEVEL_KEYS:
            raise StackFileError(
                f"{_where(label, key_node)}: unknown top-level key {top}{_suggest(str(top), TOP_LEVEL_KEYS)}"
            )
        if top != "config" or _plain(value_node) is None:
            continue
        if not isinstance(value_node, yaml.MappingNode):
            raise StackFileError(f"{_where(label, value_node)}: `config:` must be a mapping of namespace:key to values")
        for ckey_node, cvalue_node in value_node.value:
            _read_entry(label, ckey_node, cvalue_node, result)
    return result


def _read_entry(label: str, key_node: yaml.Node, value_node: yaml.Node, result: StackFile) -> None:
    key = _plain(key_node)
    if not isinstance(key, str) or not isinstance(key_node, yaml.ScalarNode):
        raise StackFileError(f"{_where(label, key_node)}: config keys must be strings of the form {PROJECT}:<key>")
    namespace, sep, name = key.partition(":")
    if not sep or not name:
        raise StackFileError(f"{_where(label, key_node)}: config key {key} has no namespace; expected {PROJECT}:{key}")
    problem = provider_key_problem(key)
    if problem:
        raise StackFileError(f"{_where(label, key_node)}: {problem}")
    if namespace not in KNOWN_NAMESPACES:
        raise StackFileError(
            f"{_where(label, key_node)}: config key {key} is in unknown namespace "
            f"{namespace}{_suggest(namespace, KNOWN_NAMESPACES)}"
        )
    if isinstance(value_node, yaml.MappingNode) and [_plain(k) for k, _ in value_node.value] == ["secure"]:
        result.config[key] = placeholder_secret(key)
        result.secret_keys.append(key)
    elif isinstance(value_node, (yaml.MappingNode, yaml.SequenceNode)):
        result.config[key] = json.dumps(_json_value(value_node))
    else:
        value = _plain(value_node)
        result.config[key] = "" if value is None else value


def read_stack_file(path: Path) -> tuple[dict[str, str], list[str]]:
    """Pulumi.<stack>.yaml -> (config as the engine passes it, keys of secure values).

    Encrypted `secure:` values cannot be decrypted without the stack's secrets provider; they are
    replaced by generated placeholders and still marked secret, which is all a plan needs."""
    try:
        raw = Path(path).read_bytes()
    except OSError as err:
        raise StackFileError(f"cannot read stack file {path}: {err.strerror}") from None
    parsed = parse_stack_file(raw, str(path))
    return parsed.config, parsed.secret_keys


def placeholder_secret(key: str, seed: str = "placeholder") -> str:
    import hashlib

    return "gen-" + hashlib.sha256(f"{seed}:{key}".encode()).hexdigest()[:24]
