"""The polychromatic CT beam (synthspec/families/modality/ct/beam.py): cupping, water correction, bone streaks,
the spec's `beam` field, and the anatomy's display windows in the DICOM series."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from synthspec.families.modality.ct.acquisition import CTAcquisition, simulate_ct

N, PIXEL = 128, 240.0 / 128


def grid():
    c = (torch.arange(N, dtype=torch.float32) - (N - 1) / 2) * PIXEL
    return torch.meshgrid(c, c, indexing="ij")


def scan(hu: torch.Tensor, **beam) -> torch.Tensor:
    acq = CTAcquisition(kv=120.0, mas=100.0, slice_thickness_mm=2.5, pixel_mm=PIXEL, kernel="standard", **beam)
    return simulate_ct(hu[None], acq, None)[0]


@pytest.fixture(scope="module")
def water():
    yy, xx = grid()
    hu = torch.full((N, N), -1000.0)
    hu[xx**2 + yy**2 <= 100.0**2] = 0.0                                   # 20 cm water cylinder
    return hu


def centre_minus_edge(image: torch.Tensor) -> tuple[float, float]:
    yy, xx = grid()
    r = torch.sqrt(xx**2 + yy**2)
    centre = float(image[r < 12.0].mean())
    edge = float(image[(r > 80.0) & (r < 90.0)].mean())
    return centre, centre - edge


def test_monochromatic_water_cylinder_is_flat(water):
    centre, cup = centre_minus_edge(scan(water))
    assert abs(cup) < 2.0 and abs(centre) < 3.0


def test_polychromatic_without_water_correction_cups(water):
    _, cup = centre_minus_edge(scan(water, beam="polychromatic", water_correction=False))
    assert cup < -10.0                                                   # measured ~ -22 HU at 120 kV


def test_water_correction_flattens_the_cylinder_at_zero_hu(water):
    centre, cup = centre_minus_edge(scan(water, beam="polychromatic"))
    assert abs(cup) < 2.0 and abs(centre) < 3.0


def test_dense_bone_rods_throw_a_dark_streak_that_the_bone_correction_reduces_but_leaves():
    yy, xx = grid()
    hu = torch.full((N, N), -1000.0)
    hu[xx**2 + yy**2 <= 80.0**2] = 0.0
    for cx in (-25.0, 25.0):
        hu[(xx - cx) ** 2 + yy**2 <= 7.5**2] = 1800.0
    between = (xx.abs() < 13.0) & (yy.abs() < 2.0)
    reference = (yy.abs() > 25.0) & (yy.abs() < 45.0) & (xx.abs() < 30.0)

    def depth(image):
        return float(image[between].mean() - image[reference].mean())

    mono = depth(scan(hu))
    poly = depth(scan(hu, beam="polychromatic"))
    corrected = depth(scan(hu, beam="polychromatic", bone_correction=0.7))
    assert poly < mono - 10.0
    assert poly < corrected < mono - 3.0                                 # residual streak remains


def test_the_lookup_table_matches_the_energy_sum_over_head_and_body_paths():
    from synthspec.families.modality.ct import beam

    model = beam.beam_model(120.0)
    g = torch.Generator().manual_seed(3)
    lw = torch.cat([torch.rand(40000, generator=g) * 600.0, torch.rand(2000, generator=g) * 2.0,
                    torch.tensor([0.0, 2400.0, 10.0])])
    lb = torch.cat([torch.rand(40000, generator=g) ** 3 * 150.0, torch.rand(2000, generator=g) * 0.5,
                    torch.tensor([0.0, 5.0, 350.0])])                 # the last two lie past the table's edges
    err = (beam.polychromatic_p(lw, lb, model).double() - beam.exact_polychromatic_p(lw, lb, model)).abs()
    assert float(err.max()) < 2e-6                                     # ~0.1 HU-mm; float32 rounding is 5e-7
    halves = torch.cat([beam.polychromatic_p(lw[:21000], lb[:21000], model),
                        beam.polychromatic_p(lw[21000:], lb[21000:], model)])
    assert torch.equal(halves, beam.polychromatic_p(lw, lb, model))   # a reading depends on its own paths only


def test_noise_draws_match_the_monochromatic_order(water):
    acq = dict(kv=120.0, mas=100.0, slice_thickness_mm=2.5, pixel_mm=PIXEL, kernel="standard", beam="polychromatic")
    vol = water[None].repeat(3, 1, 1)
    a = simulate_ct(vol, CTAcquisition(**acq), torch.Generator().manual_seed(5), chunk_slices=1)
    b = simulate_ct(vol, CTAcquisition(**acq), torch.Generator().manual_seed(5), chunk_slices=3)
    assert torch.equal(a, b)


def test_unknown_beam_is_refused(water):
    with pytest.raises(ValueError, match="beam"):
        scan(water, beam="dual_energy")


def _spec(tmp_path: Path, beam_line: str) -> Path:
    example = Path(__file__).resolve().parents[1] / "examples" / "lung_nodules_ldct.synth"
    text = example.read_text(encoding="utf-8").replace("    matrix: 512\n", f"    matrix: 512\n{beam_line}", 1)
    spec = tmp_path / "beam.synth"
    spec.write_text(text, encoding="utf-8")
    return spec


def _acquire_settings(plan) -> dict:
    for stage in plan.stages:
        if stage.kind == "acquire":
            return stage.params.settings
    raise AssertionError("no acquire stage")


def test_spec_beam_reaches_ct_settings(tmp_path):
    from synthspec.compiler.check import compile_file
    from synthspec.families.modality.ct import MODALITY
    from synthspec.plan.lower import lower

    result = compile_file(_spec(tmp_path, "    beam: polychromatic\n"))
    errors = [d for d in result.visible if d.severity.value == "error"]
    assert not errors, [(d.code, d.message) for d in errors]
    settings = MODALITY.settings(_acquire_settings(lower(result, device="cpu")))
    assert settings.beam == "polychromatic" and 0 < settings.bone_correction <= 1


def test_monochromatic_plan_keeps_its_settings_keys(tmp_path):
    from synthspec.compiler.check import compile_file
    from synthspec.plan.lower import lower

    settings = _acquire_settings(lower(compile_file(_spec(tmp_path, "")), device="cpu"))
    assert "beam" not in settings and "bone_correction" not in settings


def test_bad_beam_value_is_a_lint_error(tmp_path):
    from synthspec.compiler.check import compile_file

    result = compile_file(_spec(tmp_path, "    beam: rainbow\n"))
    errors = [d for d in result.visible if d.severity.value == "error"]
    assert errors and any("beam" in d.message or "rainbow" in d.message for d in errors), \
        [(d.code, d.message) for d in errors]


def test_display_windows_come_from_the_anatomy(monkeypatch):
    from synthspec.families import registry
    from synthspec.families.base import Window
    from synthspec.families.modality.ct import dicom

    class Head:
        ct_windows = (Window("brain", 80, 40), Window("subdural", 200, 75), Window("bone", 2800, 600))

    class Chest:
        pass

    monkeypatch.setattr(registry, "anatomy", lambda name: Head() if name == "head" else Chest())
    assert dicom.display_windows("head") == (("BRAIN", 40, 80), ("SUBDURAL", 75, 200), ("BONE", 600, 2800))
    assert dicom.display_windows("thorax_adult") == dicom.WINDOWS
    assert dicom.display_windows("") == dicom.WINDOWS
