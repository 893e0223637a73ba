"""Build one adult thorax on the real prior: sample the template through the subject's map onto the plan's grid.

Stage role: (sex, age, height, BMI) and `rng` (the subject's anatomy stream) in, a `TissueScene` out.  It
draws only from `rng` (shape.sample_shape, then the tissue quantiles, the two texture fields, the bone
density, the fine vessel trees of vessels.py, last breasts.draw, in that order), so a subject's anatomy
never depends on its lesions.  It inserts no lesion and knows no intensity.

For every voxel the subject -> template map is: the distance below the top of the scan divided by the
subject's length scale; the kyphotic bow, the centring and the in-plane rotation removed; then, along the
ray from the slice's body centre, the radial map of shape.py (cage scaled, muscle wall and subcutaneous fat
rescaled); last the diffeomorphic displacement.  Tissue shares (lung, vessel, fat, air, bone; the rest is
lean soft tissue) are sampled trilinearly, at the slice's centre where the slice is about as thick as the
scan's (which carries its own partial volume) and averaged over three positions across a thicker one; the
label is the slice centre's.  Partial-volume layers paint every share a voxel's label does not
already stand for, each relative to what is painted so far, so a voxel ends as the mixture of its shares.
Fissures (where two lobes meet) are a 0.3 mm double pleural layer (thinner than a pixel; a judgement from
the 0.1-0.3 mm of histology) shared by the two voxels it lies between: about 19 % soft tissue in-plane at
0.78 mm, 6 % across a 2.5 mm slice, where the near-axial minor fissure lies.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numba
import numpy as np

from synthspec.families.anatomy.texture import draw_quantiles, noise_pair
from synthspec.families.anatomy.thorax_real import breasts
from synthspec.families.anatomy.thorax_real.codes import CODES, LOBES
from synthspec.families.anatomy.thorax_real.shape import DEFORM_GRID_MM, sample_shape
from synthspec.families.anatomy.thorax_real.template import BLOOD_HU, LUNG_RENDER_HU, SHARE_NAMES, load_template
from synthspec.families.anatomy.thorax_real.vessels import fine_vessel_occupancy
from synthspec.families.base import Demographics, Layer, TissueScene
from synthspec.families.grid import Grid

SUBSAMPLES = (-1.0 / 3.0, 0.0, 1.0 / 3.0)
OUTSIDE_MARGIN_MM = 20.0
"""Beyond the subject's skin by more than this (the deformation's largest displacement, about 4 SD) is air."""
PROBE_STEP, PROBE_MARGIN_MM = 4, 5.0
"""The centring probe samples every 4th voxel; the body is kept 5 mm (more than a probe step of 0.8-3.5 mm
pixels) from the edges."""
FISSURE_MM = 0.3
LUNG_MARGIN_MM = 5.0
"""The scan range keeps the whole lungs at least this far inside its ends where they fit (build._top_offset)."""
LUNG_TEXTURE_SHARE = 0.3
"""The share of the renderer's synthetic lung texture kept (the rest of the lung's texture is the scan's; a
development-scan judgement: lung-patch texture distances to it of 1.45 with none and 1.53 with 0.3 (both with
template.VESSEL_SHARPEN), 2.10 with 0.3 and 2.99 with all of it (both without); 0.3 keeps subjects' parenchyma
from being the scan's up to deformation)."""
CLASS_TISSUE = ("lung", "blood", "fat", "air", "cancellous_bone", "soft_tissue")
"""Tissue each share class paints (SHARE_NAMES, then the lean remainder)."""
PAINT_ORDER = (5, 1, 2, 0, 4, 3)
BONE_CORTEX_MM = {"ribs": 0.8, "sternum": 0.8, "clavicles": 1.0, "scapulae": 0.8, "humeri": 1.5, "vertebrae": 0.4}
"""Cortical thickness per bone (the procedural thorax's for ribs, sternum and vertebrae; long-bone and
clavicle cortex about 1-2 mm, order-of-magnitude literature values)."""


@lru_cache(maxsize=1)
def _template():
    t = load_template()
    dz, dy, dx = (float(v) for v in t["spacing"])
    ox, oy, oz = (float(v) for v in t["origin_xyz"])
    codes = t["codes"]
    K, J, I = codes.shape
    voxel_ml = dz * dy * dx / 1000.0
    counts = np.bincount(codes.ravel(), minlength=256)
    lung_ml = float(sum(counts[CODES[n]] for n in LOBES) + counts[CODES["lung_vessels"]]) * voxel_ml
    lungs = np.isin(codes, [CODES[n] for n in LOBES]).any(axis=(1, 2))
    ks = np.flatnonzero(lungs)
    lung_height = float((ks[-1] - ks[0] + 1) * dz)
    chest = slice(int(ks[0]), int(ks[-1]) + 1)
    fat_mm = float(np.mean((t["r_skin"] - t["r_core"])[chest]))
    centre = t["centre_ij"].astype(np.float64)
    c_mm = np.stack([ox + centre[:, 0] * dx, oy - centre[:, 1] * dy], axis=1)
    has = (t["r_skin"].max(axis=1) > 0)
    cbar = c_mm[has].mean(axis=0)
    # the scan's patient lies obliquely on its table (the body's centre drifts 20 mm left to right from abdomen
    # to neck); that tilt is the scan's pose, not anatomy, and subjects draw their own: the linear trend of the
    # lateral centre is taken out of the body axis (its local bends and the antero-posterior curve stay)
    lung_area = np.isin(codes, [CODES[n] for n in LOBES]).sum(axis=(1, 2)).astype(np.float64)
    lung_weight = np.sqrt(lung_area / max(float(lung_area.max()), 1.0))
    ks_all = np.flatnonzero(has)
    slope = np.polyfit(ks_all, c_mm[has, 0], 1)[0]
    axis_x = c_mm[:, 0] - slope * (np.arange(K) - ks_all.mean())
    return {"codes": codes, "shares": np.ascontiguousarray(np.moveaxis(t["shares"], 0, -1)), "spacing": (dz, dy, dx),
            "origin": (ox, oy, oz), "c_mm": np.ascontiguousarray(c_mm), "cbar": cbar,
            "axis_mm": np.ascontiguousarray(np.stack([axis_x, c_mm[:, 1], lung_weight], axis=1)),
            "radii": np.ascontiguousarray(np.stack([t["r_cage"], t["r_core"], t["r_skin"]]).astype(np.float64)),
            "lung_ml": lung_ml, "lung_height_mm": lung_height, "fat_mm": fat_mm, "shape": (K, J, I),
            "apex_depth_mm": float((K - 1 - ks[-1]) * dz), "base_depth_mm": float((K - ks[0]) * dz)}


@numba.njit(cache=True, nogil=True, inline="always")
def _trilinear_disp(u, c, g, zq, yq, xq):
    """Component `c` of the coarse displacement at template mm offsets (z, y, x) from its first voxel."""
    nz, ny, nx = u.shape[1], u.shape[2], u.shape[3]
    fz = min(max(zq / g, 0.0), nz - 1.0)
    fy = min(max(yq / g, 0.0), ny - 1.0)
    fx = min(max(xq / g, 0.0), nx - 1.0)
    z0, y0, x0 = min(int(fz), nz - 2), min(int(fy), ny - 2), min(int(fx), nx - 2)
    az, ay, ax = fz - z0, fy - y0, fx - x0
    v = 0.0
    for dz_ in range(2):
        wz = az if dz_ else 1.0 - az
        for dy_ in range(2):
            wy = ay if dy_ else 1.0 - ay
            for dx_ in range(2):
                wx = ax if dx_ else 1.0 - ax
                v += wz * wy * wx * u[c, z0 + dz_, y0 + dy_, x0 + dx_]
    return v


@numba.njit(cache=True, nogil=True, inline="always")
def _table(radii, m, ka, wk, a0, a1, wa):
    lo = radii[m, ka, a0] * (1 - wa) + radii[m, ka, a1] * wa
    hi = radii[m, ka + 1, a0] * (1 - wa) + radii[m, ka + 1, a1] * wa
    return lo * (1 - wk) + hi * wk


@numba.njit(cache=True, nogil=True)
def _sample(zc, yc, xc, offsets, dz_s, p, c_mm, axis_mm, radii, disp, shares, codes, out_shares, out_codes, k0, k1):
    """Template shares (averaged over `offsets` across the slice) and the centre's code for subject slices k0..k1.

    The in-plane map (radial tables, displacement) is evaluated at the slice's centre and shared by its
    sub-slice samples, which differ only in z; voxels beyond the subject's skin by more than the largest
    displacement are air without sampling."""
    (z_top_s, z_top_t, s_len, ox, oy, oz, tdx, tdy, tdz, cbx, cby, chest, px, py, wall, fat, sag, length,
     sx0, sy0, cosr, sinr, g, fat_mean, abdomen) = (p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9],
                                                    p[10], p[11], p[12], p[13], p[14], p[15], p[16], p[17], p[18],
                                                    p[19], p[20], p[21], p[22], p[23], p[24])
    K, J, I, C = shares.shape
    A = radii.shape[2]
    Y, X = yc.shape[0], xc.shape[0]
    n = offsets.shape[0]
    for k in range(k0, k1):
        below = z_top_s - zc[k]
        zt = z_top_t - below / s_len
        kf = min(max((zt - oz) / tdz, 0.0), K - 1.0)
        ka = min(int(kf), K - 2)
        wk = kf - ka
        cx = c_mm[ka, 0] * (1 - wk) + c_mm[ka + 1, 0] * wk
        cy = c_mm[ka, 1] * (1 - wk) + c_mm[ka + 1, 1] * wk
        tz = min(max(below / length, 0.0), 1.0)
        bow = 4.0 * sag * tz * (1.0 - tz)
        ax_ = axis_mm[ka, 0] * (1 - wk) + axis_mm[ka + 1, 0] * wk
        ay_ = axis_mm[ka, 1] * (1 - wk) + axis_mm[ka + 1, 1] * wk
        lw = axis_mm[ka, 2] * (1 - wk) + axis_mm[ka + 1, 2] * wk
        scale = abdomen + (chest - abdomen) * lw     # in-plane: the lungs' scale where lungs are, the body's below
        ox_s = sx0 + (ax_ - cbx) * scale
        oy_s = sy0 + (ay_ - cby) * scale + bow
        for j in range(Y):
            for i in range(X):
                dx0 = xc[i] - ox_s
                dy0 = yc[j] - oy_s
                qx = (cosr * dx0 + sinr * dy0) / px
                qy = (-sinr * dx0 + cosr * dy0) / py
                r = math.sqrt(qx * qx + qy * qy)
                th = math.atan2(-qy, qx)
                if th < 0.0:
                    th += 2.0 * math.pi
                af = th / (2.0 * math.pi) * A
                a0 = int(af) % A
                a1 = (a0 + 1) % A
                wa = af - int(af)
                cage = _table(radii, 0, ka, wk, a0, a1, wa)
                core = _table(radii, 1, ka, wk, a0, a1, wa)
                skin = _table(radii, 2, ka, wk, a0, a1, wa)
                r1 = cage * scale
                r2 = r1 + wall * (core - cage)
                # the fat change `fat` (mm) in full where the template's layer is at least its mean thickness,
                # in proportion where it is thinner (over the spine, where the back lies on the couch)
                f = max(1.0 + fat / max(skin - core, fat_mean), 0.2)
                if r > r2 + f * (skin - core) + OUTSIDE_MARGIN_MM:
                    out_shares[k, j, i, 3] = 1.0
                    continue
                if r <= r1:
                    rt = r / scale
                elif r <= r2:
                    rt = cage + (r - r1) / wall
                else:
                    rt = core + (r - r2) / f
                xt = cx + rt * math.cos(th)
                yt = cy - rt * math.sin(th)
                ux = _trilinear_disp(disp, 0, g, zt - oz, oy - yt, xt - ox)
                uy = _trilinear_disp(disp, 1, g, zt - oz, oy - yt, xt - ox)
                uz = _trilinear_disp(disp, 2, g, zt - oz, oy - yt, xt - ox)
                xt += ux
                yt += uy
                fi = (xt - ox) / tdx
                fj = (oy - yt) / tdy
                if fi < 0.0 or fj < 0.0 or fi > I - 1.0 or fj > J - 1.0:
                    out_shares[k, j, i, 3] = 1.0     # outside the template: air
                    continue
                i0, j0 = min(int(fi), I - 2), min(int(fj), J - 2)
                ai, aj = fi - i0, fj - j0
                for s in range(n):
                    zq = z_top_t - (below - offsets[s] * dz_s) / s_len + uz
                    fk = min(max((zq - oz) / tdz, 0.0), K - 1.0)
                    kk = min(int(fk), K - 2)
                    ak = fk - kk
                    for dk in range(2):
                        w1 = ak if dk else 1.0 - ak
                        for dj in range(2):
                            w2 = w1 * (aj if dj else 1.0 - aj)
                            for di in range(2):
                                w3 = w2 * (ai if di else 1.0 - ai) / (255.0 * n)
                                for c in range(C):
                                    out_shares[k, j, i, c] += w3 * shares[kk + dk, j0 + dj, i0 + di, c]
                    if offsets[s] == 0.0:
                        out_codes[k, j, i] = codes[int(fk + 0.5), int(fj + 0.5), int(fi + 0.5)]


def _subsamples(slice_mm: float, template_slice_mm: float) -> np.ndarray:
    """Where across a slice the template is sampled: its centre alone when the slice is no thicker than 1.5
    template slices (the scan's own 2.5 mm slices already carry that partial volume; sampling across them again
    would blur twice), else SUBSAMPLES (a thick slice averages the thinner ones it spans)."""
    if slice_mm <= 1.5 * template_slice_mm:
        return np.zeros(1)
    return np.asarray(SUBSAMPLES, np.float64)


def _top_offset(shape, t, length_mm: float) -> float:
    """How far below the template's top the scan begins (template mm): the drawn offset, moved down just enough
    that the lung bases lie LUNG_MARGIN_MM inside the scan, as a technologist sets the range from the scout to
    take in the whole lungs; never so far that the apices leave the top (then the bases are cut)."""
    s_len = shape.cage_scale * shape.proportions[2]
    need = t["base_depth_mm"] - (length_mm - LUNG_MARGIN_MM) / s_len
    most = t["apex_depth_mm"] - LUNG_MARGIN_MM / s_len
    return float(min(max(shape.top_offset_mm, need), max(most, shape.top_offset_mm)))


def _params(shape, t, grid: Grid) -> np.ndarray:
    zc, _, _ = grid.centres_mm()
    dz = grid.spacing[0]
    K = t["shape"][0]
    ox, oy, oz = t["origin"]
    tdz, tdy, tdx = t["spacing"]
    z_top_s = float(zc[-1] + dz / 2.0)
    z_top_t = oz + (K - 0.5) * tdz - _top_offset(shape, t, float(grid.extent_mm()[0]))
    px, py, pz = shape.proportions
    length = float(grid.extent_mm()[0])
    return np.array([z_top_s, z_top_t, shape.cage_scale * pz, ox, oy, oz, tdx, tdy, tdz, t["cbar"][0], t["cbar"][1],
                     shape.cage_scale, px, py, shape.wall_factor, shape.fat_change_mm, shape.kyphosis_sagitta_mm,
                     length, shape.shift_mm[0], shape.shift_mm[1], math.cos(shape.rotation_rad),
                     math.sin(shape.rotation_rad), DEFORM_GRID_MM, t["fat_mm"], shape.abdomen_scale], np.float64)


def _centring(params: np.ndarray, t, grid: Grid, shape) -> np.ndarray:
    """The shift (x, y mm) that keeps the body inside the field, as a technologist centres the patient: zero
    when the drawn centring already leaves PROBE_MARGIN_MM at every edge, else just enough to restore it
    (a body wider than the field is centred as drawn and cut at both sides).  Measured on a probe of
    every PROBE_STEP-th voxel, so it costs about 1/64 of the sampling."""
    zc, yc, xc = (np.asarray(c[::PROBE_STEP], np.float64) for c in grid.centres_mm())
    codes = np.zeros((zc.size, yc.size, xc.size), np.uint8)
    shares = np.zeros(codes.shape + (len(SHARE_NAMES),), np.float32)
    _sample(zc, yc, xc, np.zeros(1), float(grid.spacing[0]), params, t["c_mm"], t["axis_mm"], t["radii"],
            shape.displacement.astype(np.float64), t["shares"], t["codes"], shares, codes, 0, zc.size)
    body = codes > 0
    move = np.zeros(2)
    if not body.any():
        return move
    _, ey, ex = grid.extent_mm()
    for axis, (centres, extent) in enumerate(((xc, ex), (yc, ey))):
        occupied = centres[body.any(axis=(0, 1) if axis == 0 else (0, 2))]
        half = extent / 2.0 - PROBE_MARGIN_MM
        lo, hi = float(occupied.min()), float(occupied.max())
        if hi - lo <= 2.0 * half:
            move[axis] = min(0.0, half - hi) + max(0.0, -half - lo)
    return move


def _fissures(codes: np.ndarray, spacing) -> np.ndarray:
    """The soft-tissue share of each lobe voxel that borders another lobe: half the fissure's thickness over
    the voxel's size along the axis where the lobes meet (the largest where they meet along several)."""
    lobe_codes = np.array([CODES[n] for n in LOBES], np.uint8)
    is_lobe = np.isin(codes, lobe_codes)
    out = np.zeros(codes.shape, np.float32)
    for axis in range(3):
        a = [slice(None)] * 3
        b = [slice(None)] * 3
        a[axis], b[axis] = slice(1, None), slice(None, -1)
        a, b = tuple(a), tuple(b)
        meet = is_lobe[a] & is_lobe[b] & (codes[a] != codes[b])
        share = np.float32(min(0.5 * FISSURE_MM / float(spacing[axis]), 0.5))
        out[a] = np.where(meet, np.maximum(out[a], share), out[a])
        out[b] = np.where(meet, np.maximum(out[b], share), out[b])
    return out


def _class_of_label(label_tissue: dict[int, str]) -> np.ndarray:
    lut = np.full(256, 5, np.uint8)
    for lab, tissue in label_tissue.items():
        lut[lab] = {"lung": 0, "blood": 5, "fat": 2, "air": 3, "cancellous_bone": 4, "cortical_bone": 4}.get(tissue, 5)
    lut[CODES["lung_vessels"]] = 1
    lut[0] = 3
    return lut


def cortex_share(labels: np.ndarray, spacing) -> np.ndarray:
    """Share of each outer bone voxel that is cortex: the thickness over the voxel size across the face."""
    from synthspec.families.anatomy.thorax.build import cortex_fraction

    return cortex_fraction(labels, spacing, {CODES[n]: mm for n, mm in BONE_CORTEX_MM.items()})


def build_tissues(demographics: Demographics, grid: Grid, tissues: list[str], label_ids: dict[str, int],
                  label_tissue: dict[int, str], rng: np.random.Generator) -> TissueScene:
    """The anatomy of one subject on `grid`, drawn from `rng` only."""
    t = _template()
    K, J, I = t["shape"]
    tdz, tdy, tdx = t["spacing"]
    extent = (K * tdz, J * tdy, I * tdx)
    shape = sample_shape(demographics, t["lung_ml"], t["fat_mm"], extent, t["lung_height_mm"], rng)
    quantiles = draw_quantiles(tissues, rng)
    parenchyma, trabecular = noise_pair(grid.shape, grid.spacing, rng)
    bone_density_z = float(rng.standard_normal())

    zc, yc, xc = grid.centres_mm()
    Z, Y, X = grid.shape
    interleaved = np.zeros((Z, Y, X, len(SHARE_NAMES)), np.float32)
    codes = np.zeros(grid.shape, np.uint8)
    from synthspec.families.grid import run_slabs

    params = _params(shape, t, grid)
    params[18:20] += _centring(params, t, grid, shape)
    run_slabs(_sample, Z, np.asarray(zc, np.float64), np.asarray(yc, np.float64), np.asarray(xc, np.float64),
              _subsamples(grid.spacing[0], t["spacing"][0]), float(grid.spacing[0]), params, t["c_mm"], t["axis_mm"],
              t["radii"], shape.displacement.astype(np.float64), t["shares"], t["codes"], interleaved, codes)
    shares = np.ascontiguousarray(np.moveaxis(interleaved, -1, 0))
    del interleaved
    body = codes > 0
    # a body wider than the field is cut by it, as a clinical chest CT's display field is set to the chest
    # (the scanner measured the rest; here it is left out of the projections too): recorded, not refused.
    # The lungs, heart and aorta must still fit (the containment check re-draws a subject whose lungs do not)
    cut = body[:, :, 0].any(axis=1) | body[:, :, -1].any(axis=1) | body[:, 0, :].any(axis=1) | body[:, -1, :].any(axis=1)
    # the peripheral vessels the scan's slices blur away take their share from the parenchyma they lie in
    fine, n_fine = fine_vessel_occupancy(codes, grid, {n: CODES[n] for n in LOBES}, demographics.height_mm, rng)
    fine *= shares[0]
    shares[0] -= fine
    shares[1] += fine
    # the scan's parenchyma already holds these vessels, smeared over its voxels by its slices: as much density
    # as the trees add (their mean share x the blood-lung contrast) is taken back from the parenchyma as air,
    # so the lungs keep the scan's mean density
    lobes = np.isin(codes, [CODES[n] for n in LOBES])
    if n_fine and lobes.any():
        back = float(fine[lobes].mean()) * (BLOOD_HU - LUNG_RENDER_HU) / (LUNG_RENDER_HU + 1000.0)
        moved_air = np.where(lobes, np.float32(back) * shares[0], np.float32(0.0))
        shares[0] -= moved_air
        shares[3] += moved_air
        del moved_air
    del fine, lobes
    breast_z = breasts.draw(rng)
    breast_ml = 0.0
    if str(demographics.sex).strip().lower() in ("female", "f"):
        volume, glandular = breasts.breast_size(float(demographics.bmi), float(demographics.age_y), breast_z)
        breast_ml = breasts.add_breasts(shares, codes, grid, CODES["breasts"], [CODES[n] for n in LOBES],
                                        [CODES["sternum"]], [CODES["vertebrae"]], volume, glandular, parenchyma)
    moved = shares[0] * _fissures(codes, grid.spacing)
    shares[0] -= moved
    soft = np.clip(1.0 - shares.sum(axis=0), 0.0, 1.0).astype(np.float32)
    soft += moved
    del moved
    vessel_fraction = shares[1].copy()

    lut = np.arange(256, dtype=np.uint8)
    for name, code in CODES.items():
        if name in label_ids:
            lut[code] = label_ids[name]
    labels = lut[codes] if not np.array_equal(lut, np.arange(256, dtype=np.uint8)) else codes
    base_class = _class_of_label(label_tissue)[labels]
    classes = [shares[c] for c in range(len(SHARE_NAMES))] + [soft]
    painted = np.zeros(grid.shape, np.float32)
    for c, share in enumerate(classes):
        mine = base_class == c
        painted[mine] = share[mine]
    layers = []
    for c in PAINT_ORDER:
        s = classes[c]
        s[base_class == c] = 0.0
        painted += s
        np.divide(s, painted, out=s, where=painted > 1e-6)
        if (s > 0).any():
            layers.append(Layer(CLASS_TISSUE[c], s))
    del painted
    layers.append(Layer("cortical_bone", cortex_share(labels, grid.spacing)))
    lung_codes = [label_ids.get(n, CODES[n]) for n in LOBES]
    lung = np.isin(labels, lung_codes + [label_ids.get("lung_vessels", CODES["lung_vessels"])])
    # the template carries the scan's own aeration, dependent gradient and lobular texture (template.py), so
    # the renderer adds no gravity gradient and only a share of its synthetic lung texture
    parenchyma[lung] *= np.float32(LUNG_TEXTURE_SHARE)
    return TissueScene(
        labels=labels, base_labels=labels.copy(), layers=layers,
        textures={"parenchyma": parenchyma, "trabecular": trabecular}, quantiles=quantiles,
        factors={"bone_density_z": bone_density_z},
        gradient=None, age_y=float(demographics.age_y),
        lesion_mask=np.zeros(grid.shape, dtype=np.uint16),
        geometry={"lung": lung, "vessel_fraction": vessel_fraction,
                  "shape": {"lung_target_ml": shape.lung_target_ml, "cage_scale": shape.cage_scale,
                            "centring_mm": [float(params[18]), float(params[19])],
                            "slices_cut_by_field": int(cut.sum()), "fine_vessel_capsules": n_fine,
                            "breast_ml": breast_ml,
                            "fat_mm": shape.fat_mm, "kyphosis_sagitta_mm": shape.kyphosis_sagitta_mm}})
