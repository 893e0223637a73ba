"""The rickets pathology: physeal widening by the right amount, the Thacher record, refusals, twins, determinism."""

from __future__ import annotations

import math

import numpy as np
import pytest

from synthspec.engine.scene import stdlib_tables
from synthspec.families.anatomy.hand import FAMILY
from synthspec.families.base import Demographics, LesionParams
from synthspec.families.grid import Grid
from synthspec.families.pathology.rickets import PATHOLOGY

GRID = Grid((200, 50, 140), (1.0, 1.0, 1.0))
CHILD = Demographics("male", 4.0, 1030.0, 16.0)


@pytest.fixture(scope="module")
def tables():
    labels, _, tissues = stdlib_tables("hand_pediatric")
    return labels, FAMILY.lower(tissues, labels), {e.name: e.id for e in labels}


def _lesion(w, location, subtype=""):
    return LesionParams(pathology="rickets", kind="rickets", subtype=subtype, diameter_mm=w, locations=[location])


def _scene(settings, d=CHILD, grid=GRID, seed=3):
    return FAMILY.build(settings, d, grid, np.random.default_rng(seed))


@pytest.mark.parametrize("w", [1.0, 3.0])
def test_widening_turns_metaphyseal_bone_into_physis(tables, w):
    labels, settings, ids = tables
    scene = _scene(settings)
    before = scene.labels.copy()
    physis = next(p for p in scene.geometry["physes"] if p["group"] == "distal_radius_physis")
    PATHOLOGY.insert(scene, GRID, [_lesion(w, "distal_radius_physis", "grade_1")], np.random.default_rng(5), labels, 10)
    assert scene.rejected == []
    (lesion,) = scene.lesions
    a = lesion.attributes
    assert a["grade_radius"] == 1 and a["physis_widening_mm"] == w
    assert a["thacher_wrist"] == a["grade_radius"] + a["grade_ulna"]
    bone_to_physis = np.sum((before == ids["radius"]) & (scene.labels == ids["distal_radius_physis"]))
    expected = math.pi * physis["radius_mm"] ** 2 * w / GRID.voxel_mm3
    assert 0.7 * expected <= bone_to_physis <= 1.5 * expected
    assert np.all(scene.lesion_mask[scene.labels != before] == lesion.id)
    assert np.count_nonzero(scene.lesion_mask) * GRID.voxel_mm3 / 1000 == pytest.approx(lesion.volume_ml)
    assert 0 < scene.factors["bone_mineral_scale"] < 1
    assert scene.lesion_mask.dtype == np.uint16


def test_grade_two_cups_the_metaphysis(tables):
    labels, settings, ids = tables
    scene = _scene(settings)
    PATHOLOGY.insert(scene, GRID, [_lesion(3.5, "distal_ulna_physis", "grade_2")], np.random.default_rng(7), labels,
                     10, first_id=4)
    (lesion,) = scene.lesions
    assert lesion.id == 4 and lesion.attributes["grade_ulna"] == 2 and lesion.attributes["cupping_mm"] > 0
    assert 2 <= lesion.attributes["thacher_wrist"] <= 4
    assert set(np.unique(scene.lesion_mask).tolist()) == {0, 4}


def test_hand_physes_and_the_closed_physis_refusal(tables):
    labels, settings, ids = tables
    scene = _scene(settings)
    n0 = np.count_nonzero(scene.labels == ids["metacarpal_physes"])
    PATHOLOGY.insert(scene, GRID, [_lesion(2.0, "metacarpal_physes")], np.random.default_rng(1), labels, 10)
    assert scene.lesions[0].attributes["thacher_wrist"] == 0
    assert np.count_nonzero(scene.labels == ids["metacarpal_physes"]) > n0
    big = Grid(tuple(int(f) for f in FAMILY.field_mm), (1.0,) * 3)
    grown = FAMILY.build(settings, Demographics("female", 16.5, 1640.0, 20.0), big, np.random.default_rng(0))
    PATHOLOGY.insert(grown, GRID, [_lesion(2.0, "physes")], np.random.default_rng(1), labels, 10)
    assert grown.lesions == [] and grown.rejected[0].startswith("open_physis:")
    assert not np.any(grown.lesion_mask)


def test_twins_keep_the_anatomy_and_insertion_is_deterministic(tables):
    labels, settings, _ = tables
    twin, a, b = (_scene(settings) for _ in range(3))
    for s in (a, b):
        # grade 1: no bowing, so every voxel off the lesion is the twin's (bowing has its own test below)
        PATHOLOGY.insert(s, GRID, [_lesion(2.5, "physes", "grade_1")], np.random.default_rng(11), labels, 10)
    assert np.array_equal(a.labels, b.labels) and np.array_equal(a.lesion_mask, b.lesion_mask)
    assert a.lesions[0].attributes == b.lesions[0].attributes
    outside = a.lesion_mask == 0
    assert np.array_equal(a.labels[outside], twin.labels[outside])
    assert len(twin.layers) + 2 * len(a.lesions[0].attributes["physes_changed"]) == len(a.layers)


def test_florid_wrist_rickets_bows_the_forearm_and_leaves_the_lesion_free_scene_alone(tables):
    labels, settings, ids = tables
    scene = _scene(settings)
    clean_labels, clean_layers = scene.labels.copy(), [layer.fraction.copy() for layer in scene.layers]
    shared_labels, shared_layers = scene.labels, list(scene.layers)
    PATHOLOGY.insert(scene, GRID, [_lesion(3.5, "distal_radius_physis", "grade_2")], np.random.default_rng(7),
                     labels, 10)
    (lesion,) = scene.lesions
    bow = lesion.attributes["bowing_mm"]
    assert 1.0 <= bow <= 3.0
    radius = ids["radius"]

    def centre_x(volume, z):
        xs = np.nonzero(volume[z] == radius)[1]
        return xs.mean() if xs.size else np.nan

    top = int(np.floor(min(p["centre_mm"][0] for p in scene.geometry["physes"]
                           if p["group"] == "distal_radius_physis") / GRID.spacing[0] + (GRID.shape[0] - 1) / 2))
    mid = top // 2
    moved = centre_x(scene.labels, mid) - centre_x(clean_labels, mid)
    assert abs(moved) == pytest.approx(bow / GRID.spacing[2], abs=1.0)         # the middle of the segment moves
    assert abs(centre_x(scene.labels, 1) - centre_x(clean_labels, 1)) <= 1.0  # its ends stay
    # the anatomy the engine would re-draw lesions in is untouched
    assert np.array_equal(shared_labels, clean_labels)
    assert all(np.array_equal(a, layer.fraction) for a, layer in zip(clean_layers, shared_layers))
