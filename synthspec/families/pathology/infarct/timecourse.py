"""How an ischaemic infarct changes the tissue it lies in, by time since onset (a pure function module).

An infarct is not a tissue of its own here: it multiplies the physical properties of the grey and white
matter it strikes (a `PropertyChange`, families/base.py).  The factors are relative to the same tissue
unaffected (the contralateral value), read off at the lesion's onset by linear interpolation in hours:

    time since onset   0     15 min  1 h   3 h   4.5 h  6 h   24 h  48 h  4 d   7 d   10 d  14 d  30 d  90 d
    adc                1.00  0.70    0.60  0.60  0.60   0.60  0.57  0.55  0.55  0.75  0.95  1.10  1.40  1.80
    t2                 1.00  1.00    1.00  1.03  1.06   1.10  1.25  1.32  1.35  1.30  1.28  1.25  1.45  1.90
    t1                 1.00  1.00    1.00  1.02  1.04   1.06  1.12  1.16  1.18  1.16  1.16  1.16  1.30  1.60
    pd                 1.00  1.00    1.00  1.01  1.02   1.03  1.05  1.07  1.08  1.07  1.07  1.07  1.12  1.20
    hu_offset (HU)     0     0       0     -1    -2     -3    -5    -7    -8    -6    -4    -3    -10   -20
    swelling           0     0       0     0.02  0.04   0.06  0.20  0.33  0.35  0.25  0.15  0.08  0     0
    (no t2s factor: without haemorrhagic transformation the static dephasing rate R2' is unchanged, and the
    MR modality carries T2* with T2 at constant R2' when a change gives t2 alone)

Sources and what each row follows:
    adc   cytotoxic oedema lowers the ADC by 30-50 % within minutes of ischaemia (Moseley et al., Magn Reson
          Med 1990, in cats; Warach et al., Neurology 1992, in patients; stdlib `adc_drop: 30% .. 50%`); the
          ratio is lowest at about 1-4 days, pseudo-normalises at about 7-14 days (Schlaug et al., Neurology
          49:113, 1997: low to day 4, normal by days 5-10, raised after day 10; Lansberg et al., AJNR 22:637,
          2001: lowest at 1-4 days, normal at about 10 days) and rises above normal in the chronic cavity,
          towards CSF (values here are read off those papers' figures and rounded: approximate).
    t2, pd, t1   vasogenic oedema (water uptake) begins after the first hours: FLAIR turns visibly bright
          only after about 4.5-6 h (Thomalla et al., Lancet Neurol 10:978, 2011, PRE-FLAIR: the DWI-FLAIR
          mismatch marks onset within 4.5 h; stdlib `flair_visible_after: 4.5 h .. 6 h`); quantitative T2
          rises steadily over the first day (Siemonsen et al., Stroke 40:1612, 2009) and T1 with it; the
          T2 ratio peaks with the oedema at days 2-5 (Lansberg 2001), dips slightly in the second week and
          rises again as the tissue becomes gliotic and cystic (chronic encephalomalacia).  The 6 h value
          (T2 x 1.10, PD x 1.03) is chosen so the FLAIR signal ratio reaches about 1.15-1.2, the level read
          as visible; the stdlib `infarct` tissue (T2 110-140 ms vs 70-100 ms in brain) is the day-1-to-7
          level.
    hu_offset   CT hypodensity: invisible in the first hours, -3 HU at 6 h to -8 HU at days 2-4 (stdlib
          `visible_after: 6 h .. 24 h`, `hypodensity: -8 HU .. -3 HU`); the transient 'fogging' of the
          second and third weeks (Becker et al., Neuroradiology 1979) and the chronic fall towards CSF.
    swelling    the infarct's extra volume as a share of its own, which drives the mass effect (haemorrhage
          family's mass_effect.py): space-occupying oedema peaks at days 2-5 (Hacke et al., Arch Neurol
          53:309, 1996, malignant MCA infarction; Qureshi et al., Crit Care Med 31:272, 2003); the peak of
          0.35 is a judgement chosen so a 250 mL MCA infarct shifts the midline by about 10 mm at day 3-4
          and a 145 mL one (Oppenheim et al., Stroke 31:2175, 2000: DWI > 145 mL within 14 h predicts a
          malignant course) by about 5 mm.

Per lesion, two draws scale the table: `drop` (the ADC fall, 30-50 %, scales every value below 1 in the ADC
row by drop / 0.40) and `oedema` (0.8-1.2, scales the deviation from 1 or 0 of the t2, t1, pd, hu_offset and
swelling rows): patients differ in the depth of their ischaemia and in their oedema.

Phases (after Allen et al., RadioGraphics 32:1285, 2012, rounded): hyperacute < 6 h, acute 6 h - 4 d,
subacute 4 d - 3 weeks, chronic >= 3 weeks.
"""

from __future__ import annotations

import numpy as np

KNOTS_H = (0.0, 0.25, 1.0, 3.0, 4.5, 6.0, 24.0, 48.0, 96.0, 168.0, 240.0, 336.0, 720.0, 2160.0)
TABLE = {
    "adc": (1.00, 0.70, 0.60, 0.60, 0.60, 0.60, 0.57, 0.55, 0.55, 0.75, 0.95, 1.10, 1.40, 1.80),
    "t2": (1.00, 1.00, 1.00, 1.03, 1.06, 1.10, 1.25, 1.32, 1.35, 1.30, 1.28, 1.25, 1.45, 1.90),
    "t1": (1.00, 1.00, 1.00, 1.02, 1.04, 1.06, 1.12, 1.16, 1.18, 1.16, 1.16, 1.16, 1.30, 1.60),
    "pd": (1.00, 1.00, 1.00, 1.01, 1.02, 1.03, 1.05, 1.07, 1.08, 1.07, 1.07, 1.07, 1.12, 1.20),
    "hu_offset": (0.0, 0.0, 0.0, -1.0, -2.0, -3.0, -5.0, -7.0, -8.0, -6.0, -4.0, -3.0, -10.0, -20.0),
    "swelling": (0.0, 0.0, 0.0, 0.02, 0.04, 0.06, 0.20, 0.33, 0.35, 0.25, 0.15, 0.08, 0.0, 0.0),
}
"""The docstring's table (keep the two in step)."""
TYPICAL_DROP = 0.40
"""The ADC fall the table's hyperacute plateau holds (factor 0.60)."""
DROP_RANGE = (0.30, 0.50)
"""Per-lesion ADC fall (stdlib `adc_drop: 30% .. 50%`)."""
OEDEMA_RANGE = (0.8, 1.2)
"""Per-lesion scale of the oedema rows (a judgement)."""
PHASES = ((6.0, "hyperacute"), (96.0, "acute"), (504.0, "subacute"), (float("inf"), "chronic"))


def _at(row: str, onset_h: float) -> float:
    return float(np.interp(max(float(onset_h), 0.0), KNOTS_H, TABLE[row]))


def factors(onset_h: float, drop: float = TYPICAL_DROP, oedema: float = 1.0) -> dict[str, float]:
    """The property factors (`adc`, `t2`, `t1`, `pd`, and `hu_offset` in HU) `onset_h` hours after onset."""
    adc = _at("adc", onset_h)
    if adc < 1.0:
        adc = 1.0 - min((1.0 - adc) * float(drop) / TYPICAL_DROP, 0.7)
    out = {"adc": adc}
    for row in ("t2", "t1", "pd"):
        out[row] = 1.0 + float(oedema) * (_at(row, onset_h) - 1.0)
    out["hu_offset"] = float(oedema) * _at("hu_offset", onset_h)
    return {k: round(float(v), 4) for k, v in out.items()}


def swelling(onset_h: float, oedema: float = 1.0) -> float:
    """Extra volume of the infarct (share of its own volume) from space-occupying oedema."""
    return float(oedema) * _at("swelling", onset_h)


def phase(onset_h: float) -> str:
    for limit, name in PHASES:
        if float(onset_h) < limit:
            return name
    return "chronic"
