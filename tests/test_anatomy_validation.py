"""Anatomy validation: a generated cohort passes; corrupted label maps fail with the right reason."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from synthspec.compiler.check import compile_file
from synthspec.plan.lower import lower
from synthspec.engine.executor import run
from synthspec.cohort.record import checked_record
from synthspec.engine import generate_subject
from synthspec.engine.sample import sample_subject
from synthspec.families.anatomy.thorax import FAMILY
from synthspec.families.anatomy.thorax.checks import assess_subject, check_subject_anatomy
from synthspec.families.anatomy.thorax.references import CHECKS, bsa_m2, lung_volume_limits_ml, predicted_tlc_ml
from synthspec.validate.anatomy import anatomy_checks
from synthspec.cohort.read import load

SPEC = """synth 1

cohort anatomy_probe {
  title: "Anatomy validation probe"
  subjects: 6
  seed: 11
  anatomy: thorax_adult
  scanners: ct.wide_detector_256 50%, ct.budget_16 50%

  task {
    finding: lung_nodule
    modality: ct
    job: detect
  }

  ct {
    kv: 120 kV
    mas: 30 mAs .. 60 mAs
    slice_thickness: 5 mm
    matrix: 64
    field_of_view: 450 mm
    views: 96  # synth: ignore[PHY013] a 64-pixel test fixture: speed over streaks
    kernel: lung
  }

  population {
    age: normal(62 y, 10 y) clipped 50 y .. 80 y
    sex: female 50%, male 50%
    height: normal(170 cm, 9 cm) clipped 150 cm .. 190 cm
    bmi: normal(26 kg/m2, 4 kg/m2) clipped 18 kg/m2 .. 35 kg/m2
  }

  pathology nodule {
    kind: lung_nodule
    subtype: solid
    diameter: 14 mm .. 20 mm
    location: lung
    count: 1 .. 1
    prevalence: 70%
    min_positives: 2
    require pleura_gap: distance_to(pleura) >= 2 mm
  }

  governance {
    purpose: brittleness_testing
    approved_by: "test"
    expires: 2027-12-31
  }

  output {
    formats: nifti, masks
  }
}
"""


def _plan(folder: Path):
    spec = folder / "anatomy_probe.synth"
    spec.write_text(SPEC, encoding="utf-8")
    result = compile_file(spec)
    errors = [d for d in result.visible if d.severity.value == "error"]
    assert not errors, [(d.code, d.message) for d in errors]
    return lower(result, device="cpu")


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    folder = tmp_path_factory.mktemp("anatomy")
    plan = _plan(folder)
    run(plan, folder / "out")
    return plan, folder / "out"


@pytest.fixture(scope="module")
def positive(cohort):
    """One positive subject, generated in memory (labels, lesion mask, record)."""
    plan, _ = cohort
    k = next(k for k in range(50) if sample_subject(plan, k).positive)
    subject = generate_subject(plan, k, noiseless=True)
    assert subject.lesions
    return plan, subject, checked_record(subject.params, subject.lesions)


def test_reference_values_follow_the_published_equations():
    pred, rsd = predicted_tlc_ml("male", 1750.0)
    assert pred == pytest.approx(1000 * (7.99 * 1.75 - 7.08)) and rsd == 700.0
    pred_f, _ = predicted_tlc_ml("female", 1620.0)
    assert pred_f == pytest.approx(1000 * (6.60 * 1.62 - 5.79))
    low, high = lung_volume_limits_ml("female", 1620.0)
    assert low < pred_f < high
    assert bsa_m2(1700.0, 24.0) == pytest.approx(1.81, abs=0.01)   # Mosteller, 69.4 kg


def test_a_generated_cohort_passes_every_anatomy_check(cohort):
    plan, out = cohort
    results = anatomy_checks(load(out))
    by_name = {r.name: r for r in results}
    assert set(CHECKS) <= set(by_name) and "anatomy_subjects" in by_name
    failed = {r.name: r.reason for r in results if not r.passed}
    assert not failed, failed
    lungs = by_name["lung_volume"].details["lung_to_predicted_tlc"]
    assert 0.6 < lungs["mean"] < 1.2
    assert by_name["lesion_constraints"].details["evaluated"] == 6


def test_the_unchanged_subject_passes(positive):
    plan, subject, record = positive
    assert check_subject_anatomy(subject.labels, subject.lesion_mask, plan.grid.spacing, record, plan) == []


def test_a_lung_split_in_two_fails_connectivity(positive):
    plan, subject, record = positive
    labels = subject.labels.copy()
    right = np.isin(labels, (10, 11, 12))
    zs = np.flatnonzero(right.any(axis=(1, 2)))
    cut = (zs[0] + zs[-1]) // 2
    labels[cut][right[cut]] = 1          # one slab of chest wall through the middle of the right lung
    reasons = check_subject_anatomy(labels, subject.lesion_mask, plan.grid.spacing, record, plan)
    assert any(r.startswith("connectivity:") and "right lung is in 2 pieces" in r for r in reasons), reasons


def test_a_lesion_in_the_heart_fails_lesion_tissue(positive):
    plan, subject, record = positive
    lesions = np.zeros_like(subject.lesion_mask)
    heart = np.argwhere(subject.labels == 40)
    z, y, x = np.round(heart.mean(axis=0)).astype(int)
    lesions[z - 1:z + 2, y - 1:y + 2, x - 1:x + 2] = 1
    assert np.all(subject.labels[lesions > 0] == 40)
    reasons = check_subject_anatomy(subject.labels, lesions, plan.grid.spacing, record, plan)
    assert any(r.startswith("lesion_tissue:") and "in heart" in r for r in reasons), reasons
    assert any(r.startswith("lesion_location:") for r in reasons), reasons


def test_lungs_far_too_small_fail_lung_volume(positive):
    plan, subject, record = positive
    labels = subject.labels.copy()
    lung = np.isin(labels, (10, 11, 12, 13, 14))
    zs = np.flatnonzero(lung.any(axis=(1, 2)))
    keep = np.zeros_like(lung)
    mid = (zs[0] + zs[-1]) // 2
    keep[mid - 3:mid + 3] = True
    labels[lung & ~keep] = 3             # only a 30 mm band of lung left
    lesions = np.where(np.isin(labels, (10, 11, 12, 13, 14, 30, 31)), subject.lesion_mask, 0)
    reasons = check_subject_anatomy(labels, lesions, plan.grid.spacing, record, plan)
    assert any(r.startswith("lung_volume:") and "below the limits of normal" in r for r in reasons), reasons


def test_a_lesion_too_close_to_the_pleura_fails_the_specs_constraint(positive):
    plan, subject, record = positive
    measured = assess_subject(subject.labels, subject.lesion_mask, plan.grid.spacing, record, plan).measures
    distance = measured["lesions"][1]["distance_to(pleura)"]
    strict = plan.model_copy(deep=True)
    strict.sampling.pathologies[0].constraints[0].right_value = distance + 20.0   # now out of reach
    reasons = check_subject_anatomy(subject.labels, subject.lesion_mask, plan.grid.spacing, record, strict)
    assert any(r.startswith("lesion_constraints:") and "pleura_gap" in r for r in reasons), reasons


def test_a_one_voxel_speck_is_tolerated_but_listed(positive):
    plan, subject, record = positive
    labels = subject.labels.copy()
    wall = np.argwhere(labels == 3)
    z, y, x = wall[len(wall) // 2]
    labels[z, y, x] = 13                 # a lone left-lung voxel in the chest-wall muscle
    result = assess_subject(labels, subject.lesion_mask, plan.grid.spacing, record, plan)
    assert not [r for r in result.reasons if r.startswith("connectivity")]
    assert result.measures["specks_voxels"]["left lung"] == [1]


def test_the_cohort_report_names_the_failing_subject_and_check(cohort, tmp_path):
    from synthspec.cohort.nifti import write_nifti

    plan, out = cohort
    broken = tmp_path / "broken"
    shutil.copytree(out, broken)
    subject = load(broken).subjects[2]
    labels = subject.labels()
    labels[np.isin(labels, (13, 14))] = 3          # no left lung at all: muscle in its place
    write_nifti(subject.folder / "labels.nii.gz", labels, tuple(plan.grid.spacing), plan.grid.origin_xyz())
    # as if the generator itself had written this anatomy: the record carries the file's hash
    record_file = subject.folder / "subject.json"
    record = json.loads(record_file.read_text())
    record["hashes"]["labels.nii.gz"] = hashlib.sha256((subject.folder / "labels.nii.gz").read_bytes()).hexdigest()
    record_file.write_text(json.dumps(record))
    from synthspec.cohort.writer import finish

    finish(broken, plan)   # and finished the cohort with it (cohort.json vouches for what is there)
    results = {r.name: r for r in anatomy_checks(load(broken))}
    assert not results["anatomy_subjects"].passed
    assert list(results["anatomy_subjects"].details["failed"]) == [subject.subject_id]
    assert not results["connectivity"].passed and subject.subject_id in results["connectivity"].details["failed"]
    assert not results["lung_volume"].passed
    assert results["lung_volume"].value == pytest.approx(5 / 6, abs=1e-3)
    assert "left lung is missing" in results["connectivity"].details["failed"][subject.subject_id][0]


def test_other_families_are_not_checked_silently(positive):
    plan, subject, record = positive
    from synthspec.plan.model import Label

    head = plan.model_copy(update={"anatomy": "head_adult", "labels": [Label(id=1, name="skull", tissue="cortical_bone")]})
    reasons = check_subject_anatomy(subject.labels, subject.lesion_mask, plan.grid.spacing, record, head)
    assert reasons and reasons[0].startswith("anatomy:") and "no thorax lobes" in reasons[0]
