"""MR writers: one MR Image Storage series per channel that dciodvfy and SimpleITK accept, BIDS-style names,
JSON sidecars and FSL .bval/.bvec, on tiny volumes (4 slices of 32 x 32) without generating a cohort."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from synthspec.cohort import layout
from synthspec.cohort.atomic import sha256_file
from synthspec.cohort.nifti import write_nifti
from synthspec.families.modality.mri import bids
from synthspec.families.modality.mri.dicom import MR_IMAGE_STORAGE, series_infos, write_mr_channel, write_mr_series
from synthspec.families.modality.mri.series import GYROMAGNETIC_MHZ_PER_T, channel_facts
from synthspec.identity import identity_for

sitk = pytest.importorskip("SimpleITK")
pydicom = pytest.importorskip("pydicom")

KEY = "5eed" + "c" * 60
SPACING = (5.0, 0.9, 0.8)              # dz, dy, dx: all different, so an axis mix-up shows
ORIGIN = (-12.4, -14.4, -7.5)          # LPS of voxel [0, 0, 0]
SETTINGS = {
    "field_strength_t": 3.0, "slice_thickness_mm": 5.0, "phase_direction": "LR",
    "contrast": {"agent": "gadobutrol", "dose_mmol_kg": 0.1},
    "sequences": [
        {"name": "t1", "type": "spin_echo", "tr_ms": 600.0, "te_ms": 12.0, "ti_ms": None, "flip_deg": 90.0,
         "b_values": [], "post_contrast": False, "partial_fourier": 1.0},
        {"name": "t1_post", "type": "spin_echo", "tr_ms": 600.0, "te_ms": 12.0, "ti_ms": None, "flip_deg": 90.0,
         "b_values": [], "post_contrast": True, "partial_fourier": 1.0},
        {"name": "t2", "type": "turbo_spin_echo", "tr_ms": 4000.0, "te_ms": 100.0, "ti_ms": None, "flip_deg": 90.0,
         "b_values": [], "post_contrast": False, "partial_fourier": 1.0},
        {"name": "flair", "type": "flair", "tr_ms": 9000.0, "te_ms": 120.0, "ti_ms": 2500.0, "flip_deg": 90.0,
         "b_values": [], "post_contrast": False, "partial_fourier": 1.0},
        {"name": "mprage", "type": "inversion_prepared_gradient_echo", "tr_ms": 2300.0, "te_ms": 3.0,
         "ti_ms": 900.0, "flip_deg": 9.0, "b_values": [], "post_contrast": False, "partial_fourier": 1.0},
        {"name": "dwi", "type": "diffusion", "tr_ms": 5000.0, "te_ms": 90.0, "ti_ms": None, "flip_deg": 90.0,
         "b_values": [0.0, 1000.0], "post_contrast": False, "partial_fourier": 0.75},
    ]}
NAMES = {"t1": "acq-t1_T1w", "t1_post": "acq-t1post_ce-gadobutrol_T1w", "t2": "acq-t2_T2w", "flair": "acq-flair_FLAIR",
         "mprage": "acq-mprage_T1w", "dwi_b0": "acq-dwi_rec-b0_dwi", "dwi_b1000": "acq-dwi_rec-b1000_dwi",
         "dwi_adc": "acq-dwi_ADC"}
ACCEPTED_WARNINGS = re.compile(r"\(0x0011,0x10|\(0x0018,0x9075\)|\(0x0018,0x9087\)|Standard Extended SOP Class")
"""dciodvfy's warnings we accept: the private SYNTHSPEC block, and DiffusionDirectionality / DiffusionBValue, which
the (legacy) MR Image IOD does not list, making a diffusion series a Standard Extended SOP Class, as scanners write."""


def volume(channel: str, nz=4, ny=32, nx=32) -> np.ndarray:
    """A head-like ellipse with a bright insert and a marker that breaks every symmetry; ADC in 1e-6 mm^2/s."""
    z, y, x = np.mgrid[:nz, :ny, :nx]
    head = ((y - ny / 2) / (ny * 0.42)) ** 2 + ((x - nx / 2) / (nx * 0.38)) ** 2 < 1
    out = np.where(head, 800 if channel.endswith("_adc") else 1000, 0).astype(np.uint16)
    out[(y - ny * 0.4) ** 2 + (x - nx * 0.6) ** 2 < 9] = 3000 if channel.endswith("_adc") else 1600
    out[np.arange(nz), 2, 3 + np.arange(nz)] = 2000 + 10 * np.arange(nz)
    return out + np.uint16(sum(map(ord, channel)) % 7)


def plan(compression="none"):
    return SimpleNamespace(
        modality="mri", seed_key=KEY, cohort_name="mr_test", anatomy="head_adult", channels=list(NAMES),
        stage=lambda kind: SimpleNamespace(params=SimpleNamespace(settings=SETTINGS)),
        grid=SimpleNamespace(spacing=SPACING, origin_xyz=lambda: ORIGIN),
        writing=SimpleNamespace(dicom_compression=compression))


def subject(channels=tuple(NAMES)):
    params = SimpleNamespace(subject_id="S000003", index=3, age_y=61.2, sex="male", scanner="mr.research_3t",
                             height_mm=1750.0, bmi=24.0)
    return SimpleNamespace(params=params, channels={c: volume(c) for c in channels})


def geometry(_plan, _channel):
    return SPACING, ORIGIN


IDENTITY = identity_for(KEY, 11, 3)


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mr")
    assert write_mr_series(folder, subject(), plan(), IDENTITY, "0.6.0", geometry=geometry) == "dicom/"
    return folder


def _series(folder: Path, channel: str) -> list[Path]:
    return sorted((folder / "dicom" / channel).iterdir())


def test_one_series_per_channel_in_its_own_folder(written):
    assert sorted(p.name for p in (written / "dicom").iterdir()) == sorted(NAMES)
    for channel in NAMES:
        assert [p.name for p in _series(written, channel)] == [f"IM{n:06d}.dcm" for n in range(1, 5)]


def test_channel_facts_name_the_modalitys_channels():
    from synthspec.families.modality.mri import MODALITY

    assert list(channel_facts(SETTINGS)) == [c.name for c in MODALITY.channels_for(SETTINGS)] == list(NAMES)


@pytest.mark.skipif(shutil.which("dciodvfy") is None, reason="dciodvfy (Debian package dicom3tools) is not installed")
def test_dciodvfy_reports_no_errors_on_any_series(written):
    for channel in NAMES:
        for path in _series(written, channel)[:2]:
            result = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=30)
            output = result.stdout + result.stderr
            assert "MRImage" in output, output
            assert not [line for line in output.splitlines() if line.startswith("Error")], f"{channel}:\n{output}"
            for line in output.splitlines():
                if "Warning" in line:
                    assert ACCEPTED_WARNINGS.search(line), f"{channel}: {line}"


@pytest.mark.skipif(shutil.which("dcentvfy") is None, reason="dcentvfy (dicom3tools) is not installed")
def test_dcentvfy_finds_every_series_consistent(written):
    paths = [str(p) for channel in NAMES for p in _series(written, channel)]
    result = subprocess.run(["dcentvfy", *paths], capture_output=True, text=True, timeout=60)
    output = result.stdout + result.stderr
    assert not [line for line in output.splitlines() if line.startswith("Error")], output


def test_pydicom_reads_the_mr_facts_back(written):
    seen_series, seen_instances = set(), set()
    for number, channel in enumerate(NAMES, start=1):
        f = channel_facts(SETTINGS)[channel]
        seq = f.sequence
        for k, path in enumerate(_series(written, channel)):
            ds = pydicom.dcmread(path)
            assert ds.SOPClassUID == MR_IMAGE_STORAGE == ds.file_meta.MediaStorageSOPClassUID and ds.Modality == "MR"
            assert ds.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
            assert float(ds.RepetitionTime) == seq.tr_ms and float(ds.EchoTime) == seq.te_ms
            assert float(ds.FlipAngle) == seq.flip_deg
            assert ("InversionTime" in ds) == (channel in ("flair", "mprage"))
            if "InversionTime" in ds:
                assert float(ds.InversionTime) == seq.ti_ms
            assert float(ds.MagneticFieldStrength) == 3.0
            assert float(ds.ImagingFrequency) == pytest.approx(GYROMAGNETIC_MHZ_PER_T * 3.0, abs=1e-5)
            assert float(ds.SliceThickness) == 5.0 and float(ds.SpacingBetweenSlices) == SPACING[0]
            assert [float(v) for v in ds.PixelSpacing] == pytest.approx([SPACING[1], SPACING[2]])
            assert [float(v) for v in ds.ImageOrientationPatient] == [1, 0, 0, 0, 1, 0]
            assert [float(v) for v in ds.ImagePositionPatient] == pytest.approx(
                [ORIGIN[0], ORIGIN[1], ORIGIN[2] + k * SPACING[0]])
            assert int(ds.SeriesNumber) == number and int(ds.InstanceNumber) == k + 1
            assert ds.InPlanePhaseEncodingDirection == "ROW"
            assert np.array_equal(ds.pixel_array, volume(channel)[k])
            # synthetic identity and marking
            assert str(ds.PatientName) == "SYNTHETIC^S000003" and ds.PatientID == f"SYN-{KEY[:8]}-000003"
            assert ds.PatientIdentityRemoved == "YES" and "synthetic" in ds.DeidentificationMethod.lower()
            assert ds.BurnedInAnnotation == "NO" and ds.ImageComments == "SYNTHETIC IMAGE"
            assert ds.SeriesDescription.startswith("SYNTHETIC") and ds.StudyDescription == "SYNTHETIC MR"
            assert ds.private_block(0x0011, "SYNTHSPEC")[0x02].value == "SYNTHETIC"
            assert ds.StudyInstanceUID == IDENTITY.study_uid
            assert ds.FrameOfReferenceUID == IDENTITY.frame_of_reference_uid
            assert float(ds.PatientWeight) == pytest.approx(73.5)
            seen_series.add(ds.SeriesInstanceUID)
            seen_instances.add(ds.SOPInstanceUID)
            # per role
            if f.role == "structural":
                assert list(ds.ImageType) == ["ORIGINAL", "PRIMARY", "OTHER"] and "DiffusionBValue" not in ds
            else:
                assert ds.get("DiffusionBValue") == (None if f.role == "adc" else f.b_value)
                assert ds.DiffusionDirectionality == ("NONE" if f.role == "b0" else "ISOTROPIC")
                assert ds.ImageType[0] == ("ORIGINAL" if f.role == "b0" else "DERIVED")
                assert list(ds.ScanningSequence) == ["EP", "SE"] and ds.ScanOptions == "PFP"
            if f.role == "adc":
                assert list(ds.ImageType) == ["DERIVED", "PRIMARY", "DIFFUSION MAP", "ADC"]
                mapping = ds.RealWorldValueMappingSequence[0]
                assert mapping.MeasurementUnitsCodeSequence[0].CodeValue == "um2/s"
                assert mapping.RealWorldValueSlope == 1.0 and ds.WindowCenterWidthExplanation[0] == "ADC"
            if channel == "t1_post":
                assert ds.ContrastBolusAgent == "gadobutrol" and ds.ContrastBolusIngredient == "GADOLINIUM"
                assert float(ds.ContrastBolusTotalDose) == pytest.approx(7.35)   # 0.1 mmol/kg x 73.5 kg / 1 mmol/mL
            else:
                assert "ContrastBolusAgent" not in ds
        if channel == "flair":
            assert list(ds.ScanningSequence) == ["SE", "IR"]
        if channel == "mprage":
            assert list(ds.ScanningSequence) == ["GR", "IR"] and ds.MRAcquisitionType == "3D"
    assert len(seen_series) == len(NAMES) and len(seen_instances) == 4 * len(NAMES)
    first = pydicom.dcmread(_series(written, "t1")[0])
    assert first.SeriesInstanceUID == IDENTITY.series_uid   # the first channel's series is the one subject.json names


def test_simpleitk_reads_each_series_with_the_nifti_geometry(written, tmp_path):
    for channel in NAMES:
        reader = sitk.ImageSeriesReader()
        ids = reader.GetGDCMSeriesIDs(str(written / "dicom" / channel))
        assert len(ids) == 1
        reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(written / "dicom" / channel), ids[0]))
        image = reader.Execute()
        nifti_path = tmp_path / f"{NAMES[channel]}.nii.gz"
        write_nifti(nifti_path, volume(channel), SPACING, ORIGIN)
        nifti = sitk.ReadImage(str(nifti_path))
        assert image.GetSize() == nifti.GetSize() == (32, 32, 4)
        assert image.GetSpacing() == pytest.approx(nifti.GetSpacing(), abs=1e-4)
        assert image.GetOrigin() == pytest.approx(nifti.GetOrigin(), abs=1e-4)
        assert image.GetDirection() == pytest.approx(nifti.GetDirection(), abs=1e-6)
        assert np.array_equal(sitk.GetArrayFromImage(image).astype(np.int32), volume(channel).astype(np.int32))


def test_the_same_inputs_give_the_same_bytes(written, tmp_path):
    assert write_mr_series(tmp_path, subject(), plan(), IDENTITY, "0.6.0", geometry=geometry) == "dicom/"
    for channel in NAMES:
        assert [sha256_file(p) for p in _series(tmp_path, channel)] == \
            [sha256_file(p) for p in _series(written, channel)]


def test_jpeg_ls_series_decodes_to_the_same_values(tmp_path):
    pytest.importorskip("jpeg_ls")
    info = dict(series_infos(subject(("dwi_adc",)), plan("jpeg_ls"), IDENTITY, "0.6.0"))["dwi_adc"]
    paths = write_mr_channel(tmp_path, volume("dwi_adc"), SPACING, ORIGIN, info)
    ds = pydicom.dcmread(paths[1])
    assert ds.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.4.80" and ds.LossyImageCompression == "00"
    assert np.array_equal(ds.pixel_array, volume("dwi_adc")[1])


# ---------------------------------------------------------------- BIDS names and sidecars

def test_bids_names_of_every_channel():
    assert {c: bids.channel_file(c, plan()) for c in NAMES} == {c: n + ".nii.gz" for c, n in NAMES.items()}
    assert all(re.fullmatch(r"(acq|ce|rec)-[A-Za-z0-9]+", e) for n in NAMES.values() for e in n.split("_")[:-1])


def test_bids_suffix_follows_type_and_timing():
    def name(**seq):
        entry = {"name": "s", "tr_ms": 500.0, "te_ms": 10.0, "ti_ms": None, "flip_deg": 90.0, "b_values": [], **seq}
        return bids.file_stems({"field_strength_t": 1.5, "sequences": [entry]})["s"]

    assert name(type="spin_echo", tr_ms=2500.0, te_ms=20.0) == "acq-s_PDw"
    assert name(type="turbo_spin_echo", tr_ms=4000.0, te_ms=90.0) == "acq-s_T2w"
    assert name(type="gradient_echo", te_ms=20.0, flip_deg=15.0) == "acq-s_T2starw"
    assert name(type="gradient_echo", te_ms=4.0, flip_deg=30.0) == "acq-s_T1w"
    assert name(type="inversion_recovery", tr_ms=5000.0, ti_ms=150.0) == "acq-s_T2w"    # STIR
    assert name(type="inversion_recovery", tr_ms=9000.0, ti_ms=2400.0) == "acq-s_FLAIR"


def test_clashing_labels_are_refused():
    seqs = [{"name": n, "type": "spin_echo", "tr_ms": 500.0, "te_ms": 10.0} for n in ("t1_a", "t1a")]
    with pytest.raises(ValueError, match="t1_a.*t1a"):
        bids.file_stems({"field_strength_t": 3.0, "sequences": seqs})


def test_sidecars_bval_and_bvec(tmp_path):
    files = bids.write_sidecars(tmp_path, subject(), plan(), geometry=geometry)
    assert set(files) == {f"{c}_json" for c in NAMES} | {f"{c}_{e}" for c in ("dwi_b0", "dwi_b1000")
                                                          for e in ("bval", "bvec")}
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(files.values())
    t1post = json.loads((tmp_path / files["t1_post_json"]).read_text())
    assert t1post["RepetitionTime"] == 0.6 and t1post["EchoTime"] == 0.012 and "InversionTime" not in t1post
    assert t1post["FlipAngle"] == 90.0 and t1post["MagneticFieldStrength"] == 3.0
    assert t1post["ContrastBolusIngredient"] == "GADOLINIUM" and t1post["ContrastBolusTotalDose"] == pytest.approx(7.35)
    assert t1post["SyntheticData"] is True and "SYNTHETIC" in t1post["SeriesDescription"]
    flair = json.loads((tmp_path / files["flair_json"]).read_text())
    assert flair["InversionTime"] == 2.5 and flair["RepetitionTime"] == 9.0 and "ContrastBolusIngredient" not in flair
    assert json.loads((tmp_path / files["dwi_adc_json"]).read_text())["Units"] == "1e-6 mm^2/s"
    for channel, b in (("dwi_b0", 0.0), ("dwi_b1000", 1000.0)):
        bval = np.loadtxt(tmp_path / files[f"{channel}_bval"], ndmin=1)
        bvec = np.loadtxt(tmp_path / files[f"{channel}_bvec"], ndmin=2)   # FSL: 3 rows, one column per volume
        assert bval.tolist() == [b] and bvec.shape == (3, 1) and not bvec.any()
        assert files[f"{channel}_bval"] == NAMES[channel] + ".bval"


def test_layout_asks_the_modality_for_its_names_and_keeps_ct_names(monkeypatch):
    from synthspec.families import registry

    assert layout.channel_file("image") == "image.nii.gz"
    assert layout.channel_file("image", SimpleNamespace(modality="ct")) == "image.nii.gz"
    assert layout.channel_file("image", SimpleNamespace(modality="xray")) == "image.nii.gz"
    named = SimpleNamespace(channel_file=lambda channel, p: bids.channel_file(channel, p))
    monkeypatch.setattr(registry, "modality", lambda name: named)
    assert layout.channel_file("flair", plan()) == "acq-flair_FLAIR.nii.gz"


def test_the_reader_finds_a_channel_by_its_modality_given_name(tmp_path):
    from synthspec.cohort.read import SubjectFiles

    name = NAMES["flair"] + ".nii.gz"
    write_nifti(tmp_path / name, volume("flair"), SPACING, ORIGIN)
    files = SubjectFiles(0, "S000000", tmp_path, {"hashes": {name: sha256_file(tmp_path / name)}}, shape=(4, 32, 32),
                         channels=("flair",), channel_files={"flair": name})
    assert files.channel_file("flair") == name
    assert np.array_equal(files.channel("flair"), volume("flair"))


def test_mr_pixels_round_and_clip_to_unsigned_16_bit():
    from synthspec.families.modality.mri.dicom import encode_mr

    stored, bits = encode_mr(np.array([[[-3.0, 0.4, 4095.0]]], np.float32))
    assert stored.tolist() == [[[0, 0, 4095]]] and stored.dtype == np.uint16 and bits == 12
    stored, bits = encode_mr(np.array([[[70000, 4096]]], np.int64))
    assert stored.tolist() == [[[65535, 4096]]] and bits == 16
    with pytest.raises(ValueError, match="NaN"):
        encode_mr(np.array([[[np.nan]]]))
