"""Distances between two samples: Wasserstein-1, Kolmogorov-Smirnov, Frechet; and a sample's summary.

Pure functions of the arrays they are given (CT numbers of a tissue, rows of texture features):
no sampling, no thresholds, no CheckResults.
"""

from __future__ import annotations

import numpy as np


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


def zscore(x: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """(x - mean) / std per column; a constant column (std 0) is only centred."""
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
        a, b = zscore(a, mean, std), zscore(b, mean, std)
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
