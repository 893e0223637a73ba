"""The transfer test's detector and regions: the lung and head regions found from the image alone, the centre
heatmap a detector trains on, candidates as local maxima, and a detector that learns on data where the lesion
is plain to see (so a result of "nothing found" on real scans is the data's, not a harness that cannot learn).
"""

from __future__ import annotations

import numpy as np
import pytest

from synthspec.transfer import data, metrics, regions

SPACING = (2.5, 2.0, 2.0)


def _ball(shape, centre, radius_mm, spacing=SPACING) -> np.ndarray:
    grids = np.meshgrid(*[(np.arange(n) - c) * d for n, c, d in zip(shape, centre, spacing)], indexing="ij")
    return sum(g ** 2 for g in grids) <= radius_mm ** 2


def _chest(nodule_at=(10, 30, 22)) -> tuple[np.ndarray, np.ndarray]:
    """A body (40 HU) in air (-1000) with two lungs (-850) and a solid nodule (20 HU) in the left one."""
    shape = (20, 64, 64)
    hu = np.full(shape, -1000.0, np.float32)
    zz, yy, xx = np.mgrid[:shape[0], :shape[1], :shape[2]]
    hu[((yy - 32) / 28.0) ** 2 + ((xx - 32) / 30.0) ** 2 <= 1] = 40.0
    for cx in (20, 44):
        hu[((yy - 32) / 18.0) ** 2 + ((xx - cx) / 9.0) ** 2 <= 1] = -850.0
    nodule = _ball(shape, nodule_at, 5.0)
    hu[nodule] = 20.0
    return hu, nodule


def test_the_lung_region_holds_the_lungs_and_their_nodules_not_the_air_around():
    hu, nodule = _chest()
    lung = regions.lungs(hu, SPACING)
    assert lung[nodule].all()                       # a nodule is a hole in the lung mask, filled
    assert not lung[:, 0, 0].any() and not lung[:, 2, 32].any()   # the air around the patient is not lung
    assert lung[10, 32, 20] and lung[10, 32, 44]    # both lungs
    assert 0.05 < lung.mean() < 0.4


def test_a_scan_without_lungs_keeps_its_whole_volume():
    assert regions.lungs(np.full((6, 16, 16), 40.0, np.float32), SPACING).all()


def test_the_head_region_is_the_head():
    image = np.zeros((10, 40, 40), np.float32)
    head = _ball(image.shape, (5, 20, 20), 30.0)
    image[head] = 500.0
    region = regions.head(image, SPACING)
    assert region[head].all() and not region[:, 0, 0].any()


def test_regions_follow_the_cohort():
    assert regions.kind_for("ct", "thorax_adult") == "lungs"
    assert regions.kind_for("mri", "head_adult") == "head"
    assert regions.kind_for("xray", "hand_pediatric") is None


def test_mr_is_scaled_by_its_own_percentile_so_scanners_meet():
    image = np.random.default_rng(0).uniform(0, 1000, (8, 16, 16)).astype(np.float32)
    a = data.normalise(image, "mri", None)
    b = data.normalise(image * 3.7, "mri", None)   # another scanner's arbitrary scale
    assert np.allclose(a, b, atol=1e-5) and a.max() <= data.MR_CLIP


def test_the_heatmap_peaks_at_each_lesion_centre():
    mask = np.zeros((20, 40, 40), np.uint8)
    mask[_ball(mask.shape, (10, 10, 10), 4.0)] = 1
    mask[_ball(mask.shape, (10, 30, 30), 8.0)] = 1
    heat = data.heatmap(mask, SPACING)
    assert heat[10, 10, 10] == pytest.approx(1.0, abs=1e-6) and heat[10, 30, 30] == pytest.approx(1.0, abs=1e-6)
    # sigma is the lesion's radius (at least 3 mm): 8 mm away from the large one's centre reads exp(-1/2)
    assert heat[10, 30, 34] == pytest.approx(np.exp(-0.5), abs=0.05)
    assert heat[0, 0, 39] < 1e-3


def test_candidates_are_local_maxima_and_count_one_hit_per_lesion():
    mask = np.zeros((10, 30, 30), np.uint8)
    mask[4:7, 4:8, 4:8] = 1
    prob = np.zeros(mask.shape, np.float32)
    prob[5, 5, 5], prob[5, 6, 6] = 0.9, 0.3     # one peak on the lesion (the 0.3 is inside its window)
    prob[5, 25, 25] = 0.2                        # a weak false positive, still a candidate (the FROC sweeps)
    case = metrics.lesion_candidates(prob, mask, (1.0, 1.0, 1.0))
    assert case["candidates"] == [(pytest.approx(0.9), 0), (pytest.approx(0.2), -1)]
    assert metrics.site_metrics("detect", [dict(case, dice=0.0)])["false_positives_per_scan"] == 0.0   # at 0.5


def test_the_detector_learns_where_the_lesion_is_plain_to_see():
    """Three noisy volumes, each with bright balls at random places; trained on two, the third's balls are found
    ahead of any false positive.  A few seconds on a CPU."""
    pytest.importorskip("torch")
    pytest.importorskip("monai")
    from synthspec.transfer import models, train

    shape, volumes = (12, 40, 40), []
    for k in range(3):
        rng = np.random.default_rng(k)
        image = rng.normal(0.3, 0.05, shape).astype(np.float32)
        mask = np.zeros(shape, np.uint8)
        for _ in range(2):
            centre = (int(rng.integers(3, 9)), int(rng.integers(8, 32)), int(rng.integers(8, 32)))
            ball = _ball(shape, centre, 5.0)
            image[ball] += 0.5
            mask[ball] = 1
        volumes.append(data.Volume(f"v{k}", "s", image, mask))
    data.add_heatmaps(volumes, SPACING)
    net = models.build("detect", 0)
    train.fit(net, 120, 4, "cpu", train.Source.of(volumes[:2], "detect", (12, 32, 32), 0, "learns"))
    (prob,) = train.predict(net, volumes[2:], "detect", (12, 32, 32), "cpu")
    case = metrics.lesion_candidates(prob, volumes[2].mask, SPACING)
    points = metrics.site_metrics("detect", [dict(case, dice=0.0)])
    assert case["lesions"] == 2 and points["sensitivity_at_1fp"] == 1.0
