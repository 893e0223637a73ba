"""Writers: NIfTI orientation, a CT series that dciodvfy and SimpleITK accept, identities, atomicity, manifest."""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

from synthspec.cohort.atomic import sha256_file, staged_dir, write_bytes_atomic, write_text_atomic
from synthspec.families.modality.ct.dicom import CTSeriesInfo, body_part_for, encode_hu, patient_age, write_ct_series
from synthspec.identity import identity_for
from synthspec.cohort.manifest import (package_versions, read_manifest_csv, write_manifest,
                                                 write_provenance)
from synthspec.cohort.nifti import read_nifti, write_nifti

sitk = pytest.importorskip("SimpleITK")
pydicom = pytest.importorskip("pydicom")

SPEC_HASH = "1a2b3c4d" + "e" * 56
SPACING = (2.5, 0.75, 0.625)          # dz, dy, dx: all different, so any axis mix-up shows
ORIGIN = (-19.6875, -23.625, -8.75)   # LPS of voxel [0, 0, 0]: x, y, z


def phantom(nz=8, ny=64, nx=60) -> np.ndarray:
    """Air, a water cylinder along z, a bone insert off centre, and an asymmetric marker per slice."""
    z, y, x = np.mgrid[:nz, :ny, :nx]
    hu = np.full((nz, ny, nx), -1000, np.int16)
    hu[(y - ny / 2) ** 2 + (x - nx / 2) ** 2 < (min(ny, nx) * 0.42) ** 2] = 0
    hu[(y - ny * 0.35) ** 2 + (x - nx * 0.62) ** 2 < 5 ** 2] = 1200
    hu[np.arange(nz), 3, 2 + np.arange(nz)] = 100 + 10 * np.arange(nz)  # breaks every symmetry
    hu[0, 0, 0] = -1024
    hu[-1, -1, -1] = 3071
    return hu


def ct_info(index=17, body_part="CHEST") -> CTSeriesInfo:
    return CTSeriesInfo(identity=identity_for(SPEC_HASH, 7, index), age_y=62.7, sex="female",
                        scanner="ct.midrange_64", kv=120.0, mas=35.5, kernel="standard", slice_thickness_mm=2.5,
                        model_key=SPEC_HASH, synthspec_version="0.1.0",
                        series_description=f"SYNTHETIC test S{index:06d}", body_part=body_part)


# ---------------------------------------------------------------- NIfTI

def _nifti_header(path: Path) -> dict:
    raw = gzip.decompress(path.read_bytes())[:348]
    assert struct.unpack("<i", raw[:4])[0] == 348
    return {"dim": struct.unpack("<8h", raw[40:56]), "pixdim": struct.unpack("<8f", raw[76:108]),
            "qform_code": struct.unpack("<h", raw[252:254])[0], "sform_code": struct.unpack("<h", raw[254:256])[0],
            "srow": np.array(struct.unpack("<12f", raw[280:328])).reshape(3, 4)}


@pytest.mark.parametrize("dtype", [np.int16, np.float32, np.uint8, np.uint16])
def test_nifti_round_trip_exact(tmp_path, dtype):
    array = phantom().astype(dtype) if dtype is not np.uint8 else (phantom() > 500).astype(np.uint8)
    path = tmp_path / "image.nii.gz"
    write_nifti(path, array, SPACING, ORIGIN)
    image = sitk.ReadImage(str(path))
    assert image.GetSpacing() == pytest.approx((SPACING[2], SPACING[1], SPACING[0]), abs=1e-6)
    assert image.GetOrigin() == pytest.approx(ORIGIN, abs=1e-5)
    assert image.GetDirection() == pytest.approx((1, 0, 0, 0, 1, 0, 0, 0, 1), abs=1e-6)
    back = sitk.GetArrayFromImage(image)
    assert back.dtype == array.dtype and back.shape == array.shape
    assert np.array_equal(back, array)
    arr2, spacing2, origin2 = read_nifti(path)
    assert np.array_equal(arr2, array) and spacing2 == pytest.approx(SPACING) and origin2 == pytest.approx(ORIGIN)
    assert [p.name for p in tmp_path.iterdir()] == ["image.nii.gz"]  # no temp file left


def test_nifti_header_is_ras_equivalent_of_lps(tmp_path):
    """Independent of ITK's reader: the file's sform is diag(-dx, -dy, dz) with offset (-ox, -oy, oz)."""
    path = tmp_path / "image.nii.gz"
    write_nifti(path, phantom(), SPACING, ORIGIN)
    header = _nifti_header(path)
    assert header["dim"][:4] == (3, 60, 64, 8)
    assert header["pixdim"][1:4] == pytest.approx((SPACING[2], SPACING[1], SPACING[0]))
    assert header["sform_code"] > 0 and header["qform_code"] > 0
    expected = np.array([[-SPACING[2], 0, 0, -ORIGIN[0]], [0, -SPACING[1], 0, -ORIGIN[1]], [0, 0, SPACING[0], ORIGIN[2]]])
    assert np.allclose(header["srow"], expected, atol=1e-4)


def test_nifti_with_nibabel_if_installed(tmp_path):
    nib = pytest.importorskip("nibabel", reason="nibabel not installed; the raw-header test covers the affine")
    path = tmp_path / "image.nii.gz"
    array = phantom()
    write_nifti(path, array, SPACING, ORIGIN)
    img = nib.load(str(path))
    expected = np.diag([-SPACING[2], -SPACING[1], SPACING[0], 1.0])
    expected[:3, 3] = (-ORIGIN[0], -ORIGIN[1], ORIGIN[2])
    assert np.allclose(img.affine, expected, atol=1e-4)
    assert np.array_equal(np.asarray(img.dataobj).transpose(2, 1, 0), array)  # nibabel is [X, Y, Z]


def test_nifti_bytes_are_deterministic_and_bool_becomes_uint8(tmp_path):
    mask = phantom() > 500
    write_nifti(tmp_path / "a.nii.gz", mask, SPACING, ORIGIN)
    write_nifti(tmp_path / "b.nii.gz", mask, SPACING, ORIGIN)
    assert sha256_file(tmp_path / "a.nii.gz") == sha256_file(tmp_path / "b.nii.gz")
    back = sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / "a.nii.gz")))
    assert back.dtype == np.uint8 and np.array_equal(back, mask)


def test_nifti_rejects_bad_input(tmp_path):
    with pytest.raises(ValueError, match="3-D"):
        write_nifti(tmp_path / "x.nii.gz", np.zeros((4, 4)), SPACING, ORIGIN)
    with pytest.raises(ValueError, match="spacing"):
        write_nifti(tmp_path / "x.nii.gz", np.zeros((2, 4, 4)), (0, 1, 1), ORIGIN)
    with pytest.raises(ValueError, match=".nii"):
        write_nifti(tmp_path / "x.mha", np.zeros((2, 4, 4)), SPACING, ORIGIN)
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- DICOM CT

@pytest.fixture(scope="module")
def ct_series(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ct") / "dicom"
    hu = phantom()
    paths = write_ct_series(folder, hu, SPACING, ORIGIN, ct_info())
    return folder, paths, hu


def test_ct_files_named_in_order(ct_series):
    folder, paths, hu = ct_series
    assert [p.name for p in paths] == [f"IM{n:06d}.dcm" for n in range(1, hu.shape[0] + 1)]
    assert sorted(p.name for p in folder.iterdir()) == [p.name for p in paths]


def _dciodvfy(path: Path) -> str:
    result = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=30)
    return result.stdout + result.stderr


@pytest.mark.skipif(shutil.which("dciodvfy") is None,
                    reason="dciodvfy (Debian package dicom3tools) is not installed: cannot validate the IOD")
@pytest.mark.parametrize("body_part", ["CHEST", ""])
def test_dciodvfy_reports_no_errors(ct_series, tmp_path, body_part):
    if body_part:
        paths = ct_series[1]
    else:
        paths = write_ct_series(tmp_path, ct_series[2][:2], SPACING, ORIGIN, ct_info(body_part=""))
    for path in paths:
        output = _dciodvfy(path)
        assert "CTImage" in output, output          # it recognised the IOD
        errors = [line for line in output.splitlines() if line.startswith("Error")]
        assert not errors, f"{path.name}:\n{output}"
        warnings = [line for line in output.splitlines() if "Warning" in line]
        # only the ones we accept and document: private tags and empty Laterality when the body part is unknown
        # (the fixed synthetic StudyDate/StudyTime keep DICOMDIR builders quiet)
        for line in warnings:
            assert re.search(r"\(0x0011,0x10|attribute <Laterality>", line), line


@pytest.mark.skipif(shutil.which("dcentvfy") is None, reason="dcentvfy (dicom3tools) is not installed")
def test_dcentvfy_series_consistent(ct_series):
    """dicom3tools' entity check: patient/study/series/frame-of-reference attributes agree across the files."""
    result = subprocess.run(["dcentvfy", *map(str, ct_series[1])], capture_output=True, text=True, timeout=60)
    output = result.stdout + result.stderr
    assert not [line for line in output.splitlines() if line.startswith("Error")], output


def test_simpleitk_reads_one_volume_matching_nifti(ct_series, tmp_path):
    folder, paths, hu = ct_series
    reader = sitk.ImageSeriesReader()
    ids = reader.GetGDCMSeriesIDs(str(folder))
    assert len(ids) == 1 and ids[0] == ct_info().identity.series_uid
    names = reader.GetGDCMSeriesFileNames(str(folder), ids[0])
    assert len(names) == hu.shape[0]
    reader.SetFileNames(names)
    volume = reader.Execute()
    nifti_path = tmp_path / "image.nii.gz"
    write_nifti(nifti_path, hu, SPACING, ORIGIN)
    nifti = sitk.ReadImage(str(nifti_path))
    assert volume.GetSize() == nifti.GetSize() == (60, 64, 8)
    assert volume.GetSpacing() == pytest.approx(nifti.GetSpacing(), abs=1e-4)
    assert volume.GetOrigin() == pytest.approx(nifti.GetOrigin(), abs=1e-4)
    assert volume.GetDirection() == pytest.approx(nifti.GetDirection(), abs=1e-6)
    values = sitk.GetArrayFromImage(volume)
    assert np.array_equal(values.astype(np.int32), sitk.GetArrayFromImage(nifti).astype(np.int32))
    assert np.array_equal(values.astype(np.int32), hu.astype(np.int32))


def test_pydicom_reads_synthetic_markers_and_geometry(ct_series):
    folder, paths, hu = ct_series
    info = ct_info()
    uids = set()
    for k, path in enumerate(paths):
        ds = pydicom.dcmread(path)
        assert ds.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
        assert ds.SOPClassUID == pydicom.uid.CTImageStorage == ds.file_meta.MediaStorageSOPClassUID
        assert ds.SOPInstanceUID == info.identity.instance_uid(k + 1) == ds.file_meta.MediaStorageSOPInstanceUID
        uids.add(ds.SOPInstanceUID)
        assert ds.StudyInstanceUID == info.identity.study_uid and ds.SeriesInstanceUID == info.identity.series_uid
        assert ds.FrameOfReferenceUID == info.identity.frame_of_reference_uid
        assert ds.PatientIdentityRemoved == "YES"
        assert "synthetic" in ds.DeidentificationMethod.lower()
        assert ds.BurnedInAnnotation == "NO" and ds.ImageComments == "SYNTHETIC IMAGE"
        assert str(ds.PatientName) == "SYNTHETIC^S000017" and ds.PatientID == f"SYN-{SPEC_HASH[:8]}-000017"
        assert ds.PatientBirthDate == "" and ds.PatientSex == "F" and ds.PatientAge == "062Y"
        block = ds.private_block(0x0011, "SYNTHSPEC")
        assert block[0x00].value == SPEC_HASH and block[0x01].value == "0.1.0"
        assert "synthspec" in ds.Manufacturer and ds.ManufacturerModelName == "ct.midrange_64"
        assert list(ds.ImageType) == ["ORIGINAL", "PRIMARY", "AXIAL"]
        assert [float(v) for v in ds.ImageOrientationPatient] == [1, 0, 0, 0, 1, 0]
        assert [float(v) for v in ds.ImagePositionPatient] == pytest.approx(
            [ORIGIN[0], ORIGIN[1], ORIGIN[2] + k * SPACING[0]])
        assert float(ds.SliceLocation) == pytest.approx(ORIGIN[2] + k * SPACING[0])
        assert [float(v) for v in ds.PixelSpacing] == pytest.approx([SPACING[1], SPACING[2]])  # row\column = dy\dx
        assert int(ds.InstanceNumber) == k + 1 and float(ds.KVP) == 120 and int(ds.Exposure) == 36
        assert int(ds.ExposureInuAs) == 35500 and ds.ConvolutionKernel == "standard"
        assert [float(v) for v in ds.WindowCenter] == [-600, 40] and [float(v) for v in ds.WindowWidth] == [1500, 400]
        assert ds.BitsStored == 12 and ds.HighBit == 11 and ds.PixelRepresentation == 0
        assert np.array_equal(pydicom.pixels.apply_rescale(ds.pixel_array, ds).astype(np.int32), hu[k])
        assert ds.BodyPartExamined == "CHEST" and "Laterality" not in ds
        assert ds.StudyDate == ds.ContentDate == "19000101" and ds.StudyTime == ds.ContentTime == "000000"
    assert len(uids) == len(paths)


def test_ct_series_bytes_deterministic(ct_series, tmp_path):
    folder, paths, hu = ct_series
    again = write_ct_series(tmp_path, hu, SPACING, ORIGIN, ct_info())
    assert [sha256_file(p) for p in again] == [sha256_file(p) for p in paths]


def test_hu_encoding_clips_and_widens():
    hu = np.array([[[-3000, -1024, 0, 3071]]], np.int16)
    stored, bits = encode_hu(hu)
    assert stored.tolist() == [[[0, 0, 1024, 4095]]] and bits == 12
    stored, bits = encode_hu(np.array([[[0, 5000]]], np.int16))
    assert stored.tolist() == [[[1024, 6024]]] and bits == 16
    stored, _ = encode_hu(np.array([[[-0.6, 10.4]]], np.float32))
    assert stored.tolist() == [[[1023, 1034]]]
    with pytest.raises(ValueError):
        encode_hu(np.array([[[np.nan]]]))


def test_small_helpers():
    assert patient_age(62.7) == "062Y" and patient_age(0.6) == "007M" and patient_age(0.05) == "002W"
    assert body_part_for("thorax_adult") == "CHEST" and body_part_for("head_adult") == "HEAD"
    assert body_part_for("hand_pediatric") == ""


# ---------------------------------------------------------------- identities

_UID = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$")


def _uids(identity):
    return [identity.study_uid, identity.series_uid, identity.frame_of_reference_uid,
            identity.instance_uid(1), identity.instance_uid(2)]


def test_identity_deterministic_and_distinct():
    a, b = identity_for(SPEC_HASH, 7, 17), identity_for(SPEC_HASH, 7, 17)
    assert a == b and _uids(a) == _uids(b)
    others = [identity_for(SPEC_HASH, 7, 18), identity_for(SPEC_HASH, 8, 17), identity_for("f" * 64, 7, 17)]
    everything = _uids(a) + [u for o in others for u in _uids(o)]
    assert len(set(everything)) == len(everything)
    assert a.patient_id == "SYN-1a2b3c4d-000017" and a.patient_name == "SYNTHETIC^S000017"
    assert others[0].patient_id != a.patient_id


def test_identity_uids_valid():
    for index in (0, 1, 17, 999_999):
        for uid in _uids(identity_for(SPEC_HASH, 0, index)) + [identity_for(SPEC_HASH, 0, index).instance_uid(10 ** 6)]:
            assert len(uid) <= 64 and _UID.match(uid) and uid.startswith("2.25."), uid


# ---------------------------------------------------------------- atomicity

def test_staged_dir_success_renames_into_place(tmp_path):
    final = tmp_path / "subjects" / "S000001"     # parent created on demand
    with staged_dir(final) as tmp:
        assert tmp.parent == final.parent and tmp.name.startswith(".tmp-") and not final.exists()
        (tmp / "a.txt").write_text("a")
        (tmp / "sub").mkdir()
        (tmp / "sub" / "b.txt").write_text("b")
    assert (final / "a.txt").read_text() == "a" and (final / "sub" / "b.txt").read_text() == "b"
    assert [p.name for p in final.parent.iterdir()] == ["S000001"]


def test_staged_dir_failure_leaves_nothing(tmp_path):
    final = tmp_path / "S000002"
    with pytest.raises(RuntimeError, match="boom"):
        with staged_dir(final) as tmp:
            (tmp / "half.dcm").write_bytes(b"x" * 100)
            raise RuntimeError("boom")
    assert not final.exists() and list(tmp_path.iterdir()) == []
    with pytest.raises(KeyboardInterrupt):
        with staged_dir(final) as tmp:
            (tmp / "half.dcm").write_bytes(b"x")
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_staged_dir_never_replaces(tmp_path):
    final = tmp_path / "S000003"
    final.mkdir()                                  # even an empty folder is not replaced
    with pytest.raises(FileExistsError):
        with staged_dir(final):
            pass
    # raced: final appears while the body runs
    final2 = tmp_path / "S000004"
    with pytest.raises(FileExistsError):
        with staged_dir(final2) as tmp:
            (tmp / "mine").write_text("mine")
            final2.mkdir()
            (final2 / "theirs").write_text("theirs")
    assert [p.name for p in final2.iterdir()] == ["theirs"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["S000003", "S000004"]


def test_write_bytes_atomic_replaces_and_leaves_no_temp(tmp_path):
    path = tmp_path / "deep" / "file.bin"
    write_bytes_atomic(path, b"one")
    write_bytes_atomic(path, b"two")
    write_text_atomic(tmp_path / "t.txt", "héllo\n")
    assert path.read_bytes() == b"two" and (tmp_path / "t.txt").read_bytes() == "héllo\n".encode()
    assert [p.name for p in path.parent.iterdir()] == ["file.bin"]
    with pytest.raises(TypeError):
        write_bytes_atomic(path, "not bytes")      # fails while writing: old content kept, temp removed
    assert path.read_bytes() == b"two" and [p.name for p in path.parent.iterdir()] == ["file.bin"]


def test_write_bytes_atomic_interrupted_replace_keeps_old(tmp_path, monkeypatch):
    path = tmp_path / "file.bin"
    write_bytes_atomic(path, b"old")

    def broken_replace(src, dst):
        raise OSError("disk gone")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk gone"):
        write_bytes_atomic(path, b"new")
    monkeypatch.undo()
    assert path.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["file.bin"]


def test_sha256_file(tmp_path):
    path = tmp_path / "x"
    path.write_bytes(b"abc")
    assert sha256_file(path) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


# ---------------------------------------------------------------- manifest and provenance

def test_manifest_round_trip(tmp_path):
    rows = [
        {"index": 1, "subject_id": "S000001", "sex": "male", "age_y": 61.25, "positive": False, "stratum": None,
         "lesions": [], "files": {"image": "subjects/S000001/image.nii.gz"}, "kv": np.float64(120.0)},
        {"index": 0, "subject_id": "S000000", "sex": "female", "age_y": 0.1 + 0.2, "positive": True,
         "stratum": "F, 40-60", "lesions": [{"id": 1, "kind": "nodule", "centre_mm": [1.5, -2.0, 3.25]}],
         "files": {"image": "subjects/S000000/image.nii.gz", "dicom": "subjects/S000000/dicom/"},
         "kv": 100.0, "note": 'quote " and, comma\nnewline'},
    ]
    csv_path, json_path = write_manifest(tmp_path, rows)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.csv", "manifest.json"]
    document = json.loads(json_path.read_text())
    assert [r["index"] for r in document["rows"]] == [0, 1]
    assert document["rows"][0]["age_y"] == 0.1 + 0.2 and document["rows"][1]["kv"] == 120.0
    assert document["columns"][:2] == ["index", "subject_id"] and "note" in document["columns"]
    back = read_manifest_csv(csv_path)
    flat = [{k: v for k, v in row.items() if not isinstance(v, (list, dict))} for row in document["rows"]]
    expected = [flat[0], {**flat[1], "note": None}]   # scalars only: nested values are in manifest.json
    assert back == expected
    assert "lesions" not in csv_path.read_text().splitlines()[0]
    assert csv_path.read_text().splitlines()[0].startswith("index,subject_id,")
    # deterministic bytes
    before = (sha256_file(csv_path), sha256_file(json_path))
    write_manifest(tmp_path, list(reversed(rows)))
    assert (sha256_file(csv_path), sha256_file(json_path)) == before


def test_manifest_refuses_bad_rows(tmp_path):
    with pytest.raises(ValueError, match="index"):
        write_manifest(tmp_path, [{"subject_id": "S1"}])
    with pytest.raises(ValueError, match="duplicate"):
        write_manifest(tmp_path, [{"index": 0}, {"index": 0}])
    with pytest.raises(ValueError):
        write_manifest(tmp_path, [{"index": 0, "x": float("nan")}])
    assert list(tmp_path.iterdir()) == []


def test_provenance_and_versions(tmp_path):
    versions = package_versions()
    for name in ("synthspec", "python", "numpy", "torch", "SimpleITK", "pydicom", "lark", "pydantic"):
        assert isinstance(versions[name], str) and versions[name]
    path = write_provenance(tmp_path, {"z": 1, "a": {"y": 2, "b": [1, 2]}, "versions": versions})
    text = path.read_text()
    assert json.loads(text)["a"] == {"y": 2, "b": [1, 2]}
    assert text.index('"a"') < text.index('"versions"') < text.index('"z"') and '\n  "a": {' in text
