"""`synth validate` on a small cohort: anatomy passes, corrupted anatomy fails, bad folders are clear errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from synthspec.cli import main
from synthspec.cohort.labels import lung_ids
from synthspec.engine.executor import run
from synthspec.families.registry import anatomy
from synthspec.cohort.read import CohortError, load
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
    lungs = np.isin(labels, lung_ids(plan))
    labels[lungs] = 0  # no lungs at all
    reasons = anatomy(plan.anatomy).check(labels, subject.lesions(), plan.grid.spacing, subject.record, plan)
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


def _copy(out: Path, tmp_path: Path, name: str) -> Path:
    copy = tmp_path / name
    shutil.copytree(out, copy)
    return copy


def test_a_partial_run_keeps_the_other_families_results(cohort, tmp_path, capsys):
    _, out = cohort
    copy = _copy(out, tmp_path, "partial")
    validate(copy, families=["anatomy"], log=lambda m: None)
    data = json.loads((copy / "validation.json").read_text())
    earlier = {"family": "shortcut", "name": "shortcut_model", "passed": True, "value": 0.9, "reason": "earlier"}
    data["checks"].append(earlier)
    (copy / "validation.json").write_text(json.dumps(data))
    report = validate(copy, families=["anatomy"], log=lambda m: None)
    assert report.kept_families == ["shortcut"] and all(c.family == "anatomy" for c in report.checks)
    stored = json.loads((copy / "validation.json").read_text())
    assert [c for c in stored["checks"] if c["family"] == "shortcut"][0]["reason"] == "earlier"
    info = json.loads((copy / "cohort.json").read_text())
    info["content_hash"] = "another cohort"
    (copy / "cohort.json").write_text(json.dumps(info))
    assert validate(copy, families=["anatomy"], log=lambda m: None).kept_families == []   # not this cohort's


@pytest.mark.parametrize("damage, message", [
    (lambda c: (c / "cohort.json").write_text("[]"), "cohort.json is damaged"),
    (lambda c: (c / "subjects" / "S000001" / "subject.json").write_text("{not json"), "S000001/subject.json is damaged"),
    (lambda c: (c / "subjects" / "S000001" / "subject.json").write_text("[1, 2]"), "S000001/subject.json is damaged"),
    (lambda c: (c / "plan.json").write_text((c / "plan.json").read_text().replace('"cohort_seed": ', '"cohort_seed": 1', 1)),
     "is not the plan this cohort was generated from"),
])
def test_damaged_cohort_files_are_clear_errors_without_traceback(cohort, tmp_path, capsys, damage, message):
    _, out = cohort
    copy = _copy(out, tmp_path, "damaged")
    damage(copy)
    before = sorted(p.name for p in copy.iterdir())
    assert main(["validate", str(copy), "--only", "anatomy"]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert sorted(p.name for p in copy.iterdir()) == before


def test_a_volume_of_the_wrong_shape_is_refused_even_with_a_matching_hash(cohort, tmp_path):
    import hashlib

    import SimpleITK as sitk

    _, out = cohort
    copy = _copy(out, tmp_path, "shape")
    image = copy / "subjects" / "S000000" / "image.nii.gz"
    sitk.WriteImage(sitk.GetImageFromArray(np.zeros((4, 10, 10), np.int16)), str(image))
    record_file = copy / "subjects" / "S000000" / "subject.json"
    record = json.loads(record_file.read_text())
    record["hashes"]["image.nii.gz"] = hashlib.sha256(image.read_bytes()).hexdigest()
    record_file.write_text(json.dumps(record))
    with pytest.raises(CohortError, match=r"S000000 is not this cohort's subject"):   # cohort.json vouches otherwise
        load(copy)
    (copy / "cohort.json").unlink()   # past that check (as a reader holding the record would be), the shape is checked
    from synthspec.cohort.read import SubjectFiles

    subject = SubjectFiles(0, "S000000", image.parent, record, shape=(16, 64, 64))
    with pytest.raises(CohortError, match=r"holds a 4x10x10 volume, but the plan's (grid|channel) is"):
        subject.image()


def test_report_refuses_an_out_path_that_would_overwrite_cohort_data(cohort, tmp_path, capsys):
    _, out = cohort
    copy = _copy(out, tmp_path, "report_out")
    manifest = (copy / "manifest.json").read_bytes()
    for target in (copy / "manifest.json", copy / "subjects" / "S000000" / "page.html", tmp_path / "nowhere" / "r.html"):
        card = (copy / "cohort_card.md").read_bytes() if (copy / "cohort_card.md").exists() else None
        assert main(["report", str(copy), "--out", str(target)]) == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err and (target.name in err or target.parent.name in err)
        assert ((copy / "cohort_card.md").read_bytes() if (copy / "cohort_card.md").exists() else None) == card
    assert (copy / "manifest.json").read_bytes() == manifest


def test_a_reference_too_small_or_with_a_missing_slice_is_refused(cohort, tmp_path):
    import SimpleITK as sitk

    from synthspec.validate.reference import ReferenceError, load_reference

    _, out = cohort
    tiny = tmp_path / "one_voxel.nii.gz"
    sitk.WriteImage(sitk.GetImageFromArray(np.zeros((1, 1, 1), np.int16)), str(tiny))
    with pytest.raises(ReferenceError, match="too small"):
        load_reference(tiny)
    series = tmp_path / "series"
    shutil.copytree(out / "subjects" / "S000000" / "dicom", series)
    files = sorted(series.iterdir())
    files[len(files) // 2].unlink()
    with pytest.raises(ReferenceError, match="a slice is missing or corrupt"):
        load_reference(series)
    files[len(files) // 2 + 1].write_bytes(b"DICM" * 10)
    with pytest.raises(ReferenceError, match="cannot be read as a DICOM slice"):
        load_reference(series)
