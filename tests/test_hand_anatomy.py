"""The hand_pediatric anatomy family: builds at 1 mm, maturation by age and sex, checks, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from synthspec.engine.scene import stdlib_tables
from synthspec.families.anatomy.hand import FAMILY
from synthspec.families.anatomy.hand import references as R
from synthspec.families.base import Demographics, FamilyError
from synthspec.families.grid import Grid

GRID = Grid((230, 56, 160), (1.0, 1.0, 1.0))
BIG = Grid(tuple(int(f) for f in FAMILY.field_mm), (1.0, 1.0, 1.0))   # the whole 0-18 y field
HEIGHT = {1: 760, 5: 1100, 10: 1390, 16.5: 1640, 17: 1760}


class _Plan:
    def __init__(self, labels):
        self.labels = labels


@pytest.fixture(scope="module")
def tables():
    labels, _, tissues = stdlib_tables("hand_pediatric")
    return labels, FAMILY.lower(tissues, labels), {e.name: e.id for e in labels}


@pytest.fixture(scope="module")
def built(tables):
    _, settings, _ = tables
    cache = {}

    def get(age, sex, seed=0, grid=GRID):
        key = (age, sex, seed, grid)
        if key not in cache:
            d = Demographics(sex, float(age), float(HEIGHT[age] - (20 if sex == "female" else 0)), 17.0)
            cache[key] = FAMILY.build(settings, d, grid, np.random.default_rng(seed))
        return cache[key]
    return get


@pytest.mark.parametrize("age", [1, 5, 10])
@pytest.mark.parametrize("sex", ["female", "male"])
def test_builds_and_passes_its_checks(tables, built, age, sex):
    labels, _, ids = tables
    scene = built(age, sex)
    assert scene.labels.shape == GRID.shape and scene.labels.dtype == np.uint8
    present = set(np.unique(scene.labels).tolist())
    for name in ("soft_tissue", "subcutaneous_fat", "radius", "ulna", "carpals", "metacarpals", "proximal_phalanges",
                 "middle_phalanges", "distal_phalanges", "distal_radius_physis", "distal_ulna_physis",
                 "metacarpal_physes", "phalangeal_physes"):
        assert ids[name] in present, name
    report = FAMILY.assess(scene.labels, scene.lesion_mask, GRID.spacing, {"sex": sex, "age_y": age}, _Plan(labels))
    assert report.reasons == []
    assert scene.textures["trabecular"].shape == GRID.shape
    assert "bone_density_z" in scene.factors
    tissues = {layer.tissue for layer in scene.layers}
    assert {"cancellous_bone", "cortical_bone", "cartilage", "soft_tissue"} <= tissues
    physis = scene.geometry["physes"][0]
    assert {"label", "centre_mm", "axis", "radius_mm", "open", "t_metaphysis"} <= set(physis)


def test_carpals_ossify_with_age_and_earlier_in_girls(tables, built):
    labels, _, _ = tables
    counts = {}
    for sex in ("female", "male"):
        for age in (1, 5, 10):
            rep = FAMILY.assess(built(age, sex).labels, None, GRID.spacing, {"sex": sex, "age_y": age}, _Plan(labels))
            counts[sex, age] = rep.measures["carpals_ossified"]
    for sex in ("female", "male"):
        assert counts[sex, 1] < counts[sex, 5] <= counts[sex, 10]
    for age in (1, 5, 10):
        assert counts["female", age] >= counts["male", age]
    assert R.expected_carpal_count(5, "female") > R.expected_carpal_count(5, "male")


def test_physes_open_at_10_and_fused_at_the_end_of_their_range(tables, built):
    _, _, ids = tables
    groups = ("distal_radius_physis", "distal_ulna_physis", "metacarpal_physes", "phalangeal_physes")
    for sex in ("female", "male"):
        labels = built(10, sex).labels
        assert all(np.any(labels == ids[g]) for g in groups)
    boy = built(17, "male", grid=BIG).labels     # hand physes fuse by 17 y in boys; the wrist's range runs to 18 y
    assert not np.any(boy == ids["metacarpal_physes"]) and not np.any(boy == ids["phalangeal_physes"])
    girl = built(16.5, "female", grid=BIG)
    assert not any(np.any(girl.labels == ids[g]) for g in groups)
    assert all(not p["open"] for p in girl.geometry["physes"])


def test_bone_lengths_within_the_references(tables, built):
    labels, _, _ = tables
    for age in (5, 10):
        for sex in ("female", "male"):
            rep = FAMILY.assess(built(age, sex).labels, None, GRID.spacing, {"sex": sex, "age_y": age}, _Plan(labels))
            low, high = R.mc3_limits_mm(age, sex)
            assert low <= rep.measures["mc3_mm"] <= high
            shape = built(age, sex).geometry["shape"]
            mc3 = next(b for b in shape.bones if b.name == "metacarpal_3").length
            assert abs(mc3 / R.mc3_length_mm(age, sex) - 1) < 0.25


def test_a_hand_too_big_for_the_grid_names_the_setting(tables):
    _, settings, _ = tables
    with pytest.raises(FamilyError, match="field_mm"):
        FAMILY.build(settings, Demographics("male", 10.0, 1390.0, 17.0), Grid((120, 40, 80), (1.0,) * 3),
                     np.random.default_rng(0))


def test_same_seed_same_arrays(tables, built):
    _, settings, _ = tables
    a = built(5, "female")
    b = FAMILY.build(settings, Demographics("female", 5.0, 1080.0, 17.0), GRID, np.random.default_rng(0))
    assert np.array_equal(a.labels, b.labels) and np.array_equal(a.base_labels, b.base_labels)
    assert all(np.array_equal(x.fraction, y.fraction) for x, y in zip(a.layers, b.layers))
    assert np.array_equal(a.textures["trabecular"], b.textures["trabecular"])
    c = FAMILY.build(settings, Demographics("female", 5.0, 1080.0, 17.0), GRID, np.random.default_rng(1))
    assert not np.array_equal(a.labels, c.labels)
