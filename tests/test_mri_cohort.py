"""A small stroke MRI cohort end to end: plan, run, files as users meet them, and verify.

One tiny cohort (3 subjects on a 48 x 48 matrix, 5 mm slices) is generated once for the module from the
stroke example, with DICOM added to its formats: every channel is a BIDS-named NIfTI with its sidecars,
every DICOM series reads back through SimpleITK with the NIfTI's geometry and values, the pathology
record carries the territory it was drawn in, and `synth verify` regenerates the subjects byte for byte.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from synthspec import api

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def stroke(tmp_path_factory):
    text = (ROOT / "examples" / "stroke_mri_territory.synth").read_text(encoding="utf-8")
    text = text.replace("matrix: 256", "matrix: 48").replace("formats: nifti, masks", "formats: nifti, dicom, masks")
    text = text.replace("prevalence: 50%", "prevalence: 100%")
    folder = tmp_path_factory.mktemp("stroke")
    spec = folder / "stroke.synth"
    spec.write_text(text, encoding="utf-8")
    plan = api.plan(spec, device="cpu", subjects=3)
    out = folder / "cohort"
    api.run(plan, out)
    return plan, out


def test_every_channel_is_a_bids_named_nifti_with_its_sidecars(stroke):
    plan, out = stroke
    assert plan.channels == ["dwi_b0", "dwi_b1000", "dwi_adc", "flair"]
    record = json.loads((out / "subjects" / "S000000" / "subject.json").read_text())
    files = record["files"]
    assert files["dwi_b1000"].endswith("acq-dwi_rec-b1000_dwi.nii.gz")
    assert files["flair"].endswith("acq-flair_FLAIR.nii.gz")
    folder = out / "subjects" / "S000000"
    assert (folder / "acq-dwi_rec-b1000_dwi.bval").read_text().split() == ["1000"]
    sidecar = json.loads((folder / "acq-flair_FLAIR.json").read_text())
    assert sidecar["RepetitionTime"] == pytest.approx(9.0) and sidecar["InversionTime"] == pytest.approx(2.4)
    assert sidecar["MagneticFieldStrength"] == pytest.approx(1.5)


def test_each_dicom_series_reads_back_with_the_niftis_geometry_and_values(stroke):
    import SimpleITK as sitk

    _, out = stroke
    folder = out / "subjects" / "S000000"
    for channel, name in (("flair", "acq-flair_FLAIR.nii.gz"), ("dwi_adc", "acq-dwi_ADC.nii.gz")):
        nifti = sitk.ReadImage(str(folder / name))
        reader = sitk.ImageSeriesReader()
        reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder / "dicom" / channel)))
        series = reader.Execute()
        assert np.allclose(series.GetSpacing(), nifti.GetSpacing(), atol=1e-4)
        assert np.allclose(series.GetOrigin(), nifti.GetOrigin(), atol=1e-3)
        assert np.allclose(series.GetDirection(), nifti.GetDirection(), atol=1e-6)
        assert np.array_equal(sitk.GetArrayFromImage(series).astype(np.int64),
                              sitk.GetArrayFromImage(nifti).astype(np.int64))


def test_every_infarct_lies_in_the_territory_its_location_belongs_to(stroke):
    plan, out = stroke
    covers = plan.stage("sample_population").params.pathologies[0].territory_covers
    lesions = [lesion for k in range(3)
               for lesion in json.loads((out / "subjects" / f"S{k:06d}" / "subject.json").read_text())["lesions"]]
    assert lesions, "prevalence 100 % gives every subject an infarct"
    for lesion in lesions:
        attributes = lesion["attributes"]
        assert attributes["territory"] in covers and lesion["location"] in covers[attributes["territory"]]


def test_the_cohort_regenerates_byte_for_byte(stroke):
    _, out = stroke
    report = api.verify(out, sample=1)
    assert report.ok, report


def test_a_slice_gap_spaces_the_slices_but_noise_and_dicom_keep_the_excited_thickness(tmp_path):
    text = (ROOT / "examples" / "stroke_mri_territory.synth").read_text(encoding="utf-8")
    spec = tmp_path / "gap.synth"
    spec.write_text(text.replace("slice_thickness: 5 mm", "slice_thickness: 5 mm\n    slice_gap: 1 mm"), encoding="utf-8")
    plan = api.plan(spec, device="cpu", subjects=1)
    settings = plan.stage("acquire").params.settings
    assert plan.grid.spacing[0] == pytest.approx(6.0)
    assert settings["slice_thickness_mm"] == pytest.approx(5.0) and settings["slice_gap_mm"] == pytest.approx(1.0)
    contiguous = api.plan(ROOT / "examples" / "stroke_mri_territory.synth", device="cpu", subjects=1)
    assert contiguous.grid.spacing[0] == pytest.approx(5.0)
    assert contiguous.grid.shape[0] > plan.grid.shape[0]
