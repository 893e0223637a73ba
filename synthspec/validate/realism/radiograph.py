"""Realism of synthetic projection radiographs against real ones: intensity histogram, NPS, edge sharpness.

    from synthspec.validate.realism.radiograph import compare, measure
    result = compare([hand_image], pitch=0.143, reference="RG3")   # bone-bright 2-D arrays, pitch in mm

Each metric is a function of a 2-D bone-bright image (higher = more attenuation, as a MONOCHROME2
DX file; a MONOCHROME1 file is inverted first) and its pixel pitch in mm, computed the same way on
both sides.  The real side is the pydicom-data CR pair (`synthspec.validate.reference.radiographs`:
RG1 PA chest, RG3 AP lower leg, both at an assumed 0.2 mm detector pitch).

* Anatomy mask (`anatomy_mask`): the collimator shutter (the image's extreme value over >= 1 % of
  the image, as RG3's WHITE border) dilated by 3 mm; the direct-exposure background: pixels of the
  5 x 5 mean below a two-stage Otsu threshold (Otsu of the values below the first Otsu split)
  that are connected to the image border, dilated by 1 mm; then anatomy components other than the
  largest whose median distance to the shutter is under 20 mm (the unexposed band along its
  edge, as in RG3) and components under 10 % of the largest (a lead laterality marker, labels)
  are dropped.
* Normalisation: every metric works on (image - p1) / (p99 - p1), the anatomy's 1-99 % range, so
  detectors, bit depths and processing with different grey scales are comparable; the values
  are dimensionless.
* Intensity histogram (`intensity_histogram`): the normalised anatomy values in 64 bins over
  [0, 1] (clipped); two histograms are compared by Wasserstein-1 (in units of the 1-99 % range)
  and the Jensen-Shannon divergence (base 2, 0..1).  Identical images give 0 for both.
* Noise power spectrum (`noise_power_spectrum`): square ROIs of side `roi_mm` (12.8 mm: 64
  pixels at 0.2 mm) tiling the image, kept when wholly inside the anatomy; each detrended by its
  least-squares second-order polynomial surface (radiographs have strong anatomical trends; the
  NPS below about 2/L depends on that choice); the flattest quarter (smallest residual variance,
  at least 8 ROIs) is kept ("flat-ish" regions: soft tissue, not bone edges);
  NPS = |DFT|^2 dx dy / N^2 (mm^2, the intensity being the dimensionless normalised value),
  averaged, radially binned with bin width 1/L (DC excluded, `noise.radial_nps`).  The fitted
  slope is the least-squares slope of log10 NPS against log10 f over 2/L .. 0.9 Nyquist (0 for
  white noise, about -2 to -3 for anatomical "1/f^beta" background), and `high_level` the mean
  NPS over 0.5-0.9 Nyquist (quantum noise dominates there).  Two spectra are compared on the
  common band (up to the smaller Nyquist): slope difference, log10 ratio of the high-frequency
  level in the common band, and the Wasserstein-1 distance (lp/mm) of the unit-sum curves.
* Edge sharpness (`edge_rise_distance`): the `n_edges` strongest gradient maxima (Gaussian
  gradient at sigma 1 pixel, one per 2 mm neighbourhood) inside the anatomy eroded by
  half_length + 1 mm (so skin/air, shutter and marker edges are out, bone/soft-tissue edges in);
  at each, 7 parallel profiles (1-pixel apart, along the tangent) sampled across the edge along
  the gradient at pitch/4 over +-`half_length_mm` (2 mm) are averaged; low = 5th percentile of
  the dark half, high = 95th percentile of the bright half; the 10-90 % rise distance (mm) is
  between the crossings nearest the centre.  The median (and quartiles) over the edges is the
  figure; a Gaussian-blurred step of SD sigma gives 2.563 sigma.  An MTF50 is not computed.

`compare` returns, per metric, the synthetic figures, the reference's, their distance, and the
same distance between the two real radiographs (RG1 vs RG3) as the yardstick: a synthetic image
whose distance to a real one is within the real-vs-real distance differs from it no more than
two real radiographs of different anatomy and systems do.  Figures measured on RG1/RG3 are in
tests/test_radiograph_realism.py.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any, Iterable

import numpy as np

from synthspec.validate.realism.noise import nps_edges, nps_shape_distance, radial_nps

HIST_BINS = 64
ROI_MM = 12.8
HALF_LENGTH_MM = 2.0
N_EDGES = 200
GAUSS_10_90 = 2.0 * 1.2815515655446004
"""10-90 % rise distance of a Gaussian-blurred step, in units of the Gaussian's SD."""


# --------------------------------------------------------------------------- anatomy and normalisation


def _otsu(values: np.ndarray) -> float:
    from skimage.filters import threshold_otsu

    values = np.asarray(values, float)
    if values.size == 0 or values.min() == values.max():
        return float(values.min()) if values.size else 0.0
    return float(threshold_otsu(values))


def _as_image(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image, dtype=np.float64)
    if image.ndim != 2 or min(image.shape) < 8:
        raise ValueError(f"expected a 2-D radiograph of at least 8 x 8 pixels, got shape {image.shape}")
    if not np.isfinite(image).all():
        raise ValueError("the radiograph holds NaN or infinite values")
    return image


def _dilate(mask: np.ndarray, radius: float) -> np.ndarray:
    """Pixels within `radius` pixels (Euclidean) of `mask`."""
    from scipy.ndimage import distance_transform_edt

    if radius <= 0 or not mask.any():
        return mask.copy()
    return distance_transform_edt(~mask) <= radius


def _erode(mask: np.ndarray, radius: float) -> np.ndarray:
    """Pixels farther than `radius` pixels from anything outside `mask` (the image border counts as outside)."""
    from scipy.ndimage import distance_transform_edt

    padded = np.pad(mask, 1, constant_values=False)
    return (distance_transform_edt(padded) > radius)[1:-1, 1:-1]


def anatomy_mask(image: np.ndarray, pitch_mm: float) -> np.ndarray:
    """Boolean mask of the imaged anatomy: no collimator shutter, no direct-exposure background, no marker."""
    from scipy import ndimage as ndi
    from scipy.ndimage import distance_transform_edt

    image = _as_image(image)
    pitch = float(pitch_mm)
    shutter = np.zeros(image.shape, bool)
    for extreme in (image.max(), image.min()):
        at = image == extreme
        if at.mean() >= 0.01:
            shutter |= at
    if shutter.any():
        shutter = _dilate(shutter, 3.0 / pitch)
    values = image[~shutter]
    if values.size == 0:
        return np.zeros(image.shape, bool)
    first = _otsu(values)
    below = values[values < first]
    threshold = _otsu(below) if below.size else first
    low = (ndi.uniform_filter(image, 5, mode="nearest") < threshold) & ~shutter
    labels, _n = ndi.label(low)
    edge_labels = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    background = np.isin(labels, edge_labels[edge_labels > 0])
    if background.any():
        background = _dilate(background, 1.0 / pitch)
    anatomy = ~shutter & ~background
    labels, n = ndi.label(anatomy)
    if n > 1 and shutter.any():  # the unexposed band along the shutter edge
        near = distance_transform_edt(~shutter) * pitch
        typical = np.asarray(ndi.median(near, labels, index=np.arange(1, n + 1)))
        sizes = np.bincount(labels.ravel())[1:]
        typical[int(np.argmax(sizes))] = np.inf  # the largest component is the anatomy, wherever it lies
        anatomy = np.isin(labels, np.flatnonzero(typical > 20.0) + 1)
        labels, n = ndi.label(anatomy)
    if n > 1:
        sizes = np.bincount(labels.ravel())[1:]
        keep = np.flatnonzero(sizes >= 0.1 * sizes.max()) + 1
        anatomy = np.isin(labels, keep)
    return anatomy


def _mask(image: np.ndarray, pitch_mm: float, mask: np.ndarray | None) -> np.ndarray:
    if mask is None:
        mask = anatomy_mask(image, pitch_mm)
    mask = np.asarray(mask, bool)
    if mask.shape != image.shape:
        raise ValueError(f"mask shape {mask.shape} differs from the image's {image.shape}")
    if mask.sum() < 100:
        raise ValueError("the radiograph has fewer than 100 anatomy pixels to measure")
    return mask


def normalise(image: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, float, float]:
    """(image - p1) / (p99 - p1) over the anatomy `mask`; returns (normalised, p1, p99)."""
    p1, p99 = np.percentile(image[mask], [1, 99])
    span = float(p99 - p1) if p99 > p1 else 1.0
    return (image - p1) / span, float(p1), float(p99)


# --------------------------------------------------------------------------- intensity histogram


def intensity_histogram(image: np.ndarray, pitch_mm: float, mask: np.ndarray | None = None,
                        bins: int = HIST_BINS) -> dict[str, Any]:
    """Histogram (unit sum) of the anatomy's normalised values over [0, 1] in `bins` bins."""
    image = _as_image(image)
    mask = _mask(image, pitch_mm, mask)
    norm, p1, p99 = normalise(image, mask)
    values = np.clip(norm[mask], 0.0, 1.0)
    counts, edges = np.histogram(values, bins=int(bins), range=(0.0, 1.0))
    return {"edges": edges, "histogram": counts / counts.sum(), "p1": p1, "p99": p99,
            "median": float(np.median(values)), "n": int(values.size),
            "anatomy_fraction": float(mask.mean())}


def histogram_distance(a: dict | np.ndarray, b: dict | np.ndarray) -> dict[str, float]:
    """Wasserstein-1 (units of the 1-99 % range) and Jensen-Shannon divergence (base 2) of two histograms."""
    pa = np.asarray(a["histogram"] if isinstance(a, dict) else a, float)
    pb = np.asarray(b["histogram"] if isinstance(b, dict) else b, float)
    if pa.shape != pb.shape:
        raise ValueError(f"histograms of {pa.size} and {pb.size} bins cannot be compared")
    pa, pb = pa / pa.sum(), pb / pb.sum()
    w1 = float(np.abs(np.cumsum(pa) - np.cumsum(pb)).sum() / pa.size)
    m = 0.5 * (pa + pb)

    def kl(p):
        keep = p > 0
        return float(np.sum(p[keep] * np.log2(p[keep] / m[keep])))

    return {"wasserstein": w1, "js_divergence": max(0.5 * kl(pa) + 0.5 * kl(pb), 0.0)}


# --------------------------------------------------------------------------- noise power spectrum


def _poly_design(n: int) -> np.ndarray:
    yy, xx = np.mgrid[0:n, 0:n].astype(float)
    yy, xx = (yy - (n - 1) / 2) / n, (xx - (n - 1) / 2) / n
    return np.column_stack([np.ones(n * n), yy.ravel(), xx.ravel(), (yy * yy).ravel(), (xx * xx).ravel(),
                            (yy * xx).ravel()])


def _slope(f: np.ndarray, nps: np.ndarray, lo: float, hi: float) -> float | None:
    keep = (f >= lo) & (f <= hi) & (nps > 0)
    if keep.sum() < 3:
        return None
    return float(np.polyfit(np.log10(f[keep]), np.log10(nps[keep]), 1)[0])


def noise_power_spectrum(image: np.ndarray, pitch_mm: float, mask: np.ndarray | None = None,
                         roi_mm: float = ROI_MM, flat_fraction: float = 0.25, min_rois: int = 8) -> dict[str, Any]:
    """Radially averaged NPS (mm^2, of the normalised image) of the flattest anatomy ROIs, and its log-log slope."""
    image = _as_image(image)
    pitch = float(pitch_mm)
    mask = _mask(image, pitch, mask)
    norm, _p1, _p99 = normalise(image, mask)
    n = int(round(roi_mm / pitch))
    if n < 8 or n > min(image.shape):
        raise ValueError(f"an ROI of {roi_mm} mm is {n} pixels at {pitch} mm: needs 8 .. {min(image.shape)}")
    ny, nx = image.shape[0] // n, image.shape[1] // n
    tiles = norm[:ny * n, :nx * n].reshape(ny, n, nx, n).swapaxes(1, 2).reshape(-1, n * n)
    inside = mask[:ny * n, :nx * n].reshape(ny, n, nx, n).swapaxes(1, 2).reshape(-1, n * n).all(axis=1)
    tiles = tiles[inside]
    if tiles.shape[0] < 1:
        raise ValueError(f"no {roi_mm} mm ROI lies wholly inside the anatomy")
    design = _poly_design(n)
    coef = np.linalg.lstsq(design, tiles.T, rcond=None)[0]
    residual = tiles - (design @ coef).T
    variance = residual.var(axis=1)
    count = min(tiles.shape[0], max(int(min_rois), int(math.ceil(flat_fraction * tiles.shape[0]))))
    chosen = residual[np.argsort(variance, kind="stable")[:count]].reshape(-1, n, n)
    power = (np.abs(np.fft.fft2(chosen)) ** 2).mean(axis=0) * pitch * pitch / (n * n)
    nyquist = 0.5 / pitch
    width = 1.0 / (n * pitch)
    edges = nps_edges(width, nyquist)
    edges = edges[edges <= nyquist + 0.5 * width]
    f = 0.5 * (edges[:-1] + edges[1:])
    curve = radial_nps(power, (pitch, pitch), edges)
    band = (2.0 * width, 0.9 * nyquist)
    high = (f >= 0.5 * nyquist) & (f <= 0.9 * nyquist)
    return {"f": f, "nps": curve, "slope": _slope(f, curve, *band), "band": band,
            "high_level": float(curve[high].mean()) if high.any() else None, "nyquist": nyquist,
            "roi_pixels": n, "n_rois": int(count), "n_candidates": int(tiles.shape[0])}


def nps_distance(a: dict, b: dict) -> dict[str, float | None]:
    """Slope difference, log10 high-level ratio and shape W1 (lp/mm) on the common frequency band."""
    nyquist = min(a["nyquist"], b["nyquist"])
    width = max(a["f"][1] - a["f"][0], b["f"][1] - b["f"][0])
    f = np.arange(width, 0.9 * nyquist + 1e-12, width)
    if f.size < 3:
        return {"slope_difference": None, "log10_high_ratio": None, "shape_w1_per_mm": None}

    def on(side):
        return 10 ** np.interp(np.log10(f), np.log10(side["f"]), np.log10(np.maximum(side["nps"], 1e-300)))

    ca, cb = on(a), on(b)
    band = (2.0 * width, 0.9 * nyquist)
    sa, sb = _slope(f, ca, *band), _slope(f, cb, *band)
    high = f >= 0.5 * nyquist
    shape = nps_shape_distance(f, ca, cb)
    return {"slope_difference": None if sa is None or sb is None else sa - sb,
            "log10_high_ratio": float(np.log10(ca[high].mean() / cb[high].mean())) if high.any() else None,
            "shape_w1_per_mm": shape["w1_per_mm"], "common_band_per_mm": (float(f[0]), float(f[-1]))}


# --------------------------------------------------------------------------- edge sharpness


def _crossing(t: np.ndarray, p: np.ndarray, level: float, centre: int, leftward: bool) -> float | None:
    """Position where the profile crosses `level`, searching from the centre outward."""
    if leftward:
        for i in range(centre, 0, -1):
            if p[i - 1] <= level <= p[i]:
                d = p[i] - p[i - 1]
                return float(t[i - 1] + (level - p[i - 1]) / d * (t[i] - t[i - 1])) if d > 0 else float(t[i])
    else:
        for i in range(centre, len(p) - 1):
            if p[i] <= level <= p[i + 1]:
                d = p[i + 1] - p[i]
                return float(t[i] + (level - p[i]) / d * (t[i + 1] - t[i])) if d > 0 else float(t[i])
    return None


def edge_rise_distance(image: np.ndarray, pitch_mm: float, mask: np.ndarray | None = None,
                       n_edges: int = N_EDGES, half_length_mm: float = HALF_LENGTH_MM) -> dict[str, Any]:
    """10-90 % rise distance (mm) across the strongest interior edges: median, quartiles, count."""
    from scipy import ndimage as ndi

    image = _as_image(image)
    pitch = float(pitch_mm)
    mask = _mask(image, pitch, mask)
    norm, _p1, _p99 = normalise(image, mask)
    gy = ndi.gaussian_filter(norm, 1.0, order=(1, 0), mode="nearest")
    gx = ndi.gaussian_filter(norm, 1.0, order=(0, 1), mode="nearest")
    magnitude = np.hypot(gy, gx)
    interior = _erode(mask, (half_length_mm + 1.0) / pitch)
    peaks = (magnitude == ndi.maximum_filter(magnitude, size=max(3, int(round(2.0 / pitch))))) & interior
    peaks &= magnitude > 0
    where = np.flatnonzero(peaks.ravel())
    if where.size == 0:
        return {"median_mm": None, "p25_mm": None, "p75_mm": None, "n": 0, "widths_mm": np.zeros(0)}
    order = where[np.argsort(-magnitude.ravel()[where], kind="stable")[:int(n_edges)]]
    rows, cols = np.unravel_index(order, image.shape)
    step = 0.25
    half = half_length_mm / pitch
    t = np.arange(-half, half + 1e-9, step)
    centre = int(np.argmin(np.abs(t)))
    offsets = np.arange(-3, 4, dtype=float)
    widths = []
    for r, c in zip(rows, cols):
        g = np.array([gy[r, c], gx[r, c]])
        u = g / np.hypot(*g)
        v = np.array([-u[1], u[0]])
        ys = r + t[None, :] * u[0] + offsets[:, None] * v[0]
        xs = c + t[None, :] * u[1] + offsets[:, None] * v[1]
        profile = ndi.map_coordinates(norm, [ys.ravel(), xs.ravel()], order=1, mode="nearest")
        profile = profile.reshape(len(offsets), len(t)).mean(axis=0)
        low = np.percentile(profile[:centre], 5)
        high = np.percentile(profile[centre + 1:], 95)
        if not high > low:
            continue
        t10 = _crossing(t, profile, low + 0.1 * (high - low), centre, leftward=True)
        t90 = _crossing(t, profile, low + 0.9 * (high - low), centre, leftward=False)
        if t10 is None or t90 is None:
            continue
        widths.append((t90 - t10) * pitch)
    widths = np.asarray(widths, float)
    if widths.size == 0:
        return {"median_mm": None, "p25_mm": None, "p75_mm": None, "n": 0, "widths_mm": widths}
    p25, p50, p75 = np.percentile(widths, [25, 50, 75])
    return {"median_mm": float(p50), "p25_mm": float(p25), "p75_mm": float(p75), "n": int(widths.size),
            "widths_mm": widths}


def edge_distance(a: dict, b: dict) -> dict[str, float | None]:
    if not a.get("median_mm") or not b.get("median_mm"):
        return {"difference_mm": None, "ratio": None}
    return {"difference_mm": a["median_mm"] - b["median_mm"], "ratio": a["median_mm"] / b["median_mm"]}


# --------------------------------------------------------------------------- all three, and the comparison


def measure(image: np.ndarray, pitch_mm: float, mask: np.ndarray | None = None) -> dict[str, Any]:
    """All three metrics of one bone-bright radiograph."""
    image = _as_image(image)
    mask = _mask(image, pitch_mm, mask)
    return {"pitch_mm": float(pitch_mm), "histogram": intensity_histogram(image, pitch_mm, mask),
            "nps": noise_power_spectrum(image, pitch_mm, mask), "edge": edge_rise_distance(image, pitch_mm, mask)}


def _pool(measured: list[dict]) -> dict[str, Any]:
    """One set of figures for several images of one pitch: histograms and NPS averaged, edge widths pooled."""
    if len(measured) == 1:
        return measured[0]
    first = measured[0]
    hist = dict(first["histogram"], histogram=np.mean([m["histogram"]["histogram"] for m in measured], axis=0),
                median=float(np.median([m["histogram"]["median"] for m in measured])))
    curve = np.mean([m["nps"]["nps"] for m in measured], axis=0)
    nps = dict(first["nps"], nps=curve, slope=_slope(first["nps"]["f"], curve, *first["nps"]["band"]),
               n_rois=sum(m["nps"]["n_rois"] for m in measured))
    high = (nps["f"] >= 0.5 * nps["nyquist"]) & (nps["f"] <= 0.9 * nps["nyquist"])
    nps["high_level"] = float(curve[high].mean()) if high.any() else None
    widths = np.concatenate([m["edge"]["widths_mm"] for m in measured])
    edge = {"median_mm": None, "p25_mm": None, "p75_mm": None, "n": int(widths.size), "widths_mm": widths}
    if widths.size:
        edge.update(zip(("p25_mm", "median_mm", "p75_mm"), (float(v) for v in np.percentile(widths, [25, 50, 75]))))
    return {"pitch_mm": first["pitch_mm"], "histogram": hist, "nps": nps, "edge": edge, "n_images": len(measured)}


def distances(a: dict, b: dict) -> dict[str, dict]:
    return {"histogram": histogram_distance(a["histogram"], b["histogram"]), "nps": nps_distance(a["nps"], b["nps"]),
            "edge": edge_distance(a["edge"], b["edge"])}


def summary(measured: dict) -> dict[str, Any]:
    """The figures of `measure` without the arrays (for reports and JSON)."""
    h, n, e = measured["histogram"], measured["nps"], measured["edge"]
    return {"pitch_mm": measured["pitch_mm"],
            "histogram": {"median": h["median"], "anatomy_fraction": h["anatomy_fraction"], "n": h["n"]},
            "nps": {"slope": n["slope"], "high_level_mm2": n["high_level"], "n_rois": n["n_rois"],
                    "roi_pixels": n["roi_pixels"], "nyquist_per_mm": n["nyquist"]},
            "edge": {k: e[k] for k in ("median_mm", "p25_mm", "p75_mm", "n")}}


@lru_cache(maxsize=4)
def measure_reference(name: str) -> dict[str, Any]:
    """The metrics of a real radiograph (RG1 or RG3), fetched on first use; cached in this process."""
    from synthspec.validate.reference.radiographs import load_radiograph

    rg = load_radiograph(name)
    out = measure(rg.image, rg.pitch_mm)
    out["notes"] = list(rg.notes)
    out["description"] = rg.description
    return out


def real_vs_real() -> dict[str, dict]:
    """The yardstick: distances between the two real radiographs, RG1 (chest) and RG3 (lower leg)."""
    return distances(measure_reference("RG1"), measure_reference("RG3"))


def compare(synthetic_images: np.ndarray | Iterable[np.ndarray], pitch: float, reference: str = "RG3",
            masks: Iterable[np.ndarray | None] | None = None) -> dict[str, Any]:
    """Each metric for the synthetic image(s), for the real `reference`, their distance, and RG1 vs RG3."""
    if isinstance(synthetic_images, np.ndarray) and synthetic_images.ndim == 2:
        synthetic_images = [synthetic_images]
    images = [_as_image(im) for im in synthetic_images]
    if not images:
        raise ValueError("no synthetic radiograph to compare")
    masks = list(masks) if masks is not None else [None] * len(images)
    synthetic = _pool([measure(im, pitch, m) for im, m in zip(images, masks)])
    real = measure_reference(str(reference).upper())
    return {"reference": str(reference).upper(), "reference_description": real["description"],
            "reference_notes": real["notes"], "pitch_mm": float(pitch), "n_images": len(images),
            "synthetic": summary(synthetic), "real": summary(real), "distance": distances(synthetic, real),
            "real_vs_real": real_vs_real(), "real_vs_real_figures": {"RG1": summary(measure_reference("RG1")),
                                                                     "RG3": summary(measure_reference("RG3"))}}
