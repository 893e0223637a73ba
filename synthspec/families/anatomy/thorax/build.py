"""Build one adult thorax as tissues: label map, the tissue under every voxel, partial-volume layers.

Stage role: turn (sex, age, height, BMI) and `rng` (the subject's anatomy stream) into a
`TissueScene` on the plan's grid.  It draws from no other stream, so the anatomy of a subject
never depends on its lesions (counterfactual twins share it bit for bit).  It inserts no
lesion and knows no intensity: the modality renders the scene.

Build order (each step draws only from `rng`, in this order):
    1. shape parameters           shape.sample_shape()
    2. analytic classification    classify._classify(): body layers, spine, ribs, sternum,
                                  heart, diaphragm, apices, mediastinum, lobes, fissures
    3. mediastinal tubes          aorta, trachea, main and lobar bronchi (carve the lungs)
    4. pulmonary vessel trees     vessels.vessel_trees(): arteries from the hila, veins to the left
                                  atrium, space-filling bisection (Kitaoka-like), Murray radii
    5. tissue state               one quantile per tissue, the dependent-lung gradient, two texture fields
    6. bone                       trabecular density z-score, cortical shell as a partial-volume layer

Labels are the codes of anatomy_thorax.synth (mapped by name from the plan's label table).  The
pleura (15) is not drawn as a label (a 1-voxel shell would eat the lobes); distance_to(pleura)
is measured from the boundary of the lung region.  Airway walls carry label 1 (soft tissue) so
every label keeps one tissue; the mediastinal filler is soft tissue too.
"""

from __future__ import annotations

import numba
import numpy as np

from synthspec.families.anatomy.texture import draw_quantiles, noise_pair
from synthspec.families.anatomy.thorax.classify import _classify
from synthspec.families.anatomy.thorax.codes import (AORTA, BODY_WALL, LOBES, ORGANS, RIBS, STERNUM, VERTEBRAE)
from synthspec.families.anatomy.thorax.shape import (R_AIRWAY, R_AORTA, R_CAVITY, R_LUNG, R_MEDIASTINUM, check_fits,
                                                     sample_shape)
from synthspec.families.anatomy.thorax.vessels import _polyline, _zyx, landmarks, vessel_trees
from synthspec.families.base import Demographics, Layer, TissueScene
from synthspec.families.grid import Grid, draw_tubes, run_slabs

BONES = (VERTEBRAE, RIBS, STERNUM)
CORTEX_MM = {RIBS: 0.8, STERNUM: 0.8, VERTEBRAE: 0.4}
"""Cortical thickness per bone, order-of-magnitude literature values (rib cortex about 0.5-1 mm, the
vertebral body's shell and endplates about 0.2-0.5 mm).  Thinner than a voxel, so the outer bone
voxels carry a partial-volume mix of cortex and marrow: share = thickness / voxel size across the face."""


@numba.njit(cache=True, nogil=True)
def _relabel(labels, aw_out, aw_in, aw_lab, occ_v, lab_v, k0, k1):
    """Final labels where a partial-volume structure fills half a voxel: airway wall, lumen, vessel."""
    Z, Y, X = labels.shape
    for k in range(k0, k1):
        for j in range(Y):
            for i in range(X):
                o = aw_out[k, j, i]
                if o > 0.0:
                    if o >= 0.5:
                        labels[k, j, i] = BODY_WALL
                    oi = aw_in[k, j, i]
                    if oi >= 0.5:
                        labels[k, j, i] = aw_lab[k, j, i]
                if occ_v[k, j, i] >= 0.5:
                    labels[k, j, i] = lab_v[k, j, i]


def cortex_fraction(labels: np.ndarray, spacing, cortex_mm: dict[int, float] | None = None) -> np.ndarray:
    """Share of each outer bone voxel that is cortex (float32; 0 elsewhere).

    Faces within a slice (share = thickness / in-plane voxel) and faces between slices, such as
    vertebral endplates (thickness / slice); the edge of the volume is a cut, not a cortex.  `cortex_mm` maps
    bone label -> cortical thickness (default: this builder's CORTEX_MM)."""
    from scipy.ndimage import binary_erosion

    cortex_mm = CORTEX_MM if cortex_mm is None else cortex_mm
    share = np.zeros(labels.shape, np.float32)
    bone = np.isin(labels, list(cortex_mm))
    if not bone.any():
        return share
    in_plane = np.zeros((3, 3, 3), bool)
    in_plane[1] = [[0, 1, 0], [1, 1, 1], [0, 1, 0]]
    across = np.zeros((3, 3, 3), bool)
    across[:, 1, 1] = True
    side = bone & ~binary_erosion(bone, structure=in_plane, border_value=1)
    end = bone & ~binary_erosion(bone, structure=across, border_value=1) & ~side
    for label in cortex_mm:
        mine = labels == label
        for face, size in ((side, min(spacing[1], spacing[2])), (end, spacing[0])):
            rim = face & mine
            if rim.any():
                share[rim] = np.float32(min(1.0, cortex_mm[label] / float(size)))
    return share


def _lut(label_ids: dict[str, int]) -> np.ndarray:
    """The builder's codes -> the plan's label ids, by structure name (identity for today's stdlib)."""
    lut = np.arange(256, dtype=np.uint8)
    for name, code in ORGANS.items():
        if name in label_ids:
            lut[code] = label_ids[name]
    return lut


def build_tissues(demographics: Demographics, grid: Grid, tissues: list[str], label_ids: dict[str, int],
                  rng: np.random.Generator) -> TissueScene:
    """The anatomy of one subject on `grid`, drawn from `rng` only."""
    check_fits(demographics, grid)
    S, arr = sample_shape(demographics, rng)
    lm = landmarks(S, arr, demographics, rng)
    zc, yc, xc = grid.centres_mm()
    spacing = np.asarray(grid.spacing, dtype=np.float64)
    labels = np.empty(grid.shape, np.uint8)
    region = np.empty(grid.shape, np.uint8)
    fiss = np.empty(grid.shape, np.float32)
    run_slabs(_classify, grid.shape[0], zc, yc, xc, S, arr["heart_c"], arr["heart_M"], arr["heart_Md"],
              arr["rib_jit"], spacing, labels, region, fiss)

    # aorta: carve a soft-tissue margin out of the lungs, then the vessel itself
    pts, radii = lm.aorta
    a, b, ra, rb = _polyline(pts, radii)
    occ, _ = draw_tubes(grid, a, b, ra + 3.5, rb + 3.5, 1, region, (R_LUNG, R_MEDIASTINUM, R_CAVITY))
    carve = occ >= 0.5
    labels[carve & (region == R_LUNG)] = BODY_WALL
    region[carve & (region == R_LUNG)] = R_MEDIASTINUM
    occ.fill(0.0)
    occ, _ = draw_tubes(grid, a, b, ra, rb, 1, region, (R_LUNG, R_MEDIASTINUM, R_CAVITY), occ=occ)
    inside = occ >= 0.5
    labels[inside] = AORTA
    region[inside] = R_AORTA
    fiss[inside] = 0.0

    # airways: wall (outer radius) and lumen
    aw_a = _zyx([w[0] for w in lm.airways])
    aw_b = _zyx([w[1] for w in lm.airways])
    r_out = np.array([w[2] for w in lm.airways])
    r_in = np.array([w[3] for w in lm.airways])
    aw_lab_seg = np.array([w[4] for w in lm.airways], np.uint8)
    allowed = (R_LUNG, R_MEDIASTINUM, R_CAVITY)
    aw_out, _ = draw_tubes(grid, aw_a, aw_b, r_out, r_out, 1, region, allowed)
    aw_in, aw_lab = draw_tubes(grid, aw_a, aw_b, r_in, r_in, aw_lab_seg, region, allowed)
    wall = aw_out >= 0.5
    region[wall] = R_AIRWAY
    fiss[aw_out > 0] = 0.0

    # pulmonary vessels (drawn only in lung and mediastinum)
    (va, vb, vra, vrb, vlab), n_pts, lobe_boxes = vessel_trees(labels, grid, lm, demographics, rng)
    occ_v, lab_v = draw_tubes(grid, va, vb, vra, vrb, vlab, region, (R_LUNG, R_MEDIASTINUM))

    # tissue state: where the subject sits in each tissue's range, the dependent-lung gradient, texture
    quantiles = draw_quantiles(tissues, rng)
    gravity = float(rng.random())
    parenchyma, trabecular = noise_pair(grid.shape, grid.spacing, rng)
    bone_density_z = float(rng.standard_normal())

    base_labels = labels.copy()
    run_slabs(_relabel, grid.shape[0], labels, aw_out, aw_in, aw_lab, occ_v, lab_v)
    lumen = np.where(aw_out > 0, aw_in, np.float32(0.0))   # the lumen lies inside its wall
    layers = [Layer("soft_tissue", fiss), Layer("soft_tissue", aw_out), Layer("air", lumen), Layer("blood", occ_v),
              Layer("cortical_bone", cortex_fraction(labels, grid.spacing))]
    lut = _lut(label_ids)
    lobes = tuple(int(lut[c]) for c in LOBES)
    if not np.array_equal(lut, np.arange(256, dtype=np.uint8)):
        base_labels, labels = lut[base_labels], lut[labels]
        lobe_boxes = {int(lut[code]): box for code, box in lobe_boxes.items()}
    return TissueScene(
        labels=labels, base_labels=base_labels, layers=layers,
        textures={"parenchyma": parenchyma, "trabecular": trabecular}, quantiles=quantiles,
        factors={"gravity": gravity, "bone_density_z": bone_density_z},
        gradient=(yc, (S.cav_yc - S.cav_b, S.cav_yc + S.cav_b), lobes), age_y=float(demographics.age_y),
        lesion_mask=np.zeros(grid.shape, dtype=np.uint16),
        geometry={"lung": region == R_LUNG, "vessel_fraction": occ_v, "lobe_boxes": lobe_boxes,
                  "shape": S, "landmarks": lm, "n_vessel_points": n_pts, "region": region})
