"""CT acquisition and filtered back-projection of a HU volume: HU in, reconstructed HU out.

Role: the acquisition half of the CT modality.  One function, `simulate_ct`, runs the
whole path per chunk of slices:

    HU -> mu (1/mm) at the beam's effective energy          mu_water_per_mm
    -> line integrals, parallel beam, every slice            geometry.project_columns
    -> expected counts N0 exp(-p), quantum + electronic noise, log with a floor
    -> ramp filter x kernel window x scanner blur            filters.fbp_filter
    -> back-projection (the projector's adjoint), mu -> HU   geometry.backproject_columns

Same algorithm on CPU and CUDA; random numbers are drawn on the CPU from the
caller's generator, per slice in slice order, and moved to the device, so a
seed gives the same noise on every device and for every chunk size.

Beam: monochromatic by default (every ray at the kV's effective energy, as
above).  `beam="polychromatic"` (beam.py) scans a water/bone split of the HU
volume with a SpekPy tungsten spectrum, so the beam hardens: cupping in a
uniform object and dark streaks between dense bones; the scanner's water
correction (on by default) flattens water, and an optional first-order bone
correction (`bone_correction`, a fraction) leaves residual streaks.  The
monochromatic path is unchanged by the option.

Not modelled (non-goals): scatter, the bowtie filter and tube-current modulation, fan/cone-beam geometry and
helical interpolation (each slice is an independent 2-D parallel-beam scan;
slice thickness enters only through the photon count), partial volume along
z, detector crosstalk, iterative reconstruction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from synthspec.families.modality.ct.filters import check_kernel, fbp_filter, mtf_blur_sigma_mm, padded_length
from synthspec.families.modality.ct.geometry import ParallelBeam, backproject_columns, project_columns

# --- attenuation of water -------------------------------------------------------------------------
# NIST XCOM / Hubbell & Seltzer, "X-Ray Mass Attenuation Coefficients", NIST Standard Reference
# Database 126, Table 4 (water, liquid): total mass attenuation with coherent scattering, cm^2/g.
XCOM_WATER_CM2_G = {40.0: 0.2683, 50.0: 0.2269, 60.0: 0.2059, 80.0: 0.1837, 100.0: 0.1707}
# Effective (monoenergetic-equivalent) energy of a filtered clinical CT beam behind ~20-30 cm of
# water, keV, per tube voltage: roughly kVp / 2 (e.g. 120 kVp -> ~60-65 keV; PHYSICS.md).
EFFECTIVE_KEV = {80.0: 48.0, 100.0: 55.0, 120.0: 62.0, 140.0: 68.0}
WATER_DENSITY_G_CM3 = 1.0


def _loglog(table: dict[float, float], x: float) -> float:
    keys = sorted(table)
    lo = max([k for k in keys[:-1] if k <= x], default=keys[0])
    hi = keys[keys.index(lo) + 1]
    slope = math.log(table[hi] / table[lo]) / math.log(hi / lo)
    return table[lo] * (x / lo) ** slope


# mu_water (1/mm) at 80/100/120/140 kVp: 0.02340, 0.02157, 0.02032, 0.01958 (XCOM log-log interpolated).
MU_WATER_PER_MM = {kv: _loglog(XCOM_WATER_CM2_G, e) * WATER_DENSITY_G_CM3 / 10.0 for kv, e in EFFECTIVE_KEV.items()}


def mu_water_per_mm(kv: float) -> float:
    """Linear attenuation of water (1/mm) for a tube voltage; linear in kV between (and beyond) the table rows."""
    kvs = sorted(MU_WATER_PER_MM)
    kv = min(max(float(kv), 60.0), 160.0)
    i = min(max(sum(k <= kv for k in kvs) - 1, 0), len(kvs) - 2)
    k0, k1 = kvs[i], kvs[i + 1]
    return MU_WATER_PER_MM[k0] + (kv - k0) / (k1 - k0) * (MU_WATER_PER_MM[k1] - MU_WATER_PER_MM[k0])


# --- photon budget ---------------------------------------------------------------------------------
# Unattenuated photons per mm^2 of detector (at isocentre) per mAs at 120 kV for one full rotation,
# shared equally by the views.  Calibrated (benchmarks/ct_vs_skimage.py --calibrate) so that a
# 300 mm water cylinder, 120 kV, 100 mAs, 1.25 mm slices, standard kernel, noise_factor 1,
# electronic noise 20, no scanner blur, on the planner's default grid (400 mm field of view on a
# 256 matrix: 1.5625 mm pixels) reconstructs with sigma = 12 HU in its central 40 mm (noise only:
# std of noisy minus noiseless).  N0 is then 3.4e6 per element per view at 256 views, ~7.6e3 behind
# the cylinder, so the electronic noise (10-40 counts) matters only behind much more attenuation.
# Noise scales as pixel^-3/2 at a fixed dose (kernels follow the pixel's Nyquist frequency):
# the same scan on 0.78 mm pixels (512 matrix) gives ~34 HU, on 3.1 mm pixels ~4 HU.
PHOTONS_PER_MM2_MAS = 4.2e6
REFERENCE_KV = 120.0
TUBE_OUTPUT_KV_EXPONENT = 2.0       # x-ray output ~ kVp^2 at fixed mAs (Bushberg et al., rule of thumb)
COUNT_FLOOR = 1.0                   # counts below this read as this (photon starvation; caps p at log N0)
WORK_BYTES = 1024 * 2**20           # per chunk of slices: mu, sinogram and image (tap tables are separate)
"""Where a geometry's tap tables are too big to keep (geometry.CACHE_BYTES: 10.6 GB at 512 pixels and 805 views),
every chunk builds them again (5.6 s a build there, on 2 cores), so chunks are large: a 120-slice chest at 512
pixels (7.9 MB a slice) is one chunk, and its CT stage took 30 s instead of 50 s with 384 MiB chunks (3 builds).
The result does not depend on the chunk size."""
FILTER_SLICES = 8                   # noise draws and FFT filtering run on this many slices at a time
BEAMS = ("monochromatic", "polychromatic")
OUT_OF_MEMORY = getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError)
"""What a device raises when a chunk does not fit: the chunk is halved and scanned again (simulate_ct)."""


@dataclass(frozen=True)
class CTAcquisition:
    kv: float                 # tube voltage, kV
    mas: float                # tube current-time product, mAs
    slice_thickness_mm: float  # also the z spacing of the volume
    pixel_mm: float           # in-plane pixel size of the volume (= detector pitch)
    kernel: str               # "soft" | "standard" | "sharp" | "lung" | "bone"
    views: int | None = None  # projection angles over 180 deg (parallel beam); None -> default_views(matrix)
    noise_factor: float = 1.0     # scanner class relative noise (stdlib)
    electronic_noise: float = 20  # electronic noise std in detector counts (stdlib)
    mtf50_lp_mm: float | None = None  # scanner sharpness; None -> kernel only
    beam: str = "monochromatic"   # "monochromatic" | "polychromatic" (beam.py)
    water_correction: bool = True  # polychromatic only: the scanner's water linearisation
    bone_correction: float = 0.0   # polychromatic only: fraction of the bone-induced error removed (0..1)


def outside_reconstruction_circle(ny: int, nx: int) -> np.ndarray:
    """Boolean [ny, nx]: pixels outside the disc inscribed in the reconstructed square (centre at the middle
    of the grid, diameter the shorter side), where a scanner writes no measured value.

    Scanners reconstruct the display field of view only inside that disc and fill the corners with one
    padding value (the development chest CT of DATA.md: -2048 beyond the disc; a body CT viewed in any
    window shows a black circle).  The CT modality writes the stored minimum (-1024 HU, air) there: the
    stored range stays 12-bit and a viewer shows the same black corners.
    """
    y = np.arange(ny, dtype=np.float64)[:, None] - (ny - 1) / 2.0
    x = np.arange(nx, dtype=np.float64)[None, :] - (nx - 1) / 2.0
    return y * y + x * x > (min(ny, nx) / 2.0) ** 2


def default_views(n: int) -> int:
    """Views for an n x n slice when the acquisition gives none: ceil(pi/2 n), full angular sampling.

    With D ~ sqrt(2) n detector samples, angular sampling matches the radial
    sampling at the rim of the field only with about pi/2 n views; with fewer,
    edges far from a point (the body outline, the skull) throw aliasing streaks
    onto it.  Measured (benchmarks/ct_vs_skimage.py --views, 256 px, noiseless,
    standard kernel; difference from a 4n-view reconstruction inside the
    central 90 % disc, RMSE / max):

        views        Shepp-Logan-like head     body-like slice
        n/2 = 128      20.0 / 127 HU             19.4 / 88 HU
        n   = 256       8.2 /  57 HU              6.5 / 33 HU
        pi/2 n = 403    2.5 /  11 HU              1.8 /  9 HU
        2n  = 512       1.9 /   9 HU              1.2 /  6 HU

    Time is linear in the view count, so pi/2 n costs 1.57 x n.  Noise does not
    depend on the view count (a rotation's photons are shared by its views).
    The planner passes `views` explicitly (the matrix size unless the spec
    sets it, with a note that streaks are expected below pi/2 n).
    """
    return math.ceil(math.pi / 2 * n)


def photons_per_view(acq: CTAcquisition, views: int) -> float:
    """Unattenuated photons per detector element per view (N0)."""
    tube = (acq.kv / REFERENCE_KV) ** TUBE_OUTPUT_KV_EXPONENT
    per_rotation = PHOTONS_PER_MM2_MAS * acq.mas * acq.slice_thickness_mm * acq.pixel_mm * tube
    return per_rotation / (acq.noise_factor**2 * views)


def _check(hu: torch.Tensor, acq: CTAcquisition) -> None:
    if hu.ndim != 3:
        raise ValueError(f"simulate_ct wants a HU volume [Z, Y, X]; got shape {tuple(hu.shape)}")
    check_kernel(acq.kernel)
    for name in ("kv", "mas", "slice_thickness_mm", "pixel_mm", "noise_factor"):
        if not getattr(acq, name) > 0:
            raise ValueError(f"CTAcquisition.{name} must be positive; got {getattr(acq, name)!r}")
    if acq.views is not None and acq.views < 1:
        raise ValueError(f"CTAcquisition.views must be at least 1; got {acq.views}")
    if acq.beam not in BEAMS:
        raise ValueError(f"CTAcquisition.beam must be one of {BEAMS}; got {acq.beam!r}")
    if not 0.0 <= acq.bone_correction <= 1.0:
        raise ValueError(f"CTAcquisition.bone_correction must be within 0..1; got {acq.bone_correction!r}")


def _noise(z: int, views: int, detectors: int, generator: torch.Generator, device) -> torch.Tensor:
    """Two standard normals per reading [2, V*D, z]: drawn on the CPU slice by slice, then moved."""
    draws = [torch.randn((2, views * detectors), generator=generator, dtype=torch.float32) for _ in range(z)]
    return torch.stack(draws, dim=-1).to(device)


def measure(p: torch.Tensor, n0: float, electronic: float, normals: torch.Tensor | None) -> torch.Tensor:
    """Line integrals -> log-normalised measured line integrals (same shape).

    Expected counts lam = N0 exp(-p).  Quantum noise is Poisson, drawn in the
    Anscombe domain: 2 sqrt(X + 3/8) of a Poisson X is close to normal with
    unit variance (Anscombe, Biometrika 35:246, 1948), so
    X = (sqrt(lam + 3/8) + z1 / 2)^2 - 5/8 has mean lam, variance lam + 1/2
    and skewness ~1.5 / sqrt(lam) (Poisson: 1 / sqrt(lam)); E[log X] matches
    Poisson's within 0.003 down to lam = 3.  It needs one CPU-drawn normal per
    reading, whereas exact Poisson sampling would need the device's rates on
    the CPU, and rates that differ by a rounding step between devices give
    different draws.  Electronic noise adds sigma_e z2.
    Counts are floored at COUNT_FLOOR before the log (photon starvation); the
    noiseless path applies the same floor to lam.
    """
    lam = torch.exp(-p).mul_(n0)
    if normals is None:
        counts = lam
    else:
        counts = (torch.sqrt(lam + 0.375) + 0.5 * normals[0]).square_().sub_(0.625)
        counts.add_(normals[1], alpha=float(electronic))
    return torch.log(n0 / counts.clamp_(min=COUNT_FLOOR))


def filter_projections(sino: torch.Tensor, geom: ParallelBeam, response: torch.Tensor) -> torch.Tensor:
    """Ramp-filter line integrals [V*D, b] with `response` (zero-padded FFT along the detector); returns [V*D, b]."""
    v, d, b = geom.views, geom.detectors, sino.shape[1]
    length = padded_length(d)
    rows = sino.reshape(v, d, b).permute(2, 0, 1)                       # [b, V, D]
    spectrum = torch.fft.rfft(rows, n=length, dim=-1)
    spectrum *= response.to(spectrum.device, torch.float32)
    return torch.fft.irfft(spectrum, n=length, dim=-1)[..., :d].permute(1, 2, 0).reshape(v * d, b)


def fbp(sino: torch.Tensor, geom: ParallelBeam, pixel_mm: float, response: torch.Tensor) -> torch.Tensor:
    """Line integrals [V*D, B] -> mu [n*n, B] (1/mm): filter, then back-project with the projector's adjoint.

    mu(x) = integral over [0, pi) of the filtered projection at t = x . theta,
    approximated by pi / V times the sum over views.
    """
    q = filter_projections(sino, geom, response).contiguous()
    return backproject_columns(q, geom, pixel_mm).mul_(math.pi / (geom.views * pixel_mm))


def simulate_ct(hu: torch.Tensor, acq: CTAcquisition, noise_generator: torch.Generator | None, *,
                chunk_slices: int | None = None) -> torch.Tensor:
    """Scan and reconstruct a HU volume [Z, Y, X] (float32, any device); returns HU [Z, Y, X] on that device."""
    return simulate_ct_kernels(hu, acq, noise_generator, (acq.kernel,), chunk_slices=chunk_slices)[acq.kernel]


def simulate_ct_kernels(hu: torch.Tensor, acq: CTAcquisition, noise_generator: torch.Generator | None,
                        kernels: tuple[str, ...], *, chunk_slices: int | None = None) -> dict[str, torch.Tensor]:
    """One scan of a HU volume [Z, Y, X], reconstructed with each of `kernels` from the same noisy line
    integrals (as a scanner reconstructs a brain and a bone series from one acquisition); {kernel: HU [Z, Y, X]}.
    The first kernel's image is the same bits as `simulate_ct` with that kernel.

    noise_generator: a CPU torch.Generator, or None for a noiseless scan (expected counts).
    chunk_slices: slices projected and back-projected together (the tap tables are
    built once per chunk); None sizes chunks to about WORK_BYTES.  A chunk the
    device has no memory for is halved and scanned again (down to one slice).  Noise and
    filtering run on sub-batches of at most FILTER_SLICES slices of a chunk.
    Slices that are not square are padded with air to max(Y, X) and cropped back.
    """
    _check(hu, acq)
    if noise_generator is not None and noise_generator.device.type != "cpu":
        raise ValueError("noise_generator must be a CPU torch.Generator (noise is drawn on the CPU, then moved)")
    z, y, x = hu.shape
    n = max(y, x)
    geom = ParallelBeam(n=n, views=int(acq.views or default_views(n)))
    v, d = geom.views, geom.detectors
    mu_w = mu_water_per_mm(acq.kv)
    n0 = photons_per_view(acq, v)
    kernels = tuple(dict.fromkeys(kernels))
    for kernel in kernels:
        check_kernel(kernel)
    blur = mtf_blur_sigma_mm(acq.mtf50_lp_mm, acq.pixel_mm)
    responses = [fbp_filter(kernel, d, acq.pixel_mm, blur) for kernel in kernels]
    per_slice = 4 * (3 * (n + 2) ** 2 + 2 * v * d) * len(kernels)        # mu (bordered), sinogram, image
    if acq.beam == "polychromatic":
        per_slice *= 4                                                   # two maps, float64 spectra, bone pass
    step = max(1, min(z, chunk_slices or WORK_BYTES // per_slice))
    py, px = (n - y) // 2, (n - x) // 2

    out = {kernel: torch.empty_like(hu, dtype=torch.float32) for kernel in kernels}
    z0 = 0
    while z0 < z:
        state = None if noise_generator is None else noise_generator.get_state()
        try:
            blocks = _scan_chunk(hu[z0:z0 + step], geom, acq, mu_w, n0, responses, noise_generator, (py, px))
        except OUT_OF_MEMORY:
            if step == 1:
                raise
            # the device ran out of memory: halve the chunk and scan it again from the same noise state (the
            # result does not depend on the chunk size, so the volume is the same bits as without the retry)
            step = max(1, step // 2)
            if noise_generator is not None:
                noise_generator.set_state(state)
            if hu.device.type == "cuda":
                torch.cuda.empty_cache()
            continue
        for kernel, block in zip(kernels, blocks):
            out[kernel][z0:z0 + block.shape[0]] = block
        z0 += blocks[0].shape[0]
    return out


def _scan_chunk(block: torch.Tensor, geom: ParallelBeam, acq: CTAcquisition, mu_w: float, n0, responses,
                noise_generator: torch.Generator | None, pad: tuple[int, int]) -> list[torch.Tensor]:
    """Project, measure, filter and back-project one chunk of slices [b, Y, X] (HU); HU [b, Y, X] per response."""
    if acq.beam == "polychromatic":
        from synthspec.families.modality.ct import beam

        return beam.scan_chunk(block, geom, acq, mu_w, n0, responses, noise_generator, pad)
    b, y, x = block.shape
    n, v, d = geom.n, geom.views, geom.detectors
    py, px = pad
    block = block.to(torch.float32)
    if (y, x) != (n, n):
        block = torch.nn.functional.pad(block, (px, n - x - px, py, n - y - py), value=-1000.0)
    mu = (block.reshape(b, n * n).t() * (mu_w / 1000.0)).add_(mu_w).clamp_(min=0.0).contiguous()
    del block
    sino = project_columns(mu, geom, acq.pixel_mm)                  # [V*D, b]
    del mu
    extra = [torch.empty_like(sino) for _ in responses[1:]]
    for s0 in range(0, b, FILTER_SLICES):
        s1 = min(s0 + FILTER_SLICES, b)
        normals = None if noise_generator is None else _noise(s1 - s0, v, d, noise_generator, sino.device)
        measured = measure(sino[:, s0:s1], n0, acq.electronic_noise, normals)
        for buffer, response in zip(extra, responses[1:]):
            buffer[:, s0:s1] = filter_projections(measured, geom, response)
        sino[:, s0:s1] = filter_projections(measured, geom, responses[0])
    out = []
    for filtered in [sino, *extra]:
        rec = backproject_columns(filtered, geom, acq.pixel_mm).mul_(math.pi / (v * acq.pixel_mm))
        rec = rec.t().reshape(b, n, n)[:, py:py + y, px:px + x]
        out.append(rec.mul(1000.0 / mu_w).sub_(1000.0))
    del sino, extra
    return out
