"""The radiography renderer: a tissue scene becomes per-material densities, mass kept, layers mixed."""

import numpy as np
import pytest

from synthspec.families.base import Layer, TissueScene
from synthspec.families.modality.xray.render import material_volumes, subject_density

MATERIALS = ["soft_tissue", "adipose", "cortical_bone", "trabecular_bone"]
TISSUE_MATERIAL = {"soft_tissue": "soft_tissue", "fat": "adipose", "cortical_bone": "cortical_bone",
                   "cancellous_bone": "trabecular_bone", "cartilage": "soft_tissue"}
DENSITY = {"soft_tissue": 1.03, "fat": 0.92, "cortical_bone": 1.92, "cancellous_bone": 1.18, "cartilage": 1.1}
LABEL_TISSUE = {0: "air", 1: "soft_tissue", 2: "cortical_bone", 3: "cancellous_bone", 4: "fat"}


def scene(labels, layers=(), factors=None, textures=None):
    return TissueScene(labels=labels, base_labels=labels, layers=list(layers), textures=textures or {},
                       quantiles={}, factors=factors or {})


def test_each_label_fills_its_material_with_its_density():
    labels = np.zeros((2, 3, 4), np.uint8)
    labels[0, 0, 0], labels[0, 1, 1], labels[1, 2, 3], labels[1, 0, 2] = 1, 2, 3, 4
    out = material_volumes(scene(labels), LABEL_TISSUE, DENSITY, TISSUE_MATERIAL, MATERIALS)
    assert out.shape == (4, 2, 3, 4) and out.dtype == np.float32
    assert out[0, 0, 0, 0] == pytest.approx(1.03)
    assert out[2, 0, 1, 1] == pytest.approx(1.92)
    assert out[3, 1, 2, 3] == pytest.approx(1.18)
    assert out[1, 1, 0, 2] == pytest.approx(0.92)
    assert out.sum() == pytest.approx(1.03 + 1.92 + 1.18 + 0.92, rel=1e-6)   # air and empty voxels hold nothing


def test_a_half_layer_shares_the_voxel_between_materials():
    labels = np.ones((1, 1, 2), np.uint8)
    fraction = np.array([[[0.5, 0.0]]], np.float32)
    out = material_volumes(scene(labels, [Layer("cartilage", fraction)]), LABEL_TISSUE, DENSITY, TISSUE_MATERIAL,
                           MATERIALS)
    # half soft tissue (1.03), half cartilage (soft-tissue composition at 1.1): mass adds per material
    assert out[0, 0, 0, 0] == pytest.approx(0.5 * 1.03 + 0.5 * 1.1)
    assert out[0, 0, 0, 1] == pytest.approx(1.03)


def test_a_core_and_kept_tissue_weigh_as_the_ct_renderer_mixes_them():
    labels = np.ones((1, 1, 1), np.uint8)
    ones = np.ones((1, 1, 1), np.float32)
    layer = Layer("fat", ones, core_tissue="cortical_bone", core=0.5 * ones, keep_tissue="soft_tissue",
                  keep=0.5 * ones)
    out = material_volumes(scene(labels, [layer]), LABEL_TISSUE, DENSITY, TISSUE_MATERIAL, MATERIALS)
    assert out[1, 0, 0, 0] == pytest.approx(0.25 * 0.92)      # fat: (1 - keep)(1 - core)
    assert out[2, 0, 0, 0] == pytest.approx(0.25 * 1.92)      # core: (1 - keep) core
    assert out[0, 0, 0, 0] == pytest.approx(0.5 * 1.03)       # kept: keep


def test_osteopenia_lowers_only_the_mineral():
    low = subject_density(DENSITY, {"bone_mineral_scale": 0.5})
    assert low["cortical_bone"] == pytest.approx(1.0 + 0.92 * 0.5)
    assert low["cancellous_bone"] == pytest.approx(1.0 + 0.18 * 0.5)
    assert low["soft_tissue"] == DENSITY["soft_tissue"]
    assert subject_density(DENSITY, {"bone_density_z": 1.0})["cortical_bone"] > DENSITY["cortical_bone"]


def test_a_layer_tissue_the_plan_lacks_is_named():
    labels = np.ones((1, 1, 1), np.uint8)
    with pytest.raises(ValueError, match="lung"):
        material_volumes(scene(labels, [Layer("lung", np.ones((1, 1, 1), np.float32))]), LABEL_TISSUE,
                         DENSITY, {**TISSUE_MATERIAL, "lung": "lung"}, MATERIALS)
