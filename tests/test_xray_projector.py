"""The cone-beam ray integrator of the xray modality against analytic chords, magnification and symmetry."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from synthspec.families.modality.xray.projector import (
    ProjectionGeometry, _sample_plan, project, project_labels, project_mask_length,
)

SPACING = (1.0, 1.0, 1.0)


def _box_volume(shape, lo, hi, value=1.0):
    """A [1, Z, Y, X] volume, `value` on voxels lo..hi-1 (per axis), and the box's (z, y, x) mm bounds."""
    vol = torch.zeros(1, *shape)
    vol[0, lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]] = value
    n = np.array(shape, dtype=np.float64)
    return vol, (np.array(lo) - n / 2.0), (np.array(hi) - n / 2.0)  # voxel edges in mm at 1 mm spacing


def _analytic_chord(geometry, lo_mm, hi_mm):
    """Exact chord length (mm) of every ray through the axis-aligned box, float64 slab clipping."""
    source, pixels = geometry.source_and_pixels_mm()
    s, d = source.numpy(), (pixels - source).numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        t1, t2 = (lo_mm - s) / d, (hi_mm - s) / d
    t_in = np.where(d == 0, -np.inf, np.minimum(t1, t2)).max(axis=-1)
    t_out = np.where(d == 0, np.inf, np.maximum(t1, t2)).min(axis=-1)
    return np.clip(t_out - t_in, 0, None) * np.linalg.norm(d, axis=-1)


OBLIQUE = [
    ProjectionGeometry(sid_mm=400, sod_mm=250, rows=48, cols=48, pixel_mm=1.2),
    ProjectionGeometry(sid_mm=400, sod_mm=250, rows=48, cols=40, pixel_mm=1.2, beam="+y",
                       rotation_deg=33.0, tilt_deg=17.0, offset_mm=(3.0, -5.0)),
]


@pytest.mark.parametrize("geometry", OBLIQUE)
def test_box_gives_the_analytic_chord_with_both_methods(geometry):
    vol, lo, hi = _box_volume((40, 36, 44), (8, 6, 9), (31, 28, 35))
    exact = _analytic_chord(geometry, lo, hi)
    deep = _analytic_chord(geometry, lo + 2.0, hi - 2.0) > 0  # rays 2 mm clear of the box's edges
    assert deep.sum() > 100
    siddon = project(vol, SPACING, geometry, method="siddon")[0].numpy()
    np.testing.assert_allclose(siddon[deep], exact[deep], rtol=1e-3)
    np.testing.assert_allclose(siddon[exact == 0], 0.0, atol=1e-4)  # rays that miss the box
    trilinear = project(vol, SPACING, geometry, method="trilinear")[0].numpy()
    np.testing.assert_allclose(trilinear[deep], exact[deep], rtol=0.04)
    assert abs(trilinear[deep].mean() / exact[deep].mean() - 1) < 0.01


def test_every_siddon_ray_through_a_voxel_aligned_box_is_exact():
    geometry = ProjectionGeometry(sid_mm=300, sod_mm=200, rows=33, cols=29, pixel_mm=2.0, rotation_deg=-21.0)
    vol, lo, hi = _box_volume((30, 30, 30), (0, 0, 0), (30, 30, 30), value=2.5)  # the whole volume
    exact = _analytic_chord(geometry, lo, hi)
    got = project(vol, SPACING, geometry, method="siddon")[0].numpy()
    np.testing.assert_allclose(got, 2.5 * exact, rtol=1e-3, atol=1e-3)


def test_a_small_sphere_is_magnified_by_sid_over_sod():
    sid, sod, r = 1000.0, 500.0, 10.0
    geometry = ProjectionGeometry(sid_mm=sid, sod_mm=sod, rows=9, cols=241, pixel_mm=0.25)
    n, h = 64, 0.4
    c = (torch.arange(n, dtype=torch.float64) - (n - 1) / 2) * h
    zz, yy, xx = torch.meshgrid(c, c, c, indexing="ij")
    sphere = ((zz ** 2 + yy ** 2 + xx ** 2) <= r * r).float()[None]
    expected = 2 * sid * r / np.sqrt(sod ** 2 - r ** 2)  # the shadow of the tangent cone, ~ 2 r sid / sod
    for method in ("siddon", "trilinear"):
        row = project(sphere, (h, h, h), geometry, method=method)[0, 4].numpy()
        width = (row > 0.5).sum() * geometry.pixel_mm  # path > 0.5 mm: the edge within a voxel
        assert abs(width - expected) < 2 * h * geometry.magnification, (method, width, expected)
        peak = row.max()
        assert abs(peak - 2 * r) < 0.03 * 2 * r  # the central ray's chord is the diameter, unmagnified


def test_ap_and_pa_are_depth_mirrors_and_keep_the_viewing_convention():
    vol = torch.zeros(1, 30, 30, 30)
    vol[0, 20:26, 3:9, 20:26] = 1.0  # superior (high z), anterior (low y), patient left (high x)
    pa = ProjectionGeometry(sid_mm=300, sod_mm=150, rows=40, cols=40, pixel_mm=1.5)
    ap = ProjectionGeometry(sid_mm=300, sod_mm=150, rows=40, cols=40, pixel_mm=1.5, beam="+y")
    for method in ("siddon", "trilinear"):
        img_pa = project(vol, SPACING, pa, method=method)[0]
        img_ap = project(vol, SPACING, ap, method=method)[0]
        mirrored = project(vol.flip(2), SPACING, pa, method=method)[0]  # anterior <-> posterior
        torch.testing.assert_close(img_ap, mirrored, rtol=1e-4, atol=1e-4)
        for img in (img_pa, img_ap):
            rows, cols = torch.nonzero(img > 0.5, as_tuple=True)
            assert rows.float().mean() < 19.5 and cols.float().mean() > 19.5  # superior = top, left = right side
        # the anterior block is nearer the detector in PA: a smaller shadow than in AP
        assert (img_pa > 0.5).sum() < (img_ap > 0.5).sum()


def test_rotation_90_puts_the_x_extent_along_the_ray():
    vol, lo, hi = _box_volume((20, 20, 80), (5, 5, 10), (15, 15, 70))  # 60 mm along x, 10 along y
    flat = ProjectionGeometry(sid_mm=1000, sod_mm=800, rows=5, cols=5, pixel_mm=0.5)
    lateral = ProjectionGeometry(sid_mm=1000, sod_mm=800, rows=5, cols=5, pixel_mm=0.5, rotation_deg=90.0)
    for method in ("siddon", "trilinear"):
        assert abs(project(vol, SPACING, flat, method=method)[0, 2, 2].item() - 10.0) < 0.05
        assert abs(project(vol, SPACING, lateral, method=method)[0, 2, 2].item() - 60.0) < 0.05
    source, _ = lateral.source_and_pixels_mm()
    assert source[2] > 799  # positive rotation turns the patient's left toward the (posterior) source


def test_chunking_does_not_change_a_bit():
    gen = torch.Generator().manual_seed(3)
    vol = torch.rand(2, 18, 22, 26, generator=gen)
    geometry = OBLIQUE[1]
    labels = torch.randint(0, 4, (18, 22, 26), generator=gen)
    for method in ("siddon", "trilinear"):
        ref = project(vol, SPACING, geometry, method=method, max_points=1 << 24)
        for max_points in (1000, 7777, 50000):
            assert torch.equal(project(vol, SPACING, geometry, method=method, max_points=max_points), ref)
    ref = project_labels(labels, SPACING, geometry, [3, 1, 2], max_points=1 << 24)
    assert torch.equal(project_labels(labels, SPACING, geometry, [3, 1, 2], max_points=999), ref)


def test_channels_and_batches_go_along_the_same_rays():
    gen = torch.Generator().manual_seed(5)
    vol = torch.rand(2, 3, 12, 14, 16, generator=gen)
    geometry = ProjectionGeometry(sid_mm=200, sod_mm=120, rows=10, cols=12, pixel_mm=2.0, tilt_deg=8.0)
    for method in ("siddon", "trilinear"):
        both = project(vol, SPACING, geometry, method=method)
        assert both.shape == (2, 3, 10, 12)
        one = project(vol[1, 2:3], SPACING, geometry, method=method)
        torch.testing.assert_close(both[1, 2:3], one, rtol=1e-6, atol=1e-6)


def test_rays_are_clipped_to_a_thin_volume():
    geometry = ProjectionGeometry(sid_mm=1000, sod_mm=950, rows=20, cols=20, pixel_mm=5.0)
    source, d = (t.float() for t in geometry.source_and_pixels_mm())
    d = (d - source).reshape(-1, 3)
    sp = torch.tensor([0.5, 0.5, 0.5])
    *_, k = _sample_plan(source, d, (200, 100, 200), sp, 0.25)  # 50 mm deep
    assert 200 <= k <= 230  # samples span the 50 (+ 0.5) mm slab, not the 1000 mm ray


def test_project_labels_honours_priority():
    labels = torch.zeros(30, 30, 30, dtype=torch.int64)
    labels[5:25, 5:25, 5:25] = 1
    labels[12:18, 12:18, 12:18] = 2
    labels[0:3, 0:3, 0:3] = 7  # not listed: ignored
    geometry = ProjectionGeometry(sid_mm=500, sod_mm=400, rows=40, cols=40, pixel_mm=1.0)
    first2 = project_labels(labels, SPACING, geometry, [2, 1])
    first1 = project_labels(labels, SPACING, geometry, [1, 2])
    assert first2.dtype == torch.int64 and first2.shape == (40, 40)
    assert first2[20, 20] == 2 and first1[20, 20] == 1
    assert first2[20, 10] == 1 and first2[0, 0] == 0 and first2[39, 39] == 0
    assert set(torch.unique(first2).tolist()) == {0, 1, 2}
    assert set(torch.unique(first1).tolist()) == {0, 1}
    # the label footprint matches where the Siddon path through the mask is non-zero (interior rays)
    length = project_mask_length(labels == 2, SPACING, geometry)
    inner = length > 1.0
    assert bool((first2[inner] == 2).all())


def test_project_mask_length_is_the_chord_inside_the_mask():
    geometry = OBLIQUE[1]
    vol, lo, hi = _box_volume((40, 36, 44), (8, 6, 9), (31, 28, 35))
    exact = _analytic_chord(geometry, lo, hi)
    got = project_mask_length(vol[0] > 0, SPACING, geometry).numpy()
    deep = exact > 0.5 * exact.max()
    np.testing.assert_allclose(got[deep], exact[deep], rtol=1e-3)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_matches_the_cpu():
    gen = torch.Generator().manual_seed(11)
    vol = torch.rand(3, 40, 36, 44, generator=gen)
    labels = torch.randint(0, 5, (40, 36, 44), generator=gen)
    geometry = OBLIQUE[1]
    for method, view in [("siddon", geometry), ("trilinear", geometry), ("joseph", OBLIQUE[0])]:
        cpu = project(vol, SPACING, view, method=method)
        gpu = project(vol.cuda(), SPACING, view, method=method)
        assert gpu.is_cuda
        torch.testing.assert_close(gpu.cpu(), cpu, rtol=1e-4, atol=1e-4 * float(cpu.abs().max()))
    lab_cpu = project_labels(labels, SPACING, geometry, [4, 2, 1])
    lab_gpu = project_labels(labels.cuda(), SPACING, geometry, [4, 2, 1]).cpu()
    assert (lab_cpu == lab_gpu).float().mean() > 0.999  # nearest-voxel ties may round differently


@pytest.mark.parametrize("rotation", [0.0, 90.0])
def test_joseph_integrates_the_same_interpolant_as_a_fine_trilinear_march(rotation):
    gen = torch.Generator().manual_seed(7)
    vol = torch.rand(2, 20, 26, 30, generator=gen)
    spacing = (1.0, 1.5, 0.8)
    geometry = ProjectionGeometry(sid_mm=300, sod_mm=220, rows=36, cols=44, pixel_mm=1.1, beam="+y",
                                  rotation_deg=rotation, offset_mm=(2.0, -3.0))
    joseph = project(vol, spacing, geometry, method="joseph")
    fine = project(vol, spacing, geometry, method="trilinear", step_mm=0.02)
    assert float((joseph - fine).abs().max()) < 2e-3 * float(fine.abs().max())
    vol_box, lo, hi = _box_volume((40, 36, 44), (8, 6, 9), (31, 28, 35))
    exact = _analytic_chord(geometry, lo, hi)
    deep = _analytic_chord(geometry, lo + 2.0, hi - 2.0) > 0
    got = project(vol_box, SPACING, geometry, method="joseph")[0].numpy()
    np.testing.assert_allclose(got[deep], exact[deep], rtol=0.04)


def test_joseph_on_oblique_views_agrees_with_a_fine_march():
    vol = torch.rand(1, 12, 14, 16, generator=torch.Generator().manual_seed(2))
    geometry = OBLIQUE[1]
    joseph = project(vol, SPACING, geometry, method="joseph")
    fine = project(vol, SPACING, geometry, method="trilinear", step_mm=0.1)
    hit = fine > 0.5
    assert float((joseph - fine)[hit].abs().mean() / fine[hit].mean()) < 0.03
