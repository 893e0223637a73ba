"""Lowering an `mri` block: the tissue table at the plan's field, the sequences, the agent and the scanners.

Role: everything `MRI.lower` decides, once, so the plan carries it: per-tissue PD, T1, T2, T2* and ADC
ranges at the field (stdlib tissues.synth, with the documented fallbacks and the T2* rule below), the
sequences with their defaults, the agent's relaxivities at the field, the scanner classes' MR facts, the
acquisition defaults; and the refusals of requests no scanner of the cohort can run (one line each, with
the place in the spec and the fix).  Pure Python: no numpy, no torch (the planner imports it).
It draws nothing and simulates nothing.
"""

from __future__ import annotations

import math

from synthspec.compiler.schema import INVERSION_TYPES as NEEDS_TI
from synthspec.compiler.schema import SEQUENCE_FAMILY as SCANNER_FAMILY
from synthspec.compiler.schema import SEQUENCE_TYPES

STRUCTURAL = tuple(t for t in SEQUENCE_TYPES if t != "diffusion")
VOLUME_BY_DEFAULT = ("gradient_echo", "inversion_prepared_gradient_echo")
"""Sequence types encoded in 3-D unless the spec says `encoding: multislice`: spoiled gradient echo and MPRAGE are
acquired as 3-D slabs in clinical protocols (ADNI; the consensus brain tumour protocol, Ellingson et al., Neuro-Oncol
17:1188, 2015); spin echo, TSE, IR, FLAIR and diffusion as 2-D multi-slice."""
CAN_BE_VOLUME = ("turbo_spin_echo", "gradient_echo", "inversion_prepared_gradient_echo", "flair")
"""Types that may be encoded in 3-D (`encoding: volume`): the 3-D turbo spin echo (SPACE / CUBE / VISTA) and its
FLAIR variant run as volumes; a conventional single-echo spin echo, an IR and single-shot EPI diffusion do not."""
DEFAULT_FLIP = {"gradient_echo": 30.0, "inversion_prepared_gradient_echo": 9.0}
"""Flip angles when the spec gives none: a T1-weighted spoiled GRE (~30 deg) and an MPRAGE readout (8-9 deg,
Mugler & Brookeman 1990, ADNI protocols); the spin-echo family excites at 90 deg."""

MPRAGE_TRAIN = 176
"""Readout pulses per inversion of an MPRAGE that gives no echo_train_length: the ADNI 3 T MPRAGE's 176 partitions
(Jack et al., JMRI 27:685, 2008)."""


def mprage_spacing(te_ms: float) -> float:
    """An MPRAGE readout train's pulse spacing (ms): 2 TE + 1 ms, at least 5 ms (7 ms at TE 3 ms; ADNI: 7.1 ms)."""
    return max(2.0 * float(te_ms) + 1.0, 5.0)


FIELDS = {1.5: "1p5t", 3.0: "3t"}
"""Fields the stdlib tables carry (`t1_1p5t`, `t1_3t`, `r1_1p5t`, ...)."""

PD_SPREAD = 0.05
"""The stdlib gives one relative PD per tissue; subjects spread +/- 5 % around it (brain water content varies
by a few percent between healthy adults; Neeb et al., NeuroImage 2006)."""
R2_PRIME_PER_T = 1.45
"""T2* rule where the stdlib gives no T2*: 1/T2* = 1/T2 + R2', with the reversible (static dephasing) rate
R2' proportional to the field, 1.45 s^-1 per tesla: from Peters et al., MRI 25:748 (2007), whose brain T2*
(GM 84 / WM 66 ms at 1.5 T, GM 66 / WM 53 ms at 3 T) against Stanisz's T2 give R2' of 1.6-1.8 s^-1 at
1.5 T and 3.9-4.9 s^-1 at 3 T.  The range is R2' +/- 25 %."""
R2_PRIME_SPREAD = 0.25

FALLBACK = {
    # tissues the stdlib table gives no MR values for, with sources; (low, high) per field
    "air": {"pd": 0.0, "t1": {"1p5t": (1000.0, 1000.0), "3t": (1000.0, 1000.0)},
            "t2": {"1p5t": (1.0, 1.0), "3t": (1.0, 1.0)}, "adc": (0.0, 0.0),
            "source": "no protons: no signal whatever the relaxation"},
    "cortical_bone": {"t1": {"1p5t": (140.0, 260.0), "3t": (200.0, 300.0)},
                      "t2": {"1p5t": (0.3, 0.6), "3t": (0.3, 0.5)}, "adc": (0.1, 0.3),
                      "source": "bound water of cortical bone, T2* ~0.4 ms: Du & Bydder, UTE imaging (2013); "
                                "invisible on conventional sequences"},
    "cancellous_bone": {"t1": {"1p5t": (300.0, 450.0), "3t": (370.0, 550.0)},
                        "t2": {"1p5t": (50.0, 80.0), "3t": (45.0, 70.0)}, "adc": (0.2, 0.5),
                        "source": "adult fatty (yellow) marrow of the diploe, close to fat; Vande Berg, "
                                  "Radiology 1998 (marrow MR); approximate"},
    "soft_tissue": {"t1": {"1p5t": (900.0, 1100.0), "3t": (1200.0, 1400.0)},
                    "t2": {"1p5t": (40.0, 55.0), "3t": (35.0, 50.0)}, "adc": (1.2, 1.6),
                    "source": "skin, galea and connective tissue of the scalp: between muscle and skin; "
                              "Stanisz 2005 (muscle), approximate"},
    "muscle": {"adc": (1.4, 1.7), "source": "skeletal muscle ADC ~1.5 um2/ms (mean diffusivity, DTI studies)"},
    "fat": {"adc": (0.01, 0.05), "source": "lipid diffuses ~100x slower than water"},
    "blood": {"adc": (1.5, 2.0), "source": "blood ADC, approximate (flow ignored)"},
    "liver": {"adc": (1.0, 1.4), "source": "liver ADC, approximate"},
    "lung": {"adc": (1.0, 1.5), "source": "approximate"},
}


def field_key(tesla: float) -> str:
    return FIELDS[min(FIELDS, key=lambda f: abs(f - tesla))]


def tissue_table(stdlib_tissues: dict, field_t: float) -> dict[str, dict[str, list[float]]]:
    """Per tissue the (low, high) of pd, t1_ms, t2_ms, t2s_ms and adc_um2_ms at `field_t` (stdlib values, the
    FALLBACK table, and the T2* rule); tissues with no relaxation anywhere take soft tissue's."""
    key = field_key(field_t)
    out = {}
    for name in sorted(set(stdlib_tissues) | set(FALLBACK)):
        d = stdlib_tissues[name].values if name in stdlib_tissues else {}
        fb = FALLBACK.get(name, {})
        t1 = d.get(f"t1_{key}") or fb.get("t1", {}).get(key)
        t2 = d.get(f"t2_{key}") or fb.get("t2", {}).get(key)
        if t1 is None or t2 is None:
            t1 = t1 or FALLBACK["soft_tissue"]["t1"][key]
            t2 = t2 or FALLBACK["soft_tissue"]["t2"][key]
        pd = d.get("pd") if d.get("pd") is not None else fb.get("pd", 0.75)
        adc = d.get("adc") or fb.get("adc") or FALLBACK["soft_tissue"]["adc"]
        t2s = d.get(f"t2s_{key}")
        if t2s is None:
            r2p = R2_PRIME_PER_T * field_t / 1000.0        # per ms
            lo = 1.0 / (1.0 / float(t2[0]) + r2p * (1 + R2_PRIME_SPREAD))
            hi = 1.0 / (1.0 / float(t2[1]) + r2p * (1 - R2_PRIME_SPREAD))
            t2s = (lo, hi)
        out[name] = {"pd": [round(float(pd) * (1 - PD_SPREAD), 4), round(float(pd) * (1 + PD_SPREAD), 4)],
                     "t1_ms": [float(t1[0]), float(t1[1])], "t2_ms": [float(t2[0]), float(t2[1])],
                     "t2s_ms": [round(float(t2s[0]), 3), round(float(t2s[1]), 3)],
                     "adc_um2_ms": [float(adc[0]), float(adc[1])]}
    return out


def _at(thing, field: str | None = None) -> str:
    span = thing.at(field) if field else thing.span
    return f"{span.file}:{span.line}"


def sequences(protocol, scanners: dict) -> list[dict]:
    """The spec's sequences with their defaults, refusing what the cohort's scanner classes cannot run."""
    if not protocol.sequences:
        raise ValueError(f"{_at(protocol)}: the mri block has no `sequence`; add one (e.g. `sequence t1 "
                         "{ type: spin_echo  tr: 600 ms  te: 12 ms }`)")
    out, names = [], set()
    for s in protocol.sequences:
        kind = s.type
        where = f"{_at(s)}: sequence {s.name}"
        if kind not in SEQUENCE_TYPES:
            raise ValueError(f"{where}: type {kind!r} is not one the MR modality simulates; use one of "
                             f"{', '.join(SEQUENCE_TYPES)}")
        if s.name in names:
            raise ValueError(f"{where}: a second sequence of that name; give each sequence its own name")
        names.add(s.name)
        if s.tr is None or s.te is None:
            raise ValueError(f"{where}: needs both `tr` and `te`; add them to the sequence block")
        if s.te >= s.tr:
            raise ValueError(f"{_at(s, 'te')}: sequence {s.name}: te {s.te:g} ms is not shorter than tr "
                             f"{s.tr:g} ms; lower te or raise tr")
        if kind in NEEDS_TI:
            if s.ti is None:
                raise ValueError(f"{where}: a {kind} sequence needs `ti`; add the inversion time")
            if s.ti >= s.tr:
                raise ValueError(f"{_at(s, 'ti')}: sequence {s.name}: ti {s.ti:g} ms is not shorter than tr "
                                 f"{s.tr:g} ms; lower ti or raise tr")
        b_values = sorted(float(b) for b in s.b_values)
        if kind == "diffusion":
            if not b_values or b_values[0] != 0.0 or len(b_values) < 2:
                raise ValueError(f"{where}: a diffusion sequence needs b = 0 and at least one higher b "
                                 "(e.g. `b_values: 0 s/mm2, 1000 s/mm2`) for its trace and ADC images")
            for name, sc in scanners.items():
                if sc["max_b"] is not None and b_values[-1] > sc["max_b"]:
                    raise ValueError(f"{_at(s, 'b_values')}: sequence {s.name}: b = {b_values[-1]:g} s/mm2 is over "
                                     f"the {sc['max_b']:g} s/mm2 that {name} can reach; lower the b-value or use a "
                                     "scanner class with stronger gradients")
            if len({int(round(b)) for b in b_values}) != len(b_values):
                raise ValueError(f"{_at(s, 'b_values')}: sequence {s.name}: b-values must differ by 1 s/mm2 or more")
        elif b_values:
            raise ValueError(f"{_at(s, 'b_values')}: sequence {s.name}: only a diffusion sequence takes b_values; "
                             "remove them or set `type: diffusion`")
        for name, sc in scanners.items():
            if sc["sequences"] and SCANNER_FAMILY[kind] not in sc["sequences"]:
                raise ValueError(f"{where}: scanner class {name} does not run {kind} (it runs "
                                 f"{', '.join(sc['sequences'])}); change the sequence or the scanner")
        flip = s.flip if s.flip is not None else DEFAULT_FLIP.get(kind, 90.0)
        if not 0.0 < flip <= 180.0:
            raise ValueError(f"{_at(s, 'flip')}: sequence {s.name}: flip {flip:g} deg is outside 0-180 deg")
        encoding = getattr(s, "encoding", None) or ("volume" if kind in VOLUME_BY_DEFAULT else "multislice")
        if encoding == "volume" and kind not in CAN_BE_VOLUME:
            raise ValueError(f"{_at(s, 'encoding')}: sequence {s.name}: a {kind} sequence is acquired slice by slice, "
                             f"not as a 3-D volume; remove `encoding: volume` or use one of {', '.join(CAN_BE_VOLUME)}")
        if encoding == "volume" and getattr(protocol, "slice_gap", None):
            raise ValueError(f"{_at(protocol, 'slice_gap')}: sequence {s.name} is 3-D encoded, a contiguous slab "
                             "without gaps; remove `slice_gap` or set `encoding: multislice` on the sequence")
        train = getattr(s, "echo_train_length", None)
        if kind == "inversion_prepared_gradient_echo":
            train = int(train or MPRAGE_TRAIN)
            half = 0.5 * train * mprage_spacing(s.te)
            if s.ti < half or s.tr < s.ti + half:
                raise ValueError(f"{_at(s, 'ti')}: sequence {s.name}: the readout train ({train} pulses every "
                                 f"{mprage_spacing(s.te):g} ms, centred on TI) does not fit between the inversions "
                                 f"(TI {s.ti:g} ms, TR {s.tr:g} ms); raise tr and ti or shorten echo_train_length")
        out.append({"name": s.name, "type": kind, "tr_ms": float(s.tr), "te_ms": float(s.te), "encoding": encoding,
                    "echo_train_length": train,
                    "ti_ms": float(s.ti) if s.ti is not None else None, "flip_deg": float(flip),
                    "b_values": b_values, "post_contrast": bool(s.post_contrast),
                    "partial_fourier": 0.75 if kind == "diffusion" else 1.0})
    return out


def scanner_facts(scanners: dict, stdlib) -> dict[str, dict]:
    """Per scanner class of the cohort: field, snr, coil bias, max b and the sequence families it runs."""
    out = {}
    for name in scanners:
        d = stdlib.get("scanner", name)
        v = d.values if d is not None else {}
        if v.get("modality") not in (None, "mri"):
            raise ValueError(f"scanner class {name} is a {v.get('modality')} scanner, not an MR one; list an mr.* "
                             "scanner class under `scanners`")
        out[name] = {"field_strength_t": v.get("field_strength"), "snr": float(v.get("snr") or 30.0),
                     "coil_bias": float(v.get("coil_bias") or 0.0), "max_b": v.get("max_b"),
                     "sequences": list(v.get("sequences") or []),
                     "slice_thickness_mm": list(v.get("slice_thickness")) if v.get("slice_thickness") else None,
                     "field_of_view_mm": v.get("field_of_view")}
    return out


def field_strength(protocol, facts: dict) -> float:
    """The cohort's B0: the spec's, which every scanner class must run; else the scanners' common field."""
    fields = {name: f["field_strength_t"] for name, f in facts.items() if f["field_strength_t"] is not None}
    b0 = protocol.field_strength
    if b0 is None:
        if len(set(fields.values())) > 1:
            raise ValueError(f"{_at(protocol)}: the scanner classes run different fields "
                             f"({', '.join(f'{n} {t:g} T' for n, t in fields.items())}); set `field_strength`")
        b0 = next(iter(fields.values()), 1.5)
    for name, t in fields.items():
        if not math.isclose(t, b0, rel_tol=1e-3):
            raise ValueError(f"{_at(protocol, 'field_strength')}: field_strength {b0:g} T cannot run on {name}, a "
                             f"{t:g} T scanner class; set field_strength: {t:g} T or use a {b0:g} T scanner class")
    if min(abs(b0 - f) for f in FIELDS) > 0.3:
        raise ValueError(f"{_at(protocol, 'field_strength')}: the tissue tables carry 1.5 T and 3 T values only; "
                         f"set field_strength to 1.5 T or 3 T (not {b0:g} T)")
    return float(b0)


def contrast(protocol, sequences_: list[dict], stdlib, b0: float) -> dict | None:
    """The agent at the field ({agent, kind, r1, r2, dose}), None without a contrast block; refuses a
    post-contrast sequence without one and an agent without relaxivity at the field."""
    block = protocol.contrast_agent
    post = [s["name"] for s in sequences_ if s["post_contrast"]]
    if block is None or block.agent is None:
        if post:
            raise ValueError(f"{_at(protocol)}: sequence {post[0]} is post_contrast but the mri block gives no "
                             "contrast agent; add `contrast { agent: gadobutrol  dose: 0.1 mmol/kg }`")
        return None
    from synthspec.families.modality.mri.contrast import R2_OVER_R1

    agent = stdlib.get("agent", block.agent)
    if agent is None:
        raise ValueError(f"{_at(block, 'agent')}: agent {block.agent!r} is not in the stdlib agents; use one of "
                         f"{', '.join(stdlib.names('agent'))}")
    key = field_key(b0)
    r1 = agent.get(f"r1_{key}")
    if agent.get("kind") != "gadolinium" or r1 is None:
        raise ValueError(f"{_at(block, 'agent')}: agent {block.agent} has no T1 relaxivity at {b0:g} T (an MR agent "
                         "needs `kind: gadolinium` and r1_1p5t / r1_3t); use a gadolinium agent")
    dose = block.dose if block.dose is not None else agent.get("standard_dose") or 0.1
    if not 0.0 < dose <= 0.3:
        raise ValueError(f"{_at(block, 'dose')}: dose {dose:g} mmol/kg is outside 0-0.3 mmol/kg (label doses are "
                         "0.05-0.1, triple dose 0.3); use a clinical dose")
    return {"agent": block.agent, "r1_per_mM_s": float(r1), "r2_per_mM_s": round(float(r1) * R2_OVER_R1, 3),
            "dose_mmol_kg": float(dose)}
