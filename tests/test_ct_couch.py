"""The patient couch under a supine chest: where it lies, what it holds, what it leaves alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from synthspec import api
from synthspec.engine import generate_subject
from synthspec.families.modality.ct import couch

from test_run import tiny_spec

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_layers_carry_the_modelled_attenuation_at_any_pixel_size():
    """Across the couch, the excess over air summed down a column is shell + foam + pad (partial volume keeps
    each layer's thickness x CT number), at pixels finer and coarser than the 2 mm shell."""
    expected = sum(t * (v - couch.AIR_HU) for t, v in ((couch.SHELL_MM, couch.SHELL_HU),
                                                       (couch.FOAM_MM, couch.FOAM_HU), (couch.PAD_MM, couch.PAD_HU)))
    for pixel in (0.78, 1.76, 7.0):
        n = int(400 / pixel)
        x_mm = (np.arange(n) - (n - 1) / 2.0) * pixel
        back = np.where(np.abs(x_mm) <= 100.0, 100.0, np.nan)   # a flat back 100 mm behind the centre, 200 mm wide
        hu = couch.couch_layers((n, n), pixel, back)
        assert hu.dtype == np.float32
        column = (hu[:, n // 2].astype(np.float64) - couch.AIR_HU).sum() * pixel
        assert column == pytest.approx(expected, rel=0.02)
        rows = np.nonzero(hu[:, n // 2] > couch.AIR_HU + 1)[0]
        top_mm = (rows.min() - (n - 1) / 2.0) * pixel
        # the pad meets the back's edges (where the curved top rises most), so at the centre it lies a sag below
        sag = couch.RADIUS_MM - np.sqrt(couch.RADIUS_MM ** 2 - np.abs(x_mm[np.isfinite(back)]).max() ** 2)
        assert 100.0 + sag - pixel <= top_mm <= 100.0 + sag + pixel


def test_couch_curves_up_toward_the_patient_at_the_sides():
    pixel, n = 0.78, 512
    hu = couch.couch_layers((n, n), pixel, np.full(n, 100.0))
    shell = hu > 0
    centre_row = np.nonzero(shell[:, n // 2])[0].mean()
    side = n // 2 + int(150 / pixel)                      # 150 mm off centre: sag = R - sqrt(R^2 - 150^2) = 23 mm
    side_row = np.nonzero(shell[:, side])[0].mean()
    assert (centre_row - side_row) * pixel == pytest.approx(23.0, abs=1.5)
    assert not shell[:, n // 2 + int(230 / pixel):].any()  # the top is 440 mm wide


def test_chest_volume_has_the_couch_below_the_back_and_no_label_there(tmp_path):
    plan = api.plan(tiny_spec(tmp_path, 2), device="cpu")
    settings = plan.stage("acquire").params.settings
    assert settings["couch"] is True
    subject = generate_subject(plan, 0)
    truth, labels = subject.truth, subject.labels
    body = labels > 0
    x = truth.shape[2] // 2
    back = np.nonzero(body[:, :, x].any(axis=0))[0].max()
    below = truth[:, back + 1:, x]
    assert (below > couch.AIR_HU + 100).any(axis=1).all()   # on every slice something denser than air lies below
    assert not body[:, back + 1:, :].any()                  # and no anatomy label marks it
    image = subject.channels["image"]
    assert image[:, back + 1:, x].max() > -800              # the scanner sees it too (7 mm pixels smear the shell)


def test_couch_replaces_air_only():
    hu = np.full((3, 64, 64), couch.AIR_HU, np.float32)
    hu[:, 20:58, 16:48] = 40.0                               # a body whose back reaches row 57
    before = hu.copy()
    couch.add_couch(hu, 7.0)
    changed = hu != before
    assert changed.any() and (before[changed] == couch.AIR_HU).all()
    assert np.array_equal(changed[0], changed[2])            # the same on every slice


def test_a_head_plan_has_no_couch():
    plan = api.plan(EXAMPLES / "head_ct_haemorrhage.synth", device="cpu")
    assert "couch" not in plan.stage("acquire").params.settings
