"""Subject-wise cross-validation of the two probes: every prediction from a model that never saw that subject.

    detector probe   slabs through each lesion (positives) and through virtual lesions in each
                     negative's own anatomy; two branches: the lung-only channel with global
                     pooling (finds the finding) and the rest of the slab on a coarse
                     position-aware grid (finds a marker)
    twin probe       whole scans (evenly spaced slabs, scan label on every slab) with every
                     positive replaced by its counterfactual twin: nothing but a shortcut is
                     left to learn, so its held-out AUC must stay at chance

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


def twin_probe(data: Data, scans: dict, s: ShortcutSettings, tag: int) -> dict:
    """Held-out AUC of a probe trained on lesion-free scans (twins for positives) with scan labels."""
    import torch

    scores, labels = {}, {}
    for f in range(max(data.folds) + 1):
        seen = [k for k in scans if data.folds[k] not in (f, -1)]
        x = torch.cat([scans[k] for k in seen])
        y = torch.cat([torch.full((len(scans[k]),), float(data.positive[k])) for k in seen])
        model = train("twin", x, y, s.scan_epochs, s, tag, f)
        for k in scans:
            if data.folds[k] == f:
                scores[k] = float(predict(model, scans[k], s).mean())
                labels[k] = data.positive[k]
    keys = sorted(scores)
    p, y = np.array([scores[k] for k in keys]), np.array([labels[k] for k in keys])
    ci = bootstrap_auc_ci(p, y, analysis_rng("bootstrap", "shortcut", s.seed, "twin_probe", tag),
                          n_boot=s.bootstrap)
    return {"twin_probe_auc": rounded(auc(p, y)), "twin_probe_auc_ci95": [rounded(ci[0]), rounded(ci[1])],
            "twin_probe_mean_p_twins": rounded(p[y].mean()), "twin_probe_mean_p_negatives": rounded(p[~y].mean())}


def rounded(v):
    """4 decimals for a report; None for a missing or NaN value."""
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else round(float(v), 4)
