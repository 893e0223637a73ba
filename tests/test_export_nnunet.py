"""`synth export nnunet`: the dataset passes the rules nnU-Net v2's verify_dataset_integrity applies
(dataset.json keys, consecutive labels starting at background 0, every label value declared, image and
label geometry equal, `{case}_{XXXX}.nii.gz` naming, numTraining equal to the cases), images are
hard-linked or copied (never symlinked), and an existing target is refused with one line (exit 2).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from synthspec.cli import main
from synthspec.cohort import layout



@pytest.fixture(scope="module")
def cohort(reference_cohort):
    return reference_cohort[1]


def _export(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["export", "nnunet", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def check_nnunet_dataset(folder: Path) -> dict:
    """nnU-Net v2's dataset integrity rules (nnunetv2.experiment_planning.verify_dataset_integrity)."""
    import SimpleITK as sitk

    dataset = json.loads((folder / "dataset.json").read_text())
    for key in ("channel_names", "labels", "numTraining", "file_ending"):
        assert key in dataset, key
    ending = dataset["file_ending"]
    assert ending == ".nii.gz"
    channels = sorted(int(k) for k in dataset["channel_names"])
    assert channels == list(range(len(channels)))
    values = sorted(dataset["labels"].values())
    assert dataset["labels"]["background"] == 0 and values == list(range(len(values))), "labels must be consecutive"
    labels = sorted((folder / "labelsTr").iterdir())
    images = sorted((folder / "imagesTr").iterdir())
    cases = [p.name[: -len(ending)] for p in labels]
    assert all(p.name.endswith(ending) for p in labels)
    assert len(cases) == dataset["numTraining"]
    naming = re.compile(r"^(.+)_(\d{4})" + re.escape(ending) + "$")
    assert all(naming.match(p.name) for p in images)
    assert sorted(p.name for p in images) == sorted(f"{c}_{i:04d}{ending}" for c in cases for i in channels)
    for case in cases:
        seg = sitk.ReadImage(str(folder / "labelsTr" / f"{case}{ending}"))
        found = set(np.unique(sitk.GetArrayFromImage(seg)).tolist())
        assert found <= set(values), f"{case}: label values {sorted(found - set(values))} are not declared"
        for i in channels:
            image = sitk.ReadImage(str(folder / "imagesTr" / f"{case}_{i:04d}{ending}"))
            assert image.GetSize() == seg.GetSize()
            assert np.allclose(image.GetSpacing(), seg.GetSpacing())
            assert np.allclose(image.GetOrigin(), seg.GetOrigin())
            assert np.allclose(image.GetDirection(), seg.GetDirection())
            assert not np.isnan(sitk.GetArrayFromImage(image)).any()
    return dataset


def test_the_export_passes_nnunets_integrity_rules(cohort, tmp_path, capsys):
    import SimpleITK as sitk

    code, out, err = _export(capsys, str(cohort), "--out", str(tmp_path / "raw"))
    assert code == 0, err
    folder = tmp_path / "raw" / "Dataset501_reference_tiny"
    assert str(folder) in out
    dataset = check_nnunet_dataset(folder)
    assert dataset["channel_names"] == {"0": "CT"} and dataset["numTraining"] == 2
    table = json.loads((cohort / layout.LABEL_TABLE).read_text())["labels"]
    assert len(dataset["labels"]) == len(table) + 1 and dataset["labels"]["lung_nodule"] == len(table)
    ids = {int(v): cid for v, cid in dataset["synthspec"]["cohort_ids"].items()}
    for case in ("S000000", "S000001"):
        image = folder / "imagesTr" / f"{case}_0000.nii.gz"
        source = cohort / "subjects" / case / "image.nii.gz"
        assert not image.is_symlink() and image.read_bytes() == source.read_bytes()
        assert os.stat(image).st_ino == os.stat(source).st_ino          # hard-linked: same filesystem here
        exported = sitk.GetArrayFromImage(sitk.ReadImage(str(folder / "labelsTr" / f"{case}.nii.gz")))
        semantic = sitk.GetArrayFromImage(sitk.ReadImage(str(cohort / "subjects" / case / layout.SEMANTIC)))
        back = np.vectorize(ids.get)(exported)
        assert np.array_equal(back, semantic)                          # the mapping in dataset.json inverts it


def test_findings_only_and_copy(cohort, tmp_path, capsys):
    code, _, err = _export(capsys, str(cohort), "--out", str(tmp_path), "--labels", "findings", "--copy",
                           "--dataset-id", "7", "--name", "nodules")
    assert code == 0, err
    folder = tmp_path / "Dataset007_nodules"
    dataset = check_nnunet_dataset(folder)
    assert dataset["labels"] == {"background": 0, "lung_nodule": 1}
    image = folder / "imagesTr" / "S000000_0000.nii.gz"
    assert os.stat(image).st_ino != os.stat(cohort / "subjects" / "S000000" / "image.nii.gz").st_ino


def test_an_existing_target_or_a_clashing_id_is_one_line_exit_2(cohort, tmp_path, capsys):
    target = tmp_path / "Dataset501_reference_tiny"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    code, out, err = _export(capsys, str(cohort), "--out", str(tmp_path))
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert err.startswith("synth export: error: ") and "already exists and is not empty" in err
    assert sorted(p.name for p in target.iterdir()) == ["keep.txt"]
    code, _, err = _export(capsys, str(cohort), "--out", str(tmp_path), "--name", "other")
    assert code == 2 and "one dataset per id" in err and not (tmp_path / "Dataset501_other").exists()
    empty = tmp_path / "empty"
    (empty / "Dataset502_reference_tiny").mkdir(parents=True)   # an empty target is used
    code, _, err = _export(capsys, str(cohort), "--out", str(empty), "--dataset-id", "502")
    assert code == 0, err


@pytest.mark.parametrize("argv, words", [
    (["--dataset-id", "1000"], "1..999"),
    (["--dataset-id", "0"], "1..999"),
    (["--name", "a b"], "letters, digits"),
])
def test_bad_options_are_one_line(cohort, tmp_path, capsys, argv, words):
    try:
        code, out, err = _export(capsys, str(cohort), "--out", str(tmp_path / "x"), *argv)
    except SystemExit as stop:
        code, err = stop.code, capsys.readouterr().err
    assert code == 2 and words in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists() or not any((tmp_path / "x").iterdir())


def test_a_damaged_cohort_is_refused_and_nothing_is_written(cohort, tmp_path, capsys):
    copy = tmp_path / "cohort"
    shutil.copytree(cohort, copy, symlinks=True)
    image = copy / "subjects" / "S000001" / "image.nii.gz"
    data = bytearray(image.read_bytes())
    data[-20] ^= 0xFF
    image.write_bytes(bytes(data))
    code, _, err = _export(capsys, str(copy), "--out", str(tmp_path / "raw"))
    assert code == 2 and "S000001" in err and "SHA-256" in err
    assert not (tmp_path / "raw").exists() or not any((tmp_path / "raw").iterdir())
    (copy / layout.DATALIST).unlink()
    code, _, err = _export(capsys, str(copy), "--out", str(tmp_path / "raw"))
    assert code == 2 and layout.DATALIST in err
