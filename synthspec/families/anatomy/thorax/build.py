"""Procedural adult thorax: label map, region map and HU, from demographics and one generator.

Stage role: turn (sex, age, height, BMI) and `anatomy_rng` into the anatomy of one
subject on a grid.  It draws from no other stream, so the anatomy of a subject
never depends on its lesions (counterfactual twins share it bit for bit).
It does not insert lesions (pathology/nodule.py) nor simulate imaging.

Sizes (reference habitus 170 cm, BMI 24, anatomy_thorax.synth): the body outline
is a superellipse 340 x 240 mm that scales with sqrt(height / 170 cm) (chest
breadth grows more slowly than stature; the same law as the compiler's field-of-view
rule), sqrt(BMI / 24) and sex (women 7 % narrower, 3 % shallower);
it is fixed by the demographics alone, so a planner can check it against the
field of view (`body_size_mm`).  Subcutaneous fat thickens with BMI (~5 mm at
BMI 20 to ~40 mm at BMI 40), the chest-wall muscle takes the rest of the lean
size, the thoracic cavity sits inside the rib layer.  Lung height is 250 mm at
reference, linear in height, larger in men, lower at high BMI (elevated
diaphragm).

Build order (each step draws only from `rng`, in this order):
    1. shape parameters           sample_shape()
    2. analytic classification    _classify(): body layers, spine, ribs, sternum,
                                  heart, diaphragm, apices, mediastinum, lobes, fissures
    3. mediastinal tubes          aorta, trachea, main and lobar bronchi (carve the lungs)
    4. pulmonary vessel trees     arteries from the hila, veins to the left atrium,
                                  space-filling bisection (Kitaoka-like), Murray radii
    5. HU                         per-subject tissue HU, correlated texture, partial volume
    6. bone                       trabecular HU for the subject's age, cortical shell (`bone_hu`)

Labels are the codes of anatomy_thorax.synth.  The pleura (15) is not drawn as a
label (a 1-voxel shell would eat the lobes); distance_to(pleura) is measured from
the boundary of the lung region.  Airway walls carry label 1 (soft tissue) so
every label keeps one tissue; the mediastinal filler is soft tissue too (the
stdlib has no mediastinal-fat organ).

Region codes (internal, returned for the lesion stage):
    0 wall/bone/heart/outside   1 lung parenchyma (incl. intrapulmonary vessels)
    2 mediastinal soft tissue   3 airway   4 aorta   5 other cavity soft tissue
"""

from __future__ import annotations

import math
from collections import namedtuple
from dataclasses import dataclass

import numba
import numpy as np

from synthspec.families.grid import Grid, draw_tubes, run_slabs
from synthspec.families.anatomy.thorax.texture import GRAVITY_HU, compose_hu, noise_pair, subject_tissue_hu

# Label codes: anatomy_thorax.synth (tests check they agree).
AIR, BODY_WALL, SUBCUT_FAT, MUSCLE = 0, 1, 2, 3
RUL, RML, RLL, LUL, LLL, PLEURA = 10, 11, 12, 13, 14, 15
TRACHEA, BRONCHI = 20, 21
PULM_ARTERY, PULM_VEIN = 30, 31
HEART, AORTA = 40, 41
VERTEBRAE, SPINAL_CANAL, RIBS, STERNUM = 50, 51, 52, 53
LOBES = (RUL, RML, RLL, LUL, LLL)
ORGANS = {
    "body_wall": BODY_WALL, "subcutaneous_fat": SUBCUT_FAT, "muscle": MUSCLE,
    "right_upper_lobe": RUL, "right_middle_lobe": RML, "right_lower_lobe": RLL,
    "left_upper_lobe": LUL, "left_lower_lobe": LLL, "pleura": PLEURA, "trachea": TRACHEA, "bronchi": BRONCHI,
    "pulmonary_arteries": PULM_ARTERY, "pulmonary_veins": PULM_VEIN, "heart": HEART, "aorta": AORTA,
    "vertebrae": VERTEBRAE, "spinal_canal": SPINAL_CANAL, "ribs": RIBS, "sternum": STERNUM,
}
ORGAN_TISSUE = {  # the stdlib's organ -> tissue, used when the plan gives none
    BODY_WALL: "soft_tissue", SUBCUT_FAT: "fat", MUSCLE: "muscle", RUL: "lung", RML: "lung", RLL: "lung",
    LUL: "lung", LLL: "lung", PLEURA: "soft_tissue", TRACHEA: "air", BRONCHI: "air", PULM_ARTERY: "blood",
    PULM_VEIN: "blood", HEART: "blood", AORTA: "blood", VERTEBRAE: "cancellous_bone", SPINAL_CANAL: "csf",
    RIBS: "cancellous_bone", STERNUM: "cancellous_bone",
}
R_LUNG, R_MEDIASTINUM, R_AIRWAY, R_AORTA, R_CAVITY = 1, 2, 3, 4, 5

REF_HEIGHT_MM, REF_BMI = 1700.0, 24.0
REF_WIDTH_MM, REF_DEPTH_MM, REF_LUNG_HEIGHT_MM = 340.0, 240.0, 250.0
# Fissures, as fractions of the lung height H, with u running 0 (anterior) .. 1 (posterior):
# the oblique fissure passes (u0, z_base + ant H), (0.55, z_carina + mid H), (1, z_carina + post H);
# the horizontal fissure lies at z_carina - hor H.  Tuned so the lobar shares come out near
# 20 / 9 / 25 / 23 / 23 % (RUL / RML / RLL / LUL / LLL; CT lobar volumetry, Lee et al., AJR 2004).
OBLIQUE_RIGHT = (0.15, 0.20, -0.05, 0.10)   # u0, ant, mid, post
OBLIQUE_LEFT = (0.12, 0.18, -0.03, 0.12)
HORIZONTAL = 0.08
DIAPHRAGM = (0.15, 0.15, 0.12)   # fall toward the back, right dome, left dome (fractions of H)
SEX = {  # width, depth, lung height, heart size factors; the reference outline is the male one, so the
    # compiler's field-of-view rule (340 mm x sqrt(BMI/24) x sqrt(height/170 cm)) bounds both sexes
    "male": (1.0, 1.0, 1.04, 1.06),
    "female": (0.93, 0.97, 0.96, 0.94),
}

Shape = namedtuple("Shape", [
    "body_a", "body_b", "neck", "p_ant", "p_post", "skin", "fat",
    "fat_c1", "fat_s1", "fat_c2", "fat_s2", "fat_c3", "fat_s3",
    "cav_a", "cav_b", "cav_yc", "cav_p", "cav_taper", "rib_t",
    "y_v", "vw", "vd", "y_can", "rc", "spin_len", "tp_w", "disc", "vert_z0",
    "rib_z0", "rib_p", "rib_drop", "rib_hr", "rib_wr", "rib_tmid",
    "st_top", "st_bot", "st_w",
    "H", "z_apex", "z_base", "z_car", "dia_tilt", "dome_x", "dome_ax", "dome_y", "dome_ay", "dome_hr", "dome_hl",
    "ap_len", "ap_x", "ap_ax", "ap_y", "ap_ay",
    "m_ant", "m_mid", "m_y0", "m_w",
    "obl_r_ant", "obl_r_mid", "obl_r_post", "obl_r_u0", "obl_r_lat",
    "obl_l_ant", "obl_l_mid", "obl_l_post", "obl_l_u0", "obl_l_lat",
    "fis_a1", "fis_f1", "fis_p1", "fis_a2", "fis_f2", "fis_p2", "hor_z", "hor_tilt", "fiss_tau",
])


def _sex(anatomy) -> tuple[float, float, float, float]:
    key = str(anatomy.sex).strip().lower()
    key = {"m": "male", "f": "female"}.get(key, key)
    if key not in SEX:
        raise ValueError(f"sex must be 'female' or 'male' for the thorax phantom, got {anatomy.sex!r}")
    return SEX[key]


def fat_thickness_mm(bmi: float) -> float:
    """Nominal lateral subcutaneous fat: ~5 mm at BMI 20, ~40 mm at BMI 40."""
    return float(np.clip(5.0 + 1.75 * (bmi - 20.0), 3.0, 45.0))


def body_size_mm(anatomy) -> tuple[float, float]:
    """Full width (left-right) and depth (antero-posterior) of the body outline in mm.

    A function of the demographics alone, so a planner can check a field of view."""
    w, d, _, _ = _sex(anatomy)
    s_w = math.sqrt(max(anatomy.height_mm, 1.0) / REF_HEIGHT_MM)
    f_bmi = math.sqrt(max(anatomy.bmi, 1.0) / REF_BMI)
    age_f = float(np.clip(1.0 + 0.0015 * (anatomy.age_y - 45.0), 0.97, 1.06))  # the chest deepens with age
    return REF_WIDTH_MM * s_w * f_bmi * w, REF_DEPTH_MM * s_w * f_bmi * d * age_f


def check_fits(anatomy, grid: Grid) -> None:
    """Raise ValueError when the body outline does not fit the grid's in-plane field of view."""
    width, depth = body_size_mm(anatomy)
    _, ey, ex = grid.extent_mm()
    if width > ex or depth > ey:
        raise ValueError(
            f"the body ({width:.0f} mm wide x {depth:.0f} mm deep for a {anatomy.sex} of "
            f"{anatomy.height_mm / 10:.0f} cm, BMI {anatomy.bmi:.1f}) does not fit the {ex:.0f} x {ey:.0f} mm "
            f"field of view of the {grid.shape[2]}x{grid.shape[1]} grid; enlarge `field_of_view` (or the "
            f"voxel size) or narrow the population's height/BMI range (nothing was rescaled)")


def _n(rng, sd, lim=2.5):
    """A clipped standard-normal jitter (sd units)."""
    return float(np.clip(rng.standard_normal(), -lim, lim)) * sd


def sample_shape(anatomy, rng: np.random.Generator) -> tuple[Shape, dict]:
    """All scalar shape parameters of one subject (mm), plus heart and rib arrays."""
    _, _, lf, hf = _sex(anatomy)
    s_h = anatomy.height_mm / REF_HEIGHT_MM
    s_w = math.sqrt(s_h)
    bmi = float(anatomy.bmi)
    width, depth = body_size_mm(anatomy)
    body_a, body_b = width / 2, depth / 2
    skin = 2.0
    fat = fat_thickness_mm(bmi) * (1.0 + _n(rng, 0.06))
    fat_h = [_n(rng, 0.04) for _ in range(6)]
    rib_t = 10.0 * s_w
    muscle_lat = float(np.clip(14.0 * s_w + 1.2 * (bmi - 24.0), 8.0, 45.0))
    muscle_ant = float(np.clip(10.0 * s_w + 0.8 * (bmi - 24.0), 6.0, 35.0))
    muscle_post = float(np.clip(24.0 * s_w + 0.8 * (bmi - 24.0), 15.0, 45.0))
    cav_a = (body_a - skin - fat - muscle_lat - rib_t) * (1.0 + _n(rng, 0.02))
    front = -(body_b - skin - 0.85 * fat - muscle_ant - rib_t)
    back = body_b - skin - 0.65 * fat - muscle_post - rib_t
    cav_yc, cav_b = 0.5 * (front + back), 0.5 * (back - front) * (1.0 + _n(rng, 0.02))

    H = REF_LUNG_HEIGHT_MM * s_h * lf * float(np.clip(1.0 - 0.008 * (bmi - 24.0), 0.85, 1.06)) * (1.0 + _n(rng, 0.025))
    z_apex, z_base = 0.5 * H, -0.5 * H
    z_car = z_apex - (0.33 + _n(rng, 0.01)) * H

    rc, vd, vw = 7.0 * s_w, 15.0 * s_w, 19.0 * s_w
    y_can = back + 6.0 * s_w
    y_v = y_can - rc - 4.0 * s_w - vd
    rib_p = 0.108 * H * (1.0 + _n(rng, 0.02))
    rib_z0 = z_apex + 6.0
    ob_r, ob_l = OBLIQUE_RIGHT, OBLIQUE_LEFT
    shape = dict(
        body_a=body_a, body_b=body_b, neck=0.1, p_ant=2.2, p_post=2.9, skin=skin, fat=fat,
        fat_c1=fat_h[0], fat_s1=fat_h[1], fat_c2=fat_h[2], fat_s2=fat_h[3], fat_c3=fat_h[4], fat_s3=fat_h[5],
        cav_a=cav_a, cav_b=cav_b, cav_yc=cav_yc, cav_p=2.4, cav_taper=0.1, rib_t=rib_t,
        y_v=y_v, vw=vw, vd=vd, y_can=y_can, rc=rc, spin_len=20.0 * s_w, tp_w=30.0 * s_w, disc=5.0 * s_h,
        vert_z0=rib_z0 + 0.5 * rib_p,
        rib_z0=rib_z0, rib_p=rib_p, rib_drop=2.0 * rib_p * (1.0 + _n(rng, 0.08)), rib_hr=5.5 * s_w,
        rib_wr=3.3 * s_w, rib_tmid=0.5 * rib_t,
        st_top=z_car + 0.16 * H, st_bot=z_base + 0.22 * H, st_w=13.0 * s_w,
        H=H, z_apex=z_apex, z_base=z_base, z_car=z_car, dia_tilt=DIAPHRAGM[0] * H,
        dome_x=0.42 * cav_a, dome_ax=0.62 * cav_a, dome_y=cav_yc - 0.2 * cav_b, dome_ay=1.05 * cav_b,
        dome_hr=DIAPHRAGM[1] * H * (1.0 + _n(rng, 0.06)), dome_hl=DIAPHRAGM[2] * H * (1.0 + _n(rng, 0.06)),
        ap_len=0.5 * H, ap_x=0.48 * cav_a, ap_ax=0.62 * cav_a, ap_y=cav_yc + 0.1 * cav_b, ap_ay=1.12 * cav_b,
        m_ant=4.0 * s_w, m_mid=21.0 * s_w, m_y0=y_v - 85.0 * s_w, m_w=35.0 * s_w,
        obl_r_ant=z_base + (ob_r[1] + _n(rng, 0.015)) * H, obl_r_mid=z_car + (ob_r[2] + _n(rng, 0.015)) * H,
        obl_r_post=z_car + (ob_r[3] + _n(rng, 0.015)) * H, obl_r_u0=ob_r[0], obl_r_lat=_n(rng, 0.03) * H,
        obl_l_ant=z_base + (ob_l[1] + _n(rng, 0.015)) * H, obl_l_mid=z_car + (ob_l[2] + _n(rng, 0.015)) * H,
        obl_l_post=z_car + (ob_l[3] + _n(rng, 0.015)) * H, obl_l_u0=ob_l[0], obl_l_lat=_n(rng, 0.03) * H,
        fis_a1=2.0 + 3.0 * float(rng.random()), fis_f1=0.5 + float(rng.random()),
        fis_p1=2 * math.pi * float(rng.random()),
        fis_a2=2.0 + 3.0 * float(rng.random()), fis_f2=0.5 + float(rng.random()),
        fis_p2=2 * math.pi * float(rng.random()),
        hor_z=z_car - (HORIZONTAL + _n(rng, 0.015)) * H, hor_tilt=_n(rng, 0.02) * H, fiss_tau=0.25,
    )
    # heart: a rotated ellipsoid, long axis toward left-anterior-inferior
    s_heart = s_w * hf * (bmi / REF_BMI) ** 0.15 * (1.0 + _n(rng, 0.05))
    semi = np.array([60.0, 46.0, 44.0]) * s_heart
    u = np.array([0.62 + _n(rng, 0.06), -0.42 + _n(rng, 0.06), -0.55 + _n(rng, 0.06)])  # x, y, z
    u /= np.linalg.norm(u)
    v = np.cross(u, [0.0, 0.0, 1.0])
    v /= np.linalg.norm(v)
    w = np.cross(u, v)
    axes_xyz = np.stack([u, v, w])                     # rows: unit axes in (x, y, z)
    axes_zyx = axes_xyz[:, ::-1]
    hx, hy = 0.14 * cav_a + 10.0 * s_w, cav_yc - 0.18 * cav_b
    ext_z = float(np.sqrt(np.sum((semi * axes_zyx[:, 0]) ** 2)))
    hz = _diaphragm_z(shape, hx, hy) + 0.7 * ext_z
    arrays = dict(
        heart_c=np.array([hz, hy, hx]),
        heart_M=np.ascontiguousarray(axes_zyx / semi[:, None]),
        heart_Md=np.ascontiguousarray(axes_zyx / (semi[:, None] + 4.0)),
        heart_semi=semi, heart_axes_zyx=axes_zyx,
        rib_jit=np.array([[_n(rng, 1.5) for _ in range(12)] for _ in range(2)]),
    )
    return Shape(**{k: float(shape[k]) for k in Shape._fields}), arrays


def _diaphragm_z(s: dict, x: float, y: float) -> float:
    xd, h = (-s["dome_x"], s["dome_hr"]) if x < 0 else (s["dome_x"], s["dome_hl"])
    zlow = s["z_base"] + s["dia_tilt"] * (0.5 - 0.5 * (y - s["cav_yc"]) / s["cav_b"])
    q = ((x - xd) / s["dome_ax"]) ** 2 + ((y - s["dome_y"]) / s["dome_ay"]) ** 2
    return zlow + (h * (1.0 - q) ** 0.7 if q < 1.0 else 0.0)


@numba.njit(cache=True, inline="always")
def _smooth(t):
    if t <= 0.0:
        return 0.0
    if t >= 1.0:
        return 1.0
    return t * t * (3.0 - 2.0 * t)


@numba.njit(cache=True, inline="always")
def _superellipse(ax, ay, sx, sy, a, b, p):
    """(rho, |grad rho|) of the superellipse norm (rho = 1 on the outline) at |x|/a = ax, |y|/b = ay,
    given sx = ax^p and sy = ay^p (precomputed per row and column: pow is the costly part)."""
    t = sx + sy
    if t < 1e-30:
        return 0.0, 1.0 / min(a, b)
    rho = t ** (1.0 / p)
    gx = sx / (ax * a) if ax > 0.0 else 0.0
    gy = sy / (ay * b) if ay > 0.0 else 0.0
    return rho, rho / t * np.sqrt(gx * gx + gy * gy)


@numba.njit(cache=True, inline="always")
def _powers(v, a, p, out_a, out_s):
    for q in range(v.shape[0]):
        r = abs(v[q]) / a
        out_a[q] = r
        out_s[q] = r ** p if r > 0.0 else 0.0


@numba.njit(cache=True, nogil=True, fastmath=True)
def _classify(zc, yc, xc, S, heart_c, heart_M, heart_Md, rib_jit, spacing, labels, region, fiss, k0, k1):
    Z, Y, X = labels.shape
    dz, dy = spacing[0], spacing[1]
    bxa, bxs_ant, bxs_post, cxa, cxs = np.empty(X), np.empty(X), np.empty(X), np.empty(X), np.empty(X)
    bya, bys_ant, bys_post, cya, cys = np.empty(Y), np.empty(Y), np.empty(Y), np.empty(Y), np.empty(Y)
    for k in range(k0, k1):
        z = zc[k]
        neck = 1.0 - S.neck * _smooth((z - S.z_apex + 20.0) / 80.0)
        ba, bb = S.body_a * neck, S.body_b * neck
        vphase = (z - S.vert_z0) - np.floor((z - S.vert_z0) / S.rib_p) * S.rib_p
        in_disc = vphase < S.disc
        st_w = S.st_w + 10.0 * _smooth((z - (S.st_top - 45.0)) / 20.0)
        in_st = S.st_bot < z < S.st_top
        ap_on = z > S.z_apex - S.ap_len
        zeta = (z - (S.z_apex - S.ap_len)) / S.ap_len
        ap_f = np.sqrt(max(0.0, 1.0 - zeta * zeta)) if ap_on else 1.0
        # the rib cage narrows toward the apices (and to the thoracic inlet above them)
        top_a = (S.ap_x + S.ap_ax * ap_f) / S.cav_a + 0.06 if ap_on else 2.0
        top_b = 0.62 + 0.45 * ap_f if ap_on else 2.0
        cav_a = S.cav_a * min(1.0 - S.cav_taper * (1.0 - _smooth((S.z_apex - z) / (0.6 * S.H))), top_a)
        cav_b = S.cav_b * min(1.0, top_b)
        _powers(xc, ba, S.p_ant, bxa, bxs_ant)
        _powers(xc, ba, S.p_post, bxa, bxs_post)
        _powers(yc, bb, S.p_ant, bya, bys_ant)
        _powers(yc, bb, S.p_post, bya, bys_post)
        _powers(xc, cav_a, S.cav_p, cxa, cxs)
        _powers(yc - S.cav_yc, cav_b, S.cav_p, cya, cys)
        for j in range(Y):
            y = yc[j]
            ant = y < 0.0
            p = S.p_ant if ant else S.p_post
            bys = bys_ant[j] if ant else bys_post[j]
            u = (y - (S.cav_yc - S.cav_b)) / (2.0 * S.cav_b)  # 0 anterior .. 1 posterior
            for i in range(X):
                x = xc[i]
                lab = 0
                reg = 0
                fo = 0.0
                rho, g = _superellipse(bxa[i], bya[j], bxs_ant[i] if ant else bxs_post[i], bys, ba, bb, p)
                if rho >= 1.0:
                    labels[k, j, i] = 0
                    region[k, j, i] = 0
                    fiss[k, j, i] = 0.0
                    continue
                d = (1.0 - rho) / g
                r = np.sqrt(x * x + y * y) + 1e-9
                c1, s1 = y / r, x / r
                c2, s2 = c1 * c1 - s1 * s1, 2.0 * s1 * c1
                c3, s3 = c1 * c2 - s1 * s2, s1 * c2 + c1 * s2
                fat_here = S.fat * (0.85 + 0.15 * s1 * s1 - 0.2 * max(c1, 0.0)) * (
                    1.0 + S.fat_c1 * c1 + S.fat_s1 * s1 + S.fat_c2 * c2 + S.fat_s2 * s2 + S.fat_c3 * c3 + S.fat_s3 * s3)
                if d < S.skin:
                    lab = 1
                elif d < S.skin + fat_here:
                    lab = 2
                else:
                    # spine
                    ry = y - S.y_can
                    rr2 = x * x + ry * ry
                    if rr2 <= S.rc * S.rc:
                        lab = 51
                    elif (x / S.vw) ** 2 + ((y - S.y_v) / S.vd) ** 2 <= 1.0:
                        lab = 1 if in_disc else 50
                    elif (not in_disc) and (
                            (rr2 <= (S.rc + 5.5) ** 2 and y >= S.y_v + 0.3 * S.vd)
                            or (abs(x) < 3.5 and S.y_can + S.rc <= y <= S.y_can + S.rc + S.spin_len)
                            or (abs(ry - 0.35 * abs(x)) < 5.0 and abs(x) < S.tp_w)):
                        lab = 50
                    if lab == 0:
                        rc_, gc = _superellipse(cxa[i], cya[j], cxs[i], cys[j], cav_a, cav_b, S.cav_p)
                        t = (rc_ - 1.0) / gc
                        if t > S.rib_t:
                            lab = 3
                        elif t > 0.0:
                            lab = 3
                            if in_st and y < S.cav_yc and abs(x) < st_w:
                                lab = 53
                            elif abs(x) > S.vw + 2.0:
                                side = 1 if x > 0.0 else 0
                                cth = (y - S.cav_yc) / np.sqrt(x * x + (y - S.cav_yc) ** 2 + 1e-9)
                                th = np.arccos(cth)
                                nr = (S.rib_z0 - S.rib_drop * (1.0 - cth) * 0.5 - z) / S.rib_p
                                n = int(np.floor(nr + 0.5))
                                if 0 <= n < 12:
                                    phimax = 2.55 - 0.15 * max(0, n - 7)
                                    if th < phimax:
                                        dzr = (nr - n) * S.rib_p + rib_jit[side, n]
                                        tm = t - S.rib_tmid
                                        if (dzr / S.rib_hr) ** 2 + (tm / S.rib_wr) ** 2 <= 1.0:
                                            lab = 52
                        else:
                            # thoracic cavity
                            qz, qy, qx = z - heart_c[0], y - heart_c[1], x - heart_c[2]
                            h1 = heart_M[0, 0] * qz + heart_M[0, 1] * qy + heart_M[0, 2] * qx
                            h2 = heart_M[1, 0] * qz + heart_M[1, 1] * qy + heart_M[1, 2] * qx
                            h3 = heart_M[2, 0] * qz + heart_M[2, 1] * qy + heart_M[2, 2] * qx
                            e1 = heart_Md[0, 0] * qz + heart_Md[0, 1] * qy + heart_Md[0, 2] * qx
                            e2 = heart_Md[1, 0] * qz + heart_Md[1, 1] * qy + heart_Md[1, 2] * qx
                            e3 = heart_Md[2, 0] * qz + heart_Md[2, 1] * qy + heart_Md[2, 2] * qx
                            right = x < 0.0
                            xd = -S.dome_x if right else S.dome_x
                            dh = S.dome_hr if right else S.dome_hl
                            zlow = S.z_base + S.dia_tilt * (0.5 - 0.5 * (y - S.cav_yc) / S.cav_b)
                            qd = ((x - xd) / S.dome_ax) ** 2 + ((y - S.dome_y) / S.dome_ay) ** 2
                            zd = zlow + (dh * (1.0 - qd) ** 0.7 if qd < 1.0 else 0.0)
                            mw = S.m_ant + (S.m_mid - S.m_ant) * _smooth((y - S.m_y0) / S.m_w)
                            if h1 * h1 + h2 * h2 + h3 * h3 <= 1.0:
                                lab = 40
                            elif e1 * e1 + e2 * e2 + e3 * e3 <= 1.0:
                                lab, reg = 1, 2
                            elif z < zd:
                                lab, reg = 1, 5
                            elif abs(x) < S.vw + 7.0 and y > S.y_v - S.vd - 4.0:
                                lab, reg = 1, 5
                            elif ap_on and (ap_f <= 0.0 or ((abs(x) - S.ap_x) / (S.ap_ax * ap_f)) ** 2
                                            + ((y - S.ap_y) / (S.ap_ay * ap_f)) ** 2 > 1.0):
                                lab, reg = 1, 5
                            elif abs(x) < mw:
                                lab, reg = 1, 2
                            else:
                                reg = 1
                                ax_ = abs(x) / S.cav_a
                                pert = (S.fis_a1 * np.sin(2.0 * np.pi * S.fis_f1 * u + S.fis_p1)
                                        + S.fis_a2 * np.sin(2.0 * np.pi * S.fis_f2 * ax_ + S.fis_p2))
                                if right:
                                    za, zm, zp = S.obl_r_ant, S.obl_r_mid, S.obl_r_post
                                    u0, lat = S.obl_r_u0, S.obl_r_lat
                                else:
                                    za, zm, zp = S.obl_l_ant, S.obl_l_mid, S.obl_l_post
                                    u0, lat = S.obl_l_u0, S.obl_l_lat
                                # quadratic through (u0, za), (0.55, zm), (1, zp): steep low, flatter high
                                u1 = 0.55
                                l0 = (u - u1) * (u - 1.0) / ((u0 - u1) * (u0 - 1.0))
                                l1 = (u - u0) * (u - 1.0) / ((u1 - u0) * (u1 - 1.0))
                                l2 = (u - u0) * (u - u1) / ((1.0 - u0) * (1.0 - u1))
                                d0 = ((u - u1) + (u - 1.0)) / ((u0 - u1) * (u0 - 1.0))
                                d1 = ((u - u0) + (u - 1.0)) / ((u1 - u0) * (u1 - 1.0))
                                d2 = ((u - u0) + (u - u1)) / ((1.0 - u0) * (1.0 - u1))
                                G = (za * d0 + zm * d1 + zp * d2) / (2.0 * S.cav_b)
                                zo = za * l0 + zm * l1 + zp * l2 + lat * (ax_ - 0.5) + pert
                                nrm = np.sqrt(1.0 + G * G)
                                so = (z - zo) / nrm
                                hn = (dz + abs(G) * dy) / nrm
                                if abs(so) < hn:
                                    fo = S.fiss_tau / hn * (1.0 - abs(so) / hn)
                                if so < 0.0:
                                    lab = 12 if right else 14
                                elif right:
                                    zh = S.hor_z + S.hor_tilt * (0.5 - u) + 0.5 * pert
                                    sh = z - zh
                                    lab = 11 if sh < 0.0 else 10
                                    if abs(sh) < dz:
                                        fo = max(fo, S.fiss_tau / dz * (1.0 - abs(sh) / dz))
                                else:
                                    lab = 13
                labels[k, j, i] = lab
                region[k, j, i] = reg
                fiss[k, j, i] = fo


# ---------------------------------------------------------------------------------------------
# centrelines of the mediastinal tubes (mm, x/y/z in the subject frame; converted to z/y/x)


def _zyx(points_xyz) -> np.ndarray:
    return np.asarray(points_xyz, dtype=np.float64)[..., ::-1].copy()


def _polyline(points_xyz, radii):
    """Consecutive capsules along a polyline with per-vertex radii -> (a, b, ra, rb) in z/y/x."""
    p = _zyx(points_xyz)
    r = np.asarray(radii, dtype=np.float64)
    return p[:-1], p[1:], r[:-1], r[1:]


def _cat(*parts):
    a = np.concatenate([q[0] for q in parts])
    b = np.concatenate([q[1] for q in parts])
    ra = np.concatenate([q[2] for q in parts])
    rb = np.concatenate([q[3] for q in parts])
    return a, b, ra, rb


@dataclass
class Landmarks:
    """Points the tubes and trees hang from (mm, x/y/z)."""

    carina: np.ndarray
    trachea_r: float
    right_hilum_pa: np.ndarray
    left_hilum_pa: np.ndarray
    veins: dict            # name -> end point at the hilum
    left_atrium: np.ndarray
    airways: list          # (a_xyz, b_xyz, r_outer, r_inner, label)
    aorta: tuple           # (points_xyz, radii)
    pa_trunk: tuple        # list of (points_xyz, radii)


def landmarks(S: Shape, arr: dict, anatomy, rng: np.random.Generator) -> Landmarks:
    s = math.sqrt(anatomy.height_mm / REF_HEIGHT_MM)
    sexf = 1.05 if _sex(anatomy)[3] > 1 else 0.95   # men's airways and vessels are wider
    hz, hy, hx = arr["heart_c"]
    y_tr = S.y_v - S.vd - 13.0 * s
    x_tr = -2.0 + _n(rng, 1.0)
    r_tr = 9.5 * s * sexf
    car = np.array([x_tr, y_tr, S.z_car])
    top = np.array([x_tr, y_tr + 6.0, S.z_apex + 200.0])

    def unit(v):
        v = np.asarray(v, dtype=np.float64)
        return v / np.linalg.norm(v)

    ang_r = math.radians(25.0 + _n(rng, 3.0))
    ang_l = math.radians(45.0 + _n(rng, 4.0))
    rb_end = car + 25.0 * s * unit([-math.sin(ang_r), 0.12, -math.cos(ang_r)])
    lb_end = car + 48.0 * s * unit([math.sin(ang_l), 0.15, -math.cos(ang_l)])
    bi_end = rb_end + 25.0 * s * unit([-0.25, 0.15, -0.95])
    airways = [
        (top, car, r_tr, r_tr - 2.0, TRACHEA),
        (car, rb_end, 7.2 * s * sexf, 5.6 * s * sexf, BRONCHI),
        (car, lb_end, 6.6 * s * sexf, 5.0 * s * sexf, BRONCHI),
        (rb_end, rb_end + 16.0 * s * unit([-0.8, 0.1, 0.6]), 4.6 * s, 3.4 * s, BRONCHI),      # RUL
        (rb_end, bi_end, 5.2 * s, 4.0 * s, BRONCHI),                                        # intermedius
        (bi_end, bi_end + 16.0 * s * unit([-0.35, -0.8, -0.45]), 3.6 * s, 2.6 * s, BRONCHI),  # RML
        (bi_end, bi_end + 22.0 * s * unit([-0.2, 0.45, -0.85]), 4.2 * s, 3.1 * s, BRONCHI),   # RLL
        (lb_end, lb_end + 16.0 * s * unit([0.6, -0.3, 0.7]), 4.6 * s, 3.4 * s, BRONCHI),      # LUL
        (lb_end, lb_end + 22.0 * s * unit([0.3, 0.35, -0.9]), 4.6 * s, 3.4 * s, BRONCHI),     # LLL
    ]
    age_r = 0.04 * (anatomy.age_y - 45.0)
    ra, rd = 15.0 * s + age_r, 11.0 * s + 0.7 * age_r
    root = np.array([hx - 12.0 * s, hy - 5.0 * s, hz + 30.0 * s])
    aorta_pts = [root,
                 [-12.0 * s, hy - 12.0 * s, S.z_car - 10.0],
                 [-8.0 * s, y_tr - 30.0 * s, S.z_car + 16.0],
                 [4.0 * s, y_tr - 10.0 * s, S.z_car + 27.0],
                 [16.0 * s, y_tr + 12.0 * s, S.z_car + 22.0],
                 [20.0 * s, S.y_v - 8.0 * s, S.z_car],
                 [16.0 * s, S.y_v - 14.0 * s, S.z_base - 60.0]]
    aorta = (np.array(aorta_pts, dtype=np.float64), [ra, ra, 0.93 * ra, 0.85 * ra, rd * 1.05, rd, rd * 0.95])
    # pulmonary arteries: trunk from the right ventricle to the bifurcation, then to each hilum
    bif = np.array([10.0 * s, y_tr - 20.0 * s, S.z_car - 10.0])
    r_pa = 9.0 * s * sexf
    right_pa = rb_end + np.array([-4.0, -14.0, -8.0]) * s
    left_pa = lb_end + np.array([3.0, -2.0, 13.0]) * s
    trunk = [
        (np.array([[hx + 8.0 * s, hy - 30.0 * s, hz + 25.0 * s], bif]), [13.0 * s, 13.0 * s]),
        (np.array([bif, [x_tr - 12.0 * s, y_tr - 20.0 * s, S.z_car - 16.0], right_pa]), [10.0 * s, 10.0 * s, r_pa]),
        (np.array([bif, [25.0 * s, y_tr - 6.0 * s, S.z_car + 4.0], left_pa]), [10.0 * s, 10.0 * s, r_pa]),
    ]
    la = np.array([hx - 5.0 * s, hy + 30.0 * s, hz + 18.0 * s])
    mx = S.m_mid
    veins = {
        "right_superior": np.array([-(mx + 22.0 * s), hy + 8.0 * s, S.z_car - 32.0 * s]),
        "right_inferior": np.array([-(mx + 22.0 * s), y_tr + 12.0 * s, S.z_car - 58.0 * s]),
        "left_superior": np.array([mx + 30.0 * s, hy + 14.0 * s, S.z_car - 26.0 * s]),
        "left_inferior": np.array([mx + 28.0 * s, y_tr + 14.0 * s, S.z_car - 52.0 * s]),
    }
    return Landmarks(carina=car, trachea_r=r_tr, right_hilum_pa=right_pa, left_hilum_pa=left_pa, veins=veins,
                     left_atrium=la, airways=airways, aorta=aorta, pa_trunk=trunk)


# ---------------------------------------------------------------------------------------------
# pulmonary vessel trees


@numba.njit(cache=True)
def _grow_tree(pts, root, r_root, n_total, rnd, leaf, out_a, out_b, out_ra, out_rb, out_n0):
    """Space-filling bisection tree (after Kitaoka et al., J Appl Physiol 1999).

    A branch supplying the point set S runs from its start toward the centroid of S
    (a random 30-55 % of the way, all the way for a leaf); S is then split by the
    plane through its centroid across its widest extent perpendicular to the branch,
    and each half grows a child.  Radii follow Murray's law with flow ~ |S|:
    r = r_root * (|S| / n_total)^(1/3), so an even split gives r_child = r * 2^(-1/3).
    Writes capsules (two per branch, the joint jittered so vessels curve) from out_n0;
    returns the new count.  Scalar code on purpose: it compiles fast.
    """
    K = pts.shape[0]
    perm = np.arange(K)
    stack_lo = np.empty(2 * K + 2, np.int64)
    stack_hi = np.empty(2 * K + 2, np.int64)
    stack_p = np.empty((2 * K + 2, 3))
    stack_lo[0] = 0
    stack_hi[0] = K
    stack_p[0, 0], stack_p[0, 1], stack_p[0, 2] = root[0], root[1], root[2]
    top = 1
    m = out_n0
    ri = 0
    nr = rnd.shape[0]
    cap = out_a.shape[0]
    while top > 0 and m + 2 <= cap:
        top -= 1
        lo = stack_lo[top]
        hi = stack_hi[top]
        p0, p1, p2 = stack_p[top, 0], stack_p[top, 1], stack_p[top, 2]
        n = hi - lo
        c0 = c1 = c2 = 0.0
        for q in range(lo, hi):
            c0 += pts[perm[q], 0]
            c1 += pts[perm[q], 1]
            c2 += pts[perm[q], 2]
        c0 /= n
        c1 /= n
        c2 /= n
        r = r_root * (n / n_total) ** (1.0 / 3.0)
        u1 = rnd[ri % nr]
        u2 = rnd[(ri + 1) % nr]
        u3 = rnd[(ri + 2) % nr]
        u4 = rnd[(ri + 3) % nr]
        ri += 4
        d0, d1, d2 = c0 - p0, c1 - p1, c2 - p2
        L = np.sqrt(d0 * d0 + d1 * d1 + d2 * d2)
        is_leaf = n <= leaf
        lam = 1.0
        if not is_leaf:
            lam = 0.30 + 0.25 * u1
            if lam * L < 2.0 * r:
                lam = min(1.0, 2.0 * r / max(L, 1e-9))
        e0, e1_, e2_ = p0 + lam * d0, p1 + lam * d1, p2 + lam * d2
        s0, s1, s2 = e0 - p0, e1_ - p1, e2_ - p2
        sl = np.sqrt(s0 * s0 + s1 * s1 + s2 * s2)
        if sl > 1e-6:
            v0, v1, v2 = s0 / sl, s1 / sl, s2 / sl
        else:
            v0, v1, v2 = -1.0, 0.0, 0.0
        # two perpendiculars a, b of the branch direction v
        if abs(v2) < 0.9:
            t0, t1, t2 = 0.0, 0.0, 1.0
        else:
            t0, t1, t2 = 0.0, 1.0, 0.0
        dot = t0 * v0 + t1 * v1 + t2 * v2
        a0, a1, a2 = t0 - dot * v0, t1 - dot * v1, t2 - dot * v2
        an = np.sqrt(a0 * a0 + a1 * a1 + a2 * a2)
        a0, a1, a2 = a0 / an, a1 / an, a2 / an
        b0, b1, b2 = v1 * a2 - v2 * a1, v2 * a0 - v0 * a2, v0 * a1 - v1 * a0
        if sl > 1e-6:
            ang = 2.0 * np.pi * u2
            jit = (u3 - 0.5) * 0.16 * sl
            ca, sa = np.cos(ang) * jit, np.sin(ang) * jit
            m0 = 0.5 * (p0 + e0) + ca * a0 + sa * b0
            m1 = 0.5 * (p1 + e1_) + ca * a1 + sa * b1
            m2 = 0.5 * (p2 + e2_) + ca * a2 + sa * b2
            r_end = r * (0.8 if is_leaf else 0.93)
            r_mid = 0.5 * (r + r_end)
            out_a[m, 0], out_a[m, 1], out_a[m, 2] = p0, p1, p2
            out_b[m, 0], out_b[m, 1], out_b[m, 2] = m0, m1, m2
            out_ra[m] = r
            out_rb[m] = r_mid
            out_a[m + 1, 0], out_a[m + 1, 1], out_a[m + 1, 2] = m0, m1, m2
            out_b[m + 1, 0], out_b[m + 1, 1], out_b[m + 1, 2] = e0, e1_, e2_
            out_ra[m + 1] = r_mid
            out_rb[m + 1] = r_end
            m += 2
        if is_leaf:
            continue
        # split direction: widest extent of S across the branch (power iteration on the
        # projected covariance, started at a random perpendicular), then a small twist
        cxx = cxy = cxz = cyy = cyz = czz = 0.0
        for q in range(lo, hi):
            w0 = pts[perm[q], 0] - c0
            w1 = pts[perm[q], 1] - c1
            w2 = pts[perm[q], 2] - c2
            dw = w0 * v0 + w1 * v1 + w2 * v2
            w0 -= dw * v0
            w1 -= dw * v1
            w2 -= dw * v2
            cxx += w0 * w0
            cxy += w0 * w1
            cxz += w0 * w2
            cyy += w1 * w1
            cyz += w1 * w2
            czz += w2 * w2
        ct, st = np.cos(2.0 * np.pi * u4), np.sin(2.0 * np.pi * u4)
        f0, f1, f2 = ct * a0 + st * b0, ct * a1 + st * b1, ct * a2 + st * b2
        for _ in range(12):
            g0 = cxx * f0 + cxy * f1 + cxz * f2
            g1 = cxy * f0 + cyy * f1 + cyz * f2
            g2 = cxz * f0 + cyz * f1 + czz * f2
            gn = np.sqrt(g0 * g0 + g1 * g1 + g2 * g2)
            if gn < 1e-12:
                break
            f0, f1, f2 = g0 / gn, g1 / gn, g2 / gn
        tw = (u1 - 0.5) * 0.5
        x0, x1, x2 = v1 * f2 - v2 * f1, v2 * f0 - v0 * f2, v0 * f1 - v1 * f0
        ct, st = np.cos(tw), np.sin(tw)
        f0, f1, f2 = ct * f0 + st * x0, ct * f1 + st * x1, ct * f2 + st * x2
        # partition perm[lo:hi] by the side of the plane through the centroid
        i0, i1 = lo, hi - 1
        while i0 <= i1:
            q = perm[i0]
            if (pts[q, 0] - c0) * f0 + (pts[q, 1] - c1) * f1 + (pts[q, 2] - c2) * f2 < 0.0:
                i0 += 1
            else:
                perm[i0] = perm[i1]
                perm[i1] = q
                i1 -= 1
        mid_i = i0
        if mid_i == lo or mid_i == hi:  # all points on one side (degenerate): split the list
            mid_i = lo + n // 2
        stack_lo[top] = lo
        stack_hi[top] = mid_i
        stack_p[top, 0], stack_p[top, 1], stack_p[top, 2] = e0, e1_, e2_
        top += 1
        stack_lo[top] = mid_i
        stack_hi[top] = hi
        stack_p[top, 0], stack_p[top, 1], stack_p[top, 2] = e0, e1_, e2_
        top += 1
    return m


def _sample_lobe_points(labels: np.ndarray, grid: Grid, lobe: int, n: int, rng: np.random.Generator,
                        bbox) -> np.ndarray:
    """n points (mm, z/y/x) uniform in a lobe, by rejection inside its bounding box."""
    if n <= 0:
        return np.zeros((0, 3))
    lo, hi = bbox
    origin = grid.origin_mm()
    sp = np.asarray(grid.spacing, dtype=np.float64)
    got = []
    have = 0
    for _ in range(60):
        m = max(64, 3 * (n - have))
        idx = np.stack([rng.integers(lo[a], hi[a], size=m) for a in range(3)], axis=1)
        ok = labels[idx[:, 0], idx[:, 1], idx[:, 2]] == lobe
        idx = idx[ok][: n - have]
        jit = rng.random((idx.shape[0], 3)) - 0.5
        got.append(origin + (idx + jit) * sp)
        have += idx.shape[0]
        if have >= n:
            break
    return np.concatenate(got)[:n]


def vessel_trees(labels: np.ndarray, grid: Grid, lm: Landmarks, anatomy, rng: np.random.Generator):
    """Capsules of the arterial and venous trees of every lobe: (a, b, ra, rb, label) in z/y/x mm."""
    s = math.sqrt(anatomy.height_mm / REF_HEIGHT_MM)
    r_hilum = 8.5 * s
    r_leaf = max(0.55, 0.32 * min(grid.spacing[1], grid.spacing[2]), 0.2 * grid.spacing[0])
    n_lung = int(np.clip(round((r_hilum / r_leaf) ** 3), 24, 2600))
    counts, boxes = {}, {}
    for lobe in LOBES:
        # per-lobe bounding box from the slices/rows/columns that hold it
        m = labels == lobe
        zs, ys, xs = np.flatnonzero(m.any((1, 2))), np.flatnonzero(m.any((0, 2))), np.flatnonzero(m.any((0, 1)))
        counts[lobe] = int(np.count_nonzero(m))
        boxes[lobe] = ((zs[0], ys[0], xs[0]), (zs[-1] + 1, ys[-1] + 1, xs[-1] + 1)) if counts[lobe] else None
    right_total = counts[RUL] + counts[RML] + counts[RLL]
    left_total = counts[LUL] + counts[LLL]
    arteries_root = {RUL: lm.right_hilum_pa, RML: lm.right_hilum_pa, RLL: lm.right_hilum_pa,
                     LUL: lm.left_hilum_pa, LLL: lm.left_hilum_pa}
    veins_root = {RUL: lm.veins["right_superior"], RML: lm.veins["right_superior"], RLL: lm.veins["right_inferior"],
                  LUL: lm.veins["left_superior"], LLL: lm.veins["left_inferior"]}
    cap = 8 * n_lung + 64
    parts = []
    for system, roots, label in (("artery", arteries_root, PULM_ARTERY), ("vein", veins_root, PULM_VEIN)):
        for lobe in LOBES:
            total = right_total if lobe in (RUL, RML, RLL) else left_total
            if counts[lobe] == 0 or total == 0:
                continue
            k = max(2, int(round(n_lung * counts[lobe] / total)))
            pts = _sample_lobe_points(labels, grid, lobe, k, rng, boxes[lobe])
            if pts.shape[0] < 2:
                continue
            rnd = rng.random(8 * pts.shape[0] + 16)
            a = np.zeros((cap, 3))
            b = np.zeros((cap, 3))
            ra = np.zeros(cap)
            rb = np.zeros(cap)
            r_lobe = r_hilum * (pts.shape[0] / n_lung) ** (1.0 / 3.0)
            m = _grow_tree(pts, _zyx(roots[lobe]), r_lobe, float(pts.shape[0]), rnd, 1, a, b, ra, rb, 0)
            parts.append((a[:m], b[:m], ra[:m], rb[:m], np.full(m, label, np.uint8)))
    # mediastinal stems: pulmonary trunk and arteries, veins into the left atrium
    for pts, radii in lm.pa_trunk:
        a, b, ra, rb = _polyline(pts, radii)
        parts.append((a, b, ra, rb, np.full(len(a), PULM_ARTERY, np.uint8)))
    for end in lm.veins.values():
        a, b, ra, rb = _polyline(np.stack([lm.left_atrium, end]), [7.0 * s, 6.5 * s])
        parts.append((a, b, ra, rb, np.full(len(a), PULM_VEIN, np.uint8)))
    cat = [np.concatenate([p[i] for p in parts]) for i in range(5)]
    lobe_boxes = {lobe: (counts[lobe], np.array(boxes[lobe][0]), np.array(boxes[lobe][1]))
                  for lobe in LOBES if counts[lobe]}
    return tuple(cat), n_lung, lobe_boxes


# ---------------------------------------------------------------------------------------------


@numba.njit(cache=True, nogil=True, fastmath=True)
def _blend(hu, labels, region, fiss, soft_hu, aw_out, aw_in, aw_lab, air_hu, occ_v, lab_v, blood_hu, k0, k1):
    """Partial-volume layers on top of the textured HU: fissures, airway walls and lumen, vessels."""
    Z, Y, X = hu.shape
    for k in range(k0, k1):
        for j in range(Y):
            for i in range(X):
                v = hu[k, j, i]
                f = fiss[k, j, i]
                if f > 0.0:
                    v += f * (soft_hu - v)
                o = aw_out[k, j, i]
                if o > 0.0:
                    v += o * (soft_hu - v)
                    if o >= 0.5:
                        labels[k, j, i] = 1
                    oi = aw_in[k, j, i]
                    if oi > 0.0:
                        v += oi * (air_hu - v)
                        if oi >= 0.5:
                            labels[k, j, i] = aw_lab[k, j, i]
                ov = occ_v[k, j, i]
                if ov > 0.0:
                    v += ov * (blood_hu - v)
                    if ov >= 0.5:
                        labels[k, j, i] = lab_v[k, j, i]
                hu[k, j, i] = v


BONES = (VERTEBRAE, RIBS, STERNUM)
TRABECULAR_YOUNG_HU, TRABECULAR_LOSS_HU_PER_Y, TRABECULAR_OLDEST_HU, TRABECULAR_SD_HU = 226.0, 2.5, 89.0, 40.0
TRABECULAR_LOSS_FROM_Y = 35.0
"""Vertebral trabecular attenuation at 120 kV: 226 HU (SD 44) under 30 y, falling linearly by 2.5 HU
a year to 89 HU (SD 38) at 90 y and over (Jang et al., Radiology 2019, 20,374 CTs).  A fall from
35 y reaches 89 HU at 90 y; the model holds 89 HU beyond."""
CORTEX_MM = {RIBS: 0.8, STERNUM: 0.8, VERTEBRAE: 0.4}
"""Cortical thickness per bone, order-of-magnitude literature values (rib cortex about 0.5-1 mm, the
vertebral body's shell and endplates about 0.2-0.5 mm).  Thinner than a voxel, so the outer bone
voxels carry a partial-volume mix of cortex and marrow: share = thickness / voxel size across the face."""


def trabecular_mean_hu(age_y: float) -> float:
    """Population mean vertebral trabecular HU at this age (Jang et al. 2019)."""
    fall = TRABECULAR_LOSS_HU_PER_Y * max(float(age_y) - TRABECULAR_LOSS_FROM_Y, 0.0)
    return max(TRABECULAR_YOUNG_HU - fall, TRABECULAR_OLDEST_HU)


def bone_hu(hu: np.ndarray, labels: np.ndarray, spacing, age_y: float, tissue_hu: dict, hu_of: dict,
            tissue_of: dict, rng: np.random.Generator) -> dict:
    """Age-dependent trabecular HU inside the bones, cortex mixed into their outer voxels (in place).

    A single young-adult trabecular value (200-400 HU) made every rib and vertebra too dense for a
    screening-age cohort and without a cortical rim; both are what a bone histogram of a real chest
    CT shows (a marrow peak near 100-200 HU at 60 y, a tail to 600+ HU at the cortex)."""
    from scipy.ndimage import binary_erosion

    lo, hi = tuple(tissue_hu.get("cancellous_bone") or (50.0, 400.0))[:2]
    trabecular = float(np.clip(trabecular_mean_hu(age_y) + TRABECULAR_SD_HU * rng.standard_normal(), lo, hi))
    bone = np.isin(labels, BONES)
    if not bone.any():
        return {"cancellous_bone": trabecular}
    marrow = np.isin(labels, [b for b in BONES if tissue_of.get(b) == "cancellous_bone"])
    hu[marrow] += np.float32(trabecular - hu_of["cancellous_bone"])  # keep the marrow texture, move its level
    # faces within a slice (share = thickness / in-plane voxel) and faces between slices, such as
    # vertebral endplates (thickness / slice); the edge of the volume is a cut, not a cortex
    in_plane = np.zeros((3, 3, 3), bool)
    in_plane[1] = [[0, 1, 0], [1, 1, 1], [0, 1, 0]]
    across = np.zeros((3, 3, 3), bool)
    across[:, 1, 1] = True
    side = bone & ~binary_erosion(bone, structure=in_plane, border_value=1)
    end = bone & ~binary_erosion(bone, structure=across, border_value=1) & ~side
    cortical = np.float32(hu_of["cortical_bone"])
    for label in BONES:
        mine = labels == label
        for face, size in ((side, min(spacing[1], spacing[2])), (end, spacing[0])):
            rim = face & mine
            if rim.any():
                share = np.float32(min(1.0, CORTEX_MM[label] / float(size)))
                hu[rim] += share * (cortical - hu[rim])
    return {"cancellous_bone": trabecular}


@dataclass
class Phantom:
    hu: np.ndarray            # float32 HU
    labels: np.ndarray        # uint8 organ labels
    region: np.ndarray        # uint8 region codes (see module docstring)
    vessel_occ: np.ndarray    # float32 occupancy of pulmonary vessels (0..1)
    shape: Shape
    landmarks: Landmarks
    tissue_hu: dict           # the subject's HU per tissue
    n_vessel_points: int      # terminal branches per lung and system
    lobe_boxes: dict          # lobe label -> (voxels before vessels, bbox lo, bbox hi (half-open))


def build_thorax(anatomy, grid: Grid, tissue_hu: dict, organ_tissue: dict, rng: np.random.Generator) -> Phantom:
    """The anatomy of one subject on `grid`, drawn from `rng` only."""
    check_fits(anatomy, grid)
    S, arr = sample_shape(anatomy, rng)
    lm = landmarks(S, arr, anatomy, rng)
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
    (va, vb, vra, vrb, vlab), n_pts, lobe_boxes = vessel_trees(labels, grid, lm, anatomy, rng)
    occ_v, lab_v = draw_tubes(grid, va, vb, vra, vrb, vlab, region, (R_LUNG, R_MEDIASTINUM))

    # HU: subject tissue values, texture, then the partial-volume layers
    tissue_of = dict(ORGAN_TISSUE)
    tissue_of.update({int(k): v for k, v in organ_tissue.items()})
    hu_of = subject_tissue_hu(tissue_hu, rng)
    gravity = GRAVITY_HU[0] + (GRAVITY_HU[1] - GRAVITY_HU[0]) * float(rng.random())
    fields = noise_pair(grid.shape, grid.spacing, rng)
    hu = compose_hu(labels, tissue_of, hu_of, fields, yc, (S.cav_yc - S.cav_b, S.cav_yc + S.cav_b), gravity, LOBES)
    del fields
    run_slabs(_blend, grid.shape[0], hu, labels, region, fiss, np.float32(hu_of[tissue_of[BODY_WALL]]),
              aw_out, aw_in, aw_lab, np.float32(hu_of[tissue_of[TRACHEA]]), occ_v, lab_v,
              np.float32(hu_of[tissue_of[PULM_ARTERY]]))
    hu_of.update(bone_hu(hu, labels, grid.spacing, anatomy.age_y, tissue_hu, hu_of, tissue_of, rng))
    return Phantom(hu=hu, labels=labels, region=region, vessel_occ=occ_v, shape=S, landmarks=lm,
                   tissue_hu=hu_of, n_vessel_points=n_pts, lobe_boxes=lobe_boxes)
