"""The layers of the project (ci/architecture.py): imports point down only, no module imports itself back
through another, nothing takes a private name from another module, and docs/architecture.md shows the
imports as they are."""

from __future__ import annotations

import ast

from ci import architecture as arch

ROOT = arch.ROOT


def test_every_project_module_lives_in_a_layer_folder():
    stray = [p.relative_to(ROOT).as_posix() for p in ROOT.glob("*.py") if p.name not in arch.ENTRY_POINTS]
    folders = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests", "benchmarks"}
    assert stray == [] and folders <= set(arch.LAYERS), (stray, folders - set(arch.LAYERS))


def test_no_import_points_up_a_layer():
    assert arch.upward_imports(arch.all_imports()) == []


def test_no_import_cycle_between_modules():
    assert arch.module_cycles(arch.all_imports()) == []


def test_no_private_name_is_imported_from_another_module():
    assert arch.private_imports(arch.all_imports()) == []


def test_the_checks_see_an_upward_import_a_cycle_and_a_private_import():
    """The checks themselves, on imports written here: a checker that finds nothing would pass the tests above."""
    fake = [
        arch.Import("render.a", "program.stack", ("FinanceReportStack",), 1),
        arch.Import("render.a", "render.b", ("_hidden",), 2),
        arch.Import("render.b", "render.a", ("x",), 3),
    ]
    assert arch.upward_imports(fake) == ["render.a:1 imports program.stack: render may import only facts"]
    assert arch.private_imports(fake) == ["render.a:2 imports private _hidden from render.b"]
    assert arch.module_cycles(fake) == [["render.a", "render.b"]]


def test_function_level_and_relative_imports_are_read():
    modules = arch.project_modules()
    found = {(i.importer, i.imported) for i in arch.all_imports()}
    # ops/status.py imports the backup health reader inside a function; policies import siblings relatively
    assert ("ops.status", "ops.backup_health") in found
    assert ("policies.replacement", "policies.common") in found
    assert "policies.common" in modules


def test_docs_architecture_shows_the_imports_as_they_are():
    text = (ROOT / "docs/architecture.md").read_text()
    begin, end = "<!-- generated: uv run invoke architecture -->\n", "<!-- end generated -->"
    generated = text[text.index(begin) + len(begin) : text.index(end)]
    assert generated == arch.markdown(), "docs/architecture.md drifted: run `uv run invoke architecture`"


def test_facts_import_only_the_standard_library():
    """The policy pack ships facts/ and runs in its own venv (pulumi-policy, python-hcl2 only)."""
    for path in (ROOT / "facts").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom) and not node.level
                else []
            )
            for name in names:
                top = name.split(".")[0]
                assert top in ("__future__", "facts") or top in __import__("sys").stdlib_module_names, (path, name)
