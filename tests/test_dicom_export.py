"""DICOM for PACS and media: JPEG-LS lossless series (`output { dicom_compression: jpeg_ls }`) that decode to the
same CT numbers as the NIfTI and that dciodvfy, SimpleITK and dcm2niix accept, and `synth export dicomdir`, a
PS3.10 file-set whose DICOMDIR dciodvfy accepts, whose records pydicom reads back to every instance, and whose
files are the cohort's own bytes."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from synthspec import api
from synthspec.cli import main
from synthspec.cohort import layout
from synthspec.engine.executor import run

SPEC = Path(__file__).parent / "data" / "reference_cohort.synth"
JPEG_LS = "1.2.840.10008.1.2.4.80"
needs_dciodvfy = pytest.mark.skipif(shutil.which("dciodvfy") is None,
                                    reason="dciodvfy (Debian package dicom3tools) is not installed")


def _spec_with(tmp: Path, output: str) -> Path:
    text = SPEC.read_text(encoding="utf-8").replace("formats: nifti, dicom, masks", output)
    assert output in text
    spec = tmp / "spec.synth"
    spec.write_text(text, encoding="utf-8")
    return spec


@pytest.fixture(scope="module")
def plain(reference_cohort):
    return reference_cohort[1]


@pytest.fixture(scope="module")
def compressed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("jpegls")
    out = tmp / "cohort"
    run(api.plan(_spec_with(tmp, "formats: nifti, dicom, masks\n    dicom_compression: jpeg_ls"), device="cpu"), out)
    return out


def _slices(cohort: Path, index: int = 0) -> list[Path]:
    return sorted((layout.subject_dir(cohort, index) / layout.DICOM).glob("*.dcm"))


def _dciodvfy(path: Path) -> list[str]:
    result = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=60)
    return [line for line in (result.stdout + result.stderr).splitlines() if "Error" in line]


def test_jpeg_ls_series_decode_to_the_nifti_ct_numbers_in_half_the_bytes(plain, compressed):
    import nibabel as nib
    import pydicom

    files = _slices(compressed)
    assert {str(pydicom.dcmread(f, stop_before_pixels=True).file_meta.TransferSyntaxUID) for f in files} == {JPEG_LS}
    decoded = np.stack([pydicom.dcmread(f).pixel_array.astype(np.int32) - 1024 for f in files])
    image = np.asanyarray(nib.load(layout.subject_dir(compressed, 0) / "image.nii.gz").dataobj)
    # NIfTI is [X, Y, Z] in RAS-flipped LPS storage; the series is [Z, Y, X]
    assert np.array_equal(decoded, np.transpose(image, (2, 1, 0)).astype(np.int32))
    size_plain = sum(f.stat().st_size for f in _slices(plain))
    size_packed = sum(f.stat().st_size for f in files)
    assert size_packed < 0.75 * size_plain, (size_packed, size_plain)
    assert pydicom.dcmread(files[0]).LossyImageCompression == "00"


def test_the_spec_setting_keeps_every_subject_seed_and_identity(plain, compressed):
    """Compression is an output choice: the subjects, their UIDs and their CT numbers are the same."""
    import pydicom

    a, b = (pydicom.dcmread(_slices(c)[3]) for c in (plain, compressed))
    assert (a.SOPInstanceUID, a.SeriesInstanceUID, a.PatientID) == (b.SOPInstanceUID, b.SeriesInstanceUID, b.PatientID)
    assert np.array_equal(a.pixel_array, b.pixel_array)


@needs_dciodvfy
def test_dciodvfy_accepts_the_jpeg_ls_series(compressed):
    for f in _slices(compressed)[:3]:
        assert _dciodvfy(f) == [], f


def test_simpleitk_reads_the_jpeg_ls_series_with_the_nifti_geometry(compressed):
    import SimpleITK as sitk

    folder = layout.subject_dir(compressed, 0)
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder / layout.DICOM)))
    series = reader.Execute()
    nifti = sitk.ReadImage(str(folder / "image.nii.gz"))
    assert series.GetSize() == nifti.GetSize()
    assert np.allclose(series.GetOrigin(), nifti.GetOrigin(), atol=1e-3)
    assert np.allclose(series.GetSpacing(), nifti.GetSpacing(), atol=1e-4)
    assert np.array_equal(sitk.GetArrayFromImage(series), sitk.GetArrayFromImage(nifti))


def test_dcm2niix_converts_the_jpeg_ls_series(compressed, tmp_path):
    dcm2niix = shutil.which("dcm2niix") or shutil.which("dcm2niix", path=str(Path(__import__("sys").executable).parent))
    if dcm2niix is None:
        pytest.skip("dcm2niix is not installed (pip install dcm2niix)")
    import nibabel as nib

    result = subprocess.run([dcm2niix, "-o", str(tmp_path), "-f", "converted", "-z", "n",
                             str(layout.subject_dir(compressed, 0) / layout.DICOM)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    # dcm2niix stores rows flipped (its own convention); in one canonical orientation the two must agree
    converted = nib.as_closest_canonical(nib.load(tmp_path / "converted.nii"))
    ours = nib.as_closest_canonical(nib.load(layout.subject_dir(compressed, 0) / "image.nii.gz"))
    assert converted.shape == ours.shape
    assert np.allclose(converted.affine, ours.affine, atol=1e-3)
    assert np.array_equal(np.asanyarray(converted.dataobj), np.asanyarray(ours.dataobj))


def test_compression_without_dicom_is_a_warning(tmp_path):
    from synthspec.compiler.check import compile_file

    spec = _spec_with(tmp_path, "formats: nifti, masks\n    dicom_compression: jpeg_ls")
    codes = [d.code for d in compile_file(spec).visible]
    assert codes == ["TSK005"]


# ---- synth export dicomdir ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fileset(plain, tmp_path_factory):
    out = tmp_path_factory.mktemp("media") / "fileset"
    assert main(["export", "dicomdir", str(plain), "--out", str(out)]) == 0
    return out


def _instances(cohort: Path) -> dict[str, Path]:
    """SOP instance UID -> file, for every DICOM file the cohort's subjects record."""
    import pydicom

    found = {}
    for record in json.loads((cohort / layout.MANIFEST_JSON).read_text())["rows"]:
        folder = cohort / layout.SUBJECTS / record["subject_id"]
        for name in record["hashes"]:
            if name.endswith(".dcm"):
                found[pydicom.dcmread(folder / name, stop_before_pixels=True).SOPInstanceUID] = folder / name
    return found


@needs_dciodvfy
def test_dciodvfy_accepts_the_dicomdir(fileset):
    result = subprocess.run(["dciodvfy", str(fileset / "DICOMDIR")], capture_output=True, text=True, timeout=60)
    lines = (result.stdout + result.stderr).splitlines()
    assert [line for line in lines if "Error" in line or "Warning" in line] == [], lines


def test_the_dicomdir_indexes_every_instance_by_patient_study_and_series(plain, fileset):
    import pydicom
    from pydicom.fileset import FileSet

    fs = FileSet(pydicom.dcmread(fileset / "DICOMDIR"))
    expected = _instances(plain)
    assert {i.SOPInstanceUID for i in fs} == set(expected)
    patients = {i.PatientID for i in fs}
    assert len(patients) == len(json.loads((plain / layout.MANIFEST_JSON).read_text())["rows"])
    for instance in fs:
        placed = Path(instance.path)
        assert placed.read_bytes() == expected[instance.SOPInstanceUID].read_bytes()   # the cohort's own bytes
        parts = placed.relative_to(fileset).parts
        assert len(parts) <= 8 and all(len(p) <= 8 and p.isupper() or p.isdigit() for p in parts), parts


def test_the_same_cohort_gives_the_same_dicomdir(plain, fileset, tmp_path):
    again = tmp_path / "again"
    assert main(["export", "dicomdir", str(plain), "--out", str(again), "--copy"]) == 0
    assert (again / "DICOMDIR").read_bytes() == (fileset / "DICOMDIR").read_bytes()


def test_simpleitk_reads_a_series_from_the_fileset(fileset):
    import SimpleITK as sitk

    series_folder = next(p for p in fileset.rglob("SE*") if p.is_dir())
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(series_folder)))
    assert reader.Execute().GetSize()[2] > 1


def test_export_dicomdir_refuses_in_one_line(plain, fileset, tmp_path, capsys):
    for argv, words in ((["--out", str(fileset)], "not empty"),
                        (["--out", str(tmp_path / "x"), "--dataset-id", "7"], "nnU-Net export only")):
        assert main(["export", "dicomdir", str(plain), *argv]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and words in err, err
    assert not (tmp_path / "x").exists()


def test_export_dicomdir_refuses_a_cohort_without_dicom(tmp_path, capsys):
    out = tmp_path / "cohort"
    run(api.plan(_spec_with(tmp_path, "formats: nifti, masks"), device="cpu", subjects=1), out)
    assert main(["export", "dicomdir", str(out), "--out", str(tmp_path / "media")]) == 2
    assert "holds no DICOM" in capsys.readouterr().err
    assert not (tmp_path / "media").exists()


def test_the_storage_estimate_counts_the_compressed_series(plain, compressed, tmp_path):
    """The plan's `disk_dicom_bytes` for JPEG-LS is below the uncompressed one and not below what was written."""
    jpeg = api.plan(_spec_with(tmp_path, "formats: nifti, dicom, masks\n    dicom_compression: jpeg_ls"), device="cpu")
    raw = api.plan(SPEC, device="cpu")
    assert jpeg.estimates["disk_dicom_bytes"] < 0.6 * raw.estimates["disk_dicom_bytes"]
    written = max(sum(f.stat().st_size for f in _slices(compressed, k)) for k in range(jpeg.subjects))
    assert written <= jpeg.estimates["disk_dicom_bytes"]


def test_export_dicomdir_names_a_missing_slice(plain, tmp_path, capsys):
    damaged = tmp_path / "cohort"
    shutil.copytree(plain, damaged)
    _slices(damaged, 1)[5].unlink()
    assert main(["export", "dicomdir", str(damaged), "--out", str(tmp_path / "media")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "IM000006.dcm is missing" in err and "--resume" in err
    assert not (tmp_path / "media").exists()
