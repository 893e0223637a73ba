"""`synth check`, `fmt`, `explain` and `rules` stay light: they import nothing of the generator.

Each run happens in a fresh interpreter, so modules another test imported cannot hide (or fake) an
import.  Two lists are checked: the heavy third-party stack (torch, MONAI, SimpleITK, numba, pydicom)
and every synthspec module outside the compiler's path (engine, families, cohort, validate, report,
plan, dataset, and the api and the cli rooms of the other commands).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("torch", "monai", "SimpleITK", "numba", "pydicom")
# synthspec modules the lint path must never load: a name is refused if it is one of these or lies below one
GENERATOR = ("synthspec.engine", "synthspec.families", "synthspec.cohort", "synthspec.validate", "synthspec.report",
             "synthspec.plan", "synthspec.dataset", "synthspec.api", "synthspec.cli.generate", "synthspec.cli.review")

PROBE = """
import io, json, sys
from contextlib import redirect_stdout, redirect_stderr
import synthspec.cli
out, err = io.StringIO(), io.StringIO()
with redirect_stdout(out), redirect_stderr(err):
    code = synthspec.cli.main({argv!r})
heavy = sorted(m for m in sys.modules if m.split(".")[0] in {heavy!r})
refused = {refused!r}
generator = sorted(m for m in sys.modules if any(m == r or m.startswith(r + ".") for r in refused))
synthspec = sorted(m for m in sys.modules if m == "synthspec" or m.startswith("synthspec."))
print(json.dumps({{"code": code, "heavy": heavy, "generator": generator, "synthspec": synthspec,
                  "stderr": err.getvalue()[-2000:]}}))
"""


def run_in_fresh_interpreter(argv: list[str], heavy=HEAVY, refused=GENERATOR) -> dict:
    code = PROBE.format(argv=argv, heavy=set(heavy), refused=tuple(refused))
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


LINT = [
    ["check", "examples"],
    ["check", "--format", "sarif", "examples"],
    ["fmt", "--check", "examples"],
    ["explain", "PHY001"],
    ["rules"],
]


@pytest.mark.parametrize("argv", LINT, ids=lambda argv: " ".join(argv))
def test_lint_commands_import_nothing_heavy(argv):
    report = run_in_fresh_interpreter(argv)
    assert report["code"] in (0, 1), report["stderr"]  # it really ran (1: the broken examples have findings)
    assert report["heavy"] == [], f"`synth {' '.join(argv)}` imported {report['heavy']}"


@pytest.mark.parametrize("argv", LINT, ids=lambda argv: " ".join(argv))
def test_lint_commands_import_nothing_of_the_generator(argv):
    report = run_in_fresh_interpreter(argv)
    assert report["code"] in (0, 1), report["stderr"]
    assert report["generator"] == [], f"`synth {' '.join(argv)}` imported {report['generator']}"
    # what it does load: the package, the cli's table, the lint room and the compiler, nothing else
    others = [m for m in report["synthspec"]
              if m not in ("synthspec", "synthspec.errors", "synthspec.grammar", "synthspec.cli", "synthspec.cli.common",
                           "synthspec.cli.lint") and not m.startswith("synthspec.compiler")]
    assert others == [], f"`synth {' '.join(argv)}` imported {others}"


def test_the_probe_would_notice_a_heavy_import():
    """Guard against a probe that can never fail: told that `json` is heavy, it reports it."""
    report = run_in_fresh_interpreter(["rules"], heavy={"json"})
    assert "json" in report["heavy"]


def test_the_probe_would_notice_a_generator_import():
    """The same guard for the synthspec list: told that the compiler is refused, it reports its modules."""
    report = run_in_fresh_interpreter(["rules"], refused=("synthspec.compiler",))
    assert "synthspec.compiler.rules" in report["generator"]
    # a refused name covers the modules below it, not every name that starts with the same letters
    assert run_in_fresh_interpreter(["rules"], refused=("synthspec.cli.l",))["generator"] == []
