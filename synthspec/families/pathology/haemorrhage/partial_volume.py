"""What each voxel of a head scene holds, in shares, and the edges of a haematoma in shares too.

Role: the head family paints its anatomy as whole-volume partial-volume layers (csf, grey matter,
white matter, soft tissue, bone, air; families/anatomy/head/build.py), each layer covering a
fraction of what was painted before it.  A bleed replaces the intracranial content of a voxel
(never its bone), so its layer fraction is the share of the voxel it covers times the voxel's
intracranial share; and mass effect moves CSF shares into brain.  This module turns layer fractions
into shares and back, and gives a boundary ramp for masks defined by a signed distance.

A scene without those layers (a binary label scene, as in the tests' phantoms) gets shares 0 or 1
from its labels and geometry.  It draws nothing and writes nothing into the scene by itself except
in `set_brain_csf_shares`, which copies every array it edits (the twin's clean scene shares them).
"""

from __future__ import annotations

import dataclasses

import numpy as np

BASE = ("csf", "grey_matter", "white_matter")
"""The first three anatomy layers, in painting order; what a bleed may displace."""
CSF_LABELS = ("subarachnoid_space", "sylvian_fissures", "basal_cisterns", "lateral_ventricles", "third_ventricle",
              "fourth_ventricle")


def _base_layers(scene) -> list[int]:
    """Indices of the whole-volume anatomy layers (box None), in painting order, up to the first lesion layer."""
    out = []
    for i, layer in enumerate(scene.layers):
        if layer.box is not None or layer.level_quantiles:
            break
        out.append(i)
    return out


def shares(scene, crop, ids: dict[str, int]) -> dict[str, np.ndarray]:
    """csf, brain (grey + white) and intracranial (csf + brain) shares of each voxel in `crop`, float32."""
    base = _base_layers(scene)
    names = [scene.layers[i].tissue for i in base]
    if all(t in names for t in BASE):
        fractions = [np.asarray(scene.layers[i].fraction[crop], dtype=np.float32) for i in base]
        out = {}
        cover = np.ones_like(fractions[0])
        for tissue, f in zip(reversed(names), reversed(fractions)):   # a layer is covered by every later one
            if tissue in BASE:
                out[tissue] = f * cover
            cover = cover * (1.0 - f)
        brain = out["grey_matter"] + out["white_matter"]
        return {"csf": out["csf"], "brain": brain, "intracranial": out["csf"] + brain,
                "grey_matter": out["grey_matter"], "white_matter": out["white_matter"]}
    geo = scene.geometry
    csf = np.isin(scene.base_labels[crop], [ids[n] for n in CSF_LABELS if n in ids]).astype(np.float32)
    brain = geo["brain"][crop].astype(np.float32)
    intra = (geo["intracranial"][crop] & ~geo["skull"][crop]).astype(np.float32)
    return {"csf": csf * intra, "brain": brain, "intracranial": intra}


def set_brain_csf_shares(scene, crop, csf: np.ndarray, grey: np.ndarray, white: np.ndarray) -> bool:
    """Rewrite the csf / grey / white layer fractions in `crop` so the voxels hold these shares (their sum
    unchanged, so every later layer keeps its fraction); False when the scene has no such layers."""
    base = _base_layers(scene)
    index = {scene.layers[i].tissue: i for i in base}
    if not all(t in index for t in BASE) or [scene.layers[i].tissue for i in base[:3]] != list(BASE):
        return False
    cum = np.zeros_like(csf)
    layers = list(scene.layers)
    for tissue, s in zip(BASE, (csf, grey, white)):
        cum = cum + s
        f = np.divide(s, cum, out=np.zeros_like(s), where=cum > 1e-6)
        i = index[tissue]
        whole = np.array(layers[i].fraction, dtype=np.float32, copy=True)
        whole[crop] = f
        layers[i] = dataclasses.replace(layers[i], fraction=whole)
    scene.layers = layers
    return True


def ramp(signed_mm: np.ndarray, spacing) -> np.ndarray:
    """Share of each voxel inside a surface given the signed distance of its centre (mm, < 0 inside).

    The voxel's extent across the surface is its size along the surface normal (from the gradient of
    the distance), so a 5 mm slice cut obliquely by the surface takes a wide ramp and an in-plane edge a
    narrow one; the share is linear in the distance over that extent (a box voxel against a plane)."""
    sp = np.asarray(spacing, dtype=np.float64)
    grads = np.gradient(signed_mm, *sp) if min(signed_mm.shape) > 1 else [np.zeros_like(signed_mm)] * 3
    norm = np.sqrt(sum(g * g for g in grads))
    norm = np.where(norm > 1e-6, norm, 1.0)
    extent = np.sqrt(sum((g / norm * s) ** 2 for g, s in zip(grads, sp)))
    extent = np.where(extent > 1e-6, extent, float(sp.min()))
    return np.clip(0.5 - signed_mm / extent, 0.0, 1.0).astype(np.float32)


def core_mask(fraction: np.ndarray) -> np.ndarray:
    """The lesion mask of a share map: voxels the lesion fills at least half of (TissueScene.lesion_mask),
    or its fullest voxels when none is half full (a thin bleed keeps a mask)."""
    if not fraction.size:
        return fraction > 0
    top = float(fraction.max())
    return fraction >= min(0.5, top) if top > 0 else np.zeros(fraction.shape, bool)
