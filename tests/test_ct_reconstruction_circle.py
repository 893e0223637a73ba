"""The reconstruction circle: CT images hold measured values only inside the disc inscribed in the square."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from synthspec import api
from synthspec.families.modality.ct import HU_MIN, MODALITY
from synthspec.families.modality.ct.acquisition import outside_reconstruction_circle

DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="module")
def plan_settings():
    return api.plan(DATA / "reference_cohort.synth", device="cpu", subjects=1).stage("acquire").params.settings


def test_the_circle_is_the_inscribed_disc_of_the_grid():
    outside = outside_reconstruction_circle(256, 256)
    assert outside[0, 0] and outside[-1, -1] and outside[0, -1] and not outside[128, 128]
    assert not outside[128, 0] and not outside[0, 128]       # the disc touches the square's edges
    assert (~outside).sum() == pytest.approx(math.pi * 128**2, rel=0.01)
    assert np.array_equal(outside, outside[::-1]) and np.array_equal(outside, outside[:, ::-1])
    wide = outside_reconstruction_circle(4, 10)             # the shorter side sets the diameter
    assert wide[:, 0].all() and not wide[:, 5].any()


@pytest.mark.parametrize("series", [{}, {"thick_mm": 2.5, "bone_kernel": "bone"}])
def test_every_series_is_air_outside_the_circle_and_measured_inside(plan_settings, series):
    import torch

    n = 64
    truth = np.zeros((2, n, n), np.float32)                  # water filling the square: a patient wider than the FOV
    settings = {**plan_settings, "kernel": "standard", "slice_thickness_mm": 1.25, "pixel_mm": 3.0, "views": 101,
                **series}
    scanner = SimpleNamespace(noise_factor=1.0, electronic_noise=20.0, mtf50=0.0)
    acq = {"kv": 120.0, "mas": 100.0, "kernel": "standard", "slice_thickness_mm": 1.25}
    out = MODALITY.acquire(truth, settings, acq, scanner, torch.Generator().manual_seed(3), "cpu")
    outside = outside_reconstruction_circle(n, n)
    assert set(out) == ({"image"} if not series else {"image", "bone", "thick"})
    for name, volume in out.items():
        assert (volume[:, outside] == HU_MIN).all(), name
        inside = volume[:, ~outside]
        assert abs(float(inside.mean())) < 15.0 and float(inside.std()) > 1.0, name   # water, with noise
