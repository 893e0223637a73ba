"""Per-subject variation of the head: size, proportions, skull, atrophy, pose and a random deformation.

Every draw comes from the subject's anatomy stream, in the order of `sample_shape`.  The sources:
    intracranial volume   men about 1480 mL, women about 1300 mL (SD about 120 / 110 mL), about 4 mL more per
                          cm of height within a sex (Buckner et al., NeuroImage 23:724, 2004; Pfefferbaum et
                          al. 1994; whole-ICV sex difference about 12 %)
    head proportions      length, width and height vary independently by about 3 % (cephalic index SD
                          about 4 index points in adults)
    skull thickness       mean 6.5 mm, SD 1.0 mm, 4-10 mm (Lillie et al., Clin Biomech 2016, calvarial
                          thickness by CT; temporal squama about 60 % of it)
    atrophy               brain tissue lost from about age 30 at 0.2 %/y, rising to about 0.5 %/y after 70
                          (Scahill et al., Arch Neurol 60:989, 2003; Fotenos et al., Neurology 64:1032,
                          2005); ventricles about double between 30 and 75 (Scahill 2003), lost tissue
                          becomes sulcal and ventricular CSF
    pose                  head tilt in the gantry: pitch SD 6 deg (the orbitomeatal baseline varies),
                          roll and yaw SD 2 deg, centring SD 3 mm
    deformation           a stationary velocity field on a 16 mm control grid, SD 2.5 mm per component,
                          exponentiated by scaling and squaring (a diffeomorphism: no folds, no tears), so
                          the sulci, ventricles and nuclei differ subject by subject beyond scaling
It returns numbers and a coarse displacement field; build.py applies them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from synthspec.families.anatomy.deformation import random_displacement

ICV_ML = {"female": (1300.0, 110.0), "male": (1480.0, 120.0)}
ICV_PER_CM = 4.0
MEAN_HEIGHT_CM = {"female": 163.0, "male": 177.0}
PROPORTION_SD = 0.03
SKULL_MM = (6.5, 1.0, 4.0, 10.0)
DEFORM_GRID_MM = 16.0
DEFORM_SD_MM = 2.5
PITCH_SD_DEG, ROLL_SD_DEG, YAW_SD_DEG, SHIFT_SD_MM = 6.0, 2.0, 2.0, 3.0


def tissue_loss(age_y: float) -> float:
    """Fraction of brain tissue lost since age 30: 0.2 %/y, plus 0.3 %/y more after 70 (Scahill 2003)."""
    a = max(age_y - 30.0, 0.0)
    return 0.002 * a + 0.003 * max(age_y - 70.0, 0.0)


def ventricle_growth(age_y: float) -> float:
    """Ventricular volume relative to age 30: about x2 at 75 (Scahill 2003), accelerating with age."""
    a = max(age_y - 30.0, 0.0)
    return 1.0 + 0.012 * a + 0.0004 * a * a


@dataclass
class HeadShape:
    icv_ml: float
    scale: tuple[float, float, float]     # (x, y, z) template -> subject
    skull_mm: float
    loss: float                           # fraction of brain tissue lost (sulcal widening)
    ventricle_factor: float               # ventricular volume relative to the template's
    rotation: np.ndarray                  # 3x3, subject = R @ template (about the head centre)
    shift_mm: np.ndarray                  # (x, y, z)
    velocity: np.ndarray                  # [3, nz, ny, nx] coarse displacement (mm) on the template grid


def sample_shape(sex: str, age_y: float, height_mm: float, template_icv_ml: float, template_extent_mm,
                 rng: np.random.Generator) -> HeadShape:
    mean, sd = ICV_ML.get(sex, ICV_ML["female"])
    mean += ICV_PER_CM * (height_mm / 10.0 - MEAN_HEIGHT_CM.get(sex, 170.0))
    icv = float(np.clip(rng.normal(mean, sd), mean - 2.5 * sd, mean + 2.5 * sd))
    prop = rng.normal(0.0, PROPORTION_SD, 3)
    prop -= prop.mean()
    s = (icv / template_icv_ml) ** (1.0 / 3.0)
    scale = tuple(float(s * math.exp(p)) for p in prop)
    m, sdk, lo, hi = SKULL_MM
    skull = float(np.clip(rng.normal(m, sdk), lo, hi))
    loss = float(np.clip(tissue_loss(age_y) * math.exp(rng.normal(0.0, 0.3)), 0.0, 0.35))
    vent = float(ventricle_growth(age_y) * math.exp(rng.normal(0.0, 0.25)))
    pitch, roll, yaw = np.radians(rng.normal(0.0, [PITCH_SD_DEG, ROLL_SD_DEG, YAW_SD_DEG]))
    rx = np.array([[1, 0, 0], [0, math.cos(pitch), -math.sin(pitch)], [0, math.sin(pitch), math.cos(pitch)]])
    ry = np.array([[math.cos(roll), 0, math.sin(roll)], [0, 1, 0], [-math.sin(roll), 0, math.cos(roll)]])
    rz = np.array([[math.cos(yaw), -math.sin(yaw), 0], [math.sin(yaw), math.cos(yaw), 0], [0, 0, 1]])
    shift = rng.normal(0.0, SHIFT_SD_MM, 3)
    velocity = random_displacement(template_extent_mm, DEFORM_GRID_MM, DEFORM_SD_MM, rng)
    return HeadShape(icv_ml=icv, scale=scale, skull_mm=skull, loss=loss, ventricle_factor=vent,
                     rotation=rz @ ry @ rx, shift_mm=shift, velocity=velocity)
