"""No-cheat tests: a clean cohort passes, the planted-shortcut control is flagged.

Two 40-subject cohorts on the coarse 60x64x64 grid with 14-20 mm nodules (visible at
7 mm pixels), generated once per module: about a minute in all on a 2-core CPU.
Seeds are fixed (the cohort, and the probes' analysis_rng streams); the margins below were
measured over probe seeds 0-3 (clean: twin-probe AUC 0.52-0.56 against the 0.75 limit, in-memory
planted control 0.97-1.00; planted cohort 1.00).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from synthspec.compiler.check import compile_file
from synthspec.plan.lower import lower
from synthspec.engine.executor import run
from synthspec.cohort.read import load
from synthspec.seeds import analysis_rng
from synthspec.validate.shortcut import ShortcutSettings, mask_lesions, run_shortcut_tests
from synthspec.validate.stats import auc, bootstrap_auc_ci

SUBJECTS = 40
SEED = 8   # 20 positives of 40 in both cohorts


def spec_text(planted: bool) -> str:
    debug = "\n  debug {\n    planted_shortcut: true\n    marker_strength: 50%\n  }\n" if planted else ""
    validate = "\n  validate {\n    shortcut_tests: counterfactual\n  }\n" if planted else ""
    purpose = "method_development" if planted else "brittleness_testing"
    return f"""synth 1

cohort shortcut_probe {{
  title: "Shortcut-test probe cohort"
  subjects: {SUBJECTS}
  seed: {SEED}
  anatomy: thorax_adult
  scanners: ct.wide_detector_256 50%, ct.budget_16 50%

  task {{
    finding: lung_nodule
    modality: ct
    job: detect
  }}

  ct {{
    kv: 120 kV
    mas: 30 mAs .. 60 mAs
    slice_thickness: 5 mm
    matrix: 64
    field_of_view: 450 mm
    views: 96  # synth: ignore[PHY013] a 64-pixel test fixture: speed over streaks
    kernel: lung
  }}

  population {{
    age: normal(62 y, 10 y) clipped 50 y .. 80 y
    sex: female 50%, male 50%
    height: normal(170 cm, 9 cm) clipped 150 cm .. 190 cm
    bmi: normal(26 kg/m2, 4 kg/m2) clipped 18 kg/m2 .. 35 kg/m2
  }}

  pathology nodule {{
    kind: lung_nodule
    subtype: solid
    diameter: 14 mm .. 20 mm
    location: lung
    count: 1 .. 1
    prevalence: 50%
    min_positives: 2
    require pleura_gap: distance_to(pleura) >= 2 mm
  }}

  governance {{
    purpose: {purpose}
    approved_by: "test"
    expires: 2027-12-31
  }}

  output {{
    formats: nifti, masks
  }}
{validate}{debug}}}
"""


def _cohort(folder: Path, planted: bool):
    spec = folder / ("planted.synth" if planted else "clean.synth")
    spec.write_text(spec_text(planted), encoding="utf-8")
    result = compile_file(spec)
    errors = [d for d in result.visible if d.severity.value == "error"]
    assert not errors, [(d.code, d.message) for d in errors]
    plan = lower(result, device="cpu")
    run(plan, folder / "out")
    return load(folder / "out")


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    cohort = _cohort(tmp_path_factory.mktemp("clean"), planted=False)
    return cohort, run_shortcut_tests(cohort, settings=ShortcutSettings(), planted_control=True)


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    cohort = _cohort(tmp_path_factory.mktemp("planted"), planted=True)
    assert cohort.plan.debug.planted_shortcut
    # tests from its validate block; 4 permuted-label runs (p <= 0.2) instead of 19 keep the fixture short, the
    # procedure is the same
    return cohort, run_shortcut_tests(cohort, settings=ShortcutSettings(permutations=4, probe_alpha=0.2))


def test_the_clean_cohort_passes_every_no_cheat_test(clean):
    cohort, report = clean
    assert sum(s.record["positive"] for s in cohort.subjects) == 20
    names = {c.name for c in report.checks}
    assert {"shortcut_model", "shortcut_twin_consistency", "shortcut_counterfactual", "shortcut_twin_probe",
            "shortcut_lesion_mask", "shortcut_artifact_swap", "shortcut_scanner_swap",
            "shortcut_planted_control"} <= names
    failed = {c.name: c.reason for c in report.checks if not c.passed}
    assert not failed, failed
    nb = report.numbers
    assert nb["slab_auc"] >= 0.9                        # the detector probe sees the nodules
    assert nb["subject_auc_ci95"][0] >= 0.8
    assert abs(nb["twin_collapse_ratio"]) <= 0.2        # without the lesion it calls them negative
    assert abs(nb["masked_collapse_ratio"]) <= 0.2
    assert nb["twin_probe_auc"] <= 0.72                 # lesion-free scans carry no label
    assert nb["noise_swap_drop"] <= 0.05 and nb["scanner_swap_drop"] <= 0.05
    assert max(nb["twin_mismatch_hu"].values()) < 0.5   # the twins are true counterfactuals
    assert nb["planted_control"]["twin_probe_auc"] >= 0.8   # and a planted marker would have been caught


def test_the_planted_shortcut_control_is_flagged(planted):
    cohort, report = planted
    assert report.flagged
    by_name = {c.name: c for c in report.checks}
    assert set(by_name) == {"shortcut_model", "shortcut_twin_consistency", "shortcut_counterfactual",
                            "shortcut_twin_probe"}
    probe = by_name["shortcut_twin_probe"]
    assert not probe.passed and probe.value >= 0.9     # twins (marker kept) still look positive
    assert "besides the lesion" in probe.reason
    assert report.numbers["twin_probe_null_permutations"] == 4 and report.numbers["twin_probe_p"] == 0.2
    assert max(report.numbers["twin_probe_null_aucs"]) < probe.value    # chance does not reach a planted marker
    assert by_name["shortcut_twin_consistency"].passed
    assert report.numbers["twin_probe_mean_p_twins"] > 0.8 > 0.2 > report.numbers["twin_probe_mean_p_negatives"]


def test_auc_and_its_bootstrap_interval():
    assert auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == pytest.approx(0.75)
    assert auc([1, 1, 1, 1], [0, 1, 0, 1]) == pytest.approx(0.5)
    assert np.isnan(auc([0.2, 0.3], [1, 1]))
    rng = np.random.default_rng(0)
    y = np.r_[np.ones(30), np.zeros(30)].astype(bool)
    scores = np.where(y, rng.normal(1.0, 1.0, 60), rng.normal(0.0, 1.0, 60))
    low, high = bootstrap_auc_ci(scores, y, analysis_rng("bootstrap", "test", 1), n_boot=500)
    assert low < auc(scores, y) < high and 0.5 < low and high <= 1.0


def test_masking_replaces_lesion_voxels_with_parenchyma():
    image = np.full((5, 32, 32), -850, np.int16)
    image += np.random.default_rng(0).integers(-20, 20, image.shape).astype(np.int16)
    labels = np.zeros(image.shape, np.uint8)
    labels[:, 4:28, 4:28] = 12
    lesions = np.zeros(image.shape, np.uint16)
    lesions[2, 14:17, 14:17] = 1
    image[lesions > 0] = 40
    masked = mask_lesions(image, lesions, labels > 0, (5.0, 1.0, 1.0), analysis_rng("shortcut", "test", 3))
    assert masked[lesions > 0].max() < -800
    assert np.array_equal(masked[labels == 0], image[labels == 0])


def test_too_few_subjects_is_a_clear_failure(clean):
    cohort, _ = clean
    small = type(cohort)(folder=cohort.folder, plan=cohort.plan, info=cohort.info, subjects=cohort.subjects[:5])
    report = run_shortcut_tests(small, tests=("counterfactual",))
    assert [c.name for c in report.checks] == ["shortcut_model"] and not report.checks[0].passed
    assert "at least 4 of each" in report.checks[0].reason
