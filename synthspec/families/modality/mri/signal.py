"""MR signal equations: the noiseless magnitude each sequence gives a voxel of known PD, T1, T2, T2*, ADC.

Role: per sequence type the steady-state signal (PHYSICS.md, MRI relaxation), in units of PD (a fully
relaxed voxel of PD 1 gives 1).  It works on numpy arrays or plain floats and knows nothing of k-space,
noise or the scanner (`kspace.py`).  Equations and their approximations:

  spin_echo         S = PD (1 - e^(-TR/T1)) e^(-TE/T2)  (90 deg excitation; the refocusing pulse's
                    recovery term e^(-(TR - TE/2)/T1) is neglected, as in PHYSICS.md, exact for TE << TR)
  turbo_spin_echo   the spin-echo equation at the effective TE (the echo at the centre of k-space); echo-train
                    blurring along phase is not modelled
  gradient_echo     spoiled: S = PD sin a (1 - E1) / (1 - cos a E1) e^(-TE/T2*),  E1 = e^(-TR/T1)
  inversion_recovery, flair
                    S = PD |1 - 2 e^(-TI/T1) + e^(-TR/T1)| e^(-TE/T2)  (magnitude reconstruction: a tissue
                    before its null and one after it are both positive; CSF nulled near TI = T1 ln 2)
  inversion_prepared_gradient_echo (MPRAGE)
                    the magnetisation-prepared rapid gradient echo in its steady state (Deichmann et al., MRM
                    43:36, 2000; Marques et al., NeuroImage 49:1271, 2010, appendix): an inversion every TR, free
                    recovery to the readout train, a train of N pulses of flip a every tau ms whose centre (the
                    centre of k-space, linear ordering) lies at TI, then free recovery to the next inversion;
                    S = PD sin a |Mz at the centre| e^(-TE/T2*), Mz solved in closed form for the steady state
                    (perfect inversion).  N is the sequence's echo_train_length (default 176, the ADNI 3 T MPRAGE's
                    partitions per inversion; Jack et al., JMRI 27:685, 2008), tau = 2 TE + 1 ms (7 ms at TE 3 ms,
                    ADNI's 7.1 ms)
  diffusion         S = S0 e^(-b ADC), S0 the spin-echo EPI signal at (TR, TE) with T2 (not T2*) weighting
"""

from __future__ import annotations

import numpy as np

from synthspec.families.modality.mri.protocol import MPRAGE_TRAIN, mprage_spacing


def spin_echo(pd, t1, t2, tr, te):
    return pd * (1.0 - np.exp(-tr / t1)) * np.exp(-te / t2)


def spoiled_gradient_echo(pd, t1, t2s, tr, te, flip_deg):
    a = np.deg2rad(flip_deg)
    e1 = np.exp(-tr / t1)
    return pd * np.sin(a) * (1.0 - e1) / (1.0 - np.cos(a) * e1) * np.exp(-te / t2s)


def inversion_recovery(pd, t1, t2, tr, te, ti):
    return pd * np.abs(1.0 - 2.0 * np.exp(-ti / t1) + np.exp(-tr / t1)) * np.exp(-te / t2)


def inversion_prepared_gradient_echo(pd, t1, t2s, tr, te, ti, flip_deg, train=None, spacing=None):
    n = float(train or MPRAGE_TRAIN)
    tau = float(spacing or mprage_spacing(te))
    a = np.deg2rad(flip_deg)
    e_tau = np.exp(-tau / t1)
    f = np.cos(a) * e_tau
    m_ss = (1.0 - e_tau) / (1.0 - f)                        # the train's own steady state
    e_a = np.exp(-(ti - 0.5 * n * tau) / t1)                 # inversion -> first pulse
    e_d = np.exp(-(tr - ti - 0.5 * n * tau) / t1)            # last pulse -> next inversion
    f_n = f ** n
    m_a = ((1.0 - e_d) + e_d * m_ss * (1.0 - f_n) + e_d * f_n * (1.0 - e_a)) / (1.0 + e_d * f_n * e_a)
    m_b = 1.0 - (1.0 + m_a) * e_a                            # Mz at the first pulse (m_a inverted, then recovered)
    centre = m_ss + (m_b - m_ss) * f ** (0.5 * n)
    return pd * np.sin(a) * np.abs(centre) * np.exp(-te / t2s)


def diffusion(s0, adc_um2_ms, b_s_mm2):
    """S0 e^(-b ADC): b in s/mm^2, ADC in um^2/ms (= 1e-3 mm^2/s)."""
    return s0 * np.exp(-b_s_mm2 * adc_um2_ms * 1e-3)


def structural(kind: str, pd, t1, t2, t2s, tr, te, ti=None, flip_deg=90.0, train=None):
    """The noiseless signal of a structural sequence type (see the module docstring); `train`: an MPRAGE's
    readout pulses per inversion (None: MPRAGE_TRAIN)."""
    if kind in ("spin_echo", "turbo_spin_echo"):
        return spin_echo(pd, t1, t2, tr, te)
    if kind == "gradient_echo":
        return spoiled_gradient_echo(pd, t1, t2s, tr, te, flip_deg)
    if kind in ("inversion_recovery", "flair"):
        return inversion_recovery(pd, t1, t2, tr, te, ti)
    if kind == "inversion_prepared_gradient_echo":
        return inversion_prepared_gradient_echo(pd, t1, t2s, tr, te, ti, flip_deg, train)
    raise ValueError(f"no signal equation for sequence type {kind!r}")


def sequence_signal(seq: dict, maps: dict, r1: float = 0.0, r2: float = 0.0, b: float = 0.0):
    """The noiseless signal of one sequence (a plan sequence dict) from the truth maps; in a post-contrast
    sequence T1, T2 and T2* are shortened by the gadolinium map (`contrast.shortened`)."""
    from synthspec.families.modality.mri.contrast import shortened

    t1, t2, t2s = maps["t1_ms"], maps["t2_ms"], maps["t2s_ms"]
    if seq["post_contrast"] and (r1 or r2):
        gd = maps["gd_mM"]
        t1 = shortened(t1, gd, r1)
        t2 = shortened(t2, gd, r2)
        t2s = shortened(t2s, gd, r2)
    if seq["type"] == "diffusion":
        s0 = spin_echo(maps["pd"], t1, t2, seq["tr_ms"], seq["te_ms"])
        return diffusion(s0, maps["adc_um2_ms"], b) if b else s0
    return structural(seq["type"], maps["pd"], t1, t2, t2s, seq["tr_ms"], seq["te_ms"], seq["ti_ms"],
                      seq["flip_deg"], seq.get("echo_train_length"))


def reference_signal(seq: dict, tissue: dict[str, list[float]]) -> float:
    """The signal of a tissue at the middle of its ranges (pre-contrast, b = 0): the plan's intensity scale."""
    mid = {k: 0.5 * (v[0] + v[1]) for k, v in tissue.items()}
    maps = {**mid, "gd_mM": 0.0}
    return float(sequence_signal({**seq, "post_contrast": False}, maps))
