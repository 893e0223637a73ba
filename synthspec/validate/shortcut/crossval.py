"""Subject-wise cross-validation of the two probes: every prediction from a model that never saw that subject.

    detector probe   slabs through each lesion (positives) and through virtual lesions in each
                     negative's own anatomy; two branches: the lung-only channel with global
                     pooling (finds the finding) and the rest of the slab on a coarse
                     position-aware grid (finds a marker)
    twin probe       whole scans (evenly spaced slabs, scan label on every slab) with every
                     positive replaced by its counterfactual twin: nothing but a shortcut is
                     left to learn, so its held-out AUC must stay at chance
    twin probe null  the same probe with the classes permuted among the subjects: the AUC chance
                     alone reaches in this cohort, against which a high twin-probe AUC is judged

AUC and its stratified bootstrap interval come from `synthspec.validate.stats`, the bootstrap
draws from `analysis_rng("bootstrap", "shortcut", seed, ...)`.  This module builds no variant
and passes no judgement.
"""

from __future__ import annotations

import math

import numpy as np

from synthspec.seeds import analysis_rng
from synthspec.validate.shortcut.probe import Inputs, predict, train
from synthspec.validate.shortcut.settings import ShortcutSettings
from synthspec.validate.shortcut.slabs import Data
from synthspec.validate.stats import auc, bootstrap_auc_ci


def detector(data: Data, prep: Inputs, s: ShortcutSettings) -> dict[str, dict]:
    """Out-of-fold detector probabilities {variant: {(subject, z): p}}."""
    import torch

    cache: dict = {}

    def x_of(name: str, images: dict, key):
        if (name, key) not in cache:
            cache[(name, key)] = prep(images[key], data.lung[key])
        return cache[(name, key)]

    variants = {"original": data.original, "twin": data.twin, "masked": data.masked,
                "noise_swap": data.noise_swap, "scanner_swap": data.scanner_swap}
    out: dict[str, dict] = {name: {} for name in variants}
    for f in range(max(data.folds) + 1):
        seen = [(k, z) for k, zs in data.test.items() if data.folds[k] not in (f, -1) for z in zs]
        tested = [(k, z) for k, zs in data.test.items() if data.folds[k] == f for z in zs]
        x = torch.stack([x_of("original", data.original, key) for key in seen])
        y = torch.tensor([float(data.positive[k]) for k, _ in seen])
        model = train("detector", x, y, s.epochs, s, f)
        for name, images in variants.items():
            keys = [key for key in tested if key in images]
            if keys:
                out[name].update(zip(keys, predict(model, torch.stack([x_of(name, images, key) for key in keys]), s)))
    return out


def _scan_scores(scans: dict, positive, folds, s: ShortcutSettings, *stream) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold mean slab probability per subject of the twin probe with these labels and folds."""
    import torch

    scores, labels = {}, {}
    for f in range(max(folds[k] for k in scans) + 1):
        seen = [k for k in scans if folds[k] not in (f, -1)]
        x = torch.cat([scans[k] for k in seen])
        y = torch.cat([torch.full((len(scans[k]),), float(positive[k])) for k in seen])
        model = train("twin", x, y, s.scan_epochs, s, *stream, f)
        for k in scans:
            if folds[k] == f:
                scores[k] = float(predict(model, scans[k], s).mean())
                labels[k] = positive[k]
    keys = sorted(scores)
    return np.array([scores[k] for k in keys]), np.array([labels[k] for k in keys])


def twin_probe(data: Data, scans: dict, s: ShortcutSettings, tag: int) -> dict:
    """Held-out AUC of a probe trained on lesion-free scans (twins for positives) with scan labels."""
    p, y = _scan_scores(scans, data.positive, data.folds, s, tag)
    ci = bootstrap_auc_ci(p, y, analysis_rng("bootstrap", "shortcut", s.seed, "twin_probe", tag),
                          n_boot=s.bootstrap)
    return {"twin_probe_auc": rounded(auc(p, y)), "twin_probe_auc_ci95": [rounded(ci[0]), rounded(ci[1])],
            "twin_probe_mean_p_twins": rounded(p[y].mean()), "twin_probe_mean_p_negatives": rounded(p[~y].mean())}


def twin_probe_null(data: Data, scans: dict, s: ShortcutSettings, observed: float, tag: int = 0) -> dict:
    """The twin probe's AUC when the label carries nothing: the same probe, folds and scans with the subjects'
    classes permuted (as many of each; folds dealt again).  Positives are assigned independently of everything
    else a subject draws (`engine.sample.carries`), so without a shortcut the observed AUC is one draw of this
    null; in a small cohort chance differences (head size, age) make the null wide.  p = (1 + #{null >= observed})
    / (1 + permutations); the permutations stop as soon as p can no longer reach `s.probe_alpha`."""
    from synthspec.validate.shortcut.probe import folds_of

    keys = [k for k in sorted(scans) if data.folds[k] != -1]
    labels = [bool(data.positive[k]) for k in keys]
    n_folds = max(data.folds[k] for k in keys) + 1
    rng = analysis_rng("shortcut", s.seed, "twin_probe_null", tag)
    null, at_least = [], 0
    for r in range(s.permutations):
        shuffled = [bool(v) for v in rng.permutation(labels)]
        positive = dict(zip(keys, shuffled))
        folds = dict(zip(keys, folds_of(shuffled, n_folds)))
        p, y = _scan_scores({k: scans[k] for k in keys}, positive, folds, s, tag, "null", r)
        null.append(auc(p, y))
        at_least += null[-1] >= observed
        if (1 + at_least) / (1 + s.permutations) > s.probe_alpha:
            break
    complete = len(null) == s.permutations
    return {"twin_probe_null_aucs": [rounded(a) for a in null], "twin_probe_null_permutations": len(null),
            "twin_probe_p": rounded((1 + at_least) / (1 + len(null))) if complete else None,
            "twin_probe_p_at_least": rounded((1 + at_least) / (1 + s.permutations)), "twin_probe_alpha": s.probe_alpha}


def rounded(v):
    """4 decimals for a report; None for a missing or NaN value."""
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else round(float(v), 4)
