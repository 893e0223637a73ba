"""The twin probe's permuted-label null: a chance-level AUC over the limit passes, a real shortcut still fails.

Tiny synthetic probe inputs (10 subjects x 3 slabs of 4 x 24 x 24), so the probes train in seconds; the
settings shorten training and the permutation count, the procedure is the one `synth validate` runs.
"""

from __future__ import annotations

import pytest
import torch

from synthspec.validate.shortcut.crossval import twin_probe, twin_probe_null
from synthspec.validate.shortcut.probe import folds_of
from synthspec.validate.shortcut.settings import ShortcutSettings
from synthspec.validate.shortcut.slabs import Data
from synthspec.validate.shortcut.verdicts import _twin_probe_result

POSITIVE = [False, True] * 5
SETTINGS = ShortcutSettings(scan_epochs=6, batch_size=6, permutations=9, probe_alpha=0.1, bootstrap=200)


def _data(marker: float, seed: int = 0):
    """Scans whose subjects differ only by noise, plus (marker > 0) a bright corner on every positive's slabs."""
    g = torch.Generator().manual_seed(seed)
    scans = {}
    for k, positive in enumerate(POSITIVE):
        x = 0.3 + 0.05 * torch.randn((3, 4, 24, 24), generator=g)
        if positive and marker:
            x[:, :, :6, :6] += marker
        scans[k] = x
    return Data(positive=list(POSITIVE), folds=folds_of(POSITIVE, 3), test={}), scans


def test_a_real_shortcut_stays_flagged_against_the_permutation_null():
    data, scans = _data(marker=0.5)
    nb = twin_probe(data, scans, SETTINGS, tag=0)
    assert nb["twin_probe_auc"] == 1.0
    nb.update(twin_probe_null(data, scans, SETTINGS, nb["twin_probe_auc"]))
    assert nb["twin_probe_null_permutations"] == 9          # no permutation reached 1.0: all of them ran
    assert max(nb["twin_probe_null_aucs"]) < 1.0 and nb["twin_probe_p"] == pytest.approx(0.1)
    result = _twin_probe_result(nb, SETTINGS)
    assert not result.passed and "p = 0.10 against 9 permuted-label runs" in result.reason


def test_chance_above_the_limit_passes_once_a_permutation_reaches_it():
    nb = {"twin_probe_auc": 0.84, "twin_probe_auc_ci95": [0.6, 1.0], "twin_probe_null_aucs": [0.44, 0.88],
          "twin_probe_p": None, "twin_probe_p_at_least": 0.2}
    result = _twin_probe_result(nb, SETTINGS)
    assert result.passed and "chance reaches it too: 1 of 2 runs" in result.reason
    # without a null (never computed) a value over the limit fails as before
    assert not _twin_probe_result({"twin_probe_auc": 0.84}, SETTINGS).passed
    assert _twin_probe_result({"twin_probe_auc": 0.6}, SETTINGS).passed


def test_the_null_stops_at_the_first_permutation_that_reaches_the_observed_auc():
    data, scans = _data(marker=0.0, seed=3)
    nb = twin_probe_null(data, scans, SETTINGS, observed=0.0)    # every permutation reaches an AUC of 0
    assert nb["twin_probe_null_permutations"] == 1 and nb["twin_probe_p"] is None
    again = twin_probe_null(data, scans, SETTINGS, observed=0.0)
    assert again == nb                                          # the same seeds give the same null
