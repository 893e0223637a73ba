"""Build one paediatric hand and wrist as tissues: label map, the tissue under every voxel, partial-volume layers.

Stage role: turn (sex, age, height) and `rng` (the subject's anatomy stream) into a
`TissueScene` on the plan's grid.  It draws from no other stream, so twins share the anatomy
bit for bit.  It inserts no lesion and knows no intensity: the modality renders the scene.

Build order (each step draws only from `rng`, in this order):
    1. shape                 shape.sample_shape(): sizes, maturity, posture, every bone placed
    2. soft tissue           skin and subcutaneous-fat envelopes (grid.draw_tubes capsules)
    3. bones                 21 tubular bones as solids of revolution (shaft, metaphysis, physis,
                             epiphysis; ossified nucleus or cartilage), 8 carpal ellipsoids
                             (cartilage anlage and ossified centre), a numba kernel each
    4. tissue state          one quantile per tissue, the bone-density z, the trabecular texture

Tissues: tubular bones are labelled with their bone (stdlib tissue cortical_bone) and carry a
`cancellous_bone` layer for the medulla (the cortex is what is left of the voxel); an open physis
is a slab across the bone's axis, its faces partial-volume along the axis (a `cartilage` layer on
the bone voxels it grazes, a `cancellous_bone` layer on its own edge voxels); carpals are
labelled `carpals` (cancellous_bone) with a thin `cortical_bone` rim layer; physes carry their
physis labels, unossified epiphyses and carpal anlagen `unossified_cartilage` (cartilage);
the skin surface and the bone surfaces carry partial-volume layers one voxel wide.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from synthspec.families.anatomy.hand.shape import HandShape, check_fits, sample_shape
from synthspec.families.anatomy.texture import draw_quantiles, noise_pair
from synthspec.families.base import Demographics, FamilyError, Layer, TissueScene
from synthspec.families.grid import Grid, draw_tubes

CARPAL_CORTEX_MM = 0.4
"""Carpal cortical shell (~0.3-0.5 mm; thin subchondral cortex of the carpal bones)."""
TRABECULAR_SCALES_MM = ((0.5, 0.7), (1.5, 0.5))
"""Texture correlation lengths (trabeculae ~0.1-0.3 mm thick, marrow spaces ~0.5-1 mm; below the
voxel size the field is a smooth stand-in the modality scales)."""


@numba.njit(cache=True, inline="always")
def _interp(t, tk, rk):
    n = tk.shape[0]
    if t <= tk[0]:
        return rk[0], 0.0
    if t >= tk[n - 1]:
        return rk[n - 1], 0.0
    lo, hi = 0, n - 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if tk[mid] <= t:
            lo = mid
        else:
            hi = mid
    dt = tk[hi] - tk[lo]
    if dt <= 0.0:
        return rk[lo], 0.0
    s = (rk[hi] - rk[lo]) / dt
    return rk[lo] + s * (t - tk[lo]), s


@numba.njit(cache=True)
def _bone_kernel(occ, lab, med, phys, origin, spacing, lo, hi, a, u, length, tk, rk, ck, t0, t1, epi_side, is_open,
                 nucleus, epi_mm, bone_code, physis_code, cart_code):
    """A tubular bone: outer occupancy (max-composited into occ/lab), its medulla share in `med`, the
    share of the voxel's extent along the axis that the open physis slab covers in `phys`."""
    dz, dy, dx = spacing[0], spacing[1], spacing[2]
    hu = abs(u[0]) * dz + abs(u[1]) * dy + abs(u[2]) * dx
    for k in range(lo[0], hi[0]):
        qz = origin[0] + k * dz - a[0]
        for j in range(lo[1], hi[1]):
            qy = origin[1] + j * dy - a[1]
            for i in range(lo[2], hi[2]):
                qx = origin[2] + i * dx - a[2]
                t = qz * u[0] + qy * u[1] + qx * u[2]
                if t < -2.0 * (dz + dy + dx) or t > length + 2.0 * (dz + dy + dx):
                    continue
                vz, vy, vx = qz - t * u[0], qy - t * u[1], qx - t * u[2]
                rho = math.sqrt(vz * vz + vy * vy + vx * vx)
                tc = min(max(t, 0.0), length)
                r, s = _interp(tc, tk, rk)
                g = math.sqrt(1.0 + s * s)
                sd_r = (rho - r) / g
                sd_e = max(-t, t - length)
                if rho > 1e-9:
                    ez, ey, ex = vz / rho, vy / rho, vx / rho
                else:
                    ez, ey, ex = 0.0, 0.0, 0.0
                if sd_r >= sd_e:
                    nz, ny, nx = (ez - s * u[0]) / g, (ey - s * u[1]) / g, (ex - s * u[2]) / g
                    sd = sd_r
                else:
                    nz, ny, nx = u[0], u[1], u[2]
                    sd = sd_e
                h = abs(nz) * dz + abs(ny) * dy + abs(nx) * dx
                if h < 1e-6:
                    h = min(dz, min(dy, dx))
                o = 0.5 - sd / h
                if o <= 0.0:
                    continue
                if o > 1.0:
                    o = 1.0
                if o <= occ[k, j, i]:
                    continue
                c, _ = _interp(tc, tk, ck)
                ri = r - c
                sd_i = max((rho - ri) / g, max(c - t, t - (length - c)))
                oi = min(max(0.5 - sd_i / h, 0.0), 1.0)
                code = bone_code
                pf = 0.0
                if epi_side != 0:
                    if is_open:
                        pf = max(0.0, min(t + 0.5 * hu, t1) - max(t - 0.5 * hu, t0)) / hu
                    in_physis = (t >= t0 and t < t1) or pf >= 0.5
                    in_epi = (epi_side > 0 and t >= t1) or (epi_side < 0 and t < t0)
                    if in_physis and is_open:
                        code = physis_code
                        oi = 0.0
                        if (t - 0.5 * (t0 + t1)) * epi_side > 0.0 and nucleus < 1.0:
                            pf = 1.0   # the epiphysis side is (partly) cartilage: no bone share
                    elif in_epi and nucleus < 1.0:
                        if nucleus <= 0.0:
                            code = cart_code
                            oi = 0.0
                        else:
                            te = length - 0.5 * epi_mm if epi_side > 0 else 0.5 * epi_mm
                            re, _ = _interp(te, tk, rk)
                            sa = max(nucleus * 0.5 * epi_mm, 0.5)
                            sr = max(nucleus * 0.9 * re, 0.5)
                            qn = ((t - te) / sa) ** 2 + (rho / sr) ** 2
                            if qn <= 1.0:
                                oi = 1.0 if qn < 0.6 else 0.0
                            else:
                                code = cart_code
                                oi = 0.0
                occ[k, j, i] = o
                lab[k, j, i] = code
                med[k, j, i] = oi
                phys[k, j, i] = pf


@numba.njit(cache=True)
def _carpal_kernel(occ, lab, rim, origin, spacing, lo, hi, c, semi, angle, nucleus, cortex, bone_code, cart_code):
    """A carpal: cartilage ellipsoid `semi` (z, y, x), rotated by `angle` in the z-x plane, with an
    ossified centre `nucleus` x semi whose outer `cortex` mm is cortical (share in `rim`)."""
    dz, dy, dx = spacing[0], spacing[1], spacing[2]
    ca, sa = math.cos(angle), math.sin(angle)
    for k in range(lo[0], hi[0]):
        pz = origin[0] + k * dz - c[0]
        for j in range(lo[1], hi[1]):
            py = origin[1] + j * dy - c[1]
            for i in range(lo[2], hi[2]):
                px = origin[2] + i * dx - c[2]
                lz = ca * pz + sa * px
                lx = -sa * pz + ca * px
                o = _ell_occ(lz, py, lx, semi[0], semi[1], semi[2], ca, sa, dz, dy, dx)
                if o <= 0.0 or o <= occ[k, j, i]:
                    continue
                code = cart_code
                rshare = 0.0
                if nucleus > 0.0:
                    on = _ell_occ(lz, py, lx, nucleus * semi[0], nucleus * semi[1], nucleus * semi[2], ca, sa,
                                  dz, dy, dx)
                    if on >= 0.5:
                        code = bone_code
                        oin = _ell_occ(lz, py, lx, max(nucleus * semi[0] - cortex, 0.1),
                                       max(nucleus * semi[1] - cortex, 0.1), max(nucleus * semi[2] - cortex, 0.1),
                                       ca, sa, dz, dy, dx)
                        rshare = min(max(on - oin, 0.0), 1.0)
                occ[k, j, i] = o
                lab[k, j, i] = code
                rim[k, j, i] = rshare


@numba.njit(cache=True, inline="always")
def _ell_occ(lz, ly, lx, az, ay, ax, ca, sa, dz, dy, dx):
    rn = math.sqrt((lz / az) ** 2 + (ly / ay) ** 2 + (lx / ax) ** 2)
    gz, gy, gx = lz / (az * az), ly / (ay * ay), lx / (ax * ax)
    gn = math.sqrt(gz * gz + gy * gy + gx * gx)
    if gn < 1e-12:
        return 1.0
    # approximate signed distance (rn - 1) / |grad rn| with grad rn = g / rn
    sd = (rn - 1.0) * rn / gn
    wz, wx = ca * gz - sa * gx, sa * gz + ca * gx   # the normal back in the grid frame
    h = (abs(wz) * dz + abs(gy) * dy + abs(wx) * dx) / gn
    o = 0.5 - sd / h
    return min(max(o, 0.0), 1.0)


def _cropped(tissue: str, fraction: np.ndarray) -> Layer:
    """A layer on the box of its nonzero voxels (a copy: the full-size array can be freed)."""
    nz = fraction != 0
    if not nz.any():
        return Layer(tissue, np.zeros((1, 1, 1), np.float32), box=(slice(0, 1),) * 3)
    box = []
    for ax in range(3):
        hit = np.flatnonzero(nz.any(axis=tuple(x for x in range(3) if x != ax)))
        box.append(slice(int(hit[0]), int(hit[-1]) + 1))
    box = tuple(box)
    return Layer(tissue, np.ascontiguousarray(fraction[box]), box=box)


def _bbox(grid: Grid, lo_mm, hi_mm, pad_mm: float):
    sp = np.asarray(grid.spacing, float)
    org = grid.origin_mm()
    lo = np.maximum(np.floor((np.asarray(lo_mm) - pad_mm - org) / sp).astype(np.int64), 0)
    hi = np.minimum(np.ceil((np.asarray(hi_mm) + pad_mm - org) / sp).astype(np.int64) + 1, np.asarray(grid.shape))
    return lo, np.maximum(hi, lo)


def bone_box(grid: Grid, b, t_lo: float | None = None, t_hi: float | None = None, pad_mm: float = 2.0):
    """Voxel box (lo, hi) around a tubular bone's axial span [t_lo, t_hi] (the whole bone by default)."""
    t_lo = 0.0 if t_lo is None else t_lo
    t_hi = b.length if t_hi is None else t_hi
    r = float(b.rk.max()) + pad_mm
    p0, p1 = b.point(max(t_lo, 0.0)), b.point(min(t_hi, b.length))
    return _bbox(grid, np.minimum(p0, p1) - r, np.maximum(p0, p1) + r, 0.0)


def draw_bone(grid: Grid, b, codes, occ, lab, med, phys, lo=None, hi=None) -> None:
    """Rasterise one tubular bone (shape.LongBone) into occ/lab/med/phys over the voxel box [lo, hi)."""
    if lo is None:
        lo, hi = bone_box(grid, b)
    t0, t1 = b.physis_t
    _bone_kernel(occ, lab, med, phys, grid.origin_mm(), np.asarray(grid.spacing, float), np.asarray(lo, np.int64),
                 np.asarray(hi, np.int64), np.ascontiguousarray(b.a, float), np.ascontiguousarray(b.u, float),
                 float(b.length), b.tk, b.rk, b.ck, float(t0), float(t1), int(b.epi_side), bool(b.open),
                 float(b.nucleus), float(b.epi_mm), int(codes[b.label]), int(codes[b.physis]) if b.physis else 0,
                 int(codes["unossified_cartilage"]))


def build_tissues(demographics: Demographics, grid: Grid, tissues: list[str], label_ids: dict[str, int],
                  rng: np.random.Generator) -> TissueScene:
    """The anatomy of one subject on `grid`, drawn from `rng` only."""
    from synthspec.families.anatomy.hand.references import LABEL_NAMES

    missing = [n for n in LABEL_NAMES if n not in label_ids]
    if missing:
        raise FamilyError(f"the plan's label table lacks {', '.join(missing)} (anatomy_hand.synth): the hand family "
                          "draws them")
    S: HandShape = sample_shape(demographics, rng)
    check_fits(S, grid)
    shape = grid.shape
    sp = np.asarray(grid.spacing, float)
    origin = grid.origin_mm()

    # soft tissue: skin envelope and the fat's inner surface
    a, b, ra, rb = S.skin
    region = np.zeros(shape, np.uint8)
    env, _ = draw_tubes(grid, a, b, ra, rb, 1, region, (0,))
    f = S.skin_fat_mm
    inner, _ = draw_tubes(grid, a, b, np.maximum(ra - f, 0.5), np.maximum(rb - f, 0.5), 1, region, (0,))
    del region

    # bones and cartilage
    occ = np.zeros(shape, np.float32)
    lab = np.zeros(shape, np.uint8)
    med = np.zeros(shape, np.float32)
    rim = np.zeros(shape, np.float32)
    phys = np.zeros(shape, np.float32)
    for bone in S.bones:
        draw_bone(grid, bone, label_ids, occ, lab, med, phys)
    bone_code, cart_code = int(label_ids["carpals"]), int(label_ids["unossified_cartilage"])
    for c in S.carpals:
        ext = float(c.semi.max())
        lo, hi = _bbox(grid, c.centre - ext, c.centre + ext, 2.0 * float(sp.max()))
        _carpal_kernel(occ, lab, rim, origin, sp, lo, hi, np.ascontiguousarray(c.centre, float),
                       np.ascontiguousarray(c.semi, float), float(c.angle), float(c.nucleus), CARPAL_CORTEX_MM,
                       bone_code, cart_code)

    # labels: fat shell, soft tissue, then bone and cartilage where they fill half a voxel
    labels = np.zeros(shape, np.uint8)
    labels[env >= 0.5] = label_ids["subcutaneous_fat"]
    labels[inner >= 0.5] = label_ids["soft_tissue"]
    hard = occ >= 0.5
    labels[hard] = lab[hard]
    base_labels = labels.copy()

    # partial-volume layers (fractions of a voxel, painted in this order)
    tubular = np.zeros(256, bool)
    tubular[[label_ids[n] for n in ("radius", "ulna", "metacarpals", "proximal_phalanges", "middle_phalanges",
                                    "distal_phalanges")]] = True
    cartilaginous = np.zeros(256, bool)
    cartilaginous[[label_ids[n] for n in ("unossified_cartilage", "distal_radius_physis", "distal_ulna_physis",
                                          "metacarpal_physes", "phalangeal_physes")]] = True
    is_tub = tubular[labels]
    medulla = np.where(is_tub, med, np.float32(0.0))
    physeal = np.zeros(256, bool)
    physeal[[label_ids[n] for n in ("distal_radius_physis", "distal_ulna_physis", "metacarpal_physes",
                                    "phalangeal_physes")]] = True
    is_phys = physeal[labels]
    physis_share = np.where(is_tub & (phys > 0), phys, np.float32(0.0))      # bone voxels the slab grazes
    physis_bone = np.where(is_phys & (phys < 1.0), np.float32(1.0) - phys, np.float32(0.0))     # the reverse
    carpal_rim = np.where(labels == bone_code, rim, np.float32(0.0))
    soft = ~hard & (labels != 0)
    edge = occ > 0
    bone_edge = np.where(soft & edge & ~cartilaginous[lab], occ, np.float32(0.0))
    cart_edge = np.where(soft & edge & cartilaginous[lab], occ, np.float32(0.0))
    hard_edge = np.where(hard & (occ < 1.0), np.float32(1.0) - occ, np.float32(0.0))
    skin_out = np.where(labels == 0, env, np.float32(0.0))
    skin_in = np.where((labels != 0) & (env < 1.0), np.float32(1.0) - env, np.float32(0.0))
    layers = [_cropped("cancellous_bone", medulla), _cropped("cartilage", physis_share),
              _cropped("cancellous_bone", physis_bone), _cropped("cortical_bone", carpal_rim),
              _cropped("soft_tissue", hard_edge), _cropped("cortical_bone", bone_edge),
              _cropped("cartilage", cart_edge), _cropped("soft_tissue", skin_out), _cropped("air", skin_in)]
    del medulla, carpal_rim, hard_edge, bone_edge, cart_edge, skin_out, skin_in, env, inner, occ, lab, med, rim
    del phys, physis_share, physis_bone

    # tissue state: quantiles, bone density, trabecular texture (on the bones' box only)
    quantiles = draw_quantiles(tissues, rng)
    bone_density_z = float(np.clip(rng.standard_normal(), -3.0, 3.0))
    trabecular = np.zeros(shape, np.float32)
    anyb = hard & ~cartilaginous[labels]
    if anyb.any():
        idx = [np.flatnonzero(anyb.any(axis=tuple(x for x in range(3) if x != ax))) for ax in range(3)]
        box = tuple(slice(int(ix[0]), int(ix[-1]) + 1) for ix in idx)
        sub = tuple(s.stop - s.start for s in box)
        field, _ = noise_pair(sub, grid.spacing, rng, scales_mm=TRABECULAR_SCALES_MM)
        trabecular[box] = field
    physes = [physis_record(bn, label_ids) for bn in S.bones if bn.physis]
    return TissueScene(
        labels=labels, base_labels=base_labels, layers=layers, textures={"trabecular": trabecular},
        quantiles=quantiles, factors={"bone_density_z": bone_density_z, "bone_mineral_scale": 1.0},
        age_y=float(demographics.age_y),
        lesion_mask=np.zeros(shape, dtype=np.uint16),
        geometry={"shape": S, "physes": physes, "label_ids": dict(label_ids)})


def physis_record(b, label_ids: dict[str, int]) -> dict:
    """What a pathology needs about one physis: its label, centre, axis (metaphysis -> epiphysis), radius,
    whether it is open, and the bone it belongs to (for the metaphysis region: axial positions on the
    shaft side of `t_metaphysis`)."""
    t0, t1 = b.physis_t
    tm = 0.5 * (t0 + t1)
    metaphysis = (t0 - max(8.0, 2.0 * b.radius_at(tm)), t0) if b.epi_side > 0 else \
        (t1, t1 + max(8.0, 2.0 * b.radius_at(tm)))
    return {"bone": b.name, "kind": b.kind, "group": b.physis, "label": int(label_ids[b.physis]),
            "bone_label": int(label_ids[b.label]), "open": bool(b.open),
            "centre_mm": tuple(float(v) for v in b.point(tm)),
            "axis": tuple(float(v) for v in b.u * b.epi_side), "radius_mm": b.radius_at(tm),
            "thickness_mm": float(b.physis_mm), "t_physis": (float(t0), float(t1)), "t_metaphysis": metaphysis,
            "closure_y": float(b.closure_y), "bone_obj": b}
