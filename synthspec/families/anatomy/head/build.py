"""Build one adult head as tissues on the plan's grid, by sampling the template through the subject's map.

Stage role: (sex, age, height) and `rng` (the subject's anatomy stream) in, a `TissueScene` out.  It
draws only from `rng` (shape.sample_shape first, then the tissue quantiles, the bone density, the mastoid
texture and last the shared tissue factor `tissue_z`),
so a subject's anatomy never depends on its lesions.  It inserts no lesion and knows no intensity.

For every voxel the subject -> template map is: remove the pose (centring, rotation), divide by the
subject's scale, add the diffeomorphic displacement.  Tissue shares are the mean of three samples
across the slice thickness (partial volume along z, as a thick reconstruction averages thin ones)
and of the in-plane edge of the skull; the label map takes the largest share.  Partial-volume layers
paint the shares in a fixed order, each relative to what is painted so far, so a voxel ends as the
exact mixture of its shares.  Atrophy removes brain tissue where the template has partial volume at
the cortex (sulci widen) and around the ventricles (they enlarge); the removed share becomes CSF.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from synthspec.families.anatomy.head import SUTURE_CODES
from synthspec.families.anatomy.head.shape import sample_shape
from synthspec.families.anatomy.head.template import CSF_CODE, REGION_CODE, load_template, lps_coordinates
from synthspec.families.anatomy.texture import draw_quantiles
from synthspec.families.base import Demographics, FamilyError, Layer, TissueScene
from synthspec.families.grid import Grid

SUBSAMPLES = (-1.0 / 3.0, 0.0, 1.0 / 3.0)
"""Sample positions across a slice, in slice thicknesses (partial volume along z)."""
TABLE_MM = 1.6
"""Outer and inner table thickness; the diploe lies between where the skull is thicker than both."""
TEMPORAL_SQUAMA = 0.6
"""Skull thickness over the temporal squama relative to the calvarium (Lillie 2016: about 3-4 mm vs 6-7 mm)."""
SCALP_TOP_MARGIN_MM = 6.0
"""Room left above the vertex (the scalp's top) at the top of the grid."""
CSF_LABEL = {code: name for name, code in CSF_CODE.items()}
FAR_MM = 200.0
"""Distance from the intracranial space (mm) that points beyond the template's grid read as."""
SHARES = ("csf", "grey_matter", "white_matter", "soft_tissue", "cancellous_bone", "cortical_bone", "air")


@lru_cache(maxsize=1)
def _tensors():
    """The template as torch tensors for grid_sample: float channels, packed integer codes, and constants."""
    t = load_template()
    floats = torch.from_numpy(np.stack([t["gm"], t["wm"], FAR_MM - t["outward"].astype(np.float32), t["vfield"]])
                              .astype(np.float32))[None]   # stored as FAR_MM - distance: beyond the template is far
    packed = (t["region"].astype(np.int32) | (t["csf"].astype(np.int32) << 5) | (t["territory"].astype(np.int32) << 9)
              | (t["air"].astype(np.int32) << 12) | (t["head"].astype(np.int32) << 14)
              | (t["petrous"].astype(np.int32) << 15))
    codes = torch.from_numpy(packed.astype(np.float32))[None, None]
    x, y, z = lps_coordinates(t["intracranial"].shape)
    ic = t["intracranial"]
    centre = np.array([float((ic * x).sum() / ic.sum()), float((ic * y).sum() / ic.sum()),
                       float((ic * z).sum() / ic.sum())])
    top = float(z[0, 0, 0] + np.nonzero(t["head"].any(axis=(1, 2)))[0].max())
    icv_ml = float(ic.sum()) / 1000.0
    return floats, codes, centre, top, icv_ml, t["intracranial"].shape


def _normalised(q: np.ndarray, shape) -> torch.Tensor:
    """LPS template mm (x, y, z) [..., 3] -> grid_sample's (-1..1) coordinates over (X, Y, Z) index axes."""
    nz, ny, nx = shape
    i = 98.0 - q[..., 0]
    j = 134.0 - q[..., 1]
    k = q[..., 2] + 72.0
    return torch.from_numpy(np.stack([2 * i / (nx - 1) - 1, 2 * j / (ny - 1) - 1, 2 * k / (nz - 1) - 1],
                                     axis=-1).astype(np.float32))


def _sample(volume: torch.Tensor, grid: torch.Tensor, mode: str) -> np.ndarray:
    out = torch.nn.functional.grid_sample(volume, grid[None], mode=mode, padding_mode="zeros", align_corners=True)
    return out[0].numpy()


def template_points(grid: Grid, shape, dz_offset: float, centre_t, top_t, rng_free) -> np.ndarray:
    """Template LPS mm of every voxel of `grid` (subsample `dz_offset` slices off centre) for the head `shape`."""
    zc, yc, xc = grid.centres_mm()
    z_top = zc[-1] + grid.spacing[0] / 2.0 - SCALP_TOP_MARGIN_MM
    sz = shape.scale[2]
    head_centre = np.array([0.0, 0.0, z_top - (top_t - centre_t[2]) * sz]) + shape.shift_mm
    z = (zc + dz_offset * grid.spacing[0])[:, None, None]
    p = np.stack(np.broadcast_arrays(xc[None, None, :], yc[None, :, None], z), axis=-1).astype(np.float32)
    p = p - head_centre.astype(np.float32)
    q = p @ shape.rotation.astype(np.float32)          # R^T p for each row vector
    q /= np.asarray(shape.scale, np.float32)
    q += np.asarray(centre_t, np.float32)
    return q


def _displace(q: np.ndarray, shape, tshape) -> np.ndarray:
    """q + u(q): the coarse diffeomorphic displacement sampled trilinearly at every point."""
    v = torch.from_numpy(shape.velocity)[None]          # [1, 3, nz, ny, nx] over the template's extent
    u = _sample(v, _normalised(q, tshape), "bilinear")  # [3, Z, Y, X]
    return q + np.moveaxis(u, 0, -1)


def _suture_code(q: np.ndarray) -> np.ndarray:
    """Suture on the skull at template points: positions after adult skull landmarks in MNI space (approximate)."""
    x, y_mni, z = q[..., 0], -q[..., 1], q[..., 2]
    code = np.zeros(q.shape[:-1], np.uint8)
    half = 1.0
    coronal = (np.abs(y_mni - (5.0 + 0.15 * (80.0 - z))) < half) & (z > 0.0)
    lambdoid = (np.abs(y_mni - (-85.0 + 0.17 * (62.0 - z))) < half) & (z > -25.0)
    y_c, y_l = 5.0 + 0.15 * (80.0 - z), -85.0 + 0.17 * (62.0 - z)
    sagittal = (np.abs(x) < half) & (z > 35.0) & (y_mni < y_c) & (y_mni > y_l)
    squamosal = (np.abs(x) > 45.0) & (np.abs(z - (12.0 - 0.004 * (y_mni + 20.0) ** 2)) < half) \
        & (y_mni > -60.0) & (y_mni < 20.0)
    code[squamosal] = SUTURE_CODES["squamosal"]
    code[lambdoid] = SUTURE_CODES["lambdoid"]
    code[coronal] = SUTURE_CODES["coronal"]
    code[sagittal] = SUTURE_CODES["sagittal"]
    return code


def _shares(values: np.ndarray, codes: np.ndarray, q: np.ndarray, shape, pixel_mm: float, mastoid_cells: np.ndarray,
            mean_scale: float):
    """Tissue shares (dict of float32 arrays) of one subsample."""
    gm, wm, far, vfield = values
    outward = FAR_MM - far
    inside = np.clip(1.0 - outward, 0.0, 1.0)
    brain = np.clip(gm + wm, 0.0, 1.0)
    theta = min(3.0 * shape.loss, 0.6)
    kept = np.clip((brain - theta) / (1.0 - theta), 0.0, 1.0) if theta > 0 else brain
    tau = float(np.clip(0.5 - 0.22 * (shape.ventricle_factor - 1.0), 0.06, 0.5))
    if tau < 0.5:
        kept = kept * (1.0 - np.clip((vfield - tau) / 0.08, 0.0, 1.0))
    ratio = np.divide(kept, brain, out=np.zeros_like(brain), where=brain > 1e-6)
    g, w = gm * ratio * inside, wm * ratio * inside
    csf = np.clip(inside - g - w, 0.0, 1.0)
    out = 1.0 - inside
    d = np.maximum(outward - 0.5, 0.0) * mean_scale
    x, z = q[..., 0], q[..., 2]
    t_local = np.where((np.abs(x) > 52.0) & (z > -30.0) & (z < 25.0), TEMPORAL_SQUAMA, 1.0) * shape.skull_mm
    edge = max(pixel_mm, 0.5)
    bone = np.clip(d / edge + 0.5, 0.0, 1.0) * np.clip((t_local - d) / edge + 0.5, 0.0, 1.0) * (outward > 0.5)
    air_code = (codes >> 12) & 3
    head = ((codes >> 14) & 1).astype(np.float32)
    petrous = ((codes >> 15) & 1).astype(bool)
    bone = np.where(petrous & (out > 0.5), 1.0, bone)
    marrow = ((d > TABLE_MM) & (d < t_local - TABLE_MM) & ~petrous).astype(np.float32)
    bone_out = out * bone
    soft = out * (1.0 - bone) * head
    air = out * (1.0 - bone) * (1.0 - head)
    sinus = (air_code == 1)
    mastoid = (air_code == 2)
    cells = mastoid & mastoid_cells
    air_space = (sinus | cells) & (out > 0.5)
    air = np.where(air_space, out, air)
    soft = np.where(air_space, 0.0, soft)
    bone_out = np.where(air_space, 0.0, bone_out)
    pet_csf = petrous & (csf > 0) & (g + w < 0.05)
    bone_out = np.where(pet_csf, bone_out + csf, bone_out)
    csf = np.where(pet_csf, 0.0, csf)
    return {"csf": csf, "grey_matter": g, "white_matter": w, "soft_tissue": soft,
            "cancellous_bone": bone_out * marrow, "cortical_bone": bone_out * (1.0 - marrow), "air": air}, \
        (g + w) >= 0.5 * np.maximum(inside, 1e-6), inside, (vfield > tau) & (brain > 0.5)


def build_tissues(demographics: Demographics, grid: Grid, tissues: list[str], label_ids: dict[str, int],
                  rng: np.random.Generator) -> TissueScene:
    floats, codes_t, centre_t, top_t, icv_t, tshape = _tensors()
    extent = [n * 1.0 for n in tshape]
    shape = sample_shape(demographics.sex, demographics.age_y, demographics.height_mm, icv_t, extent, rng)
    quantiles = draw_quantiles(tissues, rng)
    bone_z = float(rng.standard_normal())
    mastoid_seed = int(rng.integers(0, 2**31 - 1))
    tissue_z = float(rng.standard_normal())   # drawn last: the draws before it keep their values
    mean_scale = float(np.prod(shape.scale) ** (1.0 / 3.0))
    head_height = (top_t - float(lps_coordinates(tshape)[2].min())) * shape.scale[2]
    if head_height > grid.extent_mm()[0] + 80.0:
        raise FamilyError(f"the grid covers {grid.extent_mm()[0]:.0f} mm along z, too little for a head; "
                          "use the head family's coverage")
    Z, Y, X = grid.shape
    sums = {k: np.zeros(grid.shape, np.float32) for k in SHARES}
    centre = None
    cells_rng = np.random.default_rng(mastoid_seed)
    mastoid_noise = cells_rng.standard_normal((24, 24, 24)).astype(np.float32)
    for offset in SUBSAMPLES:
        q = _displace(template_points(grid, shape, offset, centre_t, top_t, None), shape, tshape)
        g = _normalised(q, tshape)
        values = _sample(floats, g, "bilinear")
        codes = _sample(codes_t, g, "nearest")[0].astype(np.int32)
        cell_idx = np.mod(np.floor(q / 2.5).astype(np.int64), 24)
        cells = mastoid_noise[cell_idx[..., 2], cell_idx[..., 1], cell_idx[..., 0]] > -0.2
        shares, is_brain, inside, grown = _shares(values, codes, q, shape, grid.spacing[2], cells, mean_scale)
        for k in SHARES:
            sums[k] += shares[k]
        if offset == 0.0:
            centre = (q, codes, is_brain, inside, grown)
    n = float(len(SUBSAMPLES))
    share = {k: v / n for k, v in sums.items()}
    q, codes, is_brain, inside, grown = centre
    region_t = codes & 31
    csf_t = (codes >> 5) & 15
    territory = ((codes >> 9) & 7).astype(np.uint8)
    stacked = np.stack([share[k] for k in SHARES])
    winner = np.argmax(stacked, axis=0)
    labels = np.zeros(grid.shape, np.uint8)
    ids = label_ids
    region_label = np.zeros(32, np.uint8)
    for name, code in REGION_CODE.items():
        region_label[code] = ids.get(name, ids["grey_matter"])
    gm_lab = region_label[region_t]
    gm_lab = np.where(gm_lab == 0, ids["grey_matter"], gm_lab)
    deep_wm = np.isin(region_t, [REGION_CODE["corpus_callosum"], REGION_CODE["internal_capsule"],
                                 REGION_CODE["brainstem"], REGION_CODE["cerebellum"]])
    wm_lab = np.where(deep_wm, region_label[region_t], ids["white_matter"])
    csf_label = np.zeros(16, np.uint8)
    for code, name in CSF_LABEL.items():
        csf_label[code] = ids[name]
    csf_lab = csf_label[csf_t]
    csf_lab = np.where(csf_lab == 0, np.where(grown, ids["lateral_ventricles"], ids["subarachnoid_space"]), csf_lab)
    suture = np.zeros(grid.shape, np.uint8)
    skull = (winner == SHARES.index("cortical_bone")) | (winner == SHARES.index("cancellous_bone"))
    suture[skull] = _suture_code(q[skull])
    air_code = (codes >> 12) & 3
    labels[winner == 0] = csf_lab[winner == 0]
    labels[winner == 1] = gm_lab[winner == 1]
    labels[winner == 2] = wm_lab[winner == 2]
    labels[winner == 3] = ids["scalp"]
    labels[winner == 4] = ids["diploe"]
    labels[winner == 5] = ids["skull"]
    inner_air = (winner == 6) & (air_code > 0)
    labels[(winner == 6) & ~inner_air] = 0
    labels[inner_air & (air_code == 1)] = ids["paranasal_sinuses"]
    labels[inner_air & (air_code == 2)] = ids["mastoid_air"]
    labels[suture > 0] = ids["sutures"]
    # partial-volume layers: each share painted relative to what is painted before it
    layers = []
    painted = np.zeros(grid.shape, np.float32)
    for k in SHARES:
        s = share[k]
        painted += s
        if not (s > 0).any():
            continue
        f = np.divide(s, painted, out=np.zeros_like(s), where=painted > 1e-6).astype(np.float32)
        layers.append(Layer(tissue=k, fraction=f))
    base_labels = labels.copy()
    intracranial = inside >= 0.5
    brain = is_brain & intracranial & (share["grey_matter"] + share["white_matter"] >= 0.5)
    region = np.where(brain, np.where(winner == 2, np.where(deep_wm, region_label[region_t], region_label[region_t]),
                                      region_label[region_t]), 0).astype(np.uint8)
    side = np.sign(q[..., 0]).astype(np.int8)
    side[np.abs(q[..., 0]) < 0.6] = 0
    geometry = {"intracranial": intracranial, "brain": brain, "region": region,
                "territory": np.where(brain, territory, 0).astype(np.uint8), "skull": skull, "suture": suture,
                "side": side, "midline_x_mm": float(shape.shift_mm[0]),
                "shape": {"icv_ml": shape.icv_ml, "scale": shape.scale, "skull_mm": shape.skull_mm,
                          "tissue_loss": shape.loss, "ventricle_factor": shape.ventricle_factor}}
    return TissueScene(labels=labels, base_labels=base_labels, layers=layers, textures={}, quantiles=quantiles,
                       factors={"bone_density_z": bone_z, "tissue_z": tissue_z}, age_y=demographics.age_y, geometry=geometry,
                       lesion_mask=np.zeros(grid.shape, np.uint16))
