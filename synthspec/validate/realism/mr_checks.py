"""MR physics checks of synthetic volumes with their labels: contrast ordering, background Rayleigh, ADC.

    expected = expected_order(seq, field_t)                 # from the sequence's own TR/TE/TI/flip
    ordering_result(medians, expected)                      # {"passed", "reason", ...}
    rayleigh_result(background_values)                      # mean/SD against 1.913
    adc_result(medians_1e3)                                 # normal GM / WM / CSF against published ranges
    infarct_result(ratio, onset_h)                          # lesion / normal ADC against the onset phase

Pure functions on numbers and arrays; reading the cohort and making CheckResults is
`brain_mri.py`'s job.  Sources and tolerances:

* Expected ordering: the PHYSICS.md signal equations (spin echo PD(1-e^-TR/T1)e^-TE/T2; inversion
  recovery / FLAIR PD|1-2e^-TI/T1+e^-TR/T1|e^-TE/T2; spoiled gradient echo
  PD sin a (1-E1)/(1-cos a E1) e^-TE/T2* with T2* ~ 0.8 T2 (approximation); diffusion b0 as spin
  echo) evaluated at the midpoints of the plan's per-tissue ranges (settings "tissues"), else of the PHYSICS.md table (Stanisz et al. MRM 2005, 1.5 T and
  3 T; PD GM 0.80, WM 0.70, CSF 1.00).  A pair of tissues whose predicted signals differ by
  >= 5 % must come out in that order; a closer pair (PD: CSF vs GM) within 20 % of each other.
  FLAIR: CSF must be suppressed below half of min(GM, WM).  The usual names follow (T1w: WM > GM >
  CSF; T2w: CSF > GM > WM; PD: CSF >= GM > WM; FLAIR: CSF dark).
* Rayleigh: background mean / SD = sqrt(pi/2)/sqrt(2 - pi/2) = 1.913 (Gudbjartsson & Patz, MRM
  34:910, 1995); allowed |ratio - 1.913| <= 0.12 with >= 500 voxels (the ratio's sampling SD is
  ~0.9/sqrt(n): 0.04 at n = 500).  Gaussian noise with an offset, a half-normal (1.32) or a
  16-coil noncentral chi (~4) fail.
* Normal ADC (1e-3 mm^2/s), PHYSICS.md (CSF ~3.0, GM ~0.8, WM ~0.7) with the spread reported in
  adults (Helenius et al., AJNR 23:194, 2002; Sener, Comput Med Imaging Graph 25:299, 2001):
  CSF 2.5-3.5, GM 0.70-1.00, WM 0.60-0.85.
* Infarct ADC as a fraction of the same tissue's normal ADC, by onset (PHYSICS.md "MRI, more";
  Schlaug et al., Neurology 49:113, 1997; Lansberg et al., AJNR 22:637, 2001):
  < 24 h (hyper-acute/acute) 0.50-0.70 (a 30-50 % drop); 1-4 d (lowest) 0.40-0.70;
  4-7 d (recovering) 0.50-0.90; 7-14 d (pseudo-normal) 0.80-1.20; > 14 d (chronic) 1.00-2.00.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from synthspec.validate.realism.mr_measure import RAYLEIGH_RATIO, rayleigh_stats

TISSUES = ("grey_matter", "white_matter", "csf")
SHORT = {"grey_matter": "GM", "white_matter": "WM", "csf": "CSF"}
RELAXATION = {   # (T1 ms, T2 ms, PD) at 1.5 T and 3 T: PHYSICS.md table midpoints (Stanisz et al. 2005)
    1.5: {"grey_matter": (1150.0, 97.5, 0.80), "white_matter": (850.0, 75.0, 0.70), "csf": (4100.0, 2000.0, 1.00)},
    3.0: {"grey_matter": (1825.0, 97.5, 0.80), "white_matter": (1075.0, 67.5, 0.70), "csf": (4250.0, 2000.0, 1.00)},
}
ORDER_GAP = 0.05
TIE_TOLERANCE = 0.20
FLAIR_SUPPRESSION = 0.5
RAYLEIGH_TOLERANCE = 0.12
MIN_BACKGROUND = 500
NORMAL_ADC = {"csf": (2.5, 3.5), "grey_matter": (0.70, 1.00), "white_matter": (0.60, 0.85)}
INFARCT_PHASES = (   # (up to hours, phase name, allowed lesion/normal ADC ratio)
    (24.0, "hyper-acute/acute (< 24 h)", (0.50, 0.70)),
    (96.0, "early subacute, lowest ADC (1-4 d)", (0.40, 0.70)),
    (168.0, "subacute, recovering (4-7 d)", (0.50, 0.90)),
    (336.0, "pseudo-normal (7-14 d)", (0.80, 1.20)),
    (math.inf, "chronic (> 14 d)", (1.00, 2.00)),
)
STRUCTURAL = ("spin_echo", "turbo_spin_echo", "gradient_echo", "inversion_prepared_gradient_echo",
              "inversion_recovery", "flair")


def _get(obj, key, default=None):
    if isinstance(obj, dict):
        return obj.get(key, default)
    return getattr(obj, key, default)


def relaxation(field_t: float | None) -> dict[str, tuple[float, float, float]]:
    """The PHYSICS.md tissue table nearest the field strength."""
    f = float(field_t or 1.5)
    return RELAXATION[1.5 if abs(f - 1.5) <= abs(f - 3.0) else 3.0]


def plan_relaxation(tissues, field_t: float | None) -> dict[str, tuple[float, float, float]]:
    """(T1, T2, PD) per tissue: midpoints of the plan's per-tissue ranges (settings["tissues"]: t1_ms, t2_ms, pd
    (low, high)) where the plan gives all three, else the PHYSICS.md table."""
    table = dict(relaxation(field_t))
    for tissue in TISSUES:
        entry = _get(tissues or {}, tissue) or {}
        try:
            t1, t2, pd = (sum(float(v) for v in _get(entry, key)) / 2.0 for key in ("t1_ms", "t2_ms", "pd"))
        except (TypeError, ValueError):
            continue
        table[tissue] = (t1, t2, pd)
    return table


def predicted_signal(seq, field_t: float | None, tissues=None) -> dict[str, float]:
    """Signal of GM, WM and CSF for one sequence (a dict or model with type, tr_ms, te_ms, ti_ms, flip_deg), from
    the plan's tissue ranges when given (`plan_relaxation`), else the PHYSICS.md table."""
    kind = str(_get(seq, "type", "spin_echo"))
    tr = float(_get(seq, "tr_ms") or 3000.0)
    te = float(_get(seq, "te_ms") or 10.0)
    ti = _get(seq, "ti_ms")
    flip = math.radians(float(_get(seq, "flip_deg") or 90.0))
    out = {}
    for tissue, (t1, t2, pd) in plan_relaxation(tissues, field_t).items():
        e1, e2 = math.exp(-tr / t1), math.exp(-te / t2)
        if kind in ("inversion_recovery", "flair") or (kind == "inversion_prepared_gradient_echo" and ti):
            s = pd * abs(1.0 - 2.0 * math.exp(-float(ti or 0.0) / t1) + e1) * math.exp(-te / (t2 if kind != "inversion_prepared_gradient_echo" else 0.8 * t2))
        elif kind in ("gradient_echo", "inversion_prepared_gradient_echo"):
            s = pd * math.sin(flip) * (1.0 - e1) / (1.0 - math.cos(flip) * e1) * math.exp(-te / (0.8 * t2))
        else:   # spin echo, turbo spin echo, the b0 of a spin-echo diffusion sequence
            s = pd * (1.0 - e1) * e2
        out[tissue] = s
    return out


def weighting_name(seq, signal: dict[str, float]) -> str:
    kind = str(_get(seq, "type", ""))
    gm, wm, csf = signal["grey_matter"], signal["white_matter"], signal["csf"]
    if kind == "flair" or (kind == "inversion_recovery" and csf < 0.5 * min(gm, wm)):
        return "flair"
    if wm > gm > csf:
        return "t1"
    if kind == "diffusion":
        return "dwi"
    te, tr = float(_get(seq, "te_ms") or 0.0), float(_get(seq, "tr_ms") or 0.0)
    return "pd" if te < 40.0 and tr >= 1500.0 else "t2"


EXPECTED_TEXT = {"t1": "T1w: WM > GM > CSF", "t2": "T2w: CSF > GM > WM", "pd": "PD: CSF >= GM > WM",
                 "flair": "FLAIR: CSF suppressed below GM and WM", "dwi": "b0 (T2w): CSF > GM > WM"}


def expected_order(seq, field_t: float | None, tissues=None) -> dict[str, Any]:
    signal = predicted_signal(seq, field_t, tissues)
    name = weighting_name(seq, signal)
    order = sorted(signal, key=lambda t: -signal[t])
    derived = " > ".join(SHORT[t] for t in order) if name != "flair" else "CSF suppressed"
    return {"signal": {k: round(v, 5) for k, v in signal.items()}, "weighting": name, "order": order,
            "text": f"{derived} (from TR/TE/TI with the plan's tissues; nominal {EXPECTED_TEXT[name]})"}


def ordering_result(medians: dict[str, float], expected: dict[str, Any]) -> dict[str, Any]:
    """Whether measured tissue medians follow the predicted ordering (see the module docstring)."""
    missing = [t for t in TISSUES if medians.get(t) is None]
    if missing:
        return {"passed": None, "reason": f"no voxels of {', '.join(missing)}"}
    sig, m = expected["signal"], medians
    broken = []
    if expected["weighting"] == "flair":
        limit = FLAIR_SUPPRESSION * min(m["grey_matter"], m["white_matter"])
        if not m["csf"] < limit:
            broken.append(f"CSF {m['csf']:.0f} not below {FLAIR_SUPPRESSION:g} x min(GM, WM) = {limit:.0f}")
    for i, a in enumerate(TISSUES):
        for b in TISSUES[i + 1:]:
            if expected["weighting"] == "flair" and "csf" in (a, b):
                continue
            hi, lo = (a, b) if sig[a] >= sig[b] else (b, a)
            gap = (sig[hi] - sig[lo]) / max(sig[hi], 1e-12)
            if gap >= ORDER_GAP:
                if not m[hi] > m[lo]:
                    broken.append(f"{SHORT[hi]} {m[hi]:.0f} should be above {SHORT[lo]} {m[lo]:.0f}")
            elif abs(m[a] - m[b]) > TIE_TOLERANCE * max(m[a], m[b]):
                broken.append(f"{SHORT[a]} {m[a]:.0f} and {SHORT[b]} {m[b]:.0f} should be within "
                              f"{TIE_TOLERANCE:.0%} (predicted {gap:.0%} apart)")
    measured = " > ".join(f"{SHORT[t]} {m[t]:.0f}" for t in sorted(TISSUES, key=lambda t: -m[t]))
    return {"passed": not broken, "broken": broken, "measured": measured,
            "reason": f"expected {expected['text']}; measured {measured}" + (f" ({'; '.join(broken)})" if broken else "")}


def rayleigh_result(values: np.ndarray, tolerance: float = RAYLEIGH_TOLERANCE,
                    min_voxels: int = MIN_BACKGROUND) -> dict[str, Any]:
    stats = rayleigh_stats(values)
    ratio = stats.get("ratio")
    if stats["n"] < min_voxels or ratio is None:
        return {**stats, "passed": None, "reason": f"{stats['n']} background voxels (need {min_voxels})"}
    ok = abs(ratio - RAYLEIGH_RATIO) <= tolerance
    return {**stats, "passed": bool(ok), "reason":
            f"background mean/SD {ratio:.3f} vs Rayleigh {RAYLEIGH_RATIO:.3f} (allowed +-{tolerance:g}) over "
            f"{stats['n']} voxels; sigma {stats['sigma']:.2f}" + ("" if ok else
            "; the background is not magnitude-of-complex-Gaussian noise (Gaussian added after the magnitude, "
            "clipped, zero-filled or multi-coil)")}


def adc_result(medians: dict[str, float | None]) -> dict[str, Any]:
    """Normal-tissue ADC medians (1e-3 mm^2/s) against NORMAL_ADC."""
    parts, ok = [], True
    for tissue, (lo, hi) in NORMAL_ADC.items():
        v = medians.get(tissue)
        if v is None:
            parts.append(f"{SHORT[tissue]} not measured")
            continue
        good = lo <= v <= hi
        ok &= good
        parts.append(f"{SHORT[tissue]} {v:.2f} ({lo:g}-{hi:g}{'' if good else ' OUT'})")
    measured = [t for t in NORMAL_ADC if medians.get(t) is not None]
    return {"passed": bool(ok) if measured else None, "reason": "normal ADC (1e-3 mm^2/s): " + ", ".join(parts)}


def infarct_phase(onset_h: float | None) -> tuple[str, tuple[float, float]] | None:
    if onset_h is None:
        return None
    for limit, name, window in INFARCT_PHASES:
        if onset_h < limit:
            return name, window
    return None


def infarct_result(ratio: float, onset_h: float | None) -> dict[str, Any]:
    """Lesion / normal ADC against the window of its onset phase (default: the acute window)."""
    phase = infarct_phase(onset_h) or (f"{INFARCT_PHASES[0][1]} (onset not recorded)", INFARCT_PHASES[0][2])
    lo, hi = phase[1]
    ok = lo <= ratio <= hi
    return {"passed": bool(ok), "phase": phase[0], "window": [lo, hi], "ratio": ratio,
            "reason": f"infarct ADC {ratio:.2f} x normal at onset {f'{onset_h:.1f}' if onset_h is not None else '?'} h, "
                      f"{phase[0]}: allowed {lo:g}-{hi:g}"}


def tissue_medians(volume: np.ndarray, labels: np.ndarray, ids_by_tissue: dict[str, tuple[int, ...]],
                   exclude: np.ndarray | None = None, erode: int = 1, min_voxels: int = 30) -> dict[str, float | None]:
    """Median of `volume` in each tissue's labels, eroded by `erode` voxels (no partial volume) when that leaves
    `min_voxels`; `exclude` voxels (a lesion, dilated) left out."""
    from scipy import ndimage as ndi

    out: dict[str, float | None] = {}
    drop = ndi.binary_dilation(exclude > 0, iterations=2) if exclude is not None and np.any(exclude) else None
    for tissue, ids in ids_by_tissue.items():
        mask = np.isin(labels, ids) if ids else np.zeros(labels.shape, bool)
        if drop is not None:
            mask &= ~drop
        core = ndi.binary_erosion(mask, iterations=erode) if erode else mask
        use = core if core.sum() >= min_voxels else mask
        out[tissue] = float(np.median(volume[use])) if use.sum() >= min(min_voxels, 5) else None
    return out
