"""`synth validate` on a small cohort: anatomy passes, corrupted anatomy fails, bad folders are clear errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from synthspec.cli import main
from synthspec.runtime.executor import run
from synthspec.validate.anatomy import check_subject_anatomy
from synthspec.validate.cohort import CohortError, load
from synthspec.validate.run import validate

from test_run import tiny_plan


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("validate")
    plan = tiny_plan(tmp, subjects=3)
    out = tmp / "cohort"
    run(plan, out)
    return plan, out


def test_generated_anatomy_passes_and_results_are_written(cohort):
    _, out = cohort
    report = validate(out, families=["anatomy"], log=lambda m: None)
    assert report.checks and all(c.family == "anatomy" for c in report.checks)
    assert report.passed, [c.reason for c in report.checks if not c.passed]
    data = json.loads((out / "validation.json").read_text())
    assert data["passed"] is True and data["content_hash"] == json.loads((out / "cohort.json").read_text())["content_hash"]


def test_corrupted_label_map_fails_with_a_reason(cohort):
    plan, out = cohort
    subject = load(out).subjects[0]
    labels = subject.labels().copy()
    lungs = np.isin(labels, (10, 11, 12, 13, 14))
    labels[lungs] = 0  # no lungs at all
    reasons = check_subject_anatomy(labels, subject.lesions(), plan.grid.spacing, subject.record, plan)
    assert reasons and any("lung" in r for r in reasons)


def test_validate_command_exit_codes(cohort, tmp_path, capsys):
    _, out = cohort
    assert main(["validate", str(out), "--only", "anatomy"]) == 0
    assert "checks passed" in capsys.readouterr().out
    assert main(["validate", str(tmp_path / "missing"), "--only", "anatomy"]) == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["validate", str(empty)]) == 2
    err = capsys.readouterr().err
    assert "not a synthspec cohort" in err and "Traceback" not in err


def test_incomplete_or_foreign_cohorts_are_refused_and_left_untouched(cohort, tmp_path):
    _, out = cohort
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    (copy / "cohort.json").unlink()
    with pytest.raises(CohortError, match="incomplete"):
        load(copy)
    shutil.copy(out / "cohort.json", copy / "cohort.json")
    info = json.loads((copy / "cohort.json").read_text())
    info["synthspec_version"] = "0.0.1"
    (copy / "cohort.json").write_text(json.dumps(info))
    before = sorted(p.name for p in copy.iterdir())
    with pytest.raises(CohortError, match="0.0.1"):
        validate(copy, families=["anatomy"], log=lambda m: None)
    assert sorted(p.name for p in copy.iterdir()) == before


def test_corrupt_image_is_a_clear_error(cohort, tmp_path):
    _, out = cohort
    copy = tmp_path / "corrupt"
    shutil.copytree(out, copy)
    (copy / "subjects" / "S000000" / "labels.nii.gz").write_bytes(b"not a nifti")
    previous = (copy / "validation.json").read_bytes() if (copy / "validation.json").exists() else None
    with pytest.raises(CohortError, match="labels.nii.gz"):
        validate(copy, families=["anatomy"], log=lambda m: None)
    now = (copy / "validation.json").read_bytes() if (copy / "validation.json").exists() else None
    assert now == previous  # nothing half-written, nothing replaced


def test_truncated_image_is_caught_by_its_recorded_hash_and_resume_restores_it(cohort, tmp_path, capsys):
    """ITK reads a truncated .nii.gz without error (zeros for the lost voxels): the manifest hash must catch it."""
    _, out = cohort
    copy = tmp_path / "truncated"
    shutil.copytree(out, copy)
    image = copy / "subjects" / "S000001" / "image.nii.gz"
    original = image.read_bytes()
    image.write_bytes(original[: len(original) // 2])
    with pytest.raises(CohortError, match="SHA-256") as caught:
        load(copy).subjects[1].image()
    assert "--resume" in str(caught.value)
    reference = out / "subjects" / "S000000" / "image.nii.gz"   # any local scan: no download in this test
    assert main(["validate", str(copy), "--only", "realism", "--reference", str(reference)]) == 2
    err = capsys.readouterr().err
    assert "S000001" in err and "Traceback" not in err
    shutil.move(str(copy / "subjects" / "S000001"), str(tmp_path / "aside"))   # the fix the message gives
    assert main(["run", "--plan", str(copy / "plan.json"), "--out", str(copy), "--resume", "--no-validate"]) == 0
    assert image.read_bytes() == original
    assert load(copy).subjects[1].image().shape == load(out).subjects[1].image().shape


def test_report_command_writes_card_and_html(cohort, capsys):
    _, out = cohort
    assert main(["report", str(out)]) == 0
    assert (out / "cohort_card.md").is_file() and (out / "cohort_card.json").is_file()
    html = (out / "report.html").read_text()
    assert "SYNTHETIC" in html and "data:image/png;base64," in html
