"""Blood attenuation on CT by age and haematocrit (modality-agnostic output: a quantile in `haematoma`).

Model (anchors: New & Aronow, Radiology 1976 -- attenuation of blood is linear in haematocrit;
Parizel et al., Eur Radiol 2001 and PHYSICS.md -- hyperacute 30-60 HU, acute clot 50-90 HU after
clot retraction, a fall of about 1.5 HU/day after the first days, hypodense when chronic):

    HU(Hct) = 3 + 84 * Hct                 linear; 41 HU for whole blood at Hct 0.45, ~79 HU at a
                                           retracted clot's packed-cell fraction of 0.9 (our fit to
                                           these two anchors, in line with New & Aronow's slope)
    Hct_clot(t) = Hct + (Hct_max - Hct) * (1 - exp(-t / 10 h)),  Hct_max = min(0.9, 1.9 * Hct)
                                           clot retraction over the first hours to ~3 days
    after 72 h:  HU -= 1.5 HU/day * (t - 72 h) / 24 h, never below 0 HU

So HU rises from ~40 (hyperacute) to ~75-80 (acute), then falls; a lower haematocrit lowers it at
every age.  Age classes (Parizel 2001): hyperacute < 12 h, acute 12 h - 2 d, early subacute 2-7 d,
late subacute 8 d - 1 month, chronic > 1 month.
"""

from __future__ import annotations

import math

HCT_MEAN, HCT_SD = 0.42, 0.04
"""Population haematocrit (adult, both sexes; a per-lesion draw)."""
HAEMATOMA_HU_RANGE = (0.0, 90.0)
"""The `haematoma` tissue's HU range in stdlib tissues.synth: the quantile of a level is (HU - lo) / (hi - lo)."""
RETRACTION_TAU_H = 10.0
DECLINE_HU_PER_DAY = 1.5
DECLINE_FROM_H = 72.0


def hu_of_hct(hct: float) -> float:
    return 3.0 + 84.0 * float(hct)


def blood_hu(onset_h: float, hct: float) -> float:
    """CT attenuation (HU) of a haematoma `onset_h` hours old at haematocrit `hct` (fraction)."""
    t = max(float(onset_h), 0.0)
    hct = min(max(float(hct), 0.15), 0.65)
    hct_max = min(0.9, 1.9 * hct)
    eff = hct + (hct_max - hct) * (1.0 - math.exp(-min(t, DECLINE_FROM_H) / RETRACTION_TAU_H))
    hu = hu_of_hct(eff)
    if t > DECLINE_FROM_H:
        hu -= DECLINE_HU_PER_DAY * (t - DECLINE_FROM_H) / 24.0
    lo, hi = HAEMATOMA_HU_RANGE
    return float(min(max(hu, lo), hi))


def age_class(onset_h: float) -> str:
    t = float(onset_h)
    if t < 12:
        return "hyperacute"
    if t < 48:
        return "acute"
    if t < 7 * 24:
        return "early_subacute"
    if t < 30 * 24:
        return "late_subacute"
    return "chronic"


def quantile_of(hu: float) -> float:
    """The `haematoma` level quantile that the CT renderer (ct/render.py, lesion_level_hu, no margin) maps to `hu`."""
    lo, hi = HAEMATOMA_HU_RANGE
    return float(min(max((hu - lo) / (hi - lo), 0.0), 1.0))
