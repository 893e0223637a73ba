"""Nodule shapes from the LIDC-IDRI reader outlines: rasterising, the library, the choice by ratings, the record."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest
from scipy import ndimage

from synthspec.families.base import LesionParams
from synthspec.families.grid import Grid
from synthspec.families.pathology.lung_nodule.outlines import (RATINGS, fetch_database, load_library,
                                                               rasterise)
from synthspec.families.pathology.lung_nodule.shape import NoduleShape, choose_outline, random_rotation


def request(subtype="solid", diameter=8.0, spiculation=0.15, lobulation=0.3) -> LesionParams:
    return LesionParams(pathology="nodule", kind="lung_nodule", subtype=subtype, diameter_mm=diameter,
                        locations=["lung"], spiculation=spiculation, lobulation=lobulation)


def square(z, half, centre=20, included=True):
    pts = [(centre + dx, centre - half) for dx in range(-half, half + 1)] + \
          [(centre + half, centre + dy) for dy in range(-half, half + 1)] + \
          [(centre - dx, centre + half) for dx in range(-half, half + 1)] + \
          [(centre - half, centre - dy) for dy in range(-half, half + 1)]
    return (z, included, np.array(pts, dtype=np.int64))


def test_rasterise_fills_outlines_interpolates_slices_and_cuts_holes():
    # a 9 x 9 pixel square outline on three slices 2 mm apart, pixels 1 mm
    mask = rasterise([square(0.0, 4), square(2.0, 4), square(4.0, 4)], pixel_mm=1.0, slice_mm=2.0)
    assert mask.shape[1:] == (9, 9)
    # 4 mm between the outer slices plus caps reaching less than a slice beyond each
    assert 5 <= mask.shape[0] <= 8
    assert mask[mask.shape[0] // 2].all()
    holed = rasterise([square(0.0, 4), square(2.0, 4), square(2.0, 1, included=False), square(4.0, 4)], 1.0, 2.0)
    assert holed.sum() < mask.sum()
    assert not holed[holed.shape[0] // 2, 4, 4]        # the exclusion outline is a hole in the middle slice


def test_rasterise_between_slices_follows_the_shape_not_a_stack_of_blocks():
    # a small square above a large one: the slices between take intermediate sizes
    mask = rasterise([square(0.0, 6), square(4.0, 2)], pixel_mm=1.0, slice_mm=4.0)
    areas = mask.sum(axis=(1, 2))
    inner = areas[areas > 0]
    assert len(set(inner.tolist())) >= 3
    assert inner.max() <= 13 * 13 and inner.min() >= 1


@pytest.fixture(scope="module")
def library():
    return load_library()


def test_library_holds_the_non_calcified_multi_slice_outlines(library):
    db = sqlite3.connect(str(fetch_database()))
    total, calcified = db.execute("SELECT count(*), sum(calcification != 6) FROM annotations").fetchone()
    db.close()
    assert total == 6859
    assert 5000 <= len(library) <= total - calcified
    assert np.all(library.diameter_mm >= 3.0)
    assert np.all(np.diff(library.annotation) > 0)     # annotation order: the same library every build
    for name in RATINGS:
        assert set(np.unique(library.ratings[name])) <= {1, 2, 3, 4, 5}
    o = library.outline(0)
    assert o.mask.dtype == bool and o.mask.any() and o.spacing_mm == pytest.approx(library.spacing_mm[0])
    assert o.diameter_mm == pytest.approx(library.diameter_mm[0])


def test_the_choice_follows_texture_spiculation_lobulation_and_size(library):
    def drawn(req, n=200):
        rng = np.random.default_rng(0)
        return np.array([choose_outline(library, req, rng) for _ in range(n)])

    for subtype, allowed in (("solid", {4, 5}), ("part_solid", {3}), ("ground_glass", {1, 2})):
        assert set(library.ratings["texture"][drawn(request(subtype))].tolist()) <= allowed
    smooth = library.ratings["spiculation"][drawn(request(spiculation=0.0))]
    spiky = library.ratings["spiculation"][drawn(request(spiculation=1.0))]
    assert smooth.mean() < 1.6 and spiky.mean() > 3.5
    lobulated = library.ratings["lobulation"][drawn(request(lobulation=1.0))]
    assert lobulated.mean() > 3.5
    small = np.median(library.diameter_mm[drawn(request(diameter=5.0))])
    large = np.median(library.diameter_mm[drawn(request(diameter=20.0))])
    assert small < 8.0 and large > 12.0


def test_random_rotations_are_rotations():
    rng = np.random.default_rng(1)
    for _ in range(20):
        r = random_rotation(rng)
        assert np.allclose(r @ r.T, np.eye(3), atol=1e-12) and np.linalg.det(r) == pytest.approx(1.0)


def test_a_shape_keeps_the_requested_size_and_records_its_outline(library):
    grid = Grid((40, 60, 60), (0.7, 0.7, 0.7))
    centre = np.zeros(3)
    lo, hi = np.zeros(3, int), np.array(grid.shape)
    sizes, outlines = [], set()
    for seed in range(6):
        shape = NoduleShape(request(diameter=10.0, spiculation=0.0), np.random.default_rng(seed), library)
        body, core = shape.occupancy(centre - grid.origin_mm() + grid.origin_mm(), lo, hi, grid)
        assert core is None and body.max() == pytest.approx(1.0)
        volume = float(body.sum()) * grid.voxel_mm3
        sizes.append((6.0 * volume / np.pi) ** (1 / 3))
        record = shape.describe()
        assert record["outline"].startswith("LIDC-IDRI annotation ")
        assert set(record["outline_ratings"]) == set(RATINGS) and record["outline_ratings"]["texture"] in (4, 5)
        outlines.add(record["outline"])
    assert np.allclose(sizes, 10.0, rtol=0.08), sizes
    assert len(outlines) >= 5                           # every draw its own real nodule


def _radius_spread(mask: np.ndarray, spacing: float) -> float:
    """SD / mean of the surface voxels' distances from the centroid (0 for a perfect sphere)."""
    surface = mask & ~ndimage.binary_erosion(mask)
    radius = np.linalg.norm((np.argwhere(surface) - np.argwhere(mask).mean(0)) * spacing, axis=1)
    return float(radius.std() / radius.mean())


def test_outline_shapes_are_not_spheres(library):
    grid = Grid((48, 48, 48), (0.5, 0.5, 0.5))
    lo, hi = np.zeros(3, int), np.array(grid.shape)
    z, y, x = np.meshgrid(*grid.centres_mm(), indexing="ij")
    sphere = _radius_spread(z * z + y * y + x * x <= 36.0, 0.5)
    spread = [_radius_spread(NoduleShape(request(diameter=12.0, spiculation=0.0, lobulation=1.0),
                                         np.random.default_rng(seed), library).occupancy(np.zeros(3), lo, hi, grid)[0]
                             >= 0.5, 0.5) for seed in range(8)]
    assert sphere < 0.04
    assert np.median(spread) > 3 * sphere, (sphere, spread)


def test_part_solid_nodules_have_a_core_inside_the_halo(library):
    grid = Grid((40, 40, 40), (0.7, 0.7, 0.7))
    shape = NoduleShape(request("part_solid", 12.0), np.random.default_rng(3), library)
    body, core = shape.occupancy(np.zeros(3), np.zeros(3, int), np.array(grid.shape), grid)
    assert core is not None and core.max() > 0.9
    assert np.all(core <= body + 1e-6)
    assert 0.02 < core.sum() / body.sum() < 0.4         # a core of 30-60 % of the radius


def test_a_damaged_cached_database_is_named_with_the_fix(tmp_path):
    from synthspec.validate.reference.model import ReferenceError

    good = fetch_database()
    folder = tmp_path / "reference" / good.parent.name
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_bytes((good.parent / "manifest.json").read_bytes())
    (folder / good.name).write_bytes(good.read_bytes()[:4096])
    with pytest.raises(ReferenceError, match="corrupt.*delete .* and run again"):
        fetch_database(cache=tmp_path)


def test_a_flattened_nodule_is_thin_along_the_normal_wide_across_and_keeps_its_volume(library):
    grid = Grid((48, 48, 48), (0.5, 0.5, 0.5))
    lo, hi = np.zeros(3, int), np.array(grid.shape)
    normal = np.array([0.0, 0.6, 0.8])   # (z, y, x)

    def moments(shape):
        body, _ = shape.occupancy(np.zeros(3), lo, hi, grid)
        pts = np.argwhere(body >= 0.5) * 0.5
        pts = pts - pts.mean(axis=0)
        along = float(np.sqrt(np.mean((pts @ normal) ** 2)))
        across = float(np.sqrt(np.mean(np.sum(pts ** 2, axis=1) - (pts @ normal) ** 2) / 2.0))
        return float(body.sum()) * grid.voxel_mm3, along, across

    for seed in range(3):
        shape = NoduleShape(request(diameter=10.0, spiculation=0.0), np.random.default_rng(seed), library)
        volume, along, across = moments(shape)
        shape.flatten(normal, 0.5)
        flat_volume, flat_along, flat_across = moments(shape)
        assert flat_volume == pytest.approx(volume, rel=0.08)
        assert flat_along == pytest.approx(0.5 * along, rel=0.15)          # squashed to half along the normal
        assert flat_across == pytest.approx(across / np.sqrt(0.5), rel=0.15)  # and widened by 1/sqrt(0.5) across
        assert shape.extent >= shape.r_max > 0
