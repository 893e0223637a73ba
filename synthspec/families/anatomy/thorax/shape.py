"""The adult thorax's shape parameters: body size from demographics, then every random proportion.

Role: step 1 of the thorax build (`sample_shape`, drawing only from the anatomy stream) and
the size laws a planner checks against the field of view (`body_size_mm`, `check_fits`).
It classifies no voxel (classify.py) and draws no vessel (vessels.py).

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

People of one sex and height differ in lung size: the ERS/ECCS 1993 equations give a
residual SD of 0.70 L (men) and 0.60 L (women) about the predicted TLC, 10-12 % of it.
Each subject draws a lung-size factor f with that coefficient of variation (clipped at
2 SD).  The lung is the cavity less a heart and mediastinum of fixed size, so the cavity
grows by 1 + LUNG_TO_CAVITY (f - 1) for the lungs to grow by about f (measured:
benchmarks/lung_volume_spread.py); that change goes 60 % into lung height and 20 % into
each of the cavity's width and depth, within the body outline (which stays a function of
the demographics) and the grid's cranio-caudal coverage (`MAX_LUNG_HEIGHT_MM`).
"""

from __future__ import annotations

import math
from collections import namedtuple

import numpy as np

from synthspec.families.anatomy.thorax.references import predicted_tlc_ml
from synthspec.families.base import FamilyError
from synthspec.families.grid import Grid

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
MAX_LUNG_HEIGHT_MM = 280.0
"""Apex to base at most: the family's 300 mm coverage with 10 mm above and below (the tallest men at +2 SD
of lung size are held here rather than cut by the edge of the volume)."""
LUNG_TO_CAVITY = 0.7
"""Cavity volume change per lung volume change (the fixed heart and mediastinum make the lungs move ~1.4x)."""
LUNG_SIZE_SHARE = (0.6, 0.2, 0.2)
"""How a lung-size factor f splits into height, cavity width and cavity depth: f^0.6, f^0.2, f^0.2."""
MIN_WALL_MUSCLE_MM = 5.0
"""Lateral chest-wall muscle kept when a large lung widens the cavity inside a fixed body outline."""
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
        raise FamilyError(f"sex must be 'female' or 'male' for the thorax phantom, got {anatomy.sex!r}")
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
        raise FamilyError(
            f"the body ({width:.0f} mm wide x {depth:.0f} mm deep for a {anatomy.sex} of "
            f"{anatomy.height_mm / 10:.0f} cm, BMI {anatomy.bmi:.1f}) does not fit the {ex:.0f} x {ey:.0f} mm "
            f"field of view of the {grid.shape[2]}x{grid.shape[1]} grid; enlarge `field_of_view` (or the "
            f"voxel size) or narrow the population's height/BMI range (nothing was rescaled)")


def _n(rng, sd, lim=2.5):
    """A clipped standard-normal jitter (sd units)."""
    return float(np.clip(rng.standard_normal(), -lim, lim)) * sd


def lung_size_factor(anatomy, rng: np.random.Generator) -> float:
    """How much larger this subject's thoracic cavity is than others' of its sex and height: 1 + 0.7 CV z, with
    CV the ERS residual SD over the predicted TLC and z standard normal clipped at 2 SD (so the lungs, the cavity
    less a fixed heart and mediastinum, vary by about CV)."""
    pred, rsd = predicted_tlc_ml(str(anatomy.sex), float(anatomy.height_mm))
    return 1.0 + LUNG_TO_CAVITY * _n(rng, rsd / max(pred, 1000.0), lim=2.0)


def sample_shape(anatomy, rng: np.random.Generator) -> tuple[Shape, dict]:
    """All scalar shape parameters of one subject (mm), plus heart and rib arrays."""
    _, _, lf, hf = _sex(anatomy)
    lung_f = lung_size_factor(anatomy, rng)
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
    _, f_width, f_depth = (lung_f ** share for share in LUNG_SIZE_SHARE)
    cav_a = (body_a - skin - fat - muscle_lat - rib_t) * (1.0 + _n(rng, 0.02)) * f_width
    cav_a = min(cav_a, body_a - skin - fat - rib_t - MIN_WALL_MUSCLE_MM)
    front = -(body_b - skin - 0.85 * fat - muscle_ant - rib_t)
    back = body_b - skin - 0.65 * fat - muscle_post - rib_t
    cav_yc, cav_b = 0.5 * (front + back), 0.5 * (back - front) * (1.0 + _n(rng, 0.02)) * f_depth

    H = REF_LUNG_HEIGHT_MM * s_h * lf * float(np.clip(1.0 - 0.008 * (bmi - 24.0), 0.85, 1.06)) * (1.0 + _n(rng, 0.025))
    H = min(H * lung_f ** LUNG_SIZE_SHARE[0], MAX_LUNG_HEIGHT_MM)
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
