"""PHY013: the linter refuses a CT with fewer views than full angular sampling (pi/2 x the matrix) unless the spec
keeps them with a reason, and it reads the matrix the way the CT modality's grid does."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from synthspec.compiler import config as synth_config
from synthspec.compiler.check import compile_file
from synthspec.compiler.rules import physics

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "lung_nodules_ldct.synth"
CLEAN = EXAMPLE.read_text(encoding="utf-8")


def _codes(tmp_path: Path, text: str) -> list:
    spec = tmp_path / "s.synth"
    spec.write_text(text, encoding="utf-8")
    return compile_file(spec, synth_config.Config(), roots=[tmp_path]).diagnostics


def _with(ct_lines: str) -> str:
    assert "    matrix: 512\n" in CLEAN
    return CLEAN.replace("    matrix: 512\n", ct_lines, 1)


def test_the_example_takes_full_sampling_without_naming_views(tmp_path):
    assert "views:" not in CLEAN
    assert not [d for d in _codes(tmp_path, CLEAN) if d.code == "PHY013"]


@pytest.mark.parametrize("views,flagged", [(256, True), (402, True), (403, False), (1000, False)])
def test_views_below_pi_over_two_times_the_matrix_are_an_error(tmp_path, views, flagged):
    found = [d for d in _codes(tmp_path, _with(f"    matrix: 256\n    views: {views}\n")) if d.code == "PHY013"]
    assert bool(found) == flagged
    if flagged:
        assert found[0].severity == "error" and "403" in found[0].message


def test_voxel_size_sets_the_matrix_as_the_grid_does(tmp_path):
    # 400 mm at 0.7 mm is a 572-pixel matrix: 899 views needed, whatever `matrix` says
    text = _with("    matrix: 512\n    views: 850\n").replace("  seed: 42\n", "  seed: 42\n  voxel_size: 0.7 mm\n", 1)
    found = [d for d in _codes(tmp_path, text) if d.code == "PHY013"]
    assert found and str(math.ceil(math.pi / 2 * 572)) in found[0].message


def test_a_reason_keeps_few_views(tmp_path):
    text = _with("    matrix: 512\n    views: 96  # synth: ignore[PHY013] a sparse-view reconstruction study\n")
    found = [d for d in _codes(tmp_path, text) if d.code == "PHY013"]
    assert found and all(d.suppressed for d in found)


def test_the_linter_defaults_equal_the_modality_defaults():
    from synthspec.families.modality import ct
    assert (physics.CT_DEFAULT_MATRIX, physics.CT_DEFAULT_FOV_MM) == (ct.DEFAULT_MATRIX, ct.DEFAULT_FOV_MM)
