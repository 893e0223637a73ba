"""`synth verify`: hashes every subject's files on disk, regenerates a sample, refuses bad input clearly."""

from __future__ import annotations

import json
import shutil

import pytest

from synthspec.cli import main
from synthspec.engine.executor import run

from test_run import tiny_plan


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("verify")
    out = tmp / "tiny"
    run(tiny_plan(tmp, subjects=2), out)
    return out


@pytest.fixture
def copy(cohort, tmp_path):
    target = tmp_path / "tiny"
    shutil.copytree(cohort, target)
    return target


def verify(capsys, *argv):
    code = main(["verify", *map(str, argv)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_clean_cohort_verifies(cohort, capsys):
    code, out, err = verify(capsys, cohort, "--sample", 2)
    assert code == 0, out + err
    assert "all 2 subjects" in out and "2/2 subjects intact on disk" in out
    assert "2/2 regenerated subjects identical" in out


def test_damaged_missing_and_unexpected_files_are_findings(copy, capsys):
    subject = copy / "subjects" / "S000000"
    image = subject / "image.nii.gz"
    image.write_bytes(image.read_bytes()[:1000])                       # truncated
    (subject / "lesions.nii.gz").write_text("not an image\n")          # replaced with text
    (subject / "dicom" / "IM000001.dcm").unlink()                      # deleted
    other = copy / "subjects" / "S000001"
    (other / "dicom" / "IM999999.dcm").write_bytes(b"stray")           # an extra slice
    code, out, err = verify(capsys, copy, "--sample", 1)
    assert code == 1, out + err
    assert f"{image}: damaged" in out
    assert f"{subject / 'lesions.nii.gz'}: damaged" in out
    assert f"{subject / 'dicom' / 'IM000001.dcm'}: missing" in out
    assert f"{other / 'dicom' / 'IM999999.dcm'}: unexpected" in out
    assert f"move {subject} aside and run `synth run --plan {copy / 'plan.json'} --out {copy} --resume`" in out
    assert "0/2 subjects intact on disk" in out
    assert "labels.nii.gz" not in out and "Traceback" not in err


def test_the_suggested_fix_restores_the_cohort(copy, capsys, tmp_path):
    subject = copy / "subjects" / "S000001"
    (subject / "image.nii.gz").write_bytes(b"")
    code, out, _ = verify(capsys, copy, "--sample", 1)
    assert code == 1 and f"{subject / 'image.nii.gz'}: damaged" in out
    shutil.move(subject, tmp_path / "aside")
    assert main(["run", "--plan", str(copy / "plan.json"), "--out", str(copy), "--resume", "--no-validate"]) == 0
    capsys.readouterr()
    code, out, err = verify(capsys, copy, "--sample", 1)
    assert code == 0, out + err


def test_a_missing_subject_folder_is_a_finding(copy, capsys):
    shutil.rmtree(copy / "subjects" / "S000001")
    code, out, _ = verify(capsys, copy, "--sample", 1)
    assert code == 1
    assert f"{copy / 'subjects' / 'S000001'}: missing" in out and "--resume" in out


def test_an_edited_record_is_named_against_the_vouched_manifest(copy, capsys):
    subject = copy / "subjects" / "S000000"
    image = subject / "image.nii.gz"
    image.write_bytes(image.read_bytes() + b"\0")
    record = json.loads((subject / "subject.json").read_text())
    import hashlib

    record["hashes"]["image.nii.gz"] = hashlib.sha256(image.read_bytes()).hexdigest()
    (subject / "subject.json").write_text(json.dumps(record))
    code, out, _ = verify(capsys, copy, "--sample", 1)
    # cohort.json vouches for manifest.json, whose row still holds the hashes written: the subject is named
    assert code == 1 and "S000000: 1 file(s) damaged" in out and "not this cohort's subject" in out
    assert "1/2 subjects intact" in out


@pytest.mark.parametrize("value", ["0", "-1", "two"])
def test_sample_must_be_a_positive_count(cohort, capsys, value):
    with pytest.raises(SystemExit) as exit_:
        main(["verify", str(cohort), "--sample", value])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "--sample" in err and "Traceback" not in err


@pytest.mark.parametrize("text", ["{not json", "[1, 2, 3]", '{"index": 0}', '{"hashes": {"../../x": "ab"}}'])
def test_a_garbled_record_is_a_clear_error(copy, capsys, text):
    record = copy / "subjects" / "S000001" / "subject.json"
    record.write_text(text)
    code, out, err = verify(capsys, copy, "--sample", 1)
    assert code == 2, out + err
    assert str(record) in err and "--resume" in err and "Traceback" not in err


def test_folders_that_are_not_cohorts_are_clear_errors(cohort, tmp_path, capsys):
    code, _, err = verify(capsys, tmp_path / "nowhere")
    assert code == 2 and "not a folder" in err
    empty = tmp_path / "empty"
    (empty / "subjects").mkdir(parents=True)
    shutil.copy(cohort / "plan.json", empty / "plan.json")
    code, out, err = verify(capsys, empty)
    assert code == 2 and "holds no subjects" in err and "0/0" not in out
