"""Ischaemic infarcts on a real head_adult scene (coarse grid): territory, volume, time course, mass effect, twins.

The head is conftest's `brain_head`: one real head on a 96 x 96 grid with 5 mm slices, built once per session.
"""

from __future__ import annotations

import numpy as np
import pytest

from synthspec.families import registry
from synthspec.families.pathology.infarct import territory as T, timecourse



@pytest.fixture(scope="module")
def head(brain_head):
    return brain_head


def insert(head, seed=1, **kw):
    return head.insert("ischaemic_infarct", seed=seed, **kw)


@pytest.mark.parametrize("territory,location,volume", [
    ("MCA", "parietal_lobe", 20.0), ("MCA", "basal_ganglia", 6.0), ("ACA", "medial_frontal", 12.0),
    ("PCA", "occipital_lobe", 30.0), ("PCA", "thalamus", 2.0), ("MCA", "occipital_lobe", 15.0),
])
def test_infarct_lies_in_its_territory_on_one_side_at_its_volume(head, territory, location, volume):
    scene, lesion, m = insert(head, seed=2, territory=territory, locations=[location], volume_ml=volume, onset_h=2.0)
    geo = scene.geometry
    assert np.mean(np.isin(geo["territory"][m], T.SUPPLIES[territory])) >= 0.95
    assert np.all(geo["brain"][m])
    assert len(np.unique(geo["side"][m])) == 1
    assert abs(lesion.volume_ml - volume) / volume < 0.05
    assert lesion.attributes["territory"] == territory
    # the location the sampler drew lies outside the territory: the territory is kept and the choice recorded
    expected = "territory" if (territory, location) == ("MCA", "occipital_lobe") else "location"
    assert lesion.attributes["location_resolution"] == expected
    assert lesion.attributes["location_requested"] == location


def test_cortical_infarct_is_a_wedge_of_grey_and_white_matter(head):
    clean, labels = head.scene, head.labels
    scene, lesion, m = insert(head, seed=4, territory="MCA", locations=["lateral_frontal"], volume_ml=40.0,
                              onset_h=3.0)
    ids = {e.name: e.id for e in labels}
    lab = clean.base_labels[m]
    assert lesion.attributes["seed"] == "cortical"
    assert np.mean(lab == ids["white_matter"]) > 0.2 and np.mean(np.isin(lab, [ids["lateral_frontal"],
                                                                                ids["parietal_lobe"],
                                                                                ids["temporal_lobe"],
                                                                                ids["insula"]])) > 0.2


def test_no_territory_takes_the_locations_own(head):
    scene, lesion, m = insert(head, seed=3, locations=["thalamus"], volume_ml=2.0, onset_h=30.0)
    assert lesion.attributes["territory"] == "PCA" and lesion.attributes["location_resolution"] == "from_location"
    assert T.canonical("mca") == "MCA" and T.canonical(None) is None


def test_factors_follow_time_since_onset():
    for drop in timecourse.DROP_RANGE:
        f = timecourse.factors(1.0, drop=drop)
        assert 0.5 <= f["adc"] <= 0.7
        assert f["t2"] == pytest.approx(1.0, abs=0.01) and f["hu_offset"] == 0.0
    assert timecourse.factors(0.0)["adc"] == 1.0
    day = timecourse.factors(24.0)
    assert day["t2"] > 1.1 and day["t1"] > 1.05 and day["pd"] > 1.0 and -8.0 <= day["hu_offset"] <= -3.0
    nadir = min(timecourse.factors(t)["adc"] for t in (24.0, 48.0, 72.0, 96.0))
    assert nadir <= min(timecourse.factors(t)["adc"] for t in (1.0, 6.0, 200.0))
    for t in (240.0, 300.0, 336.0):
        assert 0.85 <= timecourse.factors(t)["adc"] <= 1.15
    assert timecourse.factors(2160.0)["adc"] > 1.3          # the chronic cavity
    assert timecourse.factors(4.5)["t2"] < timecourse.factors(6.0)["t2"] < timecourse.factors(24.0)["t2"]
    assert [timecourse.phase(t) for t in (1, 10, 200, 1000)] == ["hyperacute", "acute", "subacute", "chronic"]
    assert timecourse.swelling(1.0) == 0.0 and timecourse.swelling(6.0) < 0.1 < 0.3 < timecourse.swelling(72.0)


def test_property_change_carries_the_factors(head):
    scene, lesion, m = insert(head, seed=5, territory="MCA", locations=["temporal_lobe"], volume_ml=10.0,
                              onset_h=1.0)
    (change,) = scene.changes
    assert change.factors == lesion.attributes["factors"]
    assert 0.5 <= change.factors["adc"] <= 0.7 and change.factors["t2"] == pytest.approx(1.0, abs=0.01)
    assert set(change.factors) == {"adc", "t2", "t1", "pd", "hu_offset"}
    f = np.zeros(head.grid.shape, np.float32)
    f[change.box] = change.fraction
    assert f.min() >= 0.0 and f.max() <= 1.0
    assert np.all(f[m] > 0.0) and not np.any(f[~m])
    assert lesion.subtype == "hyperacute" and lesion.attributes["phase"] == "hyperacute"


def test_large_swollen_mca_infarct_shifts_the_midline(head):
    clean = head.scene
    small, s_lesion, _ = insert(head, seed=6, territory="MCA", locations=["parietal_lobe"], volume_ml=10.0,
                                onset_h=72.0)
    big, b_lesion, m = insert(head, seed=6, territory="MCA", locations=["lateral_frontal"], volume_ml=180.0,
                              onset_h=72.0)
    assert s_lesion.attributes["midline_shift_mm"] == 0.0 and np.array_equal(small.labels, clean.labels)
    assert b_lesion.attributes["midline_shift_mm"] > 4.0 and b_lesion.attributes["malignant_mca"]
    assert not np.array_equal(big.labels, clean.labels)
    assert np.mean(np.isin(big.geometry["territory"][m], T.SUPPLIES["MCA"])) >= 0.95   # moved with the brain
    hyper, h_lesion, _ = insert(head, seed=6, territory="MCA", locations=["lateral_frontal"], volume_ml=180.0,
                                onset_h=1.0)
    assert h_lesion.attributes["midline_shift_mm"] == 0.0           # no oedema yet


def test_twin_scene_unchanged_and_head_checks_accept(head):
    clean = head.scene
    snap = {"labels": clean.labels.copy(), "base": clean.base_labels.copy(), "mask": clean.lesion_mask.copy(),
            "territory": clean.geometry["territory"].copy(), "n_layers": len(clean.layers)}
    scene, lesion, _ = insert(head, seed=7, territory="MCA", locations=["lateral_frontal"], volume_ml=150.0,
                              onset_h=60.0)
    assert np.array_equal(clean.labels, snap["labels"]) and np.array_equal(clean.base_labels, snap["base"])
    assert np.array_equal(clean.lesion_mask, snap["mask"])
    assert np.array_equal(clean.geometry["territory"], snap["territory"])
    assert len(clean.layers) == snap["n_layers"] and clean.changes == [] and clean.masks == {}
    result = registry.anatomy("head_adult").assess(scene.labels, scene.lesion_mask, head.grid.spacing,
                                                   {"sex": "female", "age_y": 60.0, "lesions": [{"id": lesion.id}]},
                                                   None)
    assert not [r for r in result.reasons if r.startswith("lesion")], result.reasons


def test_registry_and_sampler_interface():
    family = registry.pathology("ischaemic_infarct")
    assert family.tissues == () and family.placement_limits([]) == {}
    assert family.shape_defaults(family.default_subtype) == (0.0, 0.0)
    assert family.default_location in ("cerebrum", "deep_grey", "posterior_fossa")


def test_the_docstring_table_is_the_code_table():
    lines = {}
    for line in timecourse.__doc__.splitlines():
        if line.strip():
            lines.setdefault(line.split()[0], line)      # the table comes first; the sources reuse the names
    for row, values in timecourse.TABLE.items():
        numbers = [float(v) for v in lines[row].split() if v.lstrip("-").replace(".", "").isdigit()]
        assert numbers == list(values), row
