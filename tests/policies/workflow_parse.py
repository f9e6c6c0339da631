"""Readers the workflow trust checks (test_workflows.py) use instead of substring matches:

- `conjuncts` parses a GitHub Actions expression (a job's `if:`) and returns the conditions every run
  must meet (the top-level `&&` operands), so a guard can be required as one of them: `guard || x` or
  `always() || guard` do not make it one.

Deliberately small: it reads the forms the workflows use and raises `ParseError` on what it cannot read
(the caller reports it as a problem), rather than guessing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Optional, Union

# ------------------------------------------------------------------------------------------ expressions


class ParseError(ValueError):
    pass


@dataclass(frozen=True)
class Lit:
    value: Any


@dataclass(frozen=True)
class Path:
    """A context property: `github.ref`, `github['ref']`, `steps.*.outputs` (lowercase: contexts are
    case-insensitive)."""

    parts: tuple[str, ...]

    def __str__(self) -> str:
        return ".".join(self.parts)


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple["Node", ...]


@dataclass(frozen=True)
class Not:
    operand: "Node"


@dataclass(frozen=True)
class Compare:
    op: str
    left: "Node"
    right: "Node"


@dataclass(frozen=True)
class And:
    operands: tuple["Node", ...]


@dataclass(frozen=True)
class Or:
    operands: tuple["Node", ...]


Node = Union[Lit, Path, Call, Not, Compare, And, Or]

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<str>'(?:[^']|'')*')
     |(?P<num>0x[0-9A-Fa-f]+|-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
     |(?P<op>==|!=|<=|>=|&&|\|\||[!<>()\[\],.*])
     |(?P<ident>[A-Za-z_][A-Za-z0-9_-]*)
    )""",
    re.X,
)
_COMPARISONS = ("==", "!=", "<", "<=", ">", ">=")


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(text):
        if not text[pos:].strip():
            break
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ParseError(f"cannot read the expression at {text[pos:pos + 20]!r}")
        kind = m.lastgroup
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


class _Parser:
    """Precedence as GitHub documents it: `( )`, `[ ]`, `.`, `!`, comparisons, `&&`, `||`."""

    def __init__(self, text: str):
        self.toks = _tokens(text)
        self.i = 0

    def peek(self) -> Optional[tuple[str, str]]:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, value: Optional[str] = None) -> tuple[str, str]:
        tok = self.peek()
        if tok is None or (value is not None and tok[1] != value):
            raise ParseError(f"expected {value or 'more'} at token {self.i} of the expression")
        self.i += 1
        return tok

    def at(self, *values: str) -> bool:
        tok = self.peek()
        return tok is not None and tok[0] == "op" and tok[1] in values

    def parse(self) -> Node:
        node = self.or_()
        if self.peek() is not None:
            raise ParseError(f"unexpected {self.peek()[1]!r} in the expression")
        return node

    def or_(self) -> Node:
        operands = [self.and_()]
        while self.at("||"):
            self.take()
            operands.append(self.and_())
        return operands[0] if len(operands) == 1 else Or(tuple(operands))

    def and_(self) -> Node:
        operands = [self.compare()]
        while self.at("&&"):
            self.take()
            operands.append(self.compare())
        return operands[0] if len(operands) == 1 else And(tuple(operands))

    def compare(self) -> Node:
        node = self.unary()
        while self.at(*_COMPARISONS):
            op = self.take()[1]
            node = Compare(op, node, self.unary())
        return node

    def unary(self) -> Node:
        if self.at("!"):
            self.take()
            return Not(self.unary())
        return self.postfix()

    def postfix(self) -> Node:
        node = self.primary()
        while self.at(".", "["):
            if not isinstance(node, Path):
                raise ParseError("property access on something other than a context")
            if self.take()[1] == ".":
                kind, value = self.take()
                if kind not in ("ident",) and value != "*":
                    raise ParseError(f"bad property name {value!r}")
                node = Path(node.parts + (value.lower(),))
            else:
                index = self.or_()
                self.take("]")
                if isinstance(index, Lit) and isinstance(index.value, str):
                    node = Path(node.parts + (index.value.lower(),))
                else:
                    node = Path(node.parts + ("[?]",))
        return node

    def primary(self) -> Node:
        kind, value = self.take()
        if kind == "str":
            return Lit(value[1:-1].replace("''", "'"))
        if kind == "num":
            return Lit(float(int(value, 16)) if value.lower().startswith("0x") else float(value))
        if kind == "op" and value == "(":
            node = self.or_()
            self.take(")")
            return node
        if kind == "ident":
            lowered = value.lower()
            if lowered in ("true", "false"):
                return Lit(lowered == "true")
            if lowered == "null":
                return Lit(None)
            if self.at("("):
                self.take()
                args = []
                if not self.at(")"):
                    args.append(self.or_())
                    while self.at(","):
                        self.take()
                        args.append(self.or_())
                self.take(")")
                return Call(lowered, tuple(args))
            return Path((lowered,))
        raise ParseError(f"unexpected {value!r} in the expression")


def if_expression(raw: Any) -> str:
    """The expression of an `if:` value. GitHub accepts it bare or as one `${{ }}`; text outside
    `${{ }}` makes the whole value a string template, which is always true (non-empty)."""
    if raw is None:
        return ""
    if isinstance(raw, bool):
        return "true" if raw else "false"
    text = str(raw).strip()
    if "${{" in text:
        if text.startswith("${{") and text.endswith("}}") and text.count("${{") == 1:
            return text[3:-2].strip()
        raise ParseError("text outside `${{ }}`: GitHub evaluates the value as a string, which is always true")
    return text


def parse_expression(text: str) -> Node:
    return _Parser(text).parse()


def conjuncts(node: Node) -> list[Node]:
    """The conditions every run must meet: the operands of a top-level `&&` (parentheses included)."""
    if isinstance(node, And):
        return [c for operand in node.operands for c in conjuncts(operand)]
    return [node]


def calls(node: Node) -> set[str]:
    """Names of the functions the expression calls, anywhere in it."""
    if isinstance(node, Call):
        return {node.name} | {n for a in node.args for n in calls(a)}
    if isinstance(node, Not):
        return calls(node.operand)
    if isinstance(node, Compare):
        return calls(node.left) | calls(node.right)
    if isinstance(node, (And, Or)):
        return {n for o in node.operands for n in calls(o)}
    return set()


def is_equality(node: Node, a: Node, b: Node) -> bool:
    """`a == b` in either order; string literals compare case-insensitively, as GitHub compares them."""

    def same(x: Node, y: Node) -> bool:
        if isinstance(x, Lit) and isinstance(y, Lit) and isinstance(x.value, str) and isinstance(y.value, str):
            return x.value.lower() == y.value.lower()
        return x == y

    return isinstance(node, Compare) and node.op == "==" and ((same(node.left, a) and same(node.right, b)) or (same(node.left, b) and same(node.right, a)))
