"""Readers the workflow trust checks (test_workflows.py) use instead of substring matches:

- `conjuncts` parses a GitHub Actions expression (a job's `if:`) and returns the conditions every run
  must meet (the top-level `&&` operands), so a guard can be required as one of them: `guard || x` or
  `always() || guard` do not make it one.
- `shell_commands` splits a `run:` script into its simple commands (word lists), the scripts inside
  `$(...)`, backticks, `bash -c '...'` and `eval` included, so a `pulumi` or `git` call is found wherever
  it is in the script.

Both are deliberately small: they read the forms the workflows use and raise `ParseError` on what they
cannot read (the caller reports it as a problem), rather than guessing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

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
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    operand: Node


@dataclass(frozen=True)
class Compare:
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class And:
    operands: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    operands: tuple[Node, ...]


Node = Lit | Path | Call | Not | Compare | And | Or

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
            raise ParseError(f"cannot read the expression at {text[pos : pos + 20]!r}")
        kind = m.lastgroup
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


class _Parser:
    """Precedence as GitHub documents it: `( )`, `[ ]`, `.`, `!`, comparisons, `&&`, `||`."""

    def __init__(self, text: str):
        self.toks = _tokens(text)
        self.i = 0

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
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

    return (
        isinstance(node, Compare)
        and node.op == "=="
        and ((same(node.left, a) and same(node.right, b)) or (same(node.left, b) and same(node.right, a)))
    )


# ------------------------------------------------------------------------------------------ shell scripts

_OPERATORS = ("&&", "||", ";;", "|&", ">>", "<<", "&>", ">&", "<&", ">|", "<>", ";", "&", "|", "(", ")", "<", ">", "\n")
_SEPARATORS = {"&&", "||", ";;", "|&", ";", "&", "|", "(", ")", "\n"}
_KEYWORDS = {"if", "then", "else", "elif", "fi", "do", "done", "while", "until", "!", "{", "}", "time"}
_GH_EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.S)
SUBSTITUTION = "\x01"
"""Stands for a `$(...)` or backtick substitution inside a word: its value is not known here."""


@dataclass(frozen=True)
class _Op:
    text: str


def _matching_paren(script: str, start: int) -> int:
    """Index of the `)` closing the `$(` whose `(` is at `start`, skipping quoted text."""
    depth, i = 0, start
    while i < len(script):
        c = script[i]
        if c == "\\":
            i += 2
            continue
        if c == "'":
            end = script.find("'", i + 1)
            if end < 0:
                raise ParseError("unterminated ' in a $(...)")
            i = end + 1
            continue
        if c == '"':
            i = _end_of_double_quotes(script, i + 1) + 1
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise ParseError("unterminated $(")


def _end_of_double_quotes(script: str, i: int) -> int:
    while i < len(script):
        c = script[i]
        if c == "\\":
            i += 2
            continue
        if c == '"':
            return i
        if script.startswith("$(", i):
            i = _matching_paren(script, i + 1) + 1
            continue
        i += 1
    raise ParseError('unterminated "')


def _tokenize(script: str, subs: list[str]) -> list[str | _Op]:
    out: list[str | _Op] = []
    word: str | None = None
    i, n = 0, len(script)

    def flush():
        nonlocal word
        if word is not None:
            out.append(word)
            word = None

    while i < n:
        c = script[i]
        if c in " \t\r":
            flush()
            i += 1
        elif c == "\\":
            if script.startswith("\\\n", i):
                i += 2  # line continuation
            else:
                word = (word or "") + script[i + 1 : i + 2]
                i += 2
        elif c == "#" and word is None:
            while i < n and script[i] != "\n":
                i += 1
        elif c == "'":
            end = script.find("'", i + 1)
            if end < 0:
                raise ParseError("unterminated '")
            word = (word or "") + script[i + 1 : end]
            i = end + 1
        elif c == '"':
            end = _end_of_double_quotes(script, i + 1)
            inner, j, text = script[i + 1 : end], 0, ""
            while j < len(inner):
                if inner[j] == "\\" and j + 1 < len(inner) and inner[j + 1] in '$`"\\\n':
                    text += inner[j + 1] if inner[j + 1] != "\n" else ""
                    j += 2
                elif inner.startswith("$(", j) or inner[j] == "`":
                    before = len(subs)
                    j = _sub_in(inner, j, subs)
                    text += SUBSTITUTION * (len(subs) > before)
                else:
                    text += inner[j]
                    j += 1
            word = (word or "") + text
            i = end + 1
        elif script.startswith("$(", i) or c == "`":
            i = _sub_in(script, i, subs)
            word = (word or "") + SUBSTITUTION
        else:
            op = next((o for o in _OPERATORS if script.startswith(o, i)), None)
            if op:
                if op[0] in "<>" and word is not None and word.isdigit():
                    word = None  # an io number: 2>&1
                flush()
                out.append(_Op(op))
                i += len(op)
            else:
                word = (word or "") + c
                i += 1
    flush()
    return out


def _sub_in(text: str, at: int, subs: list[str]) -> int:
    """Records the `$(...)` or backtick script starting at `at`; returns the index after it."""
    if text.startswith("$(", at):
        end = _matching_paren(text, at + 1)
        subs.append(text[at + 2 : end])
        return end + 1
    end = text.find("`", at + 1)
    if end < 0:
        raise ParseError("unterminated `")
    subs.append(text[at + 1 : end])
    return end + 1


def shell_commands(script: str) -> list[list[str]]:
    """The simple commands of a bash script as word lists (quotes removed, `${{ }}` expressions kept as
    written), the commands of every `$(...)`, backtick, `sh -c`/`bash -c` script and `eval` included.
    Redirection targets are dropped; a heredoc's lines are read as commands (it may be piped to a shell)."""
    expressions: list[str] = []

    def hide(m: re.Match) -> str:
        expressions.append("${{ " + m.group(1).strip() + " }}")
        return f"\x00{len(expressions) - 1}\x00"

    def show(word: str) -> str:
        return re.sub(r"\x00(\d+)\x00", lambda m: expressions[int(m.group(1))], word)

    return [[show(w) for w in words] for words in _commands(_GH_EXPRESSION.sub(hide, script), 0)]


def _commands(script: str, depth: int) -> list[list[str]]:
    if depth > 8:
        raise ParseError("scripts nested more than 8 deep")
    nested: list[str] = []
    commands: list[list[str]] = []
    current: list[str] = []
    skip_target = False
    for tok in _tokenize(script, nested) + [_Op("\n")]:
        if isinstance(tok, _Op):
            if tok.text in _SEPARATORS:
                if current:
                    commands.append(current)
                current = []
            else:
                skip_target = True  # a redirection: the next word is its target
            continue
        if skip_target:
            skip_target = False
            continue
        if not current and tok in _KEYWORDS:
            continue
        current.append(tok)
    for words in commands:
        for k, w in enumerate(words):
            if w.rsplit("/", 1)[-1] in ("sh", "bash", "dash", "zsh"):
                # sh -c SCRIPT (also combined flags: -ec, -xc)
                flag = next(
                    (j for j in range(k + 1, len(words) - 1) if re.fullmatch(r"-[A-Za-z]*c[A-Za-z]*", words[j])), None
                )
                if flag is not None:
                    nested.append(words[flag + 1])
            elif w == "eval" and k == 0:
                nested.append(" ".join(words[1:]))
    out = list(commands)
    for inner in nested:
        out += _commands(inner, depth + 1)
    return out
