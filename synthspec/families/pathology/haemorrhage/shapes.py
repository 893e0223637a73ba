"""Haematoma shapes on the head scene's geometry: share maps (0..1, float32) on a crop; mm in the grid's frame.

Every shape is a surface cut by the voxels, so edge voxels hold part blood (partial_volume.py): the
lens and crescent by their signed distance to the inner surface, the ellipsoid by 2 x 2 x 3
sub-samples per voxel, the CSF-space bleeds by the CSF share of each voxel times the blood's
concentration there.  Blood fills only a voxel's intracranial share (never its bone).

    epidural      biconvex lens against the inner table, thickness T (= diameter_mm) at its centre,
                  half-width 2.5 T + 10 mm (clipped 15-50 mm; EDH are typically 3-4x as wide as thick),
                  thinning as 1 - (r/a)^2; it stays under one skull plate: each voxel belongs to the
                  plate of its nearest non-suture skull voxel, and plates are split by the sutures
                  (the dura is bound to the sutures, so an EDH does not cross them)
    subdural      crescent along the inner table, thickness T, half-width 5 T + 40 mm (clipped
                  40-90 mm; SDH spread over a hemisphere), profile 1 - (r/a)^4 (flat, tapered ends);
                  crosses sutures, stays on the seed's side of the midline (falx) and above/below
                  the tentorium as its seed (the tentorium label is not crossed)
    subarachnoid  the CSF-space voxels (subarachnoid space, Sylvian fissures, basal cisterns) nearest
                  a seed in the cisterns or fissures, until their blood adds up to the volume; the
                  blood is diluted by the CSF it mixes with: concentration c0 ~ U(0.7, 1) at the seed
                  (thick cisternal clot), falling as exp(-d / 40 mm) to no less than 0.35 c0 in the
                  far sulci (thin SAH; the thick/thin distinction of Fisher et al., Neurosurgery 1980;
                  the fall-off is a judgement)
    intraventricular  ventricle voxels, most dependent first (+y posterior in LPS; supine patient),
                  weighted by distance from a seed in one lateral ventricle; concentration
                  U(0.6, 1) of the ventricle's CSF share (a layering cast mixed with CSF)
    intraparenchymal  an ellipsoid (axis ratios 1 : 0.7-1 : 0.5-0.9) with low-order radius noise,
                  centred in the requested region, clipped to brain, scaled to the volume
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import binary_dilation, distance_transform_edt, label as cc_label

from synthspec.families.pathology.haemorrhage import partial_volume

SAH_FALL_MM, SAH_FLOOR = 40.0, 0.35


def crop_around(centre_vox, radius_mm, grid):
    sp = np.asarray(grid.spacing, dtype=np.float64)
    r = np.ceil(radius_mm / sp).astype(int) + 2
    c = np.asarray(centre_vox, dtype=int)
    lo = np.maximum(c - r, 0)
    hi = np.minimum(c + r + 1, np.asarray(grid.shape))
    return lo, hi, tuple(slice(lo[a], hi[a]) for a in range(3))


def inner_table_voxels(geo, side: int | None = None):
    """Intracranial voxels touching the skull (6-neighbourhood), optionally on one side."""
    skull = geo["skull"]
    near = binary_dilation(skull) & geo["intracranial"] & ~skull
    if side is not None and "side" in geo:
        near &= geo["side"] == side
    return np.argwhere(near)


def extra_axial(kind, thickness_mm, seed, scene, grid, rng, labels_named):
    """EDH lens or SDH crescent at an inner-table seed voxel; (lo, hi, share map) or a reason."""
    geo = scene.geometry
    T = float(thickness_mm)
    if kind == "epidural":
        a = float(np.clip(2.5 * T + 10.0, 15.0, 50.0))
    else:
        a = float(np.clip(5.0 * T + 40.0, 40.0, 90.0))
    lo, hi, crop = crop_around(seed, a + T + 4.0, grid)
    sp = np.asarray(grid.spacing, dtype=np.float64)
    skull = geo["skull"][crop]
    intra = geo["intracranial"][crop] & ~skull
    d_skull = distance_transform_edt(~skull, sampling=tuple(sp))
    s = np.asarray(seed) - lo
    zz, yy, xx = np.meshgrid(*(np.arange(hi[q] - lo[q]) * sp[q] for q in range(3)), indexing="ij")
    r = np.sqrt((zz - s[0] * sp[0]) ** 2 + (yy - s[1] * sp[1]) ** 2 + (xx - s[2] * sp[2]) ** 2)
    t = np.clip(r / a, 0.0, 1.0)
    profile = 1.0 - t ** 2 if kind == "epidural" else 1.0 - t ** 4
    # voxel-centre distance to the nearest skull centre is >= one voxel: measure thickness from half a voxel in
    signed = d_skull - 0.5 * sp.min() - T * profile                  # mm to the inner surface, < 0 inside
    allowed = intra & (r < a)
    if kind == "epidural" and "suture" in geo:
        plate = skull & (geo["suture"][crop] == 0)
        comp, _ = cc_label(plate)
        _, idx = distance_transform_edt(~plate, sampling=tuple(sp), return_indices=True)
        owner = comp[idx[0], idx[1], idx[2]]
        mine = owner[tuple(s)]
        if mine == 0:
            return "suture"
        allowed &= owner == mine
        # nor does it pass under the suture itself, where the dura is attached
        _, idx_all = distance_transform_edt(~skull, sampling=tuple(sp), return_indices=True)
        allowed &= geo["suture"][crop][idx_all[0], idx_all[1], idx_all[2]] == 0
    if "side" in geo:
        side = geo["side"][tuple(seed)]
        if side == 0:
            return "midline"
        allowed &= geo["side"][crop] == side
    bar = [labels_named[n] for n in ("falx", "tentorium") if n in labels_named]
    if bar:
        allowed &= ~np.isin(scene.labels[crop], bar)
    mask = allowed & (signed <= 0)
    if bar:
        comp, _ = cc_label(mask)   # the part connected to the seed: the tentorium is not crossed
        if comp[tuple(s)] == 0:
            return "skull"
        mask = comp == comp[tuple(s)]
    if not mask.any():
        return "skull"
    near = binary_dilation(mask, iterations=2) & allowed              # the edge ramp, on the seed's side only
    share = partial_volume.shares(scene, crop, labels_named)["intracranial"]
    frac = np.where(near, partial_volume.ramp(signed, sp), 0.0) * share
    return lo, hi, frac.astype(np.float32)


def seed_distance_mm(candidates: np.ndarray, seed, grid) -> np.ndarray:
    sp = np.asarray(grid.spacing, dtype=np.float64)
    return np.sqrt((((candidates - np.asarray(seed)) * sp) ** 2).sum(axis=1))


def fill_until(candidates: np.ndarray, score: np.ndarray, blood: np.ndarray, volume_vox: float):
    """The lowest-score candidates (argwhere rows) whose blood shares add up to `volume_vox` voxels;
    (rows, their shares).  At least one voxel; all of them when the space is too small."""
    order = np.argsort(score, kind="stable")
    total = np.cumsum(blood[order], dtype=np.float64)
    n = int(np.searchsorted(total, max(float(volume_vox), 1e-9)) + 1)
    keep = order[:min(max(n, 1), len(order))]
    return candidates[keep], blood[keep].astype(np.float32)


def share_map(rows: np.ndarray, values: np.ndarray):
    """(lo, hi, share map) of sparse voxel rows and their shares."""
    lo = rows.min(axis=0)
    hi = rows.max(axis=0) + 1
    out = np.zeros(tuple(hi - lo), np.float32)
    q = rows - lo
    out[q[:, 0], q[:, 1], q[:, 2]] = values
    return lo, hi, out


def sah_concentration(distance_mm: np.ndarray, rng) -> np.ndarray:
    """Blood's share of the CSF space at each distance from the SAH's seed (see the module docstring)."""
    c0 = float(rng.uniform(0.7, 1.0))
    return (c0 * np.maximum(np.exp(-distance_mm / SAH_FALL_MM), SAH_FLOOR)).astype(np.float32)


ELLIPSOID_OFFSETS = [(dz, dy, dx) for dz in (-1 / 3, 0.0, 1 / 3) for dy in (-0.25, 0.25) for dx in (-0.25, 0.25)]
"""Sub-voxel sample offsets (in voxels) for the ellipsoid's partial volume: 3 along z, 2 x 2 in plane."""


def ellipsoid(volume_ml, centre_vox, scene, grid, rng, ids):
    """IPH: an irregular ellipsoid of `volume_ml` blood within brain; (lo, hi, share map)."""
    sp = np.asarray(grid.spacing, dtype=np.float64)
    ratios = np.array([1.0, rng.uniform(0.7, 1.0), rng.uniform(0.5, 0.9)])
    q, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    coef = rng.normal(0.0, 0.08, 3)
    axes_n = rng.standard_normal((3, 3))
    axes_n /= np.linalg.norm(axes_n, axis=1, keepdims=True)
    r_eq = (3.0 * volume_ml * 1000.0 / (4.0 * np.pi)) ** (1.0 / 3.0)
    base = r_eq / np.prod(ratios) ** (1.0 / 3.0)
    target = volume_ml * 1000.0 / grid.voxel_mm3
    scale = 1.0
    for _ in range(4):
        radii = base * ratios * scale
        lo, hi, crop = crop_around(centre_vox, radii.max() * 1.3 + 2, grid)
        brain = partial_volume.shares(scene, crop, ids)["brain"] * scene.geometry["brain"][crop]
        cover = np.zeros(brain.shape, np.float32)
        for off in ELLIPSOID_OFFSETS:
            pts = np.stack(np.meshgrid(*((np.arange(lo[a], hi[a]) + off[a] - centre_vox[a]) * sp[a] for a in range(3)),
                                       indexing="ij"), axis=-1)
            rho = np.sqrt((((pts @ q) / radii) ** 2).sum(-1))
            dirs = pts / np.maximum(np.linalg.norm(pts, axis=-1, keepdims=True), 1e-9)
            wobble = 1.0 + sum(c * (dirs @ n) ** 2 for c, n in zip(coef, axes_n)) - coef.sum() / 3.0
            cover += rho <= wobble
        frac = (cover / len(ELLIPSOID_OFFSETS) * brain).astype(np.float32)
        got = float(frac.sum())
        if got <= 0.0:
            return None
        if abs(got - target) / target < 0.05:
            break
        scale *= (target / got) ** (1.0 / 3.0)
    return lo, hi, frac
