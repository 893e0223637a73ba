"""Per-subject variation of the real-prior thorax: lung size, body composition, posture and a random deformation.

Every draw comes from the subject's anatomy stream, in the order of `sample_shape`.  The sources:
    lung size       CT lung volume = 0.9 x the ERS/ECCS 1993 predicted TLC for sex and height (CT at suspended
                    inspiration runs about 10 % below plethysmographic TLC), times 1 + CV z with CV the ERS
                    residual SD over the prediction (10-12 %) and z clipped at 2 SD (references.py of the
                    procedural thorax holds the equations).  The cage and all it holds scale with the cube
                    root of target over template volume (the scan's lungs are 3.7 L: a small chest), along z
                    and in-plane where the slice holds lung; in-plane the scale blends, by the square root
                    of the slice's lung area over the largest, to its square root where there is none (the
                    abdomen below grows with body size, not with the lungs; a judgement)
    proportions     width, depth and length vary independently by about 3 % around that scale
    muscle wall     the chest wall between cage and lean core scales with the square root of the cage scale,
                    5 % thicker in men and 5 % thinner in women (a judgement: muscle mass by sex)
    fat             the subcutaneous layer between lean core and skin changes by the difference between the
                    thickness the procedural thorax gives for the subject's BMI (about 5 mm at BMI 20, 40 mm at
                    BMI 40) and the template's mean (8.4 mm: about BMI 22), in full where the template's layer is
                    at least its mean and in proportion where it is thinner (build.py),
                    20 % more in women and 15 % less in men at the same BMI (Deurenberg et al., Br J Nutr 1991:
                    about 11 body-fat points between the sexes at one BMI)
    kyphosis        thoracic kyphosis grows about 0.4 degree a year after 40 (Fon et al., AJR 1980: about 26
                    degrees in the twenties, over 40 after 70), SD 6 degrees; the bend changes the sagitta of
                    the spine over the scan by length x angle / 8
    pose            in-plane rotation SD 2 degrees, centring SD 5 mm in x and y, the scan's top 0-10 mm below
                    the template's
    deformation     a stationary velocity field on a 24 mm control grid, SD 4 mm per component, exponentiated
                    (families/anatomy/deformation.py), so lobes, vessels and organs differ beyond scaling
It returns numbers and a coarse displacement field; build.py applies them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from synthspec.families.anatomy.deformation import random_displacement
from synthspec.families.anatomy.thorax.references import predicted_tlc_ml
from synthspec.families.anatomy.thorax.shape import fat_thickness_mm
from synthspec.families.base import FamilyError

CT_TLC_SHARE = 0.9
PROPORTION_SD = 0.03
FAT_BY_SEX = {"female": 1.2, "male": 0.85}
WALL_BY_SEX = {"female": 0.95, "male": 1.05}
KYPHOSIS_DEG_PER_Y, KYPHOSIS_FROM_Y, KYPHOSIS_SD_DEG = 0.4, 40.0, 6.0
ROTATION_SD_DEG, SHIFT_SD_MM, TOP_OFFSET_MM = 2.0, 5.0, (0.0, 10.0)
DEFORM_GRID_MM, DEFORM_SD_MM = 24.0, 4.0


@dataclass
class ThoraxShape:
    lung_target_ml: float
    cage_scale: float
    abdomen_scale: float                      # in-plane scale below the lungs (build.py blends by lung area)
    proportions: tuple[float, float, float]   # (x, y, z) multipliers of the cage scale, product 1
    wall_factor: float
    fat_change_mm: float                      # subcutaneous fat added (+) or removed (-) against the template's
    fat_mm: float
    kyphosis_sagitta_mm: float                # extra forward bow of the spine over the scan (mm)
    rotation_rad: float
    shift_mm: tuple[float, float]
    top_offset_mm: float
    displacement: np.ndarray                  # [3, nz, ny, nx] (x, y, z) mm over the template


def _sex(sex) -> str:
    key = {"m": "male", "f": "female"}.get(str(sex).strip().lower(), str(sex).strip().lower())
    if key not in FAT_BY_SEX:
        raise FamilyError(f"sex must be 'female' or 'male' for the thorax, got {sex!r}")
    return key


def sample_shape(demographics, template_lung_ml: float, template_fat_mm: float, template_extent_mm,
                 lung_height_mm: float, rng: np.random.Generator) -> ThoraxShape:
    sex = _sex(demographics.sex)
    pred, rsd = predicted_tlc_ml(sex, float(demographics.height_mm))
    z = float(np.clip(rng.standard_normal(), -2.0, 2.0))
    target = CT_TLC_SHARE * pred * (1.0 + z * rsd / max(pred, 1000.0))
    scale = (target / template_lung_ml) ** (1.0 / 3.0)
    prop = rng.normal(0.0, PROPORTION_SD, 3)
    prop -= prop.mean()
    proportions = tuple(float(math.exp(p)) for p in prop)
    wall = math.sqrt(scale) * WALL_BY_SEX[sex]
    fat_mm = fat_thickness_mm(float(demographics.bmi)) * FAT_BY_SEX[sex]
    fat = float(fat_mm - template_fat_mm)
    angle = KYPHOSIS_DEG_PER_Y * (float(demographics.age_y) - KYPHOSIS_FROM_Y) + KYPHOSIS_SD_DEG * rng.standard_normal()
    sagitta = lung_height_mm * scale * math.radians(angle) / 8.0
    rotation = math.radians(ROTATION_SD_DEG) * float(rng.standard_normal())
    shift = tuple(float(v) for v in rng.normal(0.0, SHIFT_SD_MM, 2))
    top = float(rng.uniform(*TOP_OFFSET_MM))
    displacement = random_displacement(template_extent_mm, DEFORM_GRID_MM, DEFORM_SD_MM, rng)
    return ThoraxShape(lung_target_ml=float(target), cage_scale=float(scale), abdomen_scale=float(math.sqrt(scale)),
                       proportions=proportions,
                       wall_factor=float(wall), fat_change_mm=fat, fat_mm=float(fat_mm), kyphosis_sagitta_mm=float(sagitta),
                       rotation_rad=rotation, shift_mm=shift, top_offset_mm=top, displacement=displacement)
