"""The layer picture: which project module imports which, read from the source (ast), checked and drawn.

`uv run invoke architecture` prints docs/architecture.md's generated block; tests/unit/test_layers.py
fails on an import that points up a layer, an import cycle between modules, or a private name imported
from another module, and when docs/architecture.md drifts from what this prints.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Each layer and the layers it may import (besides itself). Lower layers never import higher ones.
LAYERS: dict[str, tuple[str, ...]] = {
    "facts": (),
    "clients": (),
    "render": ("facts",),
    "config": ("facts", "render"),
    "program": ("config", "render", "facts", "clients"),
    "runtime": ("clients",),
    "policies": ("facts",),
    "ops": ("runtime", "config", "render", "facts", "clients"),
    "ci": ("ops", "policies", "program", "runtime", "config", "render", "facts", "clients"),
}
LAYER_ROLES = {
    "facts": "what the engine and providers do (with sources), revision naming, env rules, type tokens, services",
    "clients": "clients of other systems (Docker Engine API) and their error wording",
    "render": "pure builders: names, labels, Vault HCL and templates, container settings, shell programs",
    "config": "the stack config schema, its validation, reading a stack file as the Pulumi CLI does",
    "program": "the Pulumi program: ComponentResources and the declarations they use",
    "runtime": "what `pulumi up` runs on the deploying machine (the rollout gate)",
    "policies": "the CrossGuard policy pack: policies only",
    "ops": "operator commands behind `uv run invoke` and their plumbing",
    "ci": "CI and developer tools: offline plan, memory budget, mutation check, generated tables",
}
# Entry points above every layer: they wire layers together and are imported by nothing.
ENTRY_POINTS = ("__main__.py", "tasks.py")


@dataclass(frozen=True)
class Import:
    importer: str  # module, e.g. program.stack
    imported: str  # module, e.g. render.naming
    names: tuple[str, ...]  # names taken with `from ... import`
    line: int


def layer_of(module: str) -> str:
    return module.split(".", 1)[0]


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    found = {}
    for layer in LAYERS:
        for path in sorted((ROOT / layer).rglob("*.py")):
            if "venv" not in path.parts:
                found[module_name(path)] = path
    return found


def _resolve(importer: str, node: ast.ImportFrom, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = importer.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def imports_of(module: str, path: Path, modules: dict[str, Path]) -> Iterator[Import]:
    """Every import of a project module in `path`, at any depth (function-level imports count)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in modules or layer_of(alias.name) in LAYERS:
                    yield Import(module, alias.name, (), node.lineno)
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, node, path.name == "__init__.py")
            if layer_of(target) not in LAYERS:
                continue
            plain = []
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                if sub in modules:
                    yield Import(module, sub, (), node.lineno)
                else:
                    plain.append(alias.name)
            if plain:
                yield Import(module, target, tuple(plain), node.lineno)


def all_imports() -> list[Import]:
    modules = project_modules()
    return [imp for module, path in modules.items() for imp in imports_of(module, path, modules)]


def upward_imports(imports: list[Import]) -> list[str]:
    problems = []
    for imp in imports:
        src, dst = layer_of(imp.importer), layer_of(imp.imported)
        if src != dst and dst not in LAYERS[src]:
            problems.append(
                f"{imp.importer}:{imp.line} imports {imp.imported}: {src} may import only "
                f"{', '.join(LAYERS[src]) or 'nothing of the project'}"
            )
    return problems


def private_imports(imports: list[Import]) -> list[str]:
    return [
        f"{imp.importer}:{imp.line} imports private {name} from {imp.imported}"
        for imp in imports
        for name in imp.names
        if name.startswith("_") and not name.startswith("__") and imp.importer != imp.imported
    ]


def module_cycles(imports: list[Import]) -> list[list[str]]:
    """Strongly connected components of the module graph with more than one module (Tarjan)."""
    graph: dict[str, set[str]] = {}
    for imp in imports:
        if imp.imported != imp.importer and imp.imported != layer_of(imp.imported):  # a package's __init__ is no edge
            graph.setdefault(imp.importer, set()).add(imp.imported)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return cycles


def layer_edges(imports: list[Import]) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {layer: set() for layer in LAYERS}
    for imp in imports:
        src, dst = layer_of(imp.importer), layer_of(imp.imported)
        if src != dst:
            edges[src].add(dst)
    return edges


def markdown() -> str:
    """The generated part of docs/architecture.md: the layers, what each imports today, and the rules."""
    imports = all_imports()
    edges = layer_edges(imports)
    modules = project_modules()
    lines = ["```mermaid", "flowchart TD"]
    for layer in LAYERS:
        for dst in sorted(edges[layer]):
            lines.append(f"  {layer} --> {dst}")
    lines += ["```", "", "| layer | holds | modules | imports today | may import |", "|---|---|---|---|---|"]
    for layer, allowed in LAYERS.items():
        count = sum(1 for m in modules if layer_of(m) == layer)
        today = ", ".join(sorted(edges[layer])) or "nothing"
        lines.append(f"| `{layer}/` | {LAYER_ROLES[layer]} | {count} | {today} | {', '.join(allowed) or 'nothing'} |")
    return "\n".join(lines) + "\n"


DOCS = ROOT / "docs/architecture.md"
BEGIN, END = "<!-- generated: uv run invoke architecture -->\n", "<!-- end generated -->"


def write_docs() -> None:
    text = DOCS.read_text()
    head, rest = text.split(BEGIN, 1)
    DOCS.write_text(head + BEGIN + markdown() + END + rest.split(END, 1)[1])


if __name__ == "__main__":
    print(markdown(), end="")
