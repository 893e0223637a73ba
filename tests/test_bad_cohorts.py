"""Every reader of a cohort (validate, report, review-pack, verify) checks it against what its
cohort.json vouches for: deleted manifests, a subject from another cohort, a truncated label table,
special files in place of volumes are each one line naming the file and the fix, never exit 0."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from synthspec import api
from synthspec.cli import main
from synthspec.engine.executor import run

SPEC = Path(__file__).parent / "data" / "reference_cohort.synth"


@pytest.fixture(scope="module")
def cohorts(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad")
    good = root / "good"
    run(api.plan(SPEC, device="cpu"), good)
    other_spec = root / "other.synth"
    other_spec.write_text(SPEC.read_text(encoding="utf-8").replace("seed: 42", "seed: 43"), encoding="utf-8")
    other = root / "other"
    run(api.plan(other_spec, device="cpu"), other)
    return good, other


@pytest.fixture
def cohort(cohorts, tmp_path):
    copy = tmp_path / "cohort"
    shutil.copytree(cohorts[0], copy, symlinks=True)
    return copy


def _readers(cohort: Path, tmp_path: Path) -> dict[str, list[str]]:
    reference = cohort / "subjects" / "S000000" / "image.nii.gz"
    return {
        "validate": ["validate", str(cohort), "--only", "anatomy"],
        "report": ["report", str(cohort), "--out", str(tmp_path / "report.html")],
        "review-pack": ["review-pack", str(cohort), "--out", str(tmp_path / "pack"), "--cases", "1",
                        "--reference", str(reference)],
        "verify": ["verify", str(cohort), "--sample", "1"],
    }


def _outcomes(cohort, tmp_path, capsys) -> dict[str, tuple[int, str]]:
    out = {}
    for name, argv in _readers(cohort, tmp_path).items():
        code = main(argv)
        captured = capsys.readouterr()
        out[name] = (code, captured.err + captured.out)
    return out


def _refused_by_all(outcomes, *needles):
    for name, (code, text) in outcomes.items():
        assert code != 0, f"{name} accepted the damaged cohort:\n{text}"
        assert "Traceback" not in text, text
        for needle in needles:
            assert needle in text, f"{name} did not name {needle!r}:\n{text}"


def test_an_intact_cohort_is_read_by_every_reader(cohort, tmp_path, capsys):
    outcomes = _outcomes(cohort, tmp_path, capsys)
    for name, (code, text) in outcomes.items():
        assert code == 0, f"{name}: {text}"


def test_deleted_manifests_are_refused(cohort, tmp_path, capsys):
    (cohort / "manifest.csv").unlink()
    (cohort / "manifest.json").unlink()
    _refused_by_all(_outcomes(cohort, tmp_path, capsys), "manifest", "--resume")


def test_a_subject_from_another_cohort_is_refused(cohorts, cohort, tmp_path, capsys):
    shutil.rmtree(cohort / "subjects" / "S000001")
    shutil.copytree(cohorts[1] / "subjects" / "S000001", cohort / "subjects" / "S000001")
    outcomes = _outcomes(cohort, tmp_path, capsys)
    _refused_by_all(outcomes)
    for name in ("validate", "report", "review-pack"):
        assert "S000001 is not this cohort's subject" in outcomes[name][1], outcomes[name][1]
    verify = outcomes["verify"][1]
    assert "S000001: 1 file(s) damaged" in verify and "1/2 subjects intact" in verify, verify


def test_a_truncated_label_table_is_refused(cohort, tmp_path, capsys):
    table = cohort / "labels.json"
    table.write_bytes(table.read_bytes()[:40])
    _refused_by_all(_outcomes(cohort, tmp_path, capsys), "labels.json")


def test_an_edited_provenance_is_refused(cohort, tmp_path, capsys):
    prov = cohort / "provenance.json"
    prov.write_text(prov.read_text().replace('"synthetic": true', '"synthetic": false'))
    _refused_by_all(_outcomes(cohort, tmp_path, capsys), "provenance.json")


@pytest.mark.parametrize("kind", ["dev-zero-link", "fifo"])
def test_a_special_file_in_place_of_a_volume_never_hangs(cohort, tmp_path, capsys, kind):
    image = cohort / "subjects" / "S000000" / "image.nii.gz"
    image.unlink()
    if kind == "fifo":
        os.mkfifo(image)
    else:
        image.symlink_to("/dev/zero")
    code = main(["verify", str(cohort), "--sample", "1"])
    text = capsys.readouterr().out
    assert code == 1 and "image.nii.gz" in text and "not a file synthspec wrote" in text, text
    code = main(["report", str(cohort), "--out", str(tmp_path / "report.html")])   # reads every image
    text = capsys.readouterr().err
    assert code == 2 and "image.nii.gz" in text and "Traceback" not in text, text


def test_validate_fails_a_cohort_with_a_damaged_file_it_does_not_read(cohort, capsys):
    image = cohort / "subjects" / "S000001" / "image.nii.gz"
    image.write_bytes(image.read_bytes()[:-100])   # truncated: ITK would read the rest as zeros
    assert main(["validate", str(cohort), "--only", "anatomy"]) == 2
    err = capsys.readouterr().err
    assert "S000001/image.nii.gz does not match the SHA-256" in err and "--resume" in err
