"""CT simulator against closed forms: adjointness, chord lengths, CT numbers, noise laws, kernels, devices.

Small grids (64-128 px) keep the file within a few seconds on a 2-core CPU.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from synthspec.families.modality.ct.acquisition import CTAcquisition, simulate_ct
from synthspec.families.modality.ct import geometry as ct_geometry
from synthspec.families.modality.ct.acquisition import MU_WATER_PER_MM, mu_water_per_mm
from synthspec.families.modality.ct.filters import mtf_blur_sigma_mm
from synthspec.families.modality.ct.geometry import ParallelBeam, backproject, project

CUDA = torch.cuda.is_available()


def discs(n: int, pixel_mm: float, background: float, items: list[tuple[float, float, float, float]], ss: int = 4):
    """[n, n] HU image: background, then each disc (x_mm, y_mm, radius_mm, hu) painted over, area-weighted."""
    c = (n - 1) / 2
    offsets = (torch.arange(ss, dtype=torch.float64) + 0.5) / ss - 0.5
    coord = (torch.arange(n, dtype=torch.float64) - c) * pixel_mm
    img = torch.full((n, n), float(background), dtype=torch.float64)
    for x0, y0, radius, hu in items:
        frac = torch.zeros(n, n, dtype=torch.float64)
        for oy in offsets:
            for ox in offsets:
                yy = (coord[:, None] + oy * pixel_mm - y0) ** 2
                xx = (coord[None, :] + ox * pixel_mm - x0) ** 2
                frac += (xx + yy <= radius**2).double()
        frac /= ss * ss
        img = img * (1 - frac) + hu * frac
    return img.float()


def radius_mm(n: int, pixel_mm: float, x0: float = 0.0, y0: float = 0.0) -> torch.Tensor:
    coord = (torch.arange(n, dtype=torch.float32) - (n - 1) / 2) * pixel_mm
    return torch.sqrt((coord[None, :] - x0) ** 2 + (coord[:, None] - y0) ** 2)


def acquisition(**changes) -> CTAcquisition:
    base = dict(kv=120.0, mas=100.0, slice_thickness_mm=1.25, pixel_mm=2.5, kernel="standard")
    base.update(changes)
    return CTAcquisition(**base)


# ---- (1) the projector pair is adjoint -----------------------------------------------------------------

@pytest.mark.parametrize("n,views", [(64, 48), (33, 20)])
def test_backprojector_is_the_adjoint_of_the_projector(n, views):
    g = ParallelBeam(n, views)
    gen = torch.Generator().manual_seed(3)
    x = torch.rand(2, n, n, generator=gen, dtype=torch.float64).float()
    y = torch.rand(2, views, g.detectors, generator=gen, dtype=torch.float64).float()
    lhs = float((project(x, g, 0.7).double() * y.double()).sum())
    rhs = float((x.double() * backproject(y, g, 0.7).double()).sum())
    assert abs(lhs - rhs) <= 1e-5 * abs(lhs)


def test_backprojection_weights_are_a_partition_of_unity():
    # every pixel receives the same total weight from each view: no moire in flat regions
    n, views = 48, 36
    g = ParallelBeam(n, views)
    ones = backproject(torch.ones(1, views, g.detectors), g, 1.0)
    assert torch.allclose(ones, torch.full_like(ones, float(views)), rtol=1e-5)


# ---- (2) line integrals of a uniform disc are chord lengths -------------------------------------------

def test_line_integral_of_a_disc_is_its_chord_length():
    n, pixel, radius, mu = 128, 0.8, 40.0, 0.02           # mm, mm, 1/mm
    hu_disc = discs(n, pixel, 0.0, [(0.0, 0.0, radius, 1.0)], ss=8)   # fraction of each pixel inside
    g = ParallelBeam(n, 30)
    p = project((hu_disc * mu)[None], g, pixel)[0].double()
    t = (torch.arange(g.detectors, dtype=torch.float64) - (g.detectors - 1) / 2) * pixel
    chord = 2 * torch.sqrt(torch.clamp(radius**2 - t**2, min=0)) * mu
    inner = t.abs() < 0.9 * radius
    rel = (p - chord).abs()[:, inner] / chord[inner]
    assert rel.max() < 0.015                               # any view, any ray (pixelised disc edge)
    assert rel.mean() < 0.002
    assert ((p.mean(0) - chord).abs()[inner] / chord[inner]).max() < 0.003
    # the total over the detector is the disc's mass at every angle
    assert torch.allclose(p.sum(1) * pixel, torch.full((30,), math.pi * radius**2 * mu, dtype=torch.float64), rtol=2e-3)


# ---- (3) CT numbers --------------------------------------------------------------------------------------

def test_mu_water_table_matches_xcom_at_the_effective_energies():
    assert 0.019 <= mu_water_per_mm(120) <= 0.021          # PHYSICS.md: 0.19-0.21 /cm at 120 kVp
    values = [mu_water_per_mm(kv) for kv in (80, 100, 120, 140)]
    assert values == sorted(values, reverse=True)
    assert mu_water_per_mm(110) == pytest.approx((MU_WATER_PER_MM[100.0] + MU_WATER_PER_MM[120.0]) / 2)


@pytest.fixture(scope="module")
def phantom_128():
    n, pixel = 128, 2.6
    img = discs(n, pixel, -1000.0, [(0.0, 0.0, 150.0, 0.0), (85.0, 0.0, 25.0, 1000.0), (-85.0, 0.0, 25.0, 300.0)])
    return n, pixel, img


def test_noiseless_water_air_and_inserts_keep_their_hu(phantom_128):
    n, pixel, img = phantom_128
    rec = simulate_ct(img[None], acquisition(pixel_mm=pixel), None)[0]
    r = radius_mm(n, pixel)
    assert abs(float(rec[r < 40].mean())) < 5.0                          # water
    assert abs(float(rec[r > 165].mean()) + 1000.0) < 10.0              # air around the cylinder
    assert abs(float(rec[radius_mm(n, pixel, 85.0) < 15].mean()) - 1000.0) < 20.0   # cortical-bone insert
    assert abs(float(rec[radius_mm(n, pixel, -85.0) < 15].mean()) - 300.0) < 15.0   # cancellous-bone insert


@pytest.mark.parametrize("kv", [80.0, 140.0])
def test_hu_scale_holds_at_every_tube_voltage(phantom_128, kv):
    n, pixel, img = phantom_128
    rec = simulate_ct(img[None], acquisition(pixel_mm=pixel, kv=kv, kernel="soft"), None)[0]
    assert abs(float(rec[radius_mm(n, pixel) < 40].mean())) < 5.0
    assert abs(float(rec[radius_mm(n, pixel, 85.0) < 15].mean()) - 1000.0) < 20.0


def test_non_square_slices_are_padded_and_cropped():
    img = discs(64, 3.0, -1000.0, [(0.0, 0.0, 60.0, 0.0)])[:, 8:56]      # 64 x 48
    rec = simulate_ct(img[None], acquisition(pixel_mm=3.0), None)
    assert rec.shape == (1, 64, 48)
    assert abs(float(rec[0, 28:36, 20:28].mean())) < 5.0


def test_photon_starvation_stays_finite():
    img = discs(64, 3.0, -1000.0, [(0.0, 0.0, 90.0, 3000.0)])             # 18 cm of dense bone
    rec = simulate_ct(img[None], acquisition(pixel_mm=3.0, mas=5.0), torch.Generator().manual_seed(0))
    assert torch.isfinite(rec).all()


# ---- (4) noise laws --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def water_96():
    n, pixel = 96, 3.0
    img = discs(n, pixel, -1000.0, [(0.0, 0.0, 120.0, 0.0)])
    return img[None].repeat(3, 1, 1), radius_mm(n, pixel) < 45.0, pixel


def central_sigma(water, **changes) -> float:
    """Noise only: std of (noisy - noiseless) in the central disc, mean over slices.

    Few views keep it fast: the noise does not depend on the view count (a
    rotation's photons are shared by its views), and the streaks of sparse
    views cancel in the difference.
    """
    vol, centre, pixel = water
    acq = acquisition(pixel_mm=pixel, views=48, **changes)
    noise = simulate_ct(vol, acq, torch.Generator().manual_seed(11)) - simulate_ct(vol[:1], acq, None)
    return float(noise[:, centre].std(dim=1).mean())


def fitted_exponent(xs, sigmas) -> float:
    return float(np.polyfit(np.log(xs), np.log(sigmas), 1)[0])


def test_noise_falls_as_the_inverse_square_root_of_mas(water_96):
    mas = [10.0, 20.0, 40.0, 80.0, 160.0]
    exponent = fitted_exponent(mas, [central_sigma(water_96, mas=m) for m in mas])
    assert exponent == pytest.approx(-0.5, abs=0.07)


def test_noise_falls_as_the_inverse_square_root_of_slice_thickness(water_96):
    thickness = [0.625, 1.25, 2.5, 5.0]
    exponent = fitted_exponent(thickness, [central_sigma(water_96, slice_thickness_mm=t) for t in thickness])
    assert exponent == pytest.approx(-0.5, abs=0.07)


def test_noise_rises_with_sharper_kernels_and_with_the_noise_factor(water_96):
    sigma = {k: central_sigma(water_96, kernel=k) for k in ("soft", "standard", "sharp", "lung", "bone")}
    assert sigma["soft"] < sigma["standard"] < sigma["sharp"] < sigma["lung"] < sigma["bone"]
    assert central_sigma(water_96, noise_factor=1.25) == pytest.approx(1.25 * sigma["standard"], rel=0.05)
    assert central_sigma(water_96, kv=140.0) < sigma["standard"] < central_sigma(water_96, kv=80.0)


def test_noise_is_calibrated_on_the_reference_water_cylinder():
    # 300 mm water, 120 kV, 100 mAs, 1.25 mm, standard kernel, 400 mm field of view on 256 px (ct.py)
    n, pixel = 256, 400.0 / 256
    img = discs(n, pixel, -1000.0, [(0.0, 0.0, 150.0, 0.0)], ss=2)[None]
    acq = acquisition(pixel_mm=pixel, views=64)           # sigma 12.1 HU here, 12.5 with 403 views
    noise = simulate_ct(img, acq, torch.Generator().manual_seed(5)) - simulate_ct(img, acq, None)
    assert 10.0 <= float(noise[0][radius_mm(n, pixel) < 40].std()) <= 15.0


# ---- (5) determinism -------------------------------------------------------------------------------------

def test_same_seed_same_image_and_chunking_does_not_change_the_noise(water_96):
    vol, _, pixel = water_96
    acq = acquisition(pixel_mm=pixel, mas=30.0)
    a = simulate_ct(vol, acq, torch.Generator().manual_seed(7))
    b = simulate_ct(vol, acq, torch.Generator().manual_seed(7))
    c = simulate_ct(vol, acq, torch.Generator().manual_seed(8))
    d = simulate_ct(vol, acq, torch.Generator().manual_seed(7), chunk_slices=1)
    assert torch.equal(a, b)
    assert not torch.allclose(a, c)
    assert torch.allclose(a, d, atol=1e-3)
    assert not torch.allclose(a[0], a[1])                 # slices get their own noise


def test_generator_must_be_on_the_cpu():
    if not CUDA:
        pytest.skip("needs a CUDA device to make a CUDA generator")
    with pytest.raises(ValueError, match="CPU torch.Generator"):
        simulate_ct(torch.zeros(1, 16, 16), acquisition(), torch.Generator(device="cuda"))


def test_unknown_kernel_is_named():
    with pytest.raises(ValueError, match="unknown CT reconstruction kernel 'smooth'.*soft, standard"):
        simulate_ct(torch.zeros(1, 16, 16), acquisition(kernel="smooth"), None)


# ---- (6) kernels and scanner sharpness -------------------------------------------------------------------

def edge_width_mm(rec: torch.Tensor, n: int, pixel: float, edge_radius: float) -> float:
    """10-90 % width of the radial edge response of a bright disc (binned at pixel/8 around the edge)."""
    r = radius_mm(n, pixel).flatten().double()
    v = rec.flatten().double()
    near = (r > edge_radius - 6 * pixel) & (r < edge_radius + 6 * pixel)
    r, v = r[near], v[near]
    bins = torch.round((r - r.min()) / (pixel / 8)).long()
    counts = torch.bincount(bins).double()
    esf = torch.bincount(bins, weights=v) / counts.clamp(min=1)
    centres = r.min() + torch.arange(len(esf), dtype=torch.float64) * pixel / 8
    keep = counts > 0
    esf, centres = esf[keep], centres[keep]
    inside, outside = float(esf[:8].mean()), float(esf[-8:].mean())
    level = ((esf - outside) / (inside - outside)).numpy()      # 1 inside, 0 outside
    centres = centres.numpy()

    def crossing(fraction: float) -> float:                       # outermost crossing, linearly interpolated
        i = int(np.nonzero(level >= fraction)[0].max())
        return float(np.interp(fraction, [level[i + 1], level[i]], [centres[i + 1], centres[i]]))

    r90, r10 = crossing(0.9), crossing(0.1)
    return r10 - r90


def test_sharper_kernels_give_narrower_edges():
    n, pixel, edge = 96, 1.0, 30.0
    img = discs(n, pixel, -1000.0, [(0.0, 0.0, edge, 0.0)], ss=8)
    widths = {k: edge_width_mm(simulate_ct(img[None], acquisition(pixel_mm=pixel, kernel=k), None)[0], n, pixel, edge)
              for k in ("soft", "standard", "sharp")}
    assert widths["sharp"] < widths["standard"] < widths["soft"]


def measured_mtf50(rec: torch.Tensor, n: int, pixel: float, edge_radius: float) -> float:
    """MTF50 (lp/mm) from the radial edge response: bin at pixel/8, differentiate, Hann window, FFT."""
    r = radius_mm(n, pixel).flatten().double()
    v = rec.flatten().double()
    lo = edge_radius - 8 * pixel
    near = (r > lo) & (r < edge_radius + 8 * pixel)
    bins = torch.floor((r[near] - lo) / (pixel / 8)).long()
    esf = (torch.bincount(bins, weights=v[near]) / torch.bincount(bins).double().clamp(min=1)).numpy()
    lsf = -np.diff(esf) * np.hanning(len(esf) - 1)
    mtf = np.abs(np.fft.rfft(lsf, 8192))
    mtf /= mtf[0]
    f = np.fft.rfftfreq(8192, pixel / 8)
    i = int(np.nonzero(mtf < 0.5)[0][0])
    return float(np.interp(0.5, [mtf[i], mtf[i - 1]], [f[i], f[i - 1]]))


@pytest.mark.parametrize("mtf50", [0.30, 0.40])
def test_scanner_mtf50_is_met_by_the_standard_kernel(mtf50):
    n, pixel, edge = 128, 0.5, 20.0
    img = discs(n, pixel, -1000.0, [(0.0, 0.0, edge, 0.0)], ss=8)
    rec = simulate_ct(img[None], acquisition(pixel_mm=pixel, mtf50_lp_mm=mtf50), None)[0]
    assert measured_mtf50(rec, n, pixel, edge) == pytest.approx(mtf50, rel=0.12)
    assert mtf_blur_sigma_mm(mtf50, 1.5625) == 0.0        # a coarse grid cannot resolve it: no extra blur


# ---- (7) CPU and CUDA agree -------------------------------------------------------------------------------

@pytest.mark.skipif(not CUDA, reason="no CUDA device")
def test_cpu_and_cuda_agree(water_96, phantom_128):
    g = ParallelBeam(40, 30)
    for build in (ct_geometry._projection_taps, ct_geometry._backprojection_taps):
        (i_cpu, w_cpu), (i_gpu, w_gpu) = build(g, 0, 30, "cpu"), build(g, 0, 30, "cuda")
        assert torch.equal(i_cpu, i_gpu.cpu()) and torch.equal(w_cpu, w_gpu.cpu())   # same tables, bit for bit
    n, pixel, img = phantom_128
    vol = torch.stack([img, img.flip(1)])
    acq = acquisition(pixel_mm=pixel, mas=20.0, kernel="bone", mtf50_lp_mm=0.45)
    cpu = simulate_ct(vol, acq, torch.Generator().manual_seed(2))
    gpu = simulate_ct(vol.cuda(), acq, torch.Generator().manual_seed(2))
    assert gpu.device.type == "cuda"
    diff = (gpu.cpu() - cpu).abs()
    # same noise, different summation order and FFT: differences are float rounding, far below 1 HU
    assert float(diff.max()) < 0.5 and float(diff.pow(2).mean().sqrt()) < 0.05


def test_a_chunk_the_device_cannot_hold_is_halved_and_scanned_again(water_96, monkeypatch):
    """An out-of-memory error on a chunk halves it and scans it again from the same noise state, so the
    volume is the one a run with the smaller chunks from the start gives (bit for bit), not a new draw."""
    from synthspec.families.modality.ct import acquisition as module

    vol, _, pixel = water_96
    acq = acquisition(pixel_mm=pixel, mas=30.0)
    smaller = simulate_ct(vol, acq, torch.Generator().manual_seed(7), chunk_slices=1)
    real = module.project_columns
    seen = []

    def small_device(mu, geom, pixel_mm):
        seen.append(mu.shape[1])
        if mu.shape[1] > 1:
            raise module.OUT_OF_MEMORY("CUDA out of memory (simulated)")
        return real(mu, geom, pixel_mm)

    monkeypatch.setattr(module, "project_columns", small_device)
    retried = simulate_ct(vol, acq, torch.Generator().manual_seed(7), chunk_slices=vol.shape[0])
    assert seen[0] == vol.shape[0] and seen[-1] == 1
    assert torch.equal(retried, smaller)


def test_out_of_memory_on_a_single_slice_is_raised(monkeypatch):
    from synthspec.families.modality.ct import acquisition as module

    def no_memory(mu, geom, pixel_mm):
        raise module.OUT_OF_MEMORY("CUDA out of memory (simulated)")

    monkeypatch.setattr(module, "project_columns", no_memory)
    with pytest.raises(module.OUT_OF_MEMORY):
        simulate_ct(torch.zeros(2, 16, 16), acquisition(), None)
