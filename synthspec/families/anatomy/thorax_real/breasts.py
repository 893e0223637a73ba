"""Women's breasts on the real-prior thorax: two supine mounds of fat and fibroglandular tissue on the chest wall.

The development scan is a man's, so the family adds them.  Each breast is half an ellipsoid standing on the
anterior skin, centred at mid-lung height 27 % of the body's width either side of the midline (the nipple
line, about 9-10 cm from the midline in an adult woman), flattened and spread as it is supine (height half
its lateral radius, cranio-caudal radius 0.9 of it).  Its volume grows with BMI (450 mL at BMI 25, with
the square of BMI, a log-normal spread of SD 0.35, kept within 150-1500 mL: MRI volumetry reports a few
hundred to over a thousand mL per breast, rising with BMI); its fibroglandular share falls with age and BMI
(35 % at 45 y and BMI 25, less 0.6 points a year and 1.2 points per BMI unit, SD 8 points, within 5-70 %:
the trend of mammographic density).  Both are judgements of the order of magnitude, not fitted values.
The glandular tissue is concentrated in the middle and mottled by the subject's parenchymal texture field.

It draws three numbers from the anatomy stream for every subject (women and men alike, so the streams stay
parallel) and changes nothing for men.  It paints shares and codes in place; it knows no intensity.
"""

from __future__ import annotations

import math

import numpy as np

from synthspec.families.grid import Grid

VOLUME_ML_AT_BMI25, VOLUME_LOG_SD, VOLUME_RANGE_ML = 450.0, 0.35, (150.0, 1500.0)
GLANDULAR_AT_45Y_BMI25, GLANDULAR_PER_Y, GLANDULAR_PER_BMI, GLANDULAR_SD = 0.35, 0.006, 0.012, 0.08
NIPPLE_LINE = 0.27
"""Distance of each breast's centre from the midline, as a share of the body's width at that level."""
HEIGHT_OVER_RADIUS, CRANIOCAUDAL_OVER_RADIUS = 0.5, 0.9
FRONT_SHARE = 0.3
"""A column carries a mound only where its skin lies within this share of the body's depth behind the front."""


def draw(rng: np.random.Generator) -> tuple[float, float]:
    """The subject's two standard normals for volume and glandular share (drawn for every subject)."""
    z = rng.standard_normal(2)
    return float(z[0]), float(z[1])


def breast_size(bmi: float, age_y: float, z: tuple[float, float]) -> tuple[float, float]:
    """(volume mL per breast, fibroglandular share)."""
    volume = VOLUME_ML_AT_BMI25 * (bmi / 25.0) ** 2 * math.exp(VOLUME_LOG_SD * z[0])
    volume = float(np.clip(volume, *VOLUME_RANGE_ML))
    glandular = (GLANDULAR_AT_45Y_BMI25 - GLANDULAR_PER_Y * (age_y - 45.0) - GLANDULAR_PER_BMI * (bmi - 25.0)
                 + GLANDULAR_SD * z[1])
    return volume, float(np.clip(glandular, 0.05, 0.7))


def add_breasts(shares: np.ndarray, codes: np.ndarray, grid: Grid, code: int, lung_codes, anterior_codes,
                posterior_codes, volume_ml: float, glandular: float, field: np.ndarray) -> float:
    """Paint two breasts into `shares` [fat at 2, air at 3; lean is the remainder] and `codes` (in place).

    `anterior_codes` / `posterior_codes` (sternum, vertebrae) tell which way the chest faces.  Returns the volume
    painted (mL, both breasts); 0 where the chest cannot be oriented or the mounds would leave the grid."""
    zc_, yc_, xc_ = grid.centres_mm()
    dz, dy, dx = (float(s) for s in grid.spacing)
    lung_k = np.flatnonzero(np.isin(codes, list(lung_codes)).any(axis=(1, 2)))
    front = np.argwhere(np.isin(codes, list(anterior_codes)))
    back = np.argwhere(np.isin(codes, list(posterior_codes)))
    if lung_k.size == 0 or front.size == 0 or back.size == 0:
        return 0.0
    step = -1 if front[:, 1].mean() < back[:, 1].mean() else 1      # rows toward the front
    k_centre = int(round(0.5 * (lung_k[0] + lung_k[-1])))
    body = codes[k_centre] > 0
    cols = np.flatnonzero(body.any(axis=0))
    if cols.size == 0:
        return 0.0
    width = (cols[-1] - cols[0] + 1) * dx
    mid_x = 0.5 * (xc_[cols[0]] + xc_[cols[-1]])
    radius = (volume_ml * 1000.0 / (2.0 / 3.0 * math.pi * HEIGHT_OVER_RADIUS * CRANIOCAUDAL_OVER_RADIUS)) ** (1 / 3)
    height, b = HEIGHT_OVER_RADIUS * radius, CRANIOCAUDAL_OVER_RADIUS * radius
    lateral = min(radius, (0.5 - NIPPLE_LINE) * width)     # a mound stays on the front of the chest, not the flank
    z0 = float(zc_[k_centre])
    painted = 0.0
    Y = codes.shape[1]
    for side in (-1.0, 1.0):
        x0 = mid_x + side * NIPPLE_LINE * width
        for k in np.flatnonzero(np.abs(zc_ - z0) < b):
            ez = 1.0 - ((zc_[k] - z0) / b) ** 2
            body_k = codes[k] > 0
            in_slice = np.flatnonzero(body_k.any(axis=1))
            if in_slice.size == 0:
                continue
            front_row = in_slice[0] if step < 0 else in_slice[-1]
            depth = in_slice[-1] - in_slice[0]
            cols = np.flatnonzero(np.abs(xc_ - x0) < lateral * math.sqrt(max(ez, 0.0)))
            e = ez - ((xc_[cols] - x0) / lateral) ** 2
            column = body_k[:, cols]
            surface = column.argmax(axis=0) if step < 0 else Y - 1 - column[::-1].argmax(axis=0)
            # the flank (skin far behind the front of the chest) carries no mound
            keep = (e > 0.0) & column.any(axis=0) & (np.abs(surface - int(front_row)) <= FRONT_SHARE * depth)
            cols, e, surface = cols[keep], e[keep], surface[keep]
            if cols.size == 0:
                continue
            h = height * np.sqrt(e)
            layers = (h / dy).astype(np.int64) + 1          # rows 1 .. int(h / dy) + 1 in front of the skin
            for n in range(1, int(layers.max()) + 1):
                j = surface + step * n
                m = np.clip((h - (n - 0.5) * dy) / dy + 0.5, 0.0, 1.0)
                live = (n <= layers) & (j >= 0) & (j < Y) & (m > 0.0)
                jj, ii, mm, ee = j[live], cols[live], m[live], e[live]
                free = codes[k, jj, ii] == 0                 # never over anything already there
                jj, ii, mm, ee = jj[free], ii[free], mm[free], ee[free]
                g = np.clip(glandular * (0.5 + np.sqrt(ee)) + 0.15 * field[k, jj, ii].astype(np.float64), 0.0, 1.0)
                shares[3, k, jj, ii] = 1.0 - mm
                shares[2, k, jj, ii] = mm * (1.0 - g)
                codes[k, jj, ii] = np.where(mm >= 0.5, code, codes[k, jj, ii])
                painted += float(mm.sum())
    return painted * dz * dy * dx / 1000.0
