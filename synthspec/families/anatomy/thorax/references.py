"""The adult thorax's acceptance checks, part 1: the reference values they judge against, and the family's labels.

Role: the numbers checks.py judges a subject against, each with its source, and `family_of`,
the thorax's structures as the plan's label table names them.  It measures nothing.

Checks (each name is the prefix of the failure reasons, like the generator's `rejected`):

    lung_volume      total lung volume (lobes + intrapulmonary vessels) within the limits of
                     normal of the predicted total lung capacity for the subject's sex and height
    lobar_share      each lobe's share of the lungs within the range the stdlib's lobe volumes imply
    heart_volume     total heart volume within a sex-specific range indexed to body-surface area
    containment      lungs, heart and aorta enclosed by the body (no contact with outside air)
    connectivity     one connected piece (26-connectivity) for each lung, heart, aorta, trachea
    lesion_record    the lesion mask and the subject record agree (every recorded lesion painted)
    lesion_tissue    lesion voxels only in lung parenchyma or intrapulmonary vessels, never in the
                     heart, aorta, airways, bone or chest wall (labels cannot overlap by
                     construction, so overlap is checked as "which labels lie under a lesion")
    lesion_location  >= 75 % of a lesion's lobe voxels in the lobe its record names (the
                     generator's own placement rule)
    lesion_constraints the spec's `require` lines: distance_to(X) >=, overlap_with(X) <=,
                     diameter, volume, count

Age enters none of the adult references used (the ERS TLC equations have no age term for
adults; the family's age range is the compiler's ANA005).  Volume checks are skipped (not
failed) for an organ the field of view cuts: a scan that stops above the lung bases has no
total lung volume to judge.  Label codes come from the plan's label table
(anatomy_thorax.synth).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


ANATOMY_CHECKS = ("lung_volume", "lobar_share", "heart_volume", "containment", "connectivity")
"""Checks of the anatomy alone: a failure calls for a new anatomy draw."""
LESION_CHECKS = ("lesion_record", "lesion_tissue", "lesion_location", "lesion_constraints")
"""Checks of the lesions: a failure calls for a new lesion draw in the SAME anatomy, so that the
counterfactual twin (no lesions, no lesion checks) keeps the anatomy of its original."""
CHECKS = ANATOMY_CHECKS + LESION_CHECKS

# ---------------------------------------------------------------------------------------------
# reference values (sources in comments; all are approximations for a procedural phantom)

# Total lung capacity, ERS/ECCS 1993 (Quanjer et al., Eur Respir J 1993;6 Suppl 16:5-40),
# adults 18-70 y, height H in metres; TLC has no age term in these equations:
#     men   TLC = 7.99 H - 7.08 L  (residual SD 0.70 L)
#     women TLC = 6.60 H - 5.79 L  (residual SD 0.60 L)
# The GLI 2021 static-lung-volume equations (Hall et al., Eur Respir J 2021;57:2000289)
# give values within a few per cent at these heights.
TLC_COEF = {"male": (7.99, -7.08, 0.70), "female": (6.60, -5.79, 0.60)}
TLC_Z = 2.5
"""Limits of normal at +-2.5 residual SD (~99 % of healthy adults), wider than the usual
1.645 because a phantom is judged per subject and a re-sample costs a subject."""
CT_TLC_FACTOR = 0.9
"""CT lung volume at suspended full inspiration, supine, runs roughly 10 % below
plethysmographic TLC in healthy adults (incomplete breath-hold, posture); the lower limit
is scaled by this factor, the upper one is not."""

LOBE_SHARE_TOLERANCE = 0.4
"""A lobe's share of the lungs may differ by +-40 % (relative) from the share implied by
the midpoints of the stdlib's lobe ranges (CT lobar volumetry, e.g. Lee et al., AJR 2004:
RUL ~20 %, RML ~9 %, RLL ~25 %, LUL ~23 %, LLL ~23 %); +-40 % is about +-2.5 SD of the
between-subject spread those studies report."""
DEFAULT_LOBE_ML = {"right_upper_lobe": (700.0, 1500.0), "right_middle_lobe": (300.0, 800.0),
                   "right_lower_lobe": (900.0, 2000.0), "left_upper_lobe": (800.0, 1700.0),
                   "left_lower_lobe": (800.0, 1800.0)}

# Total heart volume indexed to body-surface area (Mosteller BSA).  Upper limits from the
# sums of the 97.5th-percentile BSA-indexed chamber volumes on 320-row CT in the Copenhagen
# General Population Study (Fuchs et al., Eur Heart J Cardiovasc Imaging 2016;17:1009:
# LV+RV+LA+RA = 362 mL/m2 men, 315 mL/m2 women) plus the myocardium (LV mass <= 80 and
# 65 g/m2 at 1.05 g/mL, atrial/RV walls ~10 %); lower limits from the corresponding means
# (~330 and ~290 mL/m2 total) minus ~2.5 SD (~15 % CV).  Chamber sizes are also tabulated
# in Lang et al., JASE 2015 (the stdlib's source).  Approximate by design.
HEART_INDEX_ML_M2 = {"male": (200.0, 460.0), "female": (175.0, 400.0)}

LESION_ALLOWED_GROUPS = ("lung", "pulmonary_vessels")
LOBE_SHARE_RULE = 0.75
"""Share of a lesion's lobe voxels that must lie in its recorded lobe (families/pathology/lung_nodule/placement.py)."""
FRAGMENT_FRACTION = 0.001
"""Pieces of an organ smaller than 0.1 % of it (at least 2 voxels) are labelling specks
(a voxel isolated by partial-volume vessels), listed but not failed."""
THIN_VOXELS = 3.0
"""A structure whose stdlib `size` is under 3 voxels is thin at this resolution: pieces a
one-voxel gap apart are one piece (partial volume breaks thin tubes on coarse grids)."""

THORAX_NAMES = {
    "lobes": ("right_upper_lobe", "right_middle_lobe", "right_lower_lobe", "left_upper_lobe", "left_lower_lobe"),
    "right_lung": ("right_upper_lobe", "right_middle_lobe", "right_lower_lobe"),
    "left_lung": ("left_upper_lobe", "left_lower_lobe"),
    "vessels": ("pulmonary_arteries", "pulmonary_veins", "lung_vessels"),
}
DEFAULT_SIZES_MM = {"trachea": 15.0, "aorta": 25.0, "heart": 80.0}


def predicted_tlc_ml(sex: str, height_mm: float) -> tuple[float, float]:
    """(predicted TLC, residual SD) in mL, ERS/ECCS 1993."""
    a, b, rsd = TLC_COEF[_sex(sex)]
    return 1000.0 * (a * height_mm / 1000.0 + b), 1000.0 * rsd


def lung_volume_limits_ml(sex: str, height_mm: float) -> tuple[float, float]:
    pred, rsd = predicted_tlc_ml(sex, height_mm)
    return CT_TLC_FACTOR * (pred - TLC_Z * rsd), pred + TLC_Z * rsd


def bsa_m2(height_mm: float, bmi: float) -> float:
    """Body-surface area, Mosteller (N Engl J Med 1987;317:1098): sqrt(height cm * weight kg / 3600)."""
    weight = bmi * (height_mm / 1000.0) ** 2
    return math.sqrt(max(height_mm / 10.0 * weight, 0.0) / 3600.0)


def heart_volume_limits_ml(sex: str, height_mm: float, bmi: float) -> tuple[float, float]:
    low, high = HEART_INDEX_ML_M2[_sex(sex)]
    s = bsa_m2(height_mm, bmi)
    return low * s, high * s


def _sex(sex) -> str:
    key = str(sex).strip().lower()
    key = {"m": "male", "f": "female"}.get(key, key)
    if key not in TLC_COEF:
        raise ValueError(f"sex must be 'female' or 'male' for the thorax references, got {sex!r}")
    return key


# ---------------------------------------------------------------------------------------------
# what the checks need to know about the anatomy family


@dataclass
class Family:
    """Labels, groups, sizes and volume ranges of an anatomy family, from the plan and the stdlib."""

    name: str
    labels: dict[str, int]                     # organ name -> label code
    groups: dict[str, tuple[str, ...]]         # group name -> organ names
    sizes_mm: dict[str, float]                 # organ name -> stdlib `size`
    volumes_ml: dict[str, tuple[float, float]]  # organ name -> stdlib `volume` range

    @property
    def names(self) -> dict[int, str]:
        return {v: k for k, v in self.labels.items()}

    def codes(self, names) -> list[int]:
        return [self.labels[n] for n in names if n in self.labels]

    def resolve(self, what: str) -> list[int]:
        """Label codes an organ or group name (`heart`, `lung`, `pulmonary_vessels`, `lung.upper_lobe`) means."""
        key = str(what).strip().lower().split(".")[-1]
        if key in self.labels:
            return [self.labels[key]]
        if key in ("lung", "lungs"):
            return self.codes(THORAX_NAMES["lobes"])
        if key in ("right_lung", "left_lung"):
            return self.codes(THORAX_NAMES[key])
        if key in self.groups:
            return self.codes(self.groups[key])
        return []


def family_of(plan) -> Family | None:
    """The thorax's labels, groups, sizes and volume ranges from the plan's label table (read from
    anatomy_thorax.synth when the plan was lowered); None when the table lacks the lobes."""
    table = [e for e in plan.labels if e.kind == "anatomy"]
    labels = {e.name: e.id for e in table}
    groups: dict[str, list[str]] = {}
    sizes, volumes = dict(DEFAULT_SIZES_MM), dict(DEFAULT_LOBE_ML)
    for e in table:
        if e.group:
            groups.setdefault(e.group, []).append(e.name)
        if e.size_mm is not None:
            sizes[e.name] = float(e.size_mm)
        if e.volume_ml is not None:
            volumes[e.name] = (float(e.volume_ml[0]), float(e.volume_ml[1]))
    groups.setdefault("pulmonary_vessels", list(THORAX_NAMES["vessels"]))
    groups.setdefault("lung", list(THORAX_NAMES["lobes"]))
    if not all(n in labels for n in THORAX_NAMES["lobes"]):
        return None
    return Family(name=str(plan.anatomy), labels=labels, groups={k: tuple(v) for k, v in groups.items()},
                  sizes_mm=sizes, volumes_ml=volumes)
