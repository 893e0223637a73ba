"""The DX For Presentation writer and the PNG previews: attributes, geometry, read-back, bytes, dciodvfy.

dciodvfy (dicom3tools) reports no errors on a hand and a chest file.  Its only warnings are
"Unrecognized tag" for our private block (0011,1000-1002: model key, version, SYNTHETIC flag; the
same warnings as for the CT series), which stay: a private block is what a verifier cannot know.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import replace

import numpy as np
import pytest

from synthspec.families.modality.xray.dicom import DX_FOR_PRESENTATION, DXInfo, write_dx
from synthspec.families.modality.xray.preview import outlines, to_grey, write_png
from synthspec.identity import identity_for

DCIODVFY = shutil.which("dciodvfy")


def _image(shape=(300, 240), bits=12, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 1 << bits, shape).astype(np.uint16)


def _hand(**changes) -> DXInfo:
    info = DXInfo(identity=identity_for("abcdef0123456789", 7, 3), age_y=9.5, sex="female", scanner="FlatPanelDR",
                  kvp=55, mas=2.5, sid_mm=1000, sod_mm=980, imager_pixel_mm=0.143, magnification=1000 / 980,
                  view_position="PA", laterality="L", body_part="HAND", grid=0, focal_spot_mm=0.6,
                  model_key="abcdef0123456789", synthspec_version="0.5.0", series_description="hand PA",
                  bits_stored=12)
    return replace(info, **changes)


def _chest(**changes) -> DXInfo:
    return _hand(kvp=120, mas=3.2, sid_mm=1800, sod_mm=1600, imager_pixel_mm=(0.2, 0.2), magnification=1.125,
                 laterality="", body_part="CHEST", grid=10, detector_type="STORAGE", bits_stored=14,
                 series_description="chest PA", **changes)


def test_dx_attributes_geometry_and_marking(tmp_path):
    import pydicom

    image = _image()
    name = write_dx(tmp_path, image, _hand())
    assert name == "DX000001.dcm"
    ds = pydicom.dcmread(tmp_path / name)
    assert ds.SOPClassUID == DX_FOR_PRESENTATION == ds.file_meta.MediaStorageSOPClassUID
    assert ds.Modality == "DX" and ds.PresentationIntentType == "FOR PRESENTATION"
    assert ds.PhotometricInterpretation == "MONOCHROME2" and ds.PresentationLUTShape == "IDENTITY"
    assert (ds.BitsStored, ds.HighBit, ds.BitsAllocated) == (12, 11, 16)
    assert np.array_equal(ds.pixel_array, image)
    assert [float(v) for v in ds.ImagerPixelSpacing] == [0.143, 0.143]
    assert [float(v) for v in ds.PixelSpacing] == pytest.approx([0.143 * 0.98] * 2, rel=1e-6)
    assert ds.PixelSpacingCalibrationType == "GEOMETRY" and ds.PixelSpacingCalibrationDescription
    assert float(ds.EstimatedRadiographicMagnificationFactor) == pytest.approx(1000 / 980, rel=1e-6)
    assert (float(ds.DistanceSourceToDetector), float(ds.DistanceSourceToPatient)) == (1000, 980)
    assert (float(ds.KVP), int(ds.ExposureInuAs), int(ds.Exposure)) == (55, 2500, 2)
    assert ds.ViewPosition == "PA" and ds.ViewCodeSequence[0].CodeValue == "272479007"
    assert ds.ImageLaterality == "L" and "Laterality" not in ds
    assert ds.BodyPartExamined == "HAND" and ds.AnatomicRegionSequence[0].CodeValue == "85562004"
    assert list(ds.PatientOrientation) == ["L", "H"]
    assert ds.DetectorType == "SCINTILLATOR" and ds.Grid == "NONE" and float(ds.FocalSpots) == 0.6
    assert len(ds.WindowCenter) == 2 and list(ds.WindowCenterWidthExplanation) == ["IMAGE", "FULL RANGE"]
    assert ds.BurnedInAnnotation == "NO"  # the lead L/R marker identifies a side, not the patient
    # synthetic marking and identity exactly as the CT writer
    assert ds.PatientIdentityRemoved == "YES" and ds.ImageComments == "SYNTHETIC IMAGE"
    assert ds.Manufacturer == "synthspec (synthetic)" and ds.StudyDate == "19000101" and ds.PatientBirthDate == ""
    assert str(ds.PatientName) == "SYNTHETIC^S000003" and ds.PatientAge == "009Y" and ds.PatientSex == "F"
    block = ds.private_block(0x0011, "SYNTHSPEC")
    assert [block[i].value for i in range(3)] == ["abcdef0123456789", "0.5.0", "SYNTHETIC"]
    assert ds.SOPInstanceUID == _hand().identity.instance_uid(1)


def test_dx_chest_grid_cr_and_presets(tmp_path):
    import pydicom

    image = _image(bits=14)
    ds = pydicom.dcmread(tmp_path / write_dx(tmp_path, image, _chest(window=(6000, 9000))))
    assert ds.ImageLaterality == "U" and list(ds.PatientOrientation) == ["L", "F"]
    assert ds.AnatomicRegionSequence[0].CodeValue == "816094009"
    assert ds.Grid == "FOCUSED" and list(ds.GridAspectRatio) == [10, 1] and float(ds.GridFocalDistance) == 1800
    assert ds.DetectorType == "STORAGE" and ds.BitsStored == 14
    assert (float(ds.WindowCenter[0]), float(ds.WindowWidth[0])) == (6000, 9000)
    assert [float(v) for v in ds.PixelSpacing] == pytest.approx([0.2 / 1.125] * 2)


def test_dx_bytes_are_deterministic_and_read_back_with_simpleitk(tmp_path):
    import SimpleITK as sitk

    image = _image()
    a, b = tmp_path / "a", tmp_path / "b"
    write_dx(a, image, _hand())
    write_dx(b, image.copy(), _hand())
    assert (a / "DX000001.dcm").read_bytes() == (b / "DX000001.dcm").read_bytes()
    other = tmp_path / "c"
    write_dx(other, image, _hand(laterality="R"))
    assert (other / "DX000001.dcm").read_bytes() != (a / "DX000001.dcm").read_bytes()
    read = sitk.ReadImage(str(a / "DX000001.dcm"))
    assert np.array_equal(sitk.GetArrayFromImage(read).reshape(image.shape), image)
    # GDCM (SimpleITK's DICOM reader) gives a DX image its ImagerPixelSpacing, the detector pitch, not the
    # magnification-corrected PixelSpacing: a reader wanting object-plane mm must use PixelSpacing (pydicom)
    assert read.GetSpacing()[:2] == pytest.approx((0.143, 0.143), rel=1e-6)


@pytest.mark.parametrize("image, changes, message", [
    (np.full((4, 4), 5000, np.uint16), {}, "do not fit BitsStored 12"),
    (np.zeros((4, 4), np.float32), {}, "unsigned integer"),
    (np.zeros((4, 4, 2), np.uint16), {}, "2-D"),
    (np.zeros((4, 4), np.uint16), {"laterality": ""}, "paired body part"),
    (np.zeros((4, 4), np.uint16), {"view_position": "LAT"}, "PA or AP"),
    (np.zeros((4, 4), np.uint16), {"magnification": 0.9}, "at least 1"),
    (np.zeros((4, 4), np.uint16), {"sod_mm": 1200}, "exceeds"),
    (np.zeros((4, 4), np.uint16), {"detector_type": "CCD"}, "detector type"),
])
def test_dx_refuses_what_it_cannot_state(tmp_path, image, changes, message):
    with pytest.raises(ValueError, match=message):
        write_dx(tmp_path, image, _hand(**changes))
    assert not (tmp_path / "DX000001.dcm").exists()


@pytest.mark.skipif(DCIODVFY is None, reason="dciodvfy (dicom3tools) is not installed")
@pytest.mark.parametrize("info", [_hand(), _chest()], ids=["hand", "chest"])
def test_dciodvfy_reports_no_errors(tmp_path, info):
    name = write_dx(tmp_path, _image(bits=info.bits_stored), info)
    done = subprocess.run([DCIODVFY, str(tmp_path / name)], capture_output=True, text=True, timeout=60)
    report = done.stdout + done.stderr
    assert "DXImageForPresentation" in report
    assert "Error" not in report, report
    warnings = [line for line in report.splitlines() if "Warning" in line]
    assert all("Unrecognized tag" in line and "(0x0011," in line for line in warnings), report


# --------------------------------------------------------------------------- PNG previews


def test_png_bytes_size_mode_and_window(tmp_path):
    from PIL import Image

    image = _image((120, 90))
    first = write_png(tmp_path / "a.png", image, 12)
    second = write_png(tmp_path / "b.png", image.copy(), 12)
    assert first.read_bytes() == second.read_bytes()
    with Image.open(first) as png:
        assert png.mode == "L" and png.size == (90, 120)
        assert not png.info  # no text or time chunks
    grey = to_grey(np.array([[0, 1000, 2000, 4095]], np.uint16), 12, window=(1000, 1000))
    assert grey.tolist() == [[0, 128, 255, 255]]
    assert to_grey(np.array([[0, 4095]], np.uint16), 12, window="full").tolist() == [[0, 255]]
    floats = write_png(tmp_path / "f.png", image.astype(np.float32) / 4095, 12)
    with Image.open(floats) as png:
        assert png.mode == "L"


def test_png_overlay_outlines_each_label_in_its_colour(tmp_path):
    from PIL import Image

    image = _image((100, 80))
    labels = np.zeros((100, 80), np.uint8)
    labels[20:60, 10:50] = 1
    labels[70:90, 30:70] = 2
    edge = outlines(labels)
    assert edge[20, 30] == 1 and edge[40, 30] == 0 and edge[70, 50] == 2 and edge[0, 0] == 0
    path = write_png(tmp_path / "o.png", image, 12, overlay=labels)
    assert path.read_bytes() == write_png(tmp_path / "p.png", image, 12, overlay=labels).read_bytes()
    with Image.open(path) as png:
        assert png.mode == "RGB" and png.size == (80, 100)
        rgb = np.asarray(png)
    assert tuple(rgb[20, 30]) == (255, 64, 64) and tuple(rgb[70, 50]) == (64, 200, 255)
    assert rgb[40, 30, 0] == rgb[40, 30, 1] == rgb[40, 30, 2]  # inside: grey
    with pytest.raises(ValueError, match="overlay shape"):
        write_png(tmp_path / "q.png", image, 12, overlay=labels[:50])
