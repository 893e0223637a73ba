"""The procedural adult thorax: frame, determinism, demographics, anatomy, vessels and HU.

Small grids keep the file fast; every number asserted is measured on the volume.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from synthspec.families.anatomy.thorax import build as thorax
from synthspec.families.anatomy.thorax.codes import (BRONCHI, HEART, LOBES, ORGANS, PULM_ARTERY, PULM_VEIN, SUBCUT_FAT,
                                                     TRACHEA)
from synthspec.families.anatomy.thorax.shape import body_size_mm, fat_thickness_mm
from synthspec.families.anatomy.thorax.vessels import _grow_tree
from synthspec.families.grid import Grid, draw_tubes
from synthspec.families.modality.ct import render as ct_render
from synthspec.engine.scene import build_body
from synthspec.families.base import Demographics as Anatomy

STDLIB = Path(__file__).parent.parent / "synthspec" / "stdlib"


def stdlib_organs() -> dict[str, tuple[int, str]]:
    text = (STDLIB / "anatomy_thorax.synth").read_text(encoding="utf-8")
    return {m[1]: (int(m[2]), m[3]) for m in re.finditer(r"organ (\w+) \{ label: (\d+); tissue: (\w+)", text)}


def stdlib_hu() -> dict[str, tuple[float, float]]:
    text = (STDLIB / "tissues.synth").read_text(encoding="utf-8")
    return {m[1]: (float(m[2]), float(m[3]))
            for m in re.finditer(r"tissue (\w+) \{[^}]*?hu: (-?[\d.]+) HU \.\. (-?[\d.]+) HU", text)}


ORGAN_TISSUE = {label: tissue for label, tissue in stdlib_organs().values()}
TISSUE_HU = stdlib_hu()
SMALL = Grid((16, 64, 64), (5.0, 6.0, 6.0))        # the test size of the brief
TALL = Grid((34, 64, 64), (10.0, 6.0, 6.0))        # the whole thorax, coarse
FEMALE = Anatomy("female", 45.0, 1650.0, 24.0)
MALE = Anatomy("male", 45.0, 1750.0, 24.0)


def subject(anatomy=FEMALE, grid=SMALL, seed=0):
    return build_body(anatomy, grid, [], np.random.default_rng(seed),
                         np.random.default_rng(1000 + seed))


def ml(mask, grid) -> float:
    return float(np.count_nonzero(mask)) * grid.voxel_mm3 / 1000.0


# --- frame and tables ---------------------------------------------------------------------------


def test_label_codes_and_tissues_are_the_stdlib_ones():
    organs = stdlib_organs()
    assert {name: code for name, (code, _) in organs.items()} == ORGANS


def test_grid_centres_are_centred_and_spaced():
    z, y, x = Grid((5, 4, 3), (2.5, 1.5, 0.5)).centres_mm()
    assert z.tolist() == [-5.0, -2.5, 0.0, 2.5, 5.0]
    assert y.tolist() == [-2.25, -0.75, 0.75, 2.25]
    assert x.tolist() == [-0.5, 0.0, 0.5]
    with pytest.raises(ValueError):
        Grid((0, 4, 4), (1.0, 1.0, 1.0))


def test_tube_rasteriser_keeps_partial_volume():
    """A long cylinder drawn along z: its occupancy integrates to pi r^2 L, thick or thin."""
    grid = Grid((20, 40, 40), (1.0, 1.0, 1.0))
    region = np.zeros(grid.shape, np.uint8)
    for r in (0.35, 3.0):
        occ, _ = draw_tubes(grid, [[-30.0, 0.2, 0.1]], [[30.0, 0.2, 0.1]], r, r, 1, region, (0,))
        per_slice = occ[5:15].sum() / 10
        assert per_slice == pytest.approx(np.pi * r * r, rel=0.25 if r < 1 else 0.05)
        assert 0.0 < occ.max() <= 1.0


def test_body_outside_the_field_of_view_is_an_error():
    big = Anatomy("male", 50.0, 1900.0, 38.0)
    width, _ = body_size_mm(big)
    grid = Grid((8, 64, 64), (10.0, 6.0, 6.0))   # 384 mm
    assert width > 384
    with pytest.raises(ValueError, match="field of view"):
        subject(big, grid)


def test_body_size_follows_the_compiler_field_of_view_law():
    width, depth = body_size_mm(Anatomy("male", 45.0, 1700.0, 24.0))
    assert (width, depth) == pytest.approx((340.0, 240.0))
    wide, _ = body_size_mm(Anatomy("male", 45.0, 1880.0, 34.0))
    assert wide == pytest.approx(340.0 * (34 / 24) ** 0.5 * (1880 / 1700) ** 0.5)
    assert body_size_mm(Anatomy("female", 45.0, 1700.0, 24.0))[0] < width


# --- determinism ---------------------------------------------------------------------------------


def test_same_seeds_give_identical_volumes_and_different_seeds_differ():
    a, b, c = subject(seed=3), subject(seed=3), subject(seed=4)
    assert np.array_equal(a.hu, b.hu) and np.array_equal(a.labels, b.labels)
    assert a.hu.dtype == np.float32 and a.labels.dtype == np.uint8 and a.lesion_mask.dtype == np.uint16
    assert not np.array_equal(a.hu, c.hu)
    vessels_a = np.isin(a.labels, (PULM_ARTERY, PULM_VEIN))
    vessels_c = np.isin(c.labels, (PULM_ARTERY, PULM_VEIN))
    dice = 2 * np.count_nonzero(vessels_a & vessels_c) / (np.count_nonzero(vessels_a) + np.count_nonzero(vessels_c))
    assert dice < 0.7   # different vessel trees, not a shifted copy


def test_result_does_not_depend_on_the_thread_count(monkeypatch):
    from synthspec.families import grid as grid_module

    monkeypatch.setattr(grid_module.os, "cpu_count", lambda: 1)
    one = subject(seed=8)
    monkeypatch.setattr(grid_module.os, "cpu_count", lambda: 4)
    four = subject(seed=8)
    assert np.array_equal(one.hu, four.hu) and np.array_equal(one.labels, four.labels)


def test_anatomy_ignores_the_lesion_stream():
    a = build_body(FEMALE, SMALL, [], np.random.default_rng(5), np.random.default_rng(1))
    b = build_body(FEMALE, SMALL, [], np.random.default_rng(5), np.random.default_rng(2))
    assert np.array_equal(a.hu, b.hu) and np.array_equal(a.labels, b.labels)


# --- demographics --------------------------------------------------------------------------------


def lateral_fat_mm(anatomy, seed) -> float:
    """Subcutaneous fat on the patient's right flank, along the row through y = 0, averaged over slices."""
    grid = Grid((4, 192, 192), (10.0, 2.0, 2.0))
    v = subject(anatomy, grid, seed)
    j = grid.shape[1] // 2
    return float(np.mean([np.count_nonzero(v.labels[k, j, : grid.shape[2] // 2] == SUBCUT_FAT) * 2.0
                          for k in range(grid.shape[0])]))


def test_fat_layer_thickens_with_bmi():
    thin = [lateral_fat_mm(Anatomy("female", 45.0, 1650.0, 20.0), s) for s in range(2)]
    obese = [lateral_fat_mm(Anatomy("female", 45.0, 1650.0, 35.0), s) for s in range(2)]
    assert np.mean(thin) == pytest.approx(fat_thickness_mm(20.0), abs=4.0)
    assert np.mean(obese) == pytest.approx(fat_thickness_mm(35.0), rel=0.2)
    assert min(obese) > max(thin) + 15.0


def test_lung_volume_grows_with_height_and_is_larger_in_men():
    def lung_ml(anatomy, seed):
        v = subject(anatomy, TALL, seed)
        return ml(v.lung, TALL)

    short = np.mean([lung_ml(Anatomy("female", 45.0, 1550.0, 24.0), s) for s in range(3)])
    tall = np.mean([lung_ml(Anatomy("female", 45.0, 1800.0, 24.0), s) for s in range(3)])
    assert tall > 1.2 * short
    women = np.mean([lung_ml(Anatomy("female", 45.0, 1700.0, 24.0), s) for s in range(3)])
    men = np.mean([lung_ml(Anatomy("male", 45.0, 1700.0, 24.0), s) for s in range(3)])
    assert men > 1.1 * women
    high_bmi = np.mean([lung_ml(Anatomy("male", 45.0, 1700.0, 30.0), s) for s in range(3)])
    assert high_bmi < men
    assert 3000 < women < 6000 and 4000 < men < 7500   # adult lung volumes at inspiration, mL


# --- anatomy -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tall_subject():
    return subject(MALE, TALL, 11)


def centroid_mm(mask, grid) -> np.ndarray:
    z, y, x = grid.centres_mm()
    k, j, i = np.nonzero(mask)
    return np.array([x[i].mean(), y[j].mean(), z[k].mean()])


def test_lungs_lie_inside_the_body_and_the_heart_between_them(tall_subject):
    v, grid = tall_subject, TALL
    body = ndimage.binary_fill_holes(v.labels > 0)
    lung = v.lung
    assert lung.any() and not np.any(lung & ~body)
    assert not np.any(ndimage.binary_dilation(lung) & ~body)   # never touching the air outside
    x_right = centroid_mm(np.isin(v.labels, (10, 11, 12)), grid)[0]
    x_left = centroid_mm(np.isin(v.labels, (13, 14)), grid)[0]
    heart = centroid_mm(v.labels == HEART, grid)
    assert x_right < 0 < x_left                      # LPS: +x is the patient's left
    assert x_right < heart[0] < x_left and heart[0] > 0   # the heart leans left
    assert heart[1] < 0                               # and sits anterior
    assert 350 < ml(v.labels == HEART, grid) < 1000


def test_five_lobes_with_plausible_shares(tall_subject):
    v, grid = tall_subject, TALL
    volumes = {lobe: ml(v.labels == lobe, grid) for lobe in LOBES}
    assert all(vol > 0 for vol in volumes.values())
    total = sum(volumes.values())
    share = {lobe: vol / total for lobe, vol in volumes.items()}
    # approximate CT lobar shares (Lee et al., AJR 2004): RUL ~20 %, RML ~9 %, RLL ~25 %, LUL ~23 %, LLL ~23 %
    bounds = {10: (0.12, 0.30), 11: (0.04, 0.15), 12: (0.17, 0.35), 13: (0.15, 0.35), 14: (0.15, 0.35)}
    for lobe, (lo, hi) in bounds.items():
        assert lo < share[lobe] < hi, (lobe, share)
    assert volumes[10] + volumes[11] + volumes[12] > volumes[13] + volumes[14]
    c = {lobe: centroid_mm(v.labels == lobe, grid) for lobe in LOBES}
    assert c[10][2] > c[12][2] and c[13][2] > c[14][2]      # upper lobes above lower lobes
    assert c[11][1] < c[12][1]                               # middle lobe anterior to the lower lobe


def test_vessels_stay_in_lungs_and_mediastinum(tall_subject):
    v, grid = tall_subject, TALL
    vessels = np.isin(v.labels, (PULM_ARTERY, PULM_VEIN))
    assert vessels.any()
    _, _, x = grid.centres_mm()
    in_lung = vessels & v.lung
    mediastinal = vessels & ~v.lung
    assert np.count_nonzero(in_lung) > np.count_nonzero(mediastinal)
    assert np.all(np.abs(x[np.nonzero(mediastinal)[2]]) < 100.0)   # hila and mediastinum only
    forbidden = ndimage.binary_dilation(np.isin(v.labels, (0, 2, 52, 50)))  # air, fat, ribs, spine
    assert not np.any(vessels & forbidden)


@pytest.fixture(scope="module")
def vessel_phantom():
    grid = Grid((36, 128, 128), (7.0, 3.0, 3.0))
    body = build_body(MALE, grid, [], np.random.default_rng(21), np.random.default_rng(22))
    return grid, body


def test_vessel_tree_is_connected_to_the_hila_and_tapers(vessel_phantom):
    grid, ph = vessel_phantom
    vessels = np.isin(ph.labels, (PULM_ARTERY, PULM_VEIN))
    comp, n = ndimage.label(vessels, structure=np.ones((3, 3, 3)))
    z, y, x = grid.centres_mm()
    lm = ph.scene.geometry["landmarks"]
    hila = [lm.right_hilum_pa, lm.left_hilum_pa, *lm.veins.values()]
    zz, yy, xx = np.meshgrid(z, y, x, indexing="ij")
    near_hilum = np.zeros(grid.shape, bool)
    for hx, hy, hz in hila:
        near_hilum |= (xx - hx) ** 2 + (yy - hy) ** 2 + (zz - hz) ** 2 < 25.0 ** 2
    rooted = np.unique(comp[vessels & near_hilum])
    rooted = rooted[rooted > 0]
    assert np.count_nonzero(np.isin(comp, rooted)) > 0.6 * np.count_nonzero(vessels)
    # vessel share of the lung falls from the hila to the periphery
    lung = ph.lung
    dist = np.min([np.sqrt((xx - hx) ** 2 + (yy - hy) ** 2 + (zz - hz) ** 2) for hx, hy, hz in hila], axis=0)
    d = dist[lung]
    share = ph.scene.geometry["vessel_fraction"][lung]
    near, far = share[d < np.percentile(d, 33)].mean(), share[d > np.percentile(d, 67)].mean()
    assert near > 2.0 * far > 0.0


def test_tree_radii_follow_murray_and_branches_connect():
    rng = np.random.default_rng(0)
    pts = rng.random((512, 3)) * 100.0
    cap = 4 * 512 + 8
    a, b, ra, rb = np.zeros((cap, 3)), np.zeros((cap, 3)), np.zeros(cap), np.zeros(cap)
    m = _grow_tree(pts, np.array([50.0, 50.0, -20.0]), 8.0, 512.0, rng.random(5000), 1, a, b, ra, rb, 0)
    a, b, ra, rb = a[:m], b[:m], ra[:m], rb[:m]
    assert m >= 2 * 511                                   # a full binary tree over 512 leaves
    assert ra[0] == pytest.approx(8.0)
    assert ra[0::2].min() == pytest.approx(8.0 * 512 ** (-1 / 3), rel=1e-9)   # a one-point branch
    assert np.all(rb <= ra + 1e-12)                        # every capsule tapers
    # capsules come in pairs (start -> jittered joint -> end); a branch is a pair
    start, radius, end = a[0::2], ra[0::2], b[1::2]
    key = [tuple(np.round(p, 9)) for p in start]
    children: dict = {}
    for k, r in zip(key, radius):
        children.setdefault(k, []).append(r)
    assert len(set(key) - {tuple(np.round(p, 9)) for p in end}) == 1   # only the root starts nowhere
    checked = 0
    for e, r in zip(end, radius):
        kids = children.get(tuple(np.round(e, 9)))
        if kids:   # Murray's law: r^3 = r1^3 + r2^3 (an even split gives r * 2^(-1/3))
            assert len(kids) == 2 and sum(k ** 3 for k in kids) == pytest.approx(r ** 3, rel=1e-9)
            checked += 1
    assert checked == 511


# --- HU ------------------------------------------------------------------------------------------


def test_hu_of_each_organ_lies_in_its_tissue_range(tall_subject):
    v = tall_subject
    tolerance = {"lung": 60.0}   # texture and partial volume at vessel and fissure edges
    for label, tissue in ORGAN_TISSUE.items():
        sel = v.labels == label
        if label in (PULM_ARTERY, PULM_VEIN, TRACHEA, BRONCHI) or not sel.any():
            continue   # tubes carry partial volume with lung and wall (checked below)
        lo, hi = TISSUE_HU[tissue]
        if label in thorax.BONES:   # marrow inside, a partial-volume cortex in the outer voxels
            hi = TISSUE_HU["cortical_bone"][1]
        tol = tolerance.get(tissue, 1.0)
        vals = v.hu[sel]
        assert lo <= np.median(vals) <= hi, (label, tissue, np.median(vals))
        p5, p95 = np.percentile(vals, [5, 95])
        assert lo - tol <= p5 and p95 <= hi + tol + (250.0 if label in (20, 21) else 0.0), (label, p5, p95)
    vessels = np.isin(v.labels, (PULM_ARTERY, PULM_VEIN))
    lo, hi = TISSUE_HU["blood"]
    assert lo - 5 <= np.percentile(v.hu[vessels], 95) <= hi + 5
    airway = v.hu[np.isin(v.labels, (TRACHEA, BRONCHI))]
    assert airway.min() < -950 and np.median(airway) < -500
    assert np.all(v.hu[v.labels == 0] == -1000.0)


def test_lung_and_bone_carry_texture(tall_subject):
    v = tall_subject
    lung = v.hu[np.isin(v.labels, LOBES)]
    assert 10.0 < np.std(lung) < 80.0
    bone = v.hu[v.labels == 50]
    assert np.std(bone) > 15.0
    blood = v.hu[v.labels == HEART]
    assert np.std(blood) < 5.0


def test_trabecular_bone_loses_density_with_age_and_bones_have_a_cortical_rim():
    """Vertebral trabecular HU falls 2.5 HU a year (Jang et al. 2019); the outer bone voxels carry cortex."""
    labels = np.zeros((12, 24, 24), np.uint8)
    labels[2:10, 4:20, 4:20] = 50
    bone = labels == 50
    share = thorax.cortex_fraction(labels, (2.5, 1.0, 1.0))
    side = bone & ~ndimage.binary_erosion(bone, structure=np.array(
        [[[0] * 3] * 3, [[0, 1, 0], [1, 1, 1], [0, 1, 0]], [[0] * 3] * 3], bool))
    ends = np.zeros_like(bone)
    ends[[2, 9]] = bone[[2, 9]]
    ends &= ~side
    core = bone & ~side & ~ends
    assert np.all(share[core] == 0.0) and np.all(share[~bone] == 0.0)
    assert np.allclose(share[side], 0.4)    # 0.4 mm shell in a 1 mm voxel
    assert np.allclose(share[ends], 0.16)   # endplates in a 2.5 mm slice
    level = {age: ct_render.trabecular_hu(age, 0.3, TISSUE_HU) for age in (30.0, 80.0)}
    assert level[30.0] - level[80.0] == pytest.approx(112.5)  # 2.5 HU a year from 35 y, same draw otherwise
    assert 100.0 < level[30.0] < 330.0 and 50.0 <= level[80.0] < 210.0
    assert ct_render.trabecular_mean_hu(25) == 226.0 and ct_render.trabecular_mean_hu(62) == pytest.approx(158.5)
    assert ct_render.trabecular_mean_hu(90) == pytest.approx(89.0, abs=1) and ct_render.trabecular_mean_hu(100) == 89.0
