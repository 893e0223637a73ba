"""The statistics every validation family shares: ROC AUC, its bootstrap interval, the Wilson interval.

One implementation of each, used by the realism discriminator, the shortcut probes and (for
the Wilson interval) the reader study, so an AUC or an interval means the same thing wherever a
report shows it.  This module draws no random numbers of its own: a caller hands in a generator
from `synthspec.seeds.analysis_rng("bootstrap", ...)`.  It trains no model and reads no
cohort.
"""

from __future__ import annotations

import math

import numpy as np

Z95 = 1.959963984540054
"""The two-sided 95 % standard-normal quantile."""


def auc(scores, positive) -> float:
    """Area under the ROC curve: P(score of a positive > score of a negative), ties counted 1/2.

    The Mann-Whitney statistic U / (n+ n-) computed from mid-ranks; NaN when either class is empty."""
    from scipy.stats import rankdata

    scores = np.asarray(scores, float)
    positive = np.asarray(positive, bool)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(scores)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def bootstrap_auc_ci(scores, positive, rng: np.random.Generator, n_boot: int = 1000,
                     level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of the AUC from a STRATIFIED bootstrap of the given units.

    Each of the `n_boot` resamples draws n+ units with replacement from the positives and,
    independently, n- units from the negatives, so every resample keeps the class sizes of the
    data and has both classes (no resample is dropped); the AUC of each resample is `auc`
    (ties 1/2), and the interval is the (1 - level)/2 and (1 + level)/2 quantiles of those AUCs.
    The units are whatever `scores` holds one value per: patches for the realism discriminator,
    subjects for the shortcut probes.  Units that are not independent (patches of one scan)
    make the interval optimistic; that is the caller's caveat to state.

    Stratified rather than pooled resampling: a pooled resample changes the class balance from
    draw to draw and must discard draws with one class, which biases small samples; with the
    class sizes fixed by the design (a cohort's prevalence, a patch budget) the stratified
    bootstrap is the one that matches how the data were drawn.  (NaN, NaN) when a class is empty.
    """
    scores = np.asarray(scores, float)
    positive = np.asarray(positive, bool)
    pos, neg = scores[positive], scores[~positive]
    if pos.size == 0 or neg.size == 0:
        return float("nan"), float("nan")
    aucs = np.empty(n_boot)
    chunk = max(1, 2_000_000 // (pos.size + neg.size))   # resamples ranked at once: bounded memory
    for start in range(0, n_boot, chunk):
        m = min(chunk, n_boot - start)
        bp = pos[rng.integers(0, pos.size, size=(m, pos.size))]
        bn = neg[rng.integers(0, neg.size, size=(m, neg.size))]
        aucs[start:start + m] = _auc_rows(bp, bn)
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(aucs, [alpha, 1.0 - alpha])
    return float(lo), float(hi)


def _auc_rows(pos: np.ndarray, neg: np.ndarray) -> np.ndarray:
    """`auc` of each row pair (positives row i against negatives row i)."""
    from scipy.stats import rankdata

    ranks = rankdata(np.concatenate([pos, neg], axis=1), axis=1)
    n_pos, n_neg = pos.shape[1], neg.shape[1]
    return (ranks[:, :n_pos].sum(axis=1) - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)


def wilson_interval(correct: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion correct / n (95 % by default)."""
    if n <= 0:
        raise ValueError("the Wilson interval needs n >= 1")
    p = correct / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)
