"""Image formation for projection radiography: from per-material areal densities to the delivered image.

Role: each physical step is one function so tests and figures can call it alone; `render_radiograph` runs
them in order:
  1. `expected_quanta`   polychromatic Beer-Lambert per energy bin, CsI(Tl) absorption, energy-integrating
                         signal (beam hardening follows from the per-bin attenuation);
  2. `scatter`           scatter-to-primary ratio from water-equivalent thickness and kVp, spread by a broad
                         Gaussian kernel; `grid_transmission` for an anti-scatter grid;
  3. `focal_spot_blur`   geometric penumbra of the focal spot (on the expected primary);
  4. `add_noise`         compound-Poisson quantum noise at absorption, the scintillator/detector MTF
                         (`detector_mtf`, which therefore correlates the quantum noise as in a real indirect
                         panel), electronic noise, a fixed smooth residual gain pattern;
  5. `process`           vendor-like processing: log, robust window, two-scale unsharp masking, sigmoid LUT,
                         quantisation, MONOCHROME2 (bone bright).
`laterality_marker` / `marker_areal` draw the lead "L"/"R" marker the caller adds to the areal densities
(a physical marker, attenuated before the noise; it is a known shortcut cue, so the caller chooses it).

Not here: the ray projection (projector.py), the tube spectrum (spectrum.py), DICOM (the writer), grid-line
artefacts (a moving/suppressed grid is assumed), off-focal radiation, lag/ghosting, K-fluorescence
reabsorption in CsI, the spectral difference of scatter, the pixel-aperture MTF, and geometric falloff off
the central ray (inverse square/obliquity) unless the caller folds it into `heel`.

Units: areal density g/cm^2, lengths mm, energies keV, fluence photons/mm^2/mAs at 1 m, signal keV absorbed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from .attenuation import attenuation_table, mass_attenuation, material
from .spectrum import Spectrum

LEAD_DENSITY = 11.35  # g/cm^3, NIST NISTIR 5632 Table 1
MARKER_LEAD_MM = 1.0  # lead marker thickness (commercial markers: ~1 mm Pb letters)
MARKER_AREAL_G_CM2 = LEAD_DENSITY * MARKER_LEAD_MM / 10.0  # 1.135 g/cm^2
GAIN_CELL_MM = 40.0  # residual gain errors after flat-fielding vary over centimetres (calibration drift, heel change)
GAUSS_SIGMA_PER_FWHM = 1.0 / (2.0 * math.sqrt(2.0 * math.log(2.0)))


@dataclass(frozen=True)
class DetectorModel:
    """An indirect CsI(Tl) flat panel. Defaults: a 2010s chest/bone DR panel (pixel 0.148 mm, 0.55 mm CsI,
    MTF 0.5 near 1.6 lp/mm; e.g. Samei & Flynn, Med. Phys. 29 (2002) 447; Illers et al., Radiat. Prot.
    Dosim. 114 (2005) 214), residual flat-field non-uniformity ~0.5 % (IEC 62220-1 requires gain
    correction; typical residual < 1 %), 12-bit output."""

    pixel_mm: float = 0.148
    csi_mm: float = 0.55
    mtf50_lp_mm: float = 1.6
    # std multiplier over counting noise: 1/sqrt(Swank factor), ~0.9 for CsI(Tl) (Swank, J. Appl. Phys. 44
    # (1973) 4199 defines it); each quantum carries the pixel's mean energy, so this also stands for the
    # spectrum's energy-absorption noise
    noise_factor: float = 1.05
    electronic_noise: float = 2.0  # quanta-equivalent std per pixel: an assumption of "a few quanta"
    # (a modern panel is quantum-limited down to ~1 uGy, i.e. its electronic noise is a few quanta per pixel)
    gain_nonuniformity: float = 0.005  # relative std of the smooth residual gain pattern
    bits_stored: int = 12


class Exposure(NamedTuple):
    """Expected detector response: absorbed quanta and absorbed energy (keV) per pixel, with and without
    the patient (the flat field, heel included)."""

    quanta: torch.Tensor
    signal: torch.Tensor
    flat_quanta: torch.Tensor
    flat_signal: torch.Tensor


# --- 1. primary ---------------------------------------------------------------------------------------

def csi_absorption(energies_kev, csi_mm: float) -> np.ndarray:
    """Quantum detection efficiency eta(E) = 1 - exp(-(mu/rho)_CsI rho t) of a CsI layer (normal incidence,
    packing fraction 1; real columnar CsI is ~0.8-0.9 dense)."""
    mu = mass_attenuation("csi", energies_kev) * material("csi").density / 10.0  # 1/mm
    return 1.0 - np.exp(-mu * csi_mm)


def expected_quanta(areal: torch.Tensor, materials: list[str], spectrum: Spectrum, mas: float, sid_mm: float,
                    pixel_mm: float, heel: torch.Tensor | np.ndarray | None = None,
                    detector: DetectorModel | None = None, energy_chunk: int | None = None) -> Exposure:
    """N(E) = fluence(E) mas (1000/sid)^2 pixel^2 heel exp(-sum_m (mu/rho)_m(E) A_m) per bin; absorbed quanta
    sum_E N eta, signal sum_E N eta E. `areal` [M, H, W] g/cm^2 in the order of `materials`; `heel` [H]
    (rows along the anode-cathode axis) or None. Chunks of energy bins bound memory."""
    detector = detector or DetectorModel(pixel_mm=pixel_mm)
    if areal.ndim != 3 or areal.shape[0] != len(materials):
        raise ValueError(f"areal must be [M, H, W] with M = {len(materials)}")
    device = areal.device
    e = spectrum.energies_kev
    per_pixel = spectrum.fluence * mas * (1000.0 / sid_mm) ** 2 * pixel_mm**2  # photons per bin per pixel
    eta = csi_absorption(e, detector.csi_mm)
    # exponent and per-chunk sums in float32 (relative error ~1e-7 per bin), accumulated over chunks in float64
    mu = torch.as_tensor(np.array(attenuation_table(list(materials), e)), dtype=torch.float32, device=device)
    weights = torch.as_tensor(np.stack([per_pixel * eta, per_pixel * eta * e]), dtype=torch.float32,
                              device=device)  # [2, E]: absorbed quanta, absorbed energy (keV)
    a = areal.to(torch.float32).reshape(len(materials), -1)  # [M, P]
    totals = torch.zeros(2, a.shape[1], dtype=torch.float64, device=device)
    if energy_chunk is None:  # ~256 MB of float32 per temporary [bins, pixels]
        energy_chunk = int(min(64, max(1, 64_000_000 // max(a.shape[1], 1))))
    for start in range(0, len(e), energy_chunk):
        sl = slice(start, start + energy_chunk)
        transmitted = torch.exp(-(mu[:, sl].T @ a))  # [e, P]
        totals += (weights[:, sl] @ transmitted).to(torch.float64)
    quanta, signal = totals[0], totals[1]
    h, w = areal.shape[1:]
    heel_t = torch.ones(h) if heel is None else torch.as_tensor(np.array(heel, dtype=np.float64)
                                                                 if not torch.is_tensor(heel) else heel)
    row = heel_t.to(device=device, dtype=torch.float64).reshape(h, 1)
    flat_q = (row * float(np.sum(per_pixel * eta))).expand(h, w).clone()
    flat_s = (row * float(np.sum(per_pixel * eta * e))).expand(h, w).clone()
    return Exposure(quanta.reshape(h, w) * row, signal.reshape(h, w) * row, flat_q, flat_s)


def water_equivalent_mm(areal: torch.Tensor, materials: list[str], spectrum: Spectrum) -> torch.Tensor:
    """[H, W] water-equivalent thickness (mm): sum_m A_m (mu/rho)_m / (mu/rho)_water at the spectrum's mean
    energy (A in g/cm^2 -> cm of unit-density water -> mm)."""
    e_mean = spectrum.mean_energy_kev
    ratio = attenuation_table(list(materials), [e_mean])[:, 0] / mass_attenuation("water", [e_mean])[0]
    r = torch.as_tensor(np.array(ratio), dtype=areal.dtype, device=areal.device)
    return 10.0 * torch.einsum("m,mhw->hw", r, areal)


# --- 2. scatter and grid ------------------------------------------------------------------------------

# SPR without a grid for a large field behind water: SPR = SPR_10CM (t/100 mm)^THICKNESS_EXP (kVp/80)^KVP_EXP.
# Anchors: Chan & Doi, Med. Phys. 12 (1985) 152 (Monte Carlo, water, 30x30 cm field: SPR ~1 at 10 cm,
# ~3-5 at 20 cm, weak rise with kVp); Fetterly & Schueler, Phys. Med. Biol. 52 (2007) 4863 (measured SPR
# ~3-6 behind 20-30 cm water-equivalent); extremities of 2-3 cm: SPR ~0.1-0.3 (Chan & Doi's thin phantoms).
# A two-parameter fit to those ranges (an approximation, not a table).
SPR_10CM = 1.1
THICKNESS_EXP = 1.45
KVP_EXP = 0.3

# Anti-scatter grid primary / scatter transmission (focused Pb grids, 80-120 kVp): Chan, Higashida & Doi,
# Med. Phys. 12 (1985) 449; Fetterly & Schueler 2007; Bushberg et al., Essential Physics of Medical
# Imaging, 3rd ed. (2012) ch. 7. Ratio 0 = no grid.
GRID_TABLE = {0: (1.0, 1.0), 5: (0.74, 0.22), 6: (0.73, 0.18), 8: (0.70, 0.12), 10: (0.68, 0.09),
              12: (0.66, 0.07), 15: (0.62, 0.05), 16: (0.61, 0.05)}


def grid_transmission(grid_ratio: float) -> tuple[float, float]:
    """(Tp, Ts) of a grid of `grid_ratio` (linear interpolation in GRID_TABLE; 0 = no grid)."""
    if grid_ratio <= 0:
        return 1.0, 1.0
    ratios = sorted(k for k in GRID_TABLE if k > 0)
    tp, ts = zip(*(GRID_TABLE[r] for r in ratios))
    return float(np.interp(grid_ratio, ratios, tp)), float(np.interp(grid_ratio, ratios, ts))


def scatter_to_primary(water_mm, kvp: float, grid_ratio: float = 0.0):
    """SPR behind `water_mm` of water-equivalent tissue at `kvp`, after a grid of `grid_ratio` (0: none):
    SPR_grid = SPR * Ts / Tp. Works on floats, numpy arrays and tensors."""
    tp, ts = grid_transmission(grid_ratio)
    t = water_mm.clamp(min=0.0) if torch.is_tensor(water_mm) else np.maximum(np.asarray(water_mm, float), 0.0)
    spr = SPR_10CM * (t / 100.0) ** THICKNESS_EXP * (kvp / 80.0) ** KVP_EXP
    return spr * (ts / tp)


def scatter_kernel_sigma_mm(mean_water_mm: float) -> float:
    """Width of the scatter point-spread at the detector: broad, growing with the scattering depth
    (Love & Kruger, Med. Phys. 14 (1987) 178: scatter kernels of several cm). sigma = 15 mm + 0.5 t."""
    return 15.0 + 0.5 * max(mean_water_mm, 0.0)


def scatter(primary_signal: torch.Tensor, water_equivalent: torch.Tensor, kvp: float, grid_ratio: float,
            pixel_mm: float) -> torch.Tensor:
    """Scatter signal reaching the detector after the grid: G_sigma * (SPR(t) * primary), where `primary_signal`
    is the primary BEFORE the grid and SPR uses no grid; the result is multiplied by Ts. Uniform slabs keep
    their SPR exactly (normalised kernel); near edges scatter spills into the direct-exposure region."""
    spr = scatter_to_primary(water_equivalent, kvp, 0.0)
    body = water_equivalent > 5.0
    depth = float(water_equivalent[body].mean()) if bool(body.any()) else 0.0
    sigma_px = scatter_kernel_sigma_mm(depth) / pixel_mm
    _, ts = grid_transmission(grid_ratio)
    return gaussian_blur(spr * primary_signal, sigma_px) * ts


# --- 3. blur --------------------------------------------------------------------------------------------

def _blur_1d(x: torch.Tensor, sigma: float, dim: int) -> torch.Tensor:
    radius = max(1, int(math.ceil(3.5 * sigma)))
    taps = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    kernel = torch.exp(-0.5 * (taps / sigma) ** 2)
    kernel = (kernel / kernel.sum()).reshape(1, 1, -1)
    moved = x.movedim(dim, -1)
    shape = moved.shape
    flat, pad = moved.reshape(-1, 1, shape[-1]), min(radius, shape[-1] - 1)
    flat = F.pad(flat, (pad, pad), mode="reflect") if pad > 0 else flat
    flat = F.pad(flat, (radius - pad, radius - pad), mode="replicate") if pad < radius else flat
    return F.conv1d(flat, kernel).reshape(shape).movedim(-1, dim)


def gaussian_blur(image: torch.Tensor, sigma_px: float) -> torch.Tensor:
    """Separable Gaussian blur of a [H, W] tensor (reflecting edges). Large sigmas run on a block-averaged
    copy and are interpolated back bilinearly (the blur is far wider than the averaging block)."""
    if sigma_px < 0.3:
        return image
    if sigma_px > 12.0:
        factor = max(1, int(sigma_px // 4))
        h, w = image.shape
        small = F.avg_pool2d(image[None, None], factor, ceil_mode=True, count_include_pad=False)[0, 0]
        small = gaussian_blur(small, math.sqrt(max(sigma_px**2 - factor**2 / 12.0, 1.0)) / factor)
        # bilinear, not bicubic: no overshoot, so a blurred count stays >= 0 next to a collimator edge
        return F.interpolate(small[None, None], size=(h, w), mode="bilinear", align_corners=False)[0, 0]
    return _blur_1d(_blur_1d(image, sigma_px, 0), sigma_px, 1)


def focal_spot_blur(image: torch.Tensor, focal_spot_mm: float, magnification: float, pixel_mm: float) -> torch.Tensor:
    """Penumbra of a focal spot of nominal size `focal_spot_mm` for an object at `magnification` (SID/SOD):
    width f (M - 1) at the detector, taken as the FWHM of a Gaussian (real spots are closer to a 2-peaked
    or uniform profile, and IEC 60336 lets the measured size exceed the nominal by 40-50 %: not modelled)."""
    fwhm_mm = focal_spot_mm * max(magnification - 1.0, 0.0)
    return gaussian_blur(image, fwhm_mm * GAUSS_SIGMA_PER_FWHM / pixel_mm)


def mtf_sigma_mm(mtf50_lp_mm: float) -> float:
    """Gaussian PSF sigma whose MTF exp(-2 pi^2 sigma^2 f^2) is 0.5 at `mtf50_lp_mm`."""
    return math.sqrt(math.log(2.0) / 2.0) / (math.pi * mtf50_lp_mm)


def detector_mtf(image: torch.Tensor, mtf50_lp_mm: float, pixel_mm: float) -> torch.Tensor:
    """Scintillator light spread as a Gaussian MTF with MTF(mtf50_lp_mm) = 0.5."""
    return gaussian_blur(image, mtf_sigma_mm(mtf50_lp_mm) / pixel_mm)


# --- 4. noise -------------------------------------------------------------------------------------------

def gain_pattern(shape: tuple[int, int], relative_std: float, generator: torch.Generator,
                 cell_px: int = 32) -> torch.Tensor:
    """A fixed, smooth multiplicative gain pattern (1 + g), std(g) = relative_std: white noise on a coarse
    grid of `cell_px` pixels, bicubically interpolated (residual of flat-field correction)."""
    h, w = shape
    device = generator.device
    coarse = torch.randn(1, 1, h // cell_px + 2, w // cell_px + 2, generator=generator, device=device,
                         dtype=torch.float64)
    g = F.interpolate(coarse, size=(h, w), mode="bicubic", align_corners=True)[0, 0]
    g = (g - g.mean()) / g.std().clamp(min=1e-12)
    return 1.0 + relative_std * g


def add_noise(quanta: torch.Tensor, signal: torch.Tensor, generator: torch.Generator,
              detector: DetectorModel, blur: Callable[[torch.Tensor], torch.Tensor] | None = None) -> torch.Tensor:
    """Noisy signal (keV absorbed). Quantum noise: the absorbed count is Poisson (torch.poisson, exact at any
    count) and each quantum carries the pixel's mean absorbed energy signal/quanta; the energy spread adds a
    Swank-like excess, folded into `noise_factor` (fluctuation scaled by it). `blur` (e.g. the detector MTF)
    acts on the quantum-noisy image, as light spread in CsI follows absorption. Then electronic noise
    (`electronic_noise` quanta at the image's mean energy per quantum) and the fixed gain pattern. All draws
    come from `generator`, in a fixed order: deterministic for a given generator state.  Without a generator
    (a noiseless rendering) the expected signal is returned, blurred."""
    if generator is None:
        s = signal.to(torch.float64)
        return blur(s) if blur is not None else s
    device = generator.device
    q = quanta.to(device=device, dtype=torch.float64).clamp(min=0.0)   # a count; rounding may leave -1e-12
    s = signal.to(device=device, dtype=torch.float64)
    per_quantum = torch.where(q > 0, s / q.clamp(min=1e-30), torch.zeros_like(s))
    counts = torch.poisson(q, generator=generator)
    noisy = s + (counts - q) * per_quantum * detector.noise_factor
    if blur is not None:
        noisy = blur(noisy)
    e_ref = float(s.sum() / q.sum().clamp(min=1e-30))
    noisy = noisy + torch.randn(q.shape, generator=generator, device=device, dtype=torch.float64) * (
        detector.electronic_noise * e_ref)
    cell_px = max(8, int(round(GAIN_CELL_MM / detector.pixel_mm)))
    return noisy * gain_pattern(tuple(q.shape), detector.gain_nonuniformity, generator, cell_px)


# --- laterality marker ------------------------------------------------------------------------------------

_GLYPHS = {  # 5 x 7 bitmaps, '#' = lead
    "L": ["#....", "#....", "#....", "#....", "#....", "#....", "#####"],
    "R": ["####.", "#...#", "#...#", "####.", "#.#..", "#..#.", "#...#"],
}


def laterality_marker(rows: int, cols: int, pixel_mm: float, letter: str, corner: str,
                      height_mm: float = 10.0, margin_mm: float = 10.0) -> tuple[int, int, np.ndarray]:
    """(row0, col0, mask): a lead letter `letter` ('L' or 'R') `height_mm` tall placed `margin_mm` inside
    `corner` ('top_left', 'top_right', 'bottom_left', 'bottom_right') of a rows x cols detector."""
    glyph = _GLYPHS.get(letter.upper()) if letter.upper() in ("L", "R", "LEFT", "RIGHT") else None
    glyph = _GLYPHS.get(letter.upper()[:1]) if glyph is None and letter else glyph
    if glyph is None or letter.upper() not in ("L", "R", "LEFT", "RIGHT"):
        raise ValueError("letter must be 'L' or 'R'")
    cell = max(1, int(round(height_mm / pixel_mm / len(glyph))))
    base = np.array([[c == "#" for c in line] for line in glyph], dtype=bool)
    mask = np.kron(base, np.ones((cell, cell), dtype=bool))
    margin = int(round(margin_mm / pixel_mm))
    h, w = mask.shape
    if h + 2 * margin > rows or w + 2 * margin > cols:
        raise ValueError("marker does not fit on the detector")
    vertical, _, horizontal = corner.partition("_")
    if vertical not in ("top", "bottom") or horizontal not in ("left", "right"):
        raise ValueError("corner must be top_left, top_right, bottom_left or bottom_right")
    row0 = margin if vertical == "top" else rows - margin - h
    col0 = margin if horizontal == "left" else cols - margin - w
    return row0, col0, mask


def marker_areal(rows: int, cols: int, pixel_mm: float, letter: str, corner: str, height_mm: float = 10.0,
                 margin_mm: float = 10.0, device=None) -> torch.Tensor:
    """[rows, cols] lead areal density (g/cm^2) of the marker: MARKER_AREAL_G_CM2 (1 mm Pb) under the glyph.
    Add it to a 'lead' channel of `areal` (materials list gets 'lead')."""
    row0, col0, mask = laterality_marker(rows, cols, pixel_mm, letter, corner, height_mm, margin_mm)
    out = torch.zeros(rows, cols, dtype=torch.float32, device=device)
    m = torch.as_tensor(mask, device=device)
    out[row0:row0 + mask.shape[0], col0:col0 + mask.shape[1]] = m.float() * MARKER_AREAL_G_CM2
    return out


def with_marker(areal: torch.Tensor, materials: list[str], marker: torch.Tensor) -> tuple[torch.Tensor, list[str]]:
    """`areal`/`materials` with the marker's lead added (to an existing 'lead' channel or a new one)."""
    materials = list(materials)
    if "lead" in materials:
        i = materials.index("lead")
        areal = areal.clone()
        areal[i] += marker.to(areal)
        return areal, materials
    return torch.cat([areal, marker.to(areal)[None]]), materials + ["lead"]


# --- 5. processing ----------------------------------------------------------------------------------------

LUT_GAIN = {"default": 5.0, "soft": 3.0, "high_contrast": 8.0, "linear": 0.0}
USM_SCALES = ((2.0, 0.6), (20.0, 0.4))  # (sigma mm, gain): fine edge enhancement, mid-scale equalisation


def process(signal: torch.Tensor, flat_signal: torch.Tensor, detector: DetectorModel,
            lut: str = "default", background_threshold: float = 0.05,
            field: torch.Tensor | None = None) -> np.ndarray:
    """Delivered image (uint16, `bits_stored` bits, MONOCHROME2: attenuation bright). Steps: p = -ln(S/flat);
    anatomy = p > `background_threshold` (drops direct exposure; all pixels if under 1 %); unsharp masking
    p' = p + sum_k g_k (p - G_sigma_k p) with USM_SCALES; window [1st, 99.5th] percentile of p' over the
    anatomy; LUT: a sigmoid of gain LUT_GAIN[lut] over the window (linear for 'linear'), rescaled to the
    full range; rounded. `field` (bool [H, W], the collimated field) limits the window to it; outside it
    the unexposed detector comes out white, as behind real collimator blades. Deterministic."""
    if lut not in LUT_GAIN:
        raise ValueError(f"lut must be one of {sorted(LUT_GAIN)}")
    s = signal.to(torch.float64)
    flat = flat_signal.to(s)
    p = -torch.log(s.clamp(min=1e-6 * float(flat.max())) / flat.clamp(min=1e-30))
    enhanced = p.clone()
    for sigma_mm, gain in USM_SCALES:
        enhanced = enhanced + gain * (p - gaussian_blur(p, sigma_mm / detector.pixel_mm))
    anatomy = p > background_threshold
    if field is not None:
        anatomy = anatomy & field.to(device=p.device, dtype=torch.bool)
    values = enhanced[anatomy] if int(anatomy.sum()) > 0.01 * p.numel() else enhanced.flatten()
    if values.numel() > 1_000_000:  # percentiles on a fixed, regular subsample (deterministic, bounded cost)
        values = values[:: values.numel() // 1_000_000 + 1]
    lo, hi = torch.quantile(values, torch.tensor([0.01, 0.995], dtype=values.dtype, device=values.device))
    x = ((enhanced - lo) / (hi - lo).clamp(min=1e-6)).clamp(-0.5, 1.5)
    gain = LUT_GAIN[lut]
    if gain > 0:
        y = torch.sigmoid(gain * (x - 0.5))
        y0, y1 = 1.0 / (1.0 + math.exp(gain / 2.0)), 1.0 / (1.0 + math.exp(-gain / 2.0))
        y = (y - y0) / (y1 - y0)
    else:
        y = x
    top = 2**detector.bits_stored - 1
    return torch.round(y.clamp(0.0, 1.0) * top).to(torch.int32).cpu().numpy().astype(np.uint16)


# --- whole chain -------------------------------------------------------------------------------------------

def render_radiograph(areal: torch.Tensor, materials: list[str], spectrum: Spectrum, *, mas: float,
                      sid_mm: float, generator: torch.Generator, detector: DetectorModel | None = None,
                      grid_ratio: float = 0.0, focal_spot_mm: float = 0.6, magnification: float | None = None,
                      sod_mm: float | None = None, kvp: float | None = None,
                      heel: torch.Tensor | np.ndarray | None = None, collimator: torch.Tensor | None = None,
                      lut: str = "default", exclude: torch.Tensor | None = None) -> dict:
    """Primary -> scatter -> grid -> focal-spot blur -> quantum noise -> detector MTF -> electronic noise and
    gain -> processing. `areal` [M, H, W] g/cm^2 (add the marker's lead first, e.g. `with_marker`).
    Magnification for the focal-spot penumbra: `magnification`, else sid/sod, else 1.1. `kvp`, if given,
    must equal the spectrum's. `collimator` (bool [H, W]) blanks the beam outside the field (the flat field is
    the uncollimated gain calibration; scatter from inside still spills out). The flat field carries the heel
    (as a gain calibration at the same geometry does), so the delivered image shows the heel in its noise. Returns image (np.uint16) and
    float64 tensors primary and scatter (after the grid, keV per pixel), flat, noisy_signal,
    water_equivalent_mm, plus floats spr_mean (scatter/primary after the grid over pixels with > 5 mm
    water-equivalent), mean_energy_kev (spectrum), grid_primary_transmission."""
    detector = detector or DetectorModel()
    if kvp is not None and abs(kvp - spectrum.kvp) > 1e-6:
        raise ValueError(f"kvp {kvp} differs from the spectrum's {spectrum.kvp}")
    if magnification is None:
        magnification = sid_mm / sod_mm if sod_mm else 1.1
    px = detector.pixel_mm
    exposure = expected_quanta(areal, materials, spectrum, mas, sid_mm, px, heel, detector)
    signal, quanta = exposure.signal, exposure.quanta
    if collimator is not None:
        open_field = collimator.to(device=signal.device, dtype=signal.dtype)
        signal, quanta = signal * open_field, quanta * open_field
    wet = water_equivalent_mm(areal, materials, spectrum).to(torch.float64)
    tp, _ = grid_transmission(grid_ratio)
    scattered = scatter(signal, wet, spectrum.kvp, grid_ratio, px)
    primary = focal_spot_blur(signal * tp, focal_spot_mm, magnification, px)
    primary_q = focal_spot_blur(quanta * tp, focal_spot_mm, magnification, px)
    # scatter counted at the open beam's mean absorbed energy per quantum (its own, softer spectrum: not modelled)
    per_quantum = exposure.flat_signal.sum() / exposure.flat_quanta.sum().clamp(min=1e-30)
    total_signal = primary + scattered
    total_quanta = primary_q + scattered / per_quantum
    mtf = lambda img: detector_mtf(img, detector.mtf50_lp_mm, px)  # noqa: E731
    noisy = add_noise(total_quanta, total_signal, generator, detector, blur=mtf)
    flat = exposure.flat_signal.to(noisy.device) * tp  # gain calibration with the grid in place, no patient
    field = collimator
    if exclude is not None:   # what vendor processing recognises and leaves out of its window (the lead marker)
        keep = ~exclude.to(device=noisy.device, dtype=torch.bool)
        field = keep if field is None else field.to(device=noisy.device, dtype=torch.bool) & keep
    image = process(noisy, flat, detector, lut=lut, field=field)
    anatomy = (wet > 5.0).to(primary.device)
    if collimator is not None:
        anatomy = anatomy & collimator.to(device=primary.device, dtype=torch.bool)
    spr_map = scattered / primary.clamp(min=1e-30)
    spr_mean = float(spr_map[anatomy].mean()) if bool(anatomy.any()) else 0.0
    return {"image": image, "primary": primary, "scatter": scattered, "flat": flat, "noisy_signal": noisy,
            "water_equivalent_mm": wet, "spr_mean": spr_mean, "mean_energy_kev": spectrum.mean_energy_kev,
            "grid_primary_transmission": tp}
