"""What the shortcut probes read per kind of cohort (synthspec/validate/shortcut/reading.py)."""

from __future__ import annotations

from pathlib import Path

from synthspec import api
from synthspec.cohort.labels import ids, lung_ids
from synthspec.validate.shortcut import reading

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_head_ct_probes_read_the_brain_window_inside_the_skull():
    plan = api.plan(EXAMPLES / "head_ct_haemorrhage.synth", device="cpu")
    assert reading.is_head_ct(plan) and not reading.is_mri(plan)
    window, low = reading.windows(plan)
    assert window == (0.0, 80.0) and low[1] < -500.0
    region = set(reading.region_ids(plan))
    assert set(ids(plan, tissue="csf")) <= region and set(ids(plan, tissue="grey_matter")) <= region
    assert not region & set(ids(plan, tissue="cortical_bone"))


def test_chest_ct_probes_keep_the_lung_window_and_lungs():
    plan = api.plan(EXAMPLES / "lung_nodules_ldct.synth", device="cpu")
    assert not reading.is_head_ct(plan) and reading.windows(plan) is None
    assert reading.region_ids(plan) == lung_ids(plan)
