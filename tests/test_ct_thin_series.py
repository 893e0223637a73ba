"""`ct { thin_slices }`: thin series in the spec's and the bone kernel and a thick series from one acquisition,
written as three DICOM series that pydicom and nibabel read back (families/modality/ct/__init__.py)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import nibabel as nib
import numpy as np
import pydicom
import pytest

from synthspec import api

DATA = Path(__file__).resolve().parent / "data"


def spec(tmp_path: Path, thin: str) -> Path:
    text = (DATA / "reference_cohort.synth").read_text(encoding="utf-8")
    text = text.replace("    slice_thickness: 5 mm\n", f"    slice_thickness: 5 mm\n    thin_slices: {thin}\n")
    path = tmp_path / "thin.synth"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("thin")
    plan = api.plan(spec(tmp, "2.5 mm"), device="cpu", subjects=1)
    api.run(plan, tmp / "out")
    return plan, tmp / "out" / "subjects" / "S000000"


def test_the_plan_scans_thin_slices_and_declares_three_series(cohort):
    plan, _ = cohort
    assert plan.grid.spacing[0] == 2.5 and plan.grid.shape[0] % 2 == 0
    assert plan.channels == ["image", "bone", "thick"] or tuple(plan.channels) == ("image", "bone", "thick")


def test_thick_is_the_mean_of_thin_pairs_and_bone_is_sharper(cohort):
    plan, folder = cohort
    image = nib.load(folder / "image.nii.gz")
    thick = nib.load(folder / "thick.nii.gz")
    bone = np.asarray(nib.load(folder / "bone.nii.gz").dataobj, np.float32)
    thin = np.asarray(image.dataobj, np.float32)           # NIfTI (x, y, z)
    thk = np.asarray(thick.dataobj, np.float32)
    assert thk.shape[2] * 2 == thin.shape[2] and thick.header.get_zooms()[2] == pytest.approx(5.0)
    pairs = thin.reshape(*thin.shape[:2], -1, 2).mean(axis=3)
    inside = pairs > -900                                      # away from the -1024 HU floor the store clips to
    assert np.abs(thk - pairs)[inside].max() <= 0.51           # each stored from the same float images
    # the thick slice's centre lies between its two thin ones
    assert thick.affine[2, 3] == pytest.approx(image.affine[2, 3] + 1.25, abs=1e-4)
    assert bone.shape == thin.shape and not np.array_equal(bone, thin)


def test_one_acquisition_three_series_with_the_noise_of_their_kernel_and_thickness(cohort):
    import torch

    from synthspec.families.modality.ct import MODALITY

    n, pixel = 96, 2.0
    c = (np.arange(n) - (n - 1) / 2) * pixel
    yy, xx = np.meshgrid(c, c, indexing="ij")
    truth = np.where(xx**2 + yy**2 <= 80.0**2, 0.0, -1000.0).astype(np.float32)[None].repeat(8, axis=0)
    settings = {**cohort[0].stage("acquire").params.settings, "kernel": "soft", "slice_thickness_mm": 1.25,
                "pixel_mm": pixel, "views": 151, "thick_mm": 5.0, "bone_kernel": "bone"}
    scanner = SimpleNamespace(noise_factor=1.0, electronic_noise=20.0, mtf50=0.0)
    acq = {"kv": 120.0, "mas": 100.0, "kernel": "soft", "slice_thickness_mm": 1.25}
    out = MODALITY.acquire(truth, settings, acq, scanner, torch.Generator().manual_seed(1), "cpu")
    assert out["image"].shape == out["bone"].shape == (8, n, n) and out["thick"].shape == (2, n, n)
    clean = MODALITY.acquire(truth, settings, acq, scanner, None, "cpu")
    centre = (xx**2 + yy**2) <= 40.0**2
    sd = {k: float((v - clean[k])[:, centre].std()) for k, v in out.items()}
    assert sd["bone"] > 2.0 * sd["image"]                       # a sharp kernel passes more noise
    assert sd["thick"] / sd["image"] == pytest.approx(0.5, abs=0.08)   # four thin slices: 1 / sqrt(4)
    assert np.allclose(out["thick"][0], out["image"][:4].mean(axis=0), atol=1e-3)
    alone = MODALITY.acquire(truth, {**settings, "thick_mm": None, "bone_kernel": None}, acq, scanner,
                             torch.Generator().manual_seed(1), "cpu")
    assert np.array_equal(alone["image"], out["image"])         # the thin image is the one-series scan's bits


def test_three_dicom_series_of_one_study_and_the_seg_references_the_thin_image(cohort):
    _, folder = cohort
    first = {name: pydicom.dcmread(sorted((folder / "dicom" / name).glob("*.dcm"))[0]) for name in
             ("image", "bone", "thick")}
    assert len({ds.SeriesInstanceUID for ds in first.values()}) == 3
    assert len({ds.StudyInstanceUID for ds in first.values()}) == 1
    assert len({ds.FrameOfReferenceUID for ds in first.values()}) == 1
    assert [float(first[n].SliceThickness) for n in ("image", "bone", "thick")] == [2.5, 2.5, 5.0]
    assert first["bone"].ConvolutionKernel == "bone" and first["thick"].ConvolutionKernel == first["image"].ConvolutionKernel
    assert [int(first[n].SeriesNumber) for n in ("image", "bone", "thick")] == [1, 2, 3]
    counts = {n: len(list((folder / "dicom" / n).glob("*.dcm"))) for n in first}
    assert counts["image"] == counts["bone"] == 2 * counts["thick"]
    if (folder / "seg.dcm").exists():
        seg = pydicom.dcmread(folder / "seg.dcm")
        assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID == first["image"].SeriesInstanceUID


def test_thin_slices_that_do_not_divide_the_thickness_are_refused_in_one_line(tmp_path):
    with pytest.raises(Exception) as err:
        api.plan(spec(tmp_path, "3 mm"), device="cpu")
    message = str(err.value)
    assert "ct.thin_slices" in message and "\n" not in message and "2.5 mm" in message


def test_a_spec_without_thin_slices_keeps_one_series(tmp_path):
    plan = api.plan(DATA / "reference_cohort.synth", device="cpu")
    assert list(plan.channels) == ["image"]
    assert "thick_mm" not in plan.stage("acquire").params.settings
