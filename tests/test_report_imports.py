"""The report reads; it never imports the generator, another module's private names, or global randomness."""

from __future__ import annotations

import ast
from pathlib import Path

import synthspec.report

REPORT = Path(synthspec.report.__file__).parent
ALLOWED_ENGINE: set[str] = set()  # randomness comes from synthspec.seeds, below every room
MAX_LINES = 600


def _modules():
    for path in sorted(REPORT.glob("*.py")):
        yield path, ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _imports(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module, [a.name for a in node.names]
        elif isinstance(node, ast.Import):
            for a in node.names:
                yield a.name, []


def test_report_never_imports_the_generator_nor_private_names():
    problems = []
    for path, tree in _modules():
        for module, names in _imports(tree):
            if (module == "synthspec.engine" or module.startswith("synthspec.engine.")) and module not in ALLOWED_ENGINE:
                problems.append(f"{path.name}: imports {module}")
            if module in ALLOWED_ENGINE and names != ["analysis_rng"]:
                problems.append(f"{path.name}: imports {names} from {module} (only analysis_rng)")
            if module.startswith("synthspec.") and not module.startswith("synthspec.report"):
                problems += [f"{path.name}: imports private {module}.{n}" for n in names if n.startswith("_")]
            if module.startswith("synthspec.families") and module != "synthspec.families.registry":
                problems.append(f"{path.name}: imports family internals {module}")
            if module in ("random", "synthspec.validate.cohort"):
                problems.append(f"{path.name}: imports {module}")
    assert not problems, problems


def test_report_draws_no_unkeyed_randomness():
    for path, tree in _modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in ("default_rng", "RandomState", "seed", "shuffle"):
                chain = ast.unparse(node)
                assert "random" not in chain, f"{path.name}: {chain}"


def test_report_modules_stay_small_and_say_what_they_are():
    for path, tree in _modules():
        lines = path.read_text(encoding="utf-8").count("\n")
        assert lines <= MAX_LINES, f"{path.name} has {lines} lines"
        assert ast.get_docstring(tree), f"{path.name} has no module docstring"
