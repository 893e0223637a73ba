"""Glioblastoma on a real head_adult scene (coarse grid): nested compartments, white-matter oedema, BraTS labels,
midline crossing through the corpus callosum only, mass effect, twins.

The head is conftest's `brain_head`: one real head on a 96 x 96 grid with 5 mm slices, built once per session.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import binary_dilation, label as cc_label

from synthspec.families import registry
from synthspec.families.pathology.glioblastoma import MASK_NAME, compartments as C

CUBE = np.ones((3, 3, 3), bool)


@pytest.fixture(scope="module")
def head(brain_head):
    return brain_head


def insert(head, seed=1, subtype="enhancing_rim", **kw):
    kw.setdefault("diameter_mm", 30.0)
    scene, lesion, _ = head.insert("glioblastoma", seed=seed, subtype=subtype, **kw)
    return scene, lesion, scene.masks[MASK_NAME]


def _full(layer, shape):
    f = np.zeros(shape, np.float32)
    f[layer.box] = layer.fraction
    return f


def test_compartments_nest_and_layers_match_the_brats_labels(head):
    scene, lesion, brats = insert(head, seed=1, diameter_mm=36.0, locations=["lateral_frontal"])
    assert brats.dtype == np.uint8 and brats.shape == head.grid.shape
    assert set(np.unique(brats).tolist()) == {0, 1, 2, 3}
    necrosis, rim, oedema = brats == C.NCR, brats == C.ET, brats == C.SNFH
    assert not np.any(binary_dilation(necrosis, CUBE) & ~(necrosis | rim))      # the rim wraps the necrosis
    assert np.array_equal(scene.lesion_mask == lesion.id, necrosis | rim)      # lesion mask = tumour core
    layers = {l.tissue: _full(l, brats.shape) for l in scene.layers[-3:]}
    assert set(layers) == {"oedema", "tumour_enhancing", "necrosis"}
    assert np.array_equal(layers["tumour_enhancing"] > 0, rim)
    assert np.array_equal(layers["necrosis"] > 0, necrosis)
    assert np.array_equal(layers["oedema"] > 0, oedema) and layers["oedema"][oedema].min() >= 0.5
    a = lesion.attributes
    assert a["oedema_ml"] > 0 and a["necrosis_ml"] > 0 and a["enhancing_ml"] > 0
    assert a["whole_tumour_ml"] == pytest.approx(a["oedema_ml"] + lesion.volume_ml)
    assert abs(lesion.attributes["requested_diameter_mm"] - lesion.diameter_mm) / 36.0 < 0.1


def test_oedema_follows_white_matter_and_spares_cortex(head):
    labels = head.labels
    ids = {e.name: e.id for e in labels}
    cortex = [ids[n] for n in ("grey_matter", "lateral_frontal", "medial_frontal", "medial_parietal", "parietal_lobe",
                               "temporal_lobe", "inferior_temporal", "occipital_lobe", "insula")]
    for seed, loc in ((2, "parietal_lobe"), (3, "temporal_lobe")):
        scene, lesion, brats = insert(head, seed=seed, diameter_mm=28.0, locations=[loc], subtype="oedema")
        lab = scene.base_labels[brats == C.SNFH]
        white = [e.id for e in labels if e.tissue == "white_matter"]
        assert np.mean(np.isin(lab, white)) >= 0.9 and np.mean(np.isin(lab, cortex)) <= 0.05
        assert lesion.attributes["oedema_q"] >= 2.2


def test_crosses_the_midline_only_through_the_corpus_callosum(head):
    labels = head.labels
    ids = {e.name: e.id for e in labels}
    scene, lesion, brats = insert(head, seed=3, diameter_mm=30.0, locations=["corpus_callosum"])
    assert lesion.attributes["crosses_midline"]
    side = scene.geometry["side"]
    own = lesion.attributes["side"]
    assert np.any((brats > 0) & (side == -own)) and np.any((brats > 0) & (side == own))
    cc = scene.geometry["region"] == ids["corpus_callosum"]
    parts, n = cc_label((brats > 0) & ~cc, structure=CUBE)
    for k in range(1, n + 1):          # without the callosum no piece of the tumour holds both hemispheres
        sides = set(np.unique(side[parts == k]).tolist()) - {0}
        assert len(sides) <= 1
    lateral, l_lesion, l_brats = insert(head, seed=4, diameter_mm=20.0, locations=["temporal_lobe"])
    assert not l_lesion.attributes["crosses_midline"]
    assert not np.any((l_brats > 0) & (lateral.geometry["side"] == -l_lesion.attributes["side"]))


def test_mass_effect_grows_with_size(head):
    clean = head.scene
    small, s_lesion, _ = insert(head, seed=5, diameter_mm=12.0, locations=["parietal_lobe"])
    big, b_lesion, _ = insert(head, seed=5, diameter_mm=45.0, locations=["parietal_lobe"])
    assert s_lesion.attributes["midline_shift_mm"] == 0.0 and np.array_equal(small.labels, clean.labels)
    assert b_lesion.attributes["midline_shift_mm"] > 3.0 and not np.array_equal(big.labels, clean.labels)
    assert s_lesion.attributes["necrosis_ml"] < 0.2 * s_lesion.volume_ml     # small tumours are mostly solid


def test_subtypes_are_the_stdlib_compartments(head):
    from synthspec.compiler.resolve import stdlib

    family = registry.pathology("glioblastoma")
    subtypes = stdlib()[0].get("pathology_kind", "glioblastoma").get("subtypes")
    assert tuple(subtypes) == C.SUBTYPES and family.default_subtype in subtypes
    assert set(family.tissues) == {"oedema", "tumour_enhancing", "necrosis"}
    rng = np.random.default_rng(0)
    assert all(C.draw_shape("necrosis", rng)["necrotic_k"] >= 0.7 for _ in range(20))
    assert all(C.draw_shape("oedema", rng)["oedema_q"] >= 2.2 for _ in range(20))
    _, lesion, _ = insert(head, seed=6, subtype="solid", diameter_mm=25.0)
    assert lesion.subtype == "enhancing_rim"


def test_twin_scene_unchanged_and_head_checks_accept(head):
    clean = head.scene
    snap = {"labels": clean.labels.copy(), "base": clean.base_labels.copy(), "mask": clean.lesion_mask.copy(),
            "region": clean.geometry["region"].copy(), "n_layers": len(clean.layers)}
    scene, lesion, _ = insert(head, seed=7, diameter_mm=40.0)
    assert np.array_equal(clean.labels, snap["labels"]) and np.array_equal(clean.base_labels, snap["base"])
    assert np.array_equal(clean.lesion_mask, snap["mask"])
    assert np.array_equal(clean.geometry["region"], snap["region"])
    assert len(clean.layers) == snap["n_layers"] and clean.masks == {} and clean.changes == []
    result = registry.anatomy("head_adult").assess(scene.labels, scene.lesion_mask, head.grid.spacing,
                                                   {"sex": "female", "age_y": 60.0, "lesions": [{"id": lesion.id}]},
                                                   None)
    assert not [r for r in result.reasons if r.startswith("lesion")], result.reasons
