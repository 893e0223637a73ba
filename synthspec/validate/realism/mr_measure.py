"""Label-free measurements of one MR magnitude volume: head mask, background noise, tissue classes, SNR, histogram.

    head = head_mask(volume)                               # bool (z, y, x)
    bg = background_stats(volume, head, spacing, phase_axis)
    m = measure_mr(volume, spacing, weighting="pd", phase_axis=2, adc=None)

The same code measures the real series and each synthetic one, so neither side gets labels the
other lacks (the synthetic label-based checks are `mr_checks.py`).  Method:

* Head: Otsu threshold of log(1 + S) over the volume (background and head form two modes), in
  each slice the largest component with its holes filled.
* Background (Rayleigh/noncentral-chi statistics): voxels >= 10 mm (in-plane) from the head and
  >= 2 voxels from the slice border, outside the band the head spans across the phase-encoding
  direction (ghosts replicate the head along phase; with the direction unknown both bands are
  left out), less any stray structure with signal (`drop_structures`: 3 x 3 mean > 4 sigma).  mean/std; Rayleigh predicts sqrt(pi/2)/sqrt(2 - pi/2) = 1.913 (Gudbjartsson &
  Patz, MRM 34:910, 1995); sigma = mean / sqrt(pi/2).  A multi-coil sum-of-squares image has
  noncentral-chi background with a higher ratio; a scanner that zeroes the background shows as
  a zero fraction.
* Tissue classes: the core = head eroded by 10 mm in-plane (scalp, skull, fat out), slices whose
  core is >= 30 % of the largest; three classes at the multi-Otsu thresholds (Otsu 1979; skimage)
  of the core values; class medians named by the weighting: T1: CSF < GM < WM; PD, T2, DWI b~0:
  WM < GM < CSF.  Operational classes (partial volume, vessels and deep grey nuclei fall where
  their signal puts them), the same on both sides; ratios are to the WM class median.
* SNR: WM class median / background sigma.
  Voxels under 0.15 x the core's 90th percentile (bone, air, sinuses left in the core) are dropped
  first.  Named classes are not pure tissues: on the real PD the "wm" (low) class also holds
  partial volume and vessels, so the realism checks compare the same operational classes.
* `within` can restrict the core further (a skull-stripped brain); the realism checks do not use it,
  so both sides are measured alike, non-brain tissue left in the core included.
* Core histogram: S / median of the core in [0, 3) with 0.02 bins, for a Wasserstein-1 distance.
* ADC (diffusion): median ADC in each b~0 class and the core's ADC histogram peak.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

RAYLEIGH_RATIO = math.sqrt(math.pi / 2.0) / math.sqrt(2.0 - math.pi / 2.0)
"""Mean / SD of a Rayleigh distribution: 1.913 (whatever sigma)."""
BACKGROUND_AWAY_MM = 10.0
CORE_MM = 15.0
MIN_CORE_FRACTION = 0.5
TISSUE_FLOOR = 0.15
"""Core voxels darker than 0.15 x the core's 90th percentile (bone, air, sinus) are no tissue class."""
HIST_RANGE = (0.0, 3.0)
HIST_BIN = 0.02
CLASS_ORDER = {"t1": ("csf", "gm", "wm"), "pd": ("wm", "gm", "csf"), "t2": ("wm", "gm", "csf"),
               "dwi": ("wm", "gm", "csf"), "flair": ("csf", "wm", "gm")}
"""Multi-Otsu classes (low, mid, high) named by weighting (PHYSICS.md signal equations with the tissue table)."""


def head_mask(volume: np.ndarray) -> np.ndarray:
    from scipy import ndimage as ndi
    from skimage.filters import threshold_otsu

    v = np.log1p(np.maximum(np.asarray(volume, np.float32), 0.0))
    if v.max() <= v.min():
        return np.zeros(v.shape, bool)
    t = float(threshold_otsu(v[::2, ::2, ::2] if v.size > 2e6 else v))
    smooth = ndi.gaussian_filter(v, sigma=(0, 1, 1))
    out = np.zeros(v.shape, bool)
    for z in range(v.shape[0]):
        lab, n = ndi.label(smooth[z] > t)
        if n == 0:
            continue
        big = lab == (int(np.argmax(np.bincount(lab.ravel())[1:])) + 1)
        out[z] = ndi.binary_fill_holes(ndi.binary_closing(big, iterations=2) | big)
    return out


def background_mask(head: np.ndarray, spacing, phase_axis: int | None, away_mm: float = BACKGROUND_AWAY_MM,
                    border: int = 2) -> np.ndarray:
    """Outside-the-head voxels away from the head and from its phase-direction ghosts."""
    from scipy import ndimage as ndi

    _dz, dy, dx = (float(s) for s in spacing)
    out = np.zeros(head.shape, bool)
    for z in range(head.shape[0]):
        if not head[z].any():
            continue
        far = ndi.distance_transform_edt(~head[z], sampling=(dy, dx)) >= away_mm
        near = ~far
        rows, cols = near.any(axis=1), near.any(axis=0)
        band = np.zeros_like(far)
        if phase_axis in (2, None):   # phase along x: ghosts shifted along x, in the head's rows
            band |= rows[:, None]
        if phase_axis in (1, None):   # phase along y: ghosts in the head's columns
            band |= cols[None, :]
        keep = far & ~band
        keep[:border], keep[-border:], keep[:, :border], keep[:, -border:] = False, False, False, False
        out[z] = keep
    return out


def drop_structures(volume: np.ndarray, where: np.ndarray, factor: float = 4.0, grow: int = 3) -> np.ndarray:
    """`where` less any structure with signal in it (a stray bright object outside the head, a ghost): voxels
    whose in-plane 3 x 3 mean exceeds `factor` x the Rayleigh sigma of `where` (from its median), grown by `grow`
    voxels.  A 3 x 3 mean of pure Rayleigh noise is 1.25 sigma +- 0.22 sigma, so noise itself is never dropped."""
    from scipy import ndimage as ndi

    sigma = rayleigh_sigma_median(np.asarray(volume)[where])
    if not sigma:
        return where
    local = ndi.uniform_filter(np.asarray(volume, np.float32), size=(1, 3, 3))
    bright = ndi.binary_dilation(local > factor * sigma, structure=np.ones((1, 3, 3), bool), iterations=grow)
    return where & ~bright


def rayleigh_stats(values: np.ndarray) -> dict[str, Any]:
    """mean, SD, mean/SD and the sigma of a Rayleigh fit of background magnitudes."""
    x = np.asarray(values, np.float64).ravel()
    if x.size < 2:
        return {"n": int(x.size), "mean": None, "sd": None, "ratio": None, "sigma": None}
    mean, sd = float(x.mean()), float(x.std(ddof=1))
    return {"n": int(x.size), "mean": mean, "sd": sd, "ratio": mean / sd if sd > 0 else None,
            "sigma": mean / math.sqrt(math.pi / 2.0), "zero_fraction": float((x == 0).mean()),
            "expected_ratio": RAYLEIGH_RATIO}


def background_stats(volume, head, spacing, phase_axis: int | None) -> dict[str, Any]:
    where = background_mask(head, spacing, phase_axis)
    if where.sum() < 200:   # a head filling the field: fall back to any far voxel
        where = background_mask(head, spacing, -1)
    where = drop_structures(volume, where)
    out = rayleigh_stats(np.asarray(volume)[where])
    out["phase_axis"] = {1: "y", 2: "x"}.get(phase_axis)
    return out


def core_mask(head: np.ndarray, spacing) -> np.ndarray:
    from scipy import ndimage as ndi

    _dz, dy, dx = (float(s) for s in spacing)
    core = np.zeros(head.shape, bool)
    for z in range(head.shape[0]):
        if head[z].any():
            core[z] = ndi.distance_transform_edt(head[z], sampling=(dy, dx)) >= CORE_MM
    area = core.sum(axis=(1, 2))
    if area.max() > 0:
        core[area < MIN_CORE_FRACTION * area.max()] = False
    return core


def tissue_classes(volume, core, weighting: str) -> dict[str, Any] | None:
    from skimage.filters import threshold_multiotsu

    values = np.asarray(volume, np.float32)[core]
    if values.size < 500 or values.max() <= values.min():
        return None
    floor = TISSUE_FLOOR * float(np.percentile(values, 90))
    values = values[values >= floor]
    if values.size < 500 or values.max() <= values.min():
        return None
    t1, t2 = (float(t) for t in threshold_multiotsu(values, classes=3))
    groups = (values[values < t1], values[(values >= t1) & (values < t2)], values[values >= t2])
    names = CLASS_ORDER.get(weighting, CLASS_ORDER["pd"])
    out: dict[str, Any] = {"thresholds": [t1, t2], "floor": floor, "voxels": int(values.size)}
    for name, g in zip(names, groups):
        out[name] = float(np.median(g)) if g.size else None
        out[f"{name}_fraction"] = float(g.size / values.size)
    wm = out.get("wm")
    out["ratios"] = {k: (out[k] / wm if wm and out.get(k) is not None else None) for k in ("gm", "csf", "wm")}
    return out


def core_histogram(volume, core, scale: float) -> np.ndarray:
    values = np.asarray(volume, np.float32)[core] / float(scale)
    bins = int(round((HIST_RANGE[1] - HIST_RANGE[0]) / HIST_BIN))
    counts, _ = np.histogram(values, bins=bins, range=HIST_RANGE)
    return counts.astype(np.int64)


def adc_map(s0: np.ndarray, s1: np.ndarray, b0: float, b1: float, where: np.ndarray | None = None,
            sigma: float | None = None) -> np.ndarray:
    """ADC (1e-3 mm^2/s) = ln(S_b0 / S_b1) / (b1 - b0), NaN outside `where`.  With `sigma` (the noise SD of
    each quadrature channel) the high-b magnitude is first corrected for its Rician noise floor,
    sqrt(max(S^2 - 2 sigma^2, (sigma/2)^2)) (Gudbjartsson & Patz 1995): without it CSF at b = 1500 sits on the
    noise floor and its ADC reads ~2e-3 instead of ~3e-3."""
    s0 = np.asarray(s0, np.float64)
    s1 = np.asarray(s1, np.float64)
    if sigma:
        s1 = np.sqrt(np.maximum(s1 * s1 - 2.0 * sigma * sigma, (0.5 * sigma) ** 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        adc = np.log(np.maximum(s0, 1e-6) / np.maximum(s1, 1e-6)) / float(b1 - b0) * 1000.0
    if where is not None:
        adc = np.where(where, adc, np.nan)
    return adc.astype(np.float32)


def rayleigh_sigma_median(values: np.ndarray) -> float | None:
    """sigma of a Rayleigh sample from its median (median = sigma sqrt(2 ln 2)): robust to a few ghost voxels."""
    x = np.asarray(values, np.float64).ravel()
    return float(np.median(x) / math.sqrt(2.0 * math.log(2.0))) if x.size >= 50 else None


def histogram_w1(a: np.ndarray, b: np.ndarray, width: float = HIST_BIN) -> float | None:
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.sum() <= 0 or b.sum() <= 0:
        return None
    return float(np.abs(np.cumsum(a / a.sum()) - np.cumsum(b / b.sum())).sum() * width)


def adc_figures(adc: np.ndarray, classes_of: np.ndarray, core: np.ndarray, weighting_classes,
                b0_image: np.ndarray | None = None) -> dict[str, Any]:
    """Median ADC (1e-3 mm^2/s) in each b~0 class and the core's ADC histogram peak."""
    a = np.asarray(adc, np.float32)
    ok = core & np.isfinite(a) & (a > -0.5) & (a < 5.0)
    out: dict[str, Any] = {}
    for code, name in enumerate(weighting_classes):
        sel = ok & (classes_of == code)
        out[f"{name}_adc"] = float(np.median(a[sel])) if sel.sum() >= 50 else None
    if ok.sum() >= 200:   # the purest CSF: the brightest 0.5 % of the b~0 core (ventricles), less partial volume
        s0 = np.asarray(b0_image, np.float32) if b0_image is not None else None
        if s0 is not None:
            top = ok & (s0 >= np.percentile(s0[ok], 99.5))
            out["csf_pure_adc"] = float(np.median(a[top])) if top.sum() >= 20 else None
    if ok.sum() >= 50:
        counts, edges = np.histogram(a[ok], bins=100, range=(0.0, 4.0))
        out["core_adc_peak"] = float(0.5 * (edges[np.argmax(counts)] + edges[np.argmax(counts) + 1]))
        out["core_adc_median"] = float(np.median(a[ok]))
    return out


def measure_mr(volume, spacing, weighting: str, phase_axis: int | None = None, adc: np.ndarray | None = None,
               exclude: np.ndarray | None = None, within: np.ndarray | None = None) -> dict[str, Any]:
    """Every label-free figure of one MR magnitude volume (z, y, x); `exclude`: voxels left out (a lesion);
    `within`: the core is further restricted to these voxels (a synthetic subject's intracranial labels)."""
    volume = np.asarray(volume, np.float32)
    spacing = tuple(float(s) for s in spacing)
    head = head_mask(volume)
    core = core_mask(head, spacing)
    if within is not None:
        core &= np.asarray(within, bool)
    if exclude is not None and np.any(exclude):
        from scipy import ndimage as ndi

        core &= ~ndi.binary_dilation(np.asarray(exclude) > 0)
    out: dict[str, Any] = {"spacing_mm": [round(s, 4) for s in spacing], "weighting": weighting,
                           "head_ml": round(float(head.sum()) * float(np.prod(spacing)) / 1000.0, 1),
                           "core_voxels": int(core.sum())}
    out["background"] = background_stats(volume, head, spacing, phase_axis)
    classes = tissue_classes(volume, core, weighting)
    out["classes"] = classes
    sigma = out["background"].get("sigma")
    wm = classes.get("wm") if classes else None
    out["snr_wm"] = float(wm / sigma) if wm and sigma else None
    median = float(np.median(volume[core])) if core.any() else None
    out["core_median"] = median
    out["histogram"] = core_histogram(volume, core, median) if median else None
    if adc is not None and classes:
        t1, t2 = classes["thresholds"]
        codes = np.where(volume >= classes["floor"], np.digitize(volume, [t1, t2]), -1)
        out["adc"] = adc_figures(adc, codes, core, CLASS_ORDER.get(weighting, CLASS_ORDER["pd"]), volume)
    return out


def summary(measured: dict[str, Any]) -> dict[str, Any]:
    """The figures without the histogram, rounded."""
    def rounded(x):
        if isinstance(x, dict):
            return {k: rounded(v) for k, v in x.items()}
        if isinstance(x, list):
            return [rounded(v) for v in x]
        if isinstance(x, float):
            return round(x, 4)
        return x
    return rounded({k: v for k, v in measured.items() if k != "histogram"})
