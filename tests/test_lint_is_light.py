"""`synth check` and `synth fmt` stay light: they never import the heavy runtime stack.

Each run happens in a fresh interpreter, so modules another test imported
cannot hide (or fake) an import.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("torch", "monai", "SimpleITK", "numba", "pydicom")

PROBE = """
import io, json, sys
from contextlib import redirect_stdout, redirect_stderr
import synthspec.cli
out, err = io.StringIO(), io.StringIO()
with redirect_stdout(out), redirect_stderr(err):
    code = synthspec.cli.main({argv!r})
heavy = sorted(m for m in sys.modules if m.split(".")[0] in {heavy!r})
print(json.dumps({{"code": code, "heavy": heavy, "stderr": err.getvalue()[-2000:]}}))
"""


def run_in_fresh_interpreter(argv: list[str]) -> dict:
    code = PROBE.format(argv=argv, heavy=set(HEAVY))
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("argv", [
    ["check", "examples"],
    ["check", "--format", "sarif", "examples"],
    ["fmt", "--check", "examples"],
    ["explain", "PHY001"],
    ["rules"],
], ids=lambda argv: " ".join(argv))
def test_lint_commands_import_nothing_heavy(argv):
    report = run_in_fresh_interpreter(argv)
    assert report["code"] in (0, 1), report["stderr"]  # it really ran (1: the broken examples have findings)
    assert report["heavy"] == [], f"`synth {' '.join(argv)}` imported {report['heavy']}"


def test_the_probe_would_notice_a_heavy_import():
    """Guard against a probe that can never fail: told that `json` is heavy, it reports it."""
    code = PROBE.format(argv=["rules"], heavy={"json"})
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert "json" in json.loads(done.stdout.strip().splitlines()[-1])["heavy"]
