"""Texture features of a 2-D lung patch: GLCM statistics and first-order moments of the windowed values.

Patches (about 24 mm, at least 6 voxels, at least 80 % lung, on the common grid) are windowed to
the lung window (W 1500, L -600) and quantised to 32 grey levels.  Features: GLCM contrast,
homogeneity, energy, correlation (distance 1, four directions averaged; skimage graycomatrix)
and mean, SD, skewness, kurtosis, entropy of the windowed values.  Choosing the patches is
`sampling.py`'s job; comparing the feature sets is `metrics.py`'s and `discriminator.py`'s.
"""

from __future__ import annotations

import math

import numpy as np

LUNG_WINDOW = (-1350.0, 150.0)   # W 1500, L -600


GREY_LEVELS = 32


FEATURES = ("glcm_contrast", "glcm_homogeneity", "glcm_energy", "glcm_correlation",
            "mean", "std", "skewness", "kurtosis", "entropy")


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
