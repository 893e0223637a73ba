"""Mass effect: midline shift and effacement as a smooth displacement field.

Midline shift from haematoma volume (a judgement, no fitted source): no shift below 8 mL, then
0.12 mm per mL (30 mL -> 2.6 mm, 60 mL -> 6.2 mm, 100 mL -> 11 mm), capped at 20 mm; posterior-fossa
bleeds shift the supratentorial midline by 0.  This sits in the range seen in practice, where a
supratentorial ICH of ~60 mL or an acute SDH > 10 mm thick commonly gives > 5 mm shift (the Brain
Trauma Foundation surgical thresholds, Bullock et al., Neurosurgery 2006: SDH > 10 mm or shift > 5 mm).

Field: a lateral displacement toward the opposite side, a Gaussian in distance from the midline
point at the haematoma's level, u(p) = s * exp(-|p - m|^2 / (2 sigma^2)), sigma = 0.6 D + 20 mm
(D = haematoma-to-midline distance), so the falx moves by exactly s and the push fades toward the far
skull.  It is applied by nearest-neighbour pull-back (new[p] = old[p - u]) to labels, base_labels,
geometry maps, texture fields and whole-volume layer fractions, inside the intracranial space only.
Every array is copied before it is written (the clean twin shares them).  A lesion that is brain
tissue itself (an infarct, a tumour) passes its own whole-grid masks as `carry`, so they move with it.

Effacement (`efface`): the swollen hemisphere squeezes its CSF out first, so next to a bleed the sulci
and the lateral ventricle on its side lose CSF to the brain around them (grey matter fills a sulcus,
white matter a ventricle).  Strength e = clip((V - 5 mL) / 55 mL, 0, 1): none for a small bleed, full
(the sulci next to it closed) from 60 mL, the volume at which a supratentorial bleed commonly shifts
the midline by > 5 mm (above).  Reach R = 10 mm + 1.5 r_eq (r_eq the radius of a sphere of the bleed's
volume); a CSF voxel at distance d from the blood loses e * (1 - d / R) of its CSF.  Only the bleed's
side of the midline, only supratentorial bleeds (a posterior-fossa bleed effaces the fourth ventricle
and cisterns, which this does not model).  The strength and reach are judgements of shape, not a
fitted published relation.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.ndimage import distance_transform_edt

from synthspec.families.pathology.haemorrhage import partial_volume

POSTERIOR_FOSSA = (40, 41)
EFFACE_FROM_ML, EFFACE_FULL_ML = 5.0, 60.0
SULCAL = ("subarachnoid_space", "sylvian_fissures")
VENTRICLE = ("lateral_ventricles",)


def effacement_strength(volume_ml: float) -> float:
    return float(np.clip((float(volume_ml) - EFFACE_FROM_ML) / (EFFACE_FULL_ML - EFFACE_FROM_ML), 0.0, 1.0))


def efface(scene, grid, blood, lo, volume_ml: float, side: int, ids: dict[str, int],
           posterior_fossa: bool = False) -> float:
    """Squeeze CSF out of the sulci and lateral ventricle next to a bleed (share map `blood` at `lo`);
    returns the CSF volume moved into brain, mL.  Edits copies of the layers and label maps it changes."""
    e = effacement_strength(volume_ml)
    if e <= 0.0 or posterior_fossa or side == 0:
        return 0.0
    sp = np.asarray(grid.spacing, dtype=np.float64)
    reach = 10.0 + 1.5 * (3.0 * volume_ml * 1000.0 / (4.0 * np.pi)) ** (1.0 / 3.0)
    pad = np.ceil(reach / sp).astype(int) + 1
    g0 = np.maximum(np.asarray(lo) - pad, 0)
    g1 = np.minimum(np.asarray(lo) + np.asarray(blood.shape) + pad, np.asarray(grid.shape))
    crop = tuple(slice(g0[a], g1[a]) for a in range(3))
    inside = np.zeros(tuple(g1 - g0), bool)
    o = np.asarray(lo) - g0
    inside[o[0]:o[0] + blood.shape[0], o[1]:o[1] + blood.shape[1], o[2]:o[2] + blood.shape[2]] = blood > 0.01
    d = distance_transform_edt(~inside, sampling=tuple(sp))
    geo = scene.geometry
    weight = e * np.clip(1.0 - d / reach, 0.0, 1.0) * (d > 0) * geo["intracranial"][crop]
    if "side" in geo:
        weight = weight * (geo["side"][crop] == side)
    labels = scene.base_labels[crop]
    sulcal = np.isin(labels, [ids[n] for n in SULCAL if n in ids])
    vent = np.isin(labels, [ids[n] for n in VENTRICLE if n in ids])
    weight = weight * (sulcal | vent)
    if not weight.any():
        return 0.0
    sh = partial_volume.shares(scene, crop, ids)
    moved = (weight * sh["csf"]).astype(np.float32)
    if "grey_matter" in sh:
        csf = sh["csf"] - moved
        grey = sh["grey_matter"] + moved * sulcal
        white = sh["white_matter"] + moved * vent
        partial_volume.set_brain_csf_shares(scene, crop, csf, grey, white)
        closed = (csf < np.maximum(grey, white)) & (moved > 0)
    else:                                  # a binary label scene: a voxel closes when it loses half its CSF
        closed = weight >= 0.5
    if closed.any():
        brain_ids = np.unique(scene.base_labels[geo["brain"]]) if "brain" in geo else []
        is_brain = np.isin(labels, brain_ids) & ~(sulcal | vent)
        if is_brain.any():
            _, idx = distance_transform_edt(~is_brain, sampling=tuple(sp), return_indices=True)
            nearest = labels[idx[0], idx[1], idx[2]]
            for name in ("labels", "base_labels"):
                whole = getattr(scene, name).copy()
                part = whole[crop]
                part[closed] = nearest[closed]
                setattr(scene, name, whole)
    return float(moved.sum()) * grid.voxel_mm3 / 1000.0


def midline_shift_mm(volume_ml: float, posterior_fossa: bool = False) -> float:
    if posterior_fossa:
        return 0.0
    return float(min(max(0.12 * (float(volume_ml) - 8.0), 0.0), 20.0))


def apply_shift(scene, grid, centre_zyx_mm, shift_mm: float, carry=()) -> list:
    """Push the brain away from a haematoma at `centre_zyx_mm` so the midline moves by `shift_mm`.

    `carry`: further whole-grid arrays moved by the same field; returned (warped copies, or as given)."""
    geo = scene.geometry
    carry = list(carry)
    if shift_mm <= 0.0 or "intracranial" not in geo:
        return carry
    sp = np.asarray(grid.spacing, dtype=np.float64)
    origin = grid.origin_mm()
    mid_x = float(geo.get("midline_x_mm", 0.0))
    c = np.asarray(centre_zyx_mm, dtype=np.float64)
    direction = -1.0 if c[2] > mid_x else 1.0           # toward the other side
    m = np.array([c[0], c[1], mid_x])
    sigma = 0.6 * abs(c[2] - mid_x) + 20.0
    shape = np.asarray(grid.shape)
    lo = np.maximum(np.floor((m - 3 * sigma - origin) / sp).astype(int), 0)
    hi = np.minimum(np.ceil((m + 3 * sigma - origin) / sp).astype(int) + 1, shape)
    crop = tuple(slice(lo[a], hi[a]) for a in range(3))
    zz, yy, xx = (origin[a] + np.arange(lo[a], hi[a]) * sp[a] for a in range(3))
    r2 = (zz[:, None, None] - m[0]) ** 2 + (yy[None, :, None] - m[1]) ** 2 + (xx[None, None, :] - m[2]) ** 2
    ux = direction * shift_mm * np.exp(-r2 / (2 * sigma * sigma))
    k, j, i = np.meshgrid(*(np.arange(lo[a], hi[a]) for a in range(3)), indexing="ij")
    src_i = np.clip(np.rint(i - ux / sp[2]).astype(np.int64), 0, shape[2] - 1)
    intra = geo["intracranial"]
    moved = intra[crop] & intra[k, j, src_i] & (src_i != i)
    if not moved.any():
        return carry
    dst = (k[moved], j[moved], i[moved])
    src = (k[moved], j[moved], src_i[moved])

    def warp(a):
        if a is None or not hasattr(a, "shape") or tuple(a.shape) != tuple(shape):
            return a
        out = a.copy()
        out[dst] = a[src]
        return out

    scene.labels = warp(scene.labels)
    scene.base_labels = warp(scene.base_labels)
    scene.textures = {name: warp(f) for name, f in scene.textures.items()}
    new_geo = dict(geo)
    for key in ("brain", "region", "territory", "side"):
        if key in new_geo:
            new_geo[key] = warp(new_geo[key])
    scene.geometry = new_geo
    layers = []
    for layer in scene.layers:
        changes = {}
        for attr in ("fraction", "texture", "core", "keep"):
            v = getattr(layer, attr)
            if layer.box is None and v is not None and hasattr(v, "shape") and tuple(v.shape) == tuple(shape):
                changes[attr] = warp(v)
        layers.append(dataclasses.replace(layer, **changes) if changes else layer)
    scene.layers = layers
    return [warp(a) for a in carry]
