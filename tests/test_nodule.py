"""Lung nodules: placement under constraints, size, appearance, records and twins."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from synthspec.engine.scene import stdlib_tables
from synthspec.families.pathology.lung_nodule import LungLabels
from synthspec.families.grid import Grid
from synthspec.families.anatomy.thorax.codes import LOBES, ORGANS
from synthspec.engine.scene import build_body, pleura_distance_mm
from synthspec.families.base import Demographics as Anatomy
from synthspec.families.base import LesionParams

STDLIB = Path(__file__).parent.parent / "synthspec" / "stdlib"
ORGAN_TISSUE = {int(m[1]): m[2] for m in re.finditer(r"organ \w+ \{ label: (\d+); tissue: (\w+)",
                                                     (STDLIB / "anatomy_thorax.synth").read_text(encoding="utf-8"))}
TISSUE_HU = {m[1]: (float(m[2]), float(m[3])) for m in re.finditer(
    r"tissue (\w+) \{[^}]*?hu: (-?[\d.]+) HU \.\. (-?[\d.]+) HU",
    (STDLIB / "tissues.synth").read_text(encoding="utf-8"))}

GRID = Grid((24, 192, 192), (2.0, 2.0, 2.0))   # a 48 mm slab through the hila at 2 mm
ANATOMY = Anatomy("male", 60.0, 1720.0, 25.0)


def nodule(subtype="solid", diameter=10.0, locations=("lung",), **kw) -> LesionParams:
    return LesionParams(pathology="nodule", kind="lung_nodule", subtype=subtype, diameter_mm=diameter, locations=list(locations), **kw)


def build(requests, seed=0, lesion_seed=100, with_pathology=True, max_attempts=200, grid=GRID):
    return build_body(ANATOMY, grid, requests, np.random.default_rng(seed),
                         np.random.default_rng(lesion_seed), with_pathology=with_pathology, max_attempts=max_attempts)


def eq_diameter_mm(mask, grid) -> float:
    return float((6.0 * np.count_nonzero(mask) * grid.voxel_mm3 / np.pi) ** (1 / 3))


@pytest.fixture(scope="module")
def mixed():
    requests = [nodule("solid", 12.0, ("right_lower_lobe",), lobulation=0.4, spiculation=0.5, min_pleura_mm=8.0),
                nodule("ground_glass", 14.0, lobulation=0.2),
                nodule("part_solid", 16.0, ("left_upper_lobe", "left_lower_lobe")),
                nodule("solid", 8.0, max_vessel_overlap=0.0)]
    return requests, build(requests)


def test_every_nodule_is_placed_in_an_allowed_lobe(mixed):
    requests, v = mixed
    assert v.rejected == [] and [l.id for l in v.lesions] == [1, 2, 3, 4]
    for req, les in zip(requests, v.lesions):
        allowed = {ORGANS[n] for n in req.locations if n in ORGANS} or set(LOBES)
        assert ORGANS[les.location] in allowed
        mask = v.lesion_mask == les.id
        assert mask.any() and np.all(v.lung[mask])
        z, y, x = GRID.centres_mm()
        k, j, i = (int(np.argmin(np.abs(axis - c))) for axis, c in zip((z, y, x), les.centre_mm[::-1]))
        assert v.labels[k, j, i] == ORGANS[les.location] or v.labels[k, j, i] in (30, 31)
        z0, y0, x0, z1, y1, x1 = les.bbox
        assert np.all(np.argwhere(mask).min(0) >= (z0, y0, x0))
        assert np.all(np.argwhere(mask).max(0) < (z1, y1, x1))
        assert 1 <= les.attempts <= 200
        assert les.volume_ml == pytest.approx(np.count_nonzero(mask) * GRID.voxel_mm3 / 1000.0)


def test_equivalent_diameter_matches_the_request(mixed):
    requests, v = mixed
    for req, les in zip(requests, v.lesions):
        measured = eq_diameter_mm(v.lesion_mask == les.id, GRID)
        assert measured == pytest.approx(req.diameter_mm, rel=0.2), (les.subtype, measured)


@pytest.mark.parametrize("diameter", [6.0, 8.0])
def test_small_nodules_keep_their_size_and_a_soft_edge(diameter):
    v = build([nodule("solid", diameter, lobulation=0.2)], lesion_seed=int(diameter))
    les = v.lesions[0]
    assert eq_diameter_mm(v.lesion_mask == 1, GRID) == pytest.approx(diameter, rel=0.2)
    twin = build([nodule("solid", diameter, lobulation=0.2)], lesion_seed=int(diameter), with_pathology=False)
    box = tuple(slice(a, b) for a, b in zip(les.bbox[:3], les.bbox[3:]))
    changed = (v.hu[box] - twin.hu[box])[v.hu[box] != twin.hu[box]]
    full = changed.max()
    partial = np.count_nonzero((changed > 0.1 * full) & (changed < 0.9 * full))
    assert partial >= 6   # a partial-volume rim, not a binary block


def test_min_pleura_distance_is_honoured_and_measured(mixed):
    _, v = mixed
    dist = pleura_distance_mm(v.lung, GRID.spacing)
    assert dist[v.lesion_mask == 1].min() >= 8.0
    # without the constraint, a nodule may touch the pleura: the check is not vacuous
    assert dist[v.lung].min() < 8.0


def test_max_vessel_overlap_zero_keeps_vessels_out(mixed):
    _, v = mixed
    assert not np.any(np.isin(v.labels[v.lesion_mask == 4], (20, 21, 30, 31)))


def test_appearance_by_subtype(mixed):
    _, v = mixed
    solid_core = ndimage.binary_erosion(v.lesion_mask == 1)
    assert 20.0 <= np.median(v.hu[solid_core]) <= 60.0
    gg = v.hu[v.lesion_mask == 2]
    assert -750.0 <= np.median(gg) <= -300.0
    part = v.hu[v.lesion_mask == 3]
    assert part.max() > -100.0                               # a solid core
    assert np.count_nonzero((part > -750) & (part < -300)) > 0.3 * part.size   # in a ground-glass halo


def test_spiculated_nodule_reaches_beyond_its_sphere(mixed):
    requests, v = mixed
    z0, y0, x0, z1, y1, x1 = v.lesions[0].bbox
    extent = max(z1 - z0, y1 - y0, x1 - x0) * 2.0
    assert extent > requests[0].diameter_mm + 4.0


def test_twin_without_pathology_is_identical_outside_the_lesions(mixed):
    requests, v = mixed
    twin = build(requests, with_pathology=False)
    assert twin.lesions == [] and not twin.lesion_mask.any()
    assert np.array_equal(twin.labels, v.labels)              # lesions never change labels
    outside = np.ones(GRID.shape, bool)
    for les in v.lesions:
        z0, y0, x0, z1, y1, x1 = les.bbox
        outside[z0:z1, y0:y1, x0:x1] = False
    assert np.array_equal(twin.hu[outside], v.hu[outside])
    assert not np.array_equal(twin.hu, v.hu)


def test_lesions_are_deterministic_and_follow_their_own_stream(mixed):
    requests, v = mixed
    again = build(requests)
    assert np.array_equal(again.hu, v.hu) and np.array_equal(again.lesion_mask, v.lesion_mask)
    assert again.lesions == v.lesions
    other = build(requests, lesion_seed=101)
    assert np.array_equal(np.isin(other.labels, (30, 31)), np.isin(v.labels, (30, 31)))
    assert other.lesions[0].centre_mm != v.lesions[0].centre_mm


def test_impossible_constraints_are_rejected_by_name():
    v = build([nodule("solid", 10.0, min_pleura_mm=80.0), nodule("solid", 6.0, ("liver",))], max_attempts=20)
    assert v.lesions == [] and not v.lesion_mask.any()
    assert v.rejected[0].startswith("min_pleura_mm:") and "20 attempts" in v.rejected[0]
    assert v.rejected[1].startswith("location:") and "liver" in v.rejected[1]


def test_locations_resolve_lobes_and_groups():
    assert LungLabels(stdlib_tables()[0]).resolve(["lung"]) == (sorted(LOBES), [])
    assert LungLabels(stdlib_tables()[0]).resolve(["right_lung", "left_upper_lobe"]) == ([10, 11, 12, 13], [])
    assert LungLabels(stdlib_tables()[0]).resolve(["heart"]) == ([], ["heart"])
