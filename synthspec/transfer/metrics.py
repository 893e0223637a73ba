"""Metrics of the transfer test: per case, per site, with bootstrap intervals and paired comparisons.

    segment   Dice of (probability > 0.5) against the mask, per case (both empty counts 1.0); site: the mean
    detect    lesions are connected components of the mask; candidates are the local maxima of the probability
              map above 0.05 (one per 10 mm window), scored by their value.  A candidate hits a lesion when it
              lies in the lesion or within the lesion's equivalent-sphere radius (at least 3 mm) of its centre;
              further hits on a found lesion are neither found again nor false.  Site: lesion-level
              sensitivity at 1, 2 and 4 false positives per scan (FROC points) and their mean; false positives
              per scan at 0.5 (at most 50 candidates a scan: it also judges a lesion-free site)
    classify  AUC (Mann-Whitney, ties halved), accuracy, sensitivity and specificity at probability 0.5

Intervals are percentile bootstraps over the site's cases (`analysis_rng("transfer", ...)`); a site with one
case has no interval (NaN, with a note saying so), and a metric that cannot be computed (AUC with one class,
sensitivity with no lesion) is NaN with its reason.  Paired comparisons resample the same cases for both arms.
This module trains nothing.
"""

from __future__ import annotations

import math

import numpy as np

from synthspec.seeds import analysis_rng

THRESHOLD = 0.5
FP_RATES = (1, 2, 4)
MAX_CANDIDATES = 50
CANDIDATE_FLOOR = 0.05
"""Local maxima at or below this probability are not candidates."""
PEAK_WINDOW_MM = 10.0
"""Two candidates are at least about this far apart (the local-maximum window, per axis)."""
HIT_MIN_RADIUS_MM = 3.0
"""A candidate hits a lesion when it lies in it or within its equivalent-sphere radius (at least this) of its
centre, as LUNA16 counts a candidate within a nodule's radius."""
RESAMPLES = 1000
PRIMARY = {"segment": "dice", "detect": "froc", "classify": "auc"}
SPEC_METRIC = {"dice": "dice", "froc": "froc", "sensitivity": "sensitivity", "auc": "auc", "specificity": "specificity"}


def primary_metric(job: str, spec_metric: str | None) -> str:
    """The metric the gate compares: the spec's `transfer.metric` where the job reports it, else the job's own."""
    names = metric_names(job)
    if spec_metric and SPEC_METRIC.get(spec_metric) in names:
        return SPEC_METRIC[spec_metric]
    if spec_metric == "sensitivity" and job == "detect":
        return "sensitivity_at_1fp"
    return PRIMARY[job]


def metric_names(job: str) -> tuple[str, ...]:
    if job == "segment":
        return ("dice",)
    if job == "detect":
        return ("froc", *(f"sensitivity_at_{k}fp" for k in FP_RATES), "false_positives_per_scan", "dice")
    return ("auc", "accuracy", "sensitivity", "specificity")


# ---- per case ------------------------------------------------------------------------------------

def dice(prob: np.ndarray, mask: np.ndarray) -> float:
    pred, truth = prob > THRESHOLD, mask > 0
    total = int(pred.sum()) + int(truth.sum())
    return 1.0 if total == 0 else float(2 * np.logical_and(pred, truth).sum() / total)


def lesion_candidates(prob: np.ndarray, mask: np.ndarray, spacing_zyx) -> dict:
    """A case for the lesion-level metric: its lesion count and candidates as (score, hit lesion or -1).

    Candidates are the local maxima of the probability map above CANDIDATE_FLOOR (one per plateau, in a window
    of PEAK_WINDOW_MM), scored by their value: the operating point is swept by the FROC, not fixed."""
    from scipy import ndimage

    spacing = np.asarray(spacing_zyx, float)
    lesions, n_lesions = ndimage.label(mask > 0)
    centres, radii = [], []
    for k, box in enumerate(ndimage.find_objects(lesions), start=1):
        voxels = np.argwhere(lesions[box] == k) + [b.start for b in box]
        centres.append(voxels.mean(axis=0) * spacing)
        radii.append(max(HIT_MIN_RADIUS_MM, (3 * len(voxels) * float(np.prod(spacing)) / (4 * math.pi)) ** (1 / 3)))
    window = [max(1, int(round(PEAK_WINDOW_MM / d))) | 1 for d in spacing]
    peaks = (prob >= ndimage.maximum_filter(prob, size=window)) & (prob > CANDIDATE_FLOOR)
    plateaus, n_peaks = ndimage.label(peaks)
    found = []
    if n_peaks:
        index = np.arange(1, n_peaks + 1)
        scores = np.asarray(ndimage.maximum(prob, plateaus, index), float)
        keep = index[np.argsort(-scores, kind="stable")[:MAX_CANDIDATES]]
        for peak in ndimage.maximum_position(prob, plateaus, keep):
            peak = tuple(int(p) for p in peak)
            hit = int(lesions[peak]) - 1
            if hit < 0 and centres:
                distance = [float(np.linalg.norm(np.asarray(peak) * spacing - c)) - r for c, r in zip(centres, radii)]
                best = int(np.argmin(distance))
                hit = best if distance[best] <= 0 else -1
            found.append((float(prob[peak]), hit))
    found.sort(key=lambda c: -c[0])
    return {"lesions": int(n_lesions), "candidates": found[:MAX_CANDIDATES]}


# ---- per site ------------------------------------------------------------------------------------

def _froc_points(cases: list[dict]) -> dict[int, float]:
    total = sum(c["lesions"] for c in cases)
    if total == 0:
        return {k: float("nan") for k in FP_RATES}
    scores, keys = [], []
    for i, c in enumerate(cases):
        for score, hit in c["candidates"]:
            scores.append(score)
            keys.append(-1 if hit < 0 else i * (1 << 24) + hit)   # one key per (case drawn, lesion)
    if not scores:
        return {k: 0.0 for k in FP_RATES}
    order = np.argsort(-np.asarray(scores), kind="stable")
    score, key = np.asarray(scores)[order], np.asarray(keys)[order]
    false = np.cumsum(key < 0)
    first = np.zeros(len(key), bool)
    hits = np.flatnonzero(key >= 0)
    if hits.size:
        _, at = np.unique(key[hits], return_index=True)
        first[hits[at]] = True
    found = np.cumsum(first)
    ends = np.flatnonzero(np.append(score[1:] != score[:-1], True))   # the last candidate of each score
    false, found = false[ends], found[ends]
    out = {}
    for k in FP_RATES:
        allowed = np.flatnonzero(false <= k * len(cases))
        out[k] = float(found[allowed[-1]] / total) if allowed.size else 0.0
    return out


def _auc(probs: np.ndarray, classes: np.ndarray) -> float:
    pos, neg = probs[classes == 1], probs[classes == 0]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    greater = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(greater / (len(pos) * len(neg)))


def site_metrics(job: str, cases: list[dict]) -> dict[str, float]:
    """Every metric of `job` over `cases` (the per-case dicts `evaluate` makes)."""
    if not cases:
        return {name: float("nan") for name in metric_names(job)}
    if job == "segment":
        return {"dice": float(np.mean([c["dice"] for c in cases]))}
    if job == "detect":
        points = _froc_points(cases)
        out = {"froc": float(np.mean(list(points.values())))}
        out.update({f"sensitivity_at_{k}fp": v for k, v in points.items()})
        out["false_positives_per_scan"] = float(np.mean([sum(1 for p, hit in c["candidates"]
                                                             if hit < 0 and p >= THRESHOLD)
                                                         for c in cases]))
        out["dice"] = float(np.mean([c["dice"] for c in cases]))
        return out
    probs = np.asarray([c["prob"] for c in cases], float)
    classes = np.asarray([c["class"] for c in cases], int)
    pred = probs > THRESHOLD
    pos, neg = classes == 1, classes == 0
    return {"auc": _auc(probs, classes), "accuracy": float(np.mean(pred == pos)),
            "sensitivity": float(pred[pos].mean()) if pos.any() else float("nan"),
            "specificity": float((~pred[neg]).mean()) if neg.any() else float("nan")}


def _interval(values: list[float]) -> list[float]:
    finite = np.asarray([v for v in values if np.isfinite(v)], float)
    if len(finite) < max(10, len(values) // 2):
        return [float("nan"), float("nan")]
    return [float(np.percentile(finite, 2.5)), float(np.percentile(finite, 97.5))]


def _draws(n: int, *key) -> np.ndarray:
    return analysis_rng("transfer", "bootstrap", *key).integers(0, n, size=(RESAMPLES, n))


def _note(n: int, value: float) -> str | None:
    if not np.isfinite(value):
        return "not computable on these cases (one class only, or no lesion)"
    if n < 2:
        return "one case: no interval (a bootstrap over one case says nothing)"
    return None


def summarise(job: str, cases: list[dict], *key) -> dict[str, dict]:
    """Each metric's value over the site's cases, with a 95% bootstrap interval over the cases."""
    point = site_metrics(job, cases)
    samples: dict[str, list[float]] = {name: [] for name in point}
    if len(cases) >= 2:
        for draw in _draws(len(cases), *key):
            for name, value in site_metrics(job, [cases[i] for i in draw]).items():
                samples[name].append(value)
    out = {}
    for name, value in point.items():
        interval = _interval(samples[name]) if samples[name] else [float("nan"), float("nan")]
        entry = {"value": value, "ci95": interval}
        if (note := _note(len(cases), value)) is not None:
            entry["note"] = note
        out[name] = entry
    return out


def paired(job: str, metric: str, arm: list[dict], reference: list[dict], *key) -> dict:
    """`metric`(arm) - `metric`(reference) on the same cases, with a paired bootstrap interval (same resamples)."""
    difference = site_metrics(job, arm)[metric] - site_metrics(job, reference)[metric]
    values = []
    if len(arm) >= 2:
        for draw in _draws(len(arm), *key):
            values.append(site_metrics(job, [arm[i] for i in draw])[metric]
                          - site_metrics(job, [reference[i] for i in draw])[metric])
    out = {"metric": metric, "difference": float(difference),
           "ci95": _interval(values) if values else [float("nan"), float("nan")]}
    if (note := _note(len(arm), difference)) is not None:
        out["note"] = note
    return out
