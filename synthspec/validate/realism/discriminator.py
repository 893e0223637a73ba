"""The real-vs-synthetic patch discriminator: can a simple classifier tell the two apart?

L2-regularised logistic regression (Newton iterations, features standardised on each training
fold), stratified 5-fold cross-validation; AUC by the Mann-Whitney statistic on the out-of-fold
scores; 95 % CI by the stratified bootstrap of those scores (`synthspec.validate.stats`).
Patches of one scan are not independent, so the CI is optimistic; with a single reference scan
the folds cannot be grouped by patient.  The caller hands in the random generator (from
`analysis_rng`); this module extracts no features and sets no threshold.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from synthspec.validate.realism.metrics import zscore
from synthspec.validate.stats import auc, bootstrap_auc_ci


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
    """Out-of-fold AUC (synthetic = positive) of a logistic patch classifier, with a bootstrap 95 % CI.

    `rng` deals the stratified folds, then draws the bootstrap resamples of the out-of-fold scores."""
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
        w = _logistic_fit(zscore(x[train], mean, std), y[train])
        scores[test] = np.hstack([zscore(x[test], mean, std), np.ones((test.sum(), 1))]) @ w
        weights.append(w[:-1])
    value = auc(scores, y == 1)
    lo, hi = bootstrap_auc_ci(scores, y == 1, rng, n_boot=n_boot)
    return {"auc": value, "ci95": (lo, hi), "folds": folds, "n_real": int(len(real)), "n_synthetic": int(len(synthetic)),
            "mean_weights": np.mean(weights, axis=0)}
