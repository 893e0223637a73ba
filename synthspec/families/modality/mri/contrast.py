"""Gadolinium: where the agent is at the post-contrast acquisition, and what it does to T1 and T2.

Role: the tissue concentration by tissue class (UPTAKE, a fraction of the plasma concentration, with
sources), the plasma concentration after a dose, and the relaxation-rate shortening
1/T1 = 1/T1_0 + r1 C (and 1/T2 = 1/T2_0 + r2 C) that the signal equations apply in a post-contrast
sequence only (`signal.py`); the pre-contrast sequences of the same subject see the native T1.
Importing it loads no numpy (the planner reads the constants); it draws nothing.

Uptake: an intact blood-brain barrier keeps the agent in the vessels, so normal brain holds only its
blood plasma volume (CBV ~4 % grey, ~2 % white matter, times 1 - Hct; Leenders et al., Brain 1990);
where the barrier is broken (the viable glioblastoma rim) the agent leaks into the extravascular
extracellular space, ve ~0.2-0.5 (DCE-MRI of high-grade glioma, Tofts & Kermode 1991; Larsson et al.
2009); necrosis has no perfusion and takes none.  Tissues outside the barrier (scalp, muscle, marrow)
take up the agent into their extracellular space (ve ~0.1-0.2).  CSF takes essentially none within
minutes.
"""

from __future__ import annotations

PLASMA_MM_PER_DOSE = 6.0
"""Plasma gadolinium (mM) per mmol/kg of dose at the usual 3-5 min delay of a post-contrast T1: ~0.6 mM
after 0.1 mmol/kg (the tail of the Parker population AIF, MRM 56:993 (2006), blood ~0.35 mM over
1 - Hct 0.42; Weinmann et al., AJR 142:619 (1984) for gadopentetate).  Approximate, linear in dose."""
R2_OVER_R1 = 1.2
"""r2 / r1 of the macrocyclic gadolinium agents in plasma at 1.5-3 T is ~1.1-1.4 (Rohrer et al., Invest Radiol
40:715 (2005)); the stdlib lists r1 only, so r2 = 1.2 r1.  T2 shortening at these concentrations is small."""

UPTAKE = {
    # (low, high) tissue concentration / plasma concentration
    "grey_matter": (0.02, 0.03),      # plasma share of CBV ~4-5 %: (1 - Hct) * CBV
    "white_matter": (0.01, 0.015),    # CBV ~2-2.5 %
    "csf": (0.0, 0.0),
    "blood": (0.55, 0.6),             # whole blood: 1 - Hct
    "tumour_enhancing": (0.25, 0.5),  # vp + ve of the leaky rim
    "necrosis": (0.0, 0.0),           # no perfusion
    "oedema": (0.01, 0.03),           # vasogenic oedema: barrier largely intact, dilute blood volume
    "infarct": (0.0, 0.01),           # acute infarct: no perfusion (subacute enhancement after ~5 d not modelled)
    "soft_tissue": (0.1, 0.2),        # extracellular space outside the barrier
    "muscle": (0.08, 0.12),
    "fat": (0.01, 0.02),
    "cancellous_bone": (0.03, 0.06),
    "cortical_bone": (0.0, 0.0),
    "air": (0.0, 0.0),
}


def plasma_mM(dose_mmol_kg: float) -> float:
    return PLASMA_MM_PER_DOSE * float(dose_mmol_kg)


def uptake_table(tissues) -> dict[str, list[float]]:
    """UPTAKE for every tissue of the plan's table; a tissue it does not list takes white matter's (inside
    the barrier, blood volume only)."""
    return {name: list(UPTAKE.get(name, UPTAKE["white_matter"])) for name in sorted(tissues)}


def shortened(t_ms, c_mM, r_per_mM_s):
    """Relaxation time after the agent: 1/T = 1/T0 + r C (T in ms, r in L/mmol/s, C in mM)."""
    return 1.0 / (1.0 / t_ms + r_per_mM_s * c_mM * 1e-3)
