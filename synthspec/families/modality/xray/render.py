"""Radiography contrast: a tissue scene as per-material density volumes, before any ray is cast.

Role: the first half of the `xray` modality.  Every voxel's tissue (the anatomy's label map,
then the partial-volume layers of the anatomy and the lesions, in scene order) becomes a
mass density (g/cm^3) split over the attenuating materials of `attenuation.py` (a fat voxel
is all `adipose`, a half-bone edge voxel half `cortical_bone` and half `soft_tissue`).  The
projector integrates each material along the rays into an areal density (g/cm^2), and the
detector model turns those into photons energy by energy, so beam hardening and the
material's own energy dependence come out of the physics rather than out of a CT number.

Densities: the stdlib's `density` per tissue (tissues.synth); bone mineral follows the
subject's age draw and any osteopenia a pathology asked for (`scene.factors`), and the
trabecular texture field modulates cancellous bone by +-TRABECULAR_TEXTURE of its density.
It decides no anatomy and draws no random number.
"""

from __future__ import annotations

import numpy as np

from synthspec.families.base import Layer, TissueScene

TRABECULAR_TEXTURE = 0.25
"""Peak relative density variation of cancellous bone from its texture field (a tanh-bounded field):
trabecular bone volume fraction varies by tens of percent within a bone (Hildebrand et al., JBMR 1999)."""
BONE_DENSITY_SD = 0.08
"""Between-subject relative SD of bone mineral at a given age: areal BMD z-scores of healthy children spread
with SD about 8-10 % of the mean (Zemel et al., JCEM 2011, DXA reference curves)."""
BONE_TISSUES = ("cortical_bone", "cancellous_bone")


def subject_density(tissue_density: dict[str, float], factors: dict[str, float]) -> dict[str, float]:
    """One density per tissue for this subject: bone scaled by its mineral draw and any osteopenia."""
    z = float(factors.get("bone_density_z", 0.0))
    mineral = max(0.5, 1.0 + BONE_DENSITY_SD * z) * float(factors.get("bone_mineral_scale", 1.0))
    out = dict(tissue_density)
    for tissue in BONE_TISSUES:
        if tissue in out:
            # only the mineral part scales: bone of density rho is soft matrix (~1.0) plus mineral (rho - 1.0)
            out[tissue] = 1.0 + (out[tissue] - 1.0) * mineral
    return out


def material_volumes(scene: TissueScene, label_tissue: dict[int, str], tissue_density: dict[str, float],
                     tissue_material: dict[str, str], materials: list[str]) -> np.ndarray:
    """[M, Z, Y, X] float32 density (g/cm^3) of each material in `materials`, partial volume included."""
    density = subject_density(tissue_density, scene.factors)
    index = {m: i for i, m in enumerate(materials)}

    def slot(tissue: str) -> tuple[int, float]:
        if tissue == "air":   # an air layer (an airway lumen) holds no mass worth a ray
            return 0, 0.0
        material = tissue_material.get(tissue, "soft_tissue")
        if material not in index:
            raise ValueError(f"tissue {tissue!r} is made of {material!r}, which the plan's materials lack")
        return index[material], float(density.get(tissue, 1.0))

    shape = scene.base_labels.shape
    out = np.zeros((len(materials), *shape), np.float32)
    lut_m = np.full(256, -1, np.int64)
    lut_d = np.zeros(256, np.float32)
    for label, tissue in label_tissue.items():
        if tissue == "air":
            continue
        lut_m[int(label)], lut_d[int(label)] = slot(tissue)
    labels = scene.base_labels
    trabecular = scene.textures.get("trabecular")
    for m in range(len(materials)):
        where = lut_m[labels] == m
        if where.any():
            out[m][where] = lut_d[labels][where]
    if trabecular is not None:
        for label, tissue in label_tissue.items():
            if tissue == "cancellous_bone":
                m = lut_m[int(label)]
                inside = labels == int(label)
                out[m][inside] *= 1.0 + TRABECULAR_TEXTURE * np.tanh(0.8 * trabecular[inside])
    for layer in scene.layers:
        mix_layer(out, layer, slot)
    return out


def _share(layer: Layer, slot) -> list[tuple[int, float, object]]:
    """(material, density, weight within the layer) of what the layer's share of a voxel becomes: as the CT
    renderer mixes it, the tissue with its core (`core`), then the kept tissue (`keep`) over both."""
    core = layer.core if layer.core_tissue is not None else 0.0
    keep = layer.keep if layer.keep_tissue is not None else 0.0
    parts = [(*slot(layer.tissue), (1.0 - keep) * (1.0 - core))]
    if layer.core_tissue is not None:
        parts.append((*slot(layer.core_tissue), (1.0 - keep) * core))
    if layer.keep_tissue is not None:
        parts.append((*slot(layer.keep_tissue), keep))
    return parts


def mix_layer(out: np.ndarray, layer: Layer, slot) -> None:
    """out <- (1 - f) * out + f * (the layer's tissues), per material, where the layer has a share."""
    view = out[(slice(None), *layer.box)] if layer.box is not None else out
    f = np.asarray(layer.fraction, dtype=np.float32)
    inside = f > 0
    if not inside.any():
        return
    fi = f[inside]
    for m in range(view.shape[0]):
        v = view[m][inside]
        view[m][inside] = v * (1.0 - fi)
    for m, rho, weight in _share(layer, slot):
        w = weight[inside] if isinstance(weight, np.ndarray) else np.float32(weight)
        view[m][inside] += fi * rho * w
