"""The head_adult family on its real templates: structures, variation by age and sex, checks, determinism.

The templates (MNI152 maps from the nilearn wheel, Colin27 + AAL from Debian mricron-data) are fetched once
into the user's cache; where neither pip nor apt-get can reach them the tests skip with the reason.  The heads
are built on a coarse 4 mm grid so each takes well under a second after the template is cached.
"""

from __future__ import annotations

import numpy as np
import pytest

from synthspec.families.base import Demographics
from synthspec.families.grid import Grid
from synthspec.validate.reference.model import ReferenceError

GRID = Grid((44, 64, 64), (4.0, 4.0, 4.0))


@pytest.fixture(scope="module")
def head():
    from synthspec.families.anatomy.head.template import load_template

    try:
        load_template()
    except ReferenceError as error:
        pytest.skip(f"the head templates could not be fetched: {error}")
    from synthspec.engine.scene import build_body, stdlib_tables

    labels = {e.name: e.id for e in stdlib_tables("head_adult")[0]}

    def build(sex="male", age=40.0, height=1770.0, seed=1):
        return build_body(Demographics(sex, age, height, 25.0), GRID, [], np.random.default_rng(seed),
                          np.random.default_rng(99), anatomy="head_adult")

    return build, labels


def _ml(body, ids, names):
    return float(np.isin(body.labels, [ids[n] for n in names]).sum()) * GRID.voxel_mm3 / 1000.0


def test_every_structure_the_issue_names_is_drawn(head):
    build, ids = head
    body = build()
    present = set(np.unique(body.labels).tolist())
    for name in ("scalp", "skull", "diploe", "sutures", "subarachnoid_space", "lateral_ventricles", "white_matter",
                 "lateral_frontal", "temporal_lobe", "occipital_lobe", "insula", "caudate", "putamen", "thalamus",
                 "internal_capsule", "cerebellum", "brainstem", "paranasal_sinuses", "tentorium"):
        assert ids[name] in present, name


def test_tissues_render_at_their_ct_numbers(head):
    build, ids = head
    body = build()
    assert 30 <= np.median(body.hu[body.labels == ids["lateral_frontal"]]) <= 48
    assert 15 <= np.median(body.hu[body.labels == ids["white_matter"]]) <= 35
    assert np.median(body.hu[body.labels == ids["skull"]]) > 700
    assert np.median(body.hu[body.labels == 0]) < -900


def test_the_family_checks_pass_and_measure(head):
    from synthspec.families import registry

    build, ids = head
    body = build(sex="female", age=35.0, height=1640.0)
    result = registry.anatomy("head_adult").assess(body.labels, body.lesion_mask, GRID.spacing,
                                                   {"sex": "female", "age_y": 35.0}, None)
    assert result.reasons == []
    assert 1000 < result.measures["intracranial_ml"] < 1700
    assert 4.0 <= result.measures["skull_mm"] <= 11.0


def test_ventricles_widen_and_brain_shrinks_with_age(head):
    build, ids = head
    young, old = build(age=30.0, seed=5), build(age=85.0, seed=5)
    assert _ml(old, ids, ["lateral_ventricles"]) > 1.3 * _ml(young, ids, ["lateral_ventricles"])
    brain = ["white_matter", "lateral_frontal", "medial_frontal", "parietal_lobe", "temporal_lobe", "occipital_lobe"]
    assert _ml(old, ids, brain) < _ml(young, ids, brain)


def test_men_have_larger_heads_on_average(head):
    build, ids = head
    inside = ["white_matter", "subarachnoid_space", "lateral_ventricles", "lateral_frontal", "cerebellum"]
    men = np.mean([_ml(build("male", seed=s), ids, inside) for s in range(4)])
    women = np.mean([_ml(build("female", height=1630.0, seed=s), ids, inside) for s in range(4)])
    assert men > women


def test_subjects_differ_and_a_seed_repeats(head):
    build, _ = head
    a, b, again = build(seed=1), build(seed=2), build(seed=1)
    assert np.array_equal(a.labels, again.labels) and np.array_equal(a.hu, again.hu)
    assert np.mean(a.labels != b.labels) > 0.02


def test_an_incomplete_prior_cache_is_one_clear_error(tmp_path):
    from synthspec.families.anatomy.head import priors

    (tmp_path / "reference" / f"nilearn-{priors.NILEARN_VERSION}-mni152").mkdir(parents=True)
    with pytest.raises(ReferenceError, match="incomplete"):
        priors.fetch_priors(cache=tmp_path)
