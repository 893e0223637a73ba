"""The package layout is the pipeline: rooms import only rooms below them, and stay small.

Room order (lowest first): errors, seeds, identity, grammar, compiler, stdlib, lsp, families, plan,
cohort, engine, dataset, validate, transfer, report, api, cli.  The language server (lsp) sits just above the
stdlib: it may use the compiler and nothing of the generator.  The checks read the source with
`ast`, so they hold for imports inside functions too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "synthspec"
ORDER = ("errors", "seeds", "identity", "grammar", "compiler", "stdlib", "lsp", "families", "plan", "cohort", "engine",
         "dataset", "validate", "transfer", "report", "api", "cli")
ALLOWED_UPWARD = {
    # lowering asks the families for their parts: the plan's one door is the registry
    ("plan", "families"): {"synthspec.families", "synthspec.families.registry"},
    # the shortcut tests regenerate twins through the engine's public names only
    ("validate", "engine"): {"synthspec.engine"},
    # the training dataset opens a spec or a saved plan as `synth run` does, through the api's plan and load_plan
    ("dataset", "api"): {"synthspec.api"},
    # the head's templates are fetched, checksummed and cached by the same downloaders as the realism references
    ("families", "validate"): {"synthspec.validate.reference.fetch", "synthspec.validate.reference.debian"},
}
MAX_LINES = 600


def room_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield ".".join(parts), path, ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _imports(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "synthspec":   # `from synthspec import api` imports the room synthspec.api
                yield from (f"synthspec.{alias.name}" for alias in node.names)
            else:
                yield node.module
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name


def test_rooms_import_only_rooms_below_them():
    problems = []
    for module, path, tree in _modules():
        source = room_of(module)
        if source not in ORDER:
            continue
        for imported in _imports(tree):
            if not imported.startswith("synthspec."):
                continue
            target = room_of(imported)
            if target == source or target not in ORDER:
                continue
            if ORDER.index(target) > ORDER.index(source) and imported not in ALLOWED_UPWARD.get((source, target), ()):
                problems.append(f"{module} imports {imported} ({source} is below {target})")
    assert not problems, "\n".join(problems)


def test_the_engine_never_imports_validation_reports_or_the_cli():
    for module, _, tree in _modules():
        if room_of(module) == "engine":
            bad = [m for m in _imports(tree) if room_of(m) in ("validate", "report", "cli")]
            assert not bad, (module, bad)


@pytest.mark.parametrize("room", ["validate", "report"])
def test_validate_and_report_read_the_cohort_and_the_plan_not_the_stdlib(room):
    for module, _, tree in _modules():
        if room_of(module) == room:
            bad = [m for m in _imports(tree) if m.startswith(("synthspec.compiler", "synthspec.stdlib"))]
            assert not bad, (module, bad)


def test_every_module_is_small_and_says_what_it_is():
    for module, path, tree in _modules():
        lines = path.read_text(encoding="utf-8").count("\n")
        assert lines <= MAX_LINES, f"{module} has {lines} lines"
        assert ast.get_docstring(tree), f"{module} has no docstring"


def test_the_layout_test_can_fail():
    """Guard against a check that can never fire: an import from a higher room is caught."""
    tree = ast.parse("from synthspec.engine.subject import generate_subject")
    assert [m for m in _imports(tree) if ORDER.index(room_of(m)) > ORDER.index("cohort")]
    assert list(_imports(ast.parse("from synthspec import api"))) == ["synthspec.api"]
