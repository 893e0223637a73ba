"""3-D encoding, the MPRAGE steady state, rotational motion and the shared tissue factor of the MR modality.

Checked against independent computations: the MPRAGE closed form against a pulse-by-pulse simulation of the
magnetisation over many inversion cycles, the 3-D noise gain against sqrt(partitions), the copula against
uniform marginals.  Phantoms are a few slices of 32-64 px, so the file runs in seconds.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from synthspec.families.modality.mri import protocol
from synthspec.families.modality.mri import signal as sig
from synthspec.families.modality.mri.acquire import noise_sigma
from synthspec.families.modality.mri.kspace import acquire_magnitude, draw_motion
from synthspec.families.modality.mri.series import SequenceFacts, sequence_codes
from synthspec.families.modality.mri.tissue import correlated_quantiles

ROOT = Path(__file__).resolve().parent.parent


def _simulated_mprage(t1, tr, ti, flip_deg, n, tau, cycles=40):
    """Mz just before the centre pulse, after `cycles` inversions, stepping the magnetisation pulse by pulse."""
    a = math.radians(flip_deg)
    mz, centre = 1.0, None
    for _ in range(cycles):
        mz = -mz                                                     # perfect inversion
        mz = 1.0 - (1.0 - mz) * math.exp(-(ti - n / 2 * tau) / t1)   # free recovery to the train
        for j in range(n):
            if j == n // 2:
                centre = mz
            mz = mz * math.cos(a)                                    # the pulse tips part of Mz away
            mz = 1.0 - (1.0 - mz) * math.exp(-tau / t1)              # recovery until the next pulse
        mz = 1.0 - (1.0 - mz) * math.exp(-(tr - ti - n / 2 * tau) / t1)
    return centre


@pytest.mark.parametrize("t1", [800.0, 1100.0, 1825.0, 4300.0])
def test_mprage_closed_form_matches_a_pulse_by_pulse_simulation(t1):
    tr, ti, flip, n, tau = 2300.0, 900.0, 9.0, 176, 7.0
    expected = abs(_simulated_mprage(t1, tr, ti, flip, n, tau)) * math.sin(math.radians(flip))
    got = sig.inversion_prepared_gradient_echo(1.0, t1, 1e9, tr, 0.0, ti, flip, train=n, spacing=tau)
    assert got == pytest.approx(expected, rel=1e-6)


def test_mprage_contrast_at_3t_is_the_published_one():
    # ADNI 3 T MPRAGE with Stanisz 2005 3 T tissue values: white matter about 1.5-1.8 x grey matter on
    # MPRAGE (GM/WM 0.55-0.70; e.g. the 3 T contrasts of Marques et al. 2010 and Wright et al. 2008)
    def s(t1, pd, t2s):
        return sig.inversion_prepared_gradient_echo(pd, t1, t2s, 2300.0, 3.0, 900.0, 9.0)

    gm, wm, csf = s(1825.0, 0.8, 80.0), s(1075.0, 0.7, 55.0), s(4250.0, 1.0, 1500.0)
    assert 0.55 < gm / wm < 0.70
    assert csf < 0.4 * wm


def test_volume_encoding_gains_the_square_root_of_the_partitions():
    z = 16
    sigma_2d = noise_sigma(50.0, (3.0, 1.0, 1.0), 64, 3.0, 3.0)
    sigma_3d = noise_sigma(50.0, (3.0, 1.0, 1.0), 64 * z, 3.0, 3.0)
    assert sigma_2d / sigma_3d == pytest.approx(math.sqrt(z), rel=1e-9)
    # the 3-D FFT path keeps white noise white: an empty slab gives the same Rayleigh background
    g = torch.Generator().manual_seed(3)
    image = acquire_magnitude(torch.zeros(z, 32, 32), sigma=1.5, generator=g, volume=True).numpy().astype(np.float64)
    assert image.mean() == pytest.approx(1.5 * math.sqrt(math.pi / 2), rel=0.03)
    assert image.mean() / image.std() == pytest.approx(1.913, abs=0.06)


def test_volume_and_multislice_agree_without_noise_and_motion():
    yy, xx = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
    blob = torch.exp(-((yy - 16) ** 2 + (xx - 15) ** 2) / 40.0)[None] * torch.linspace(0.5, 1.0, 6)[:, None, None]
    slices = acquire_magnitude(blob, sigma=0.0, phase_resolution=0.8)
    volume = acquire_magnitude(blob, sigma=0.0, phase_resolution=0.8, volume=True)
    # truncation is in-plane only, every partition is acquired: the two reconstructions are the same image
    assert torch.allclose(slices, volume, atol=1e-5)


def _square(n=64, z=2):
    s = torch.zeros(z, n, n)
    s[:, n // 2 - 10: n // 2 + 10, n // 2 - 6: n // 2 + 6] = 1.0
    return s


def test_rotation_during_acquisition_ghosts_along_phase():
    n = 64
    outside_phase = np.r_[0:12, 52:64]
    inner = slice(26, 38)
    turn = {"start": 16, "stop": 40, "shift_px": (0.0, 0.0), "rotation_deg": 8.0}
    for volume in (False, True):
        moved = acquire_magnitude(_square(n), sigma=0.0, phase_axis=2, motion=turn, volume=volume).numpy()
        along_phase = np.abs(moved[:, inner][:, :, outside_phase]).mean()
        along_readout = np.abs(moved[:, outside_phase][:, :, inner]).mean()
        assert along_phase > 0.005 and along_phase > 10 * along_readout
    still = acquire_magnitude(_square(n), sigma=0.0, phase_axis=2, motion={**turn, "rotation_deg": 0.0})
    assert float(np.abs(still.numpy() - _square(n).numpy()).max()) < 1e-4   # no shift, no turn: no ghost


def test_motion_draws_five_numbers_whether_or_not_the_subject_moves():
    a, b = torch.Generator().manual_seed(9), torch.Generator().manual_seed(9)
    assert draw_motion(a, 0.0, 256, 0.9) is None
    event = draw_motion(b, 2.0, 256, 0.9)
    assert abs(event["rotation_deg"]) <= math.degrees(2.0 / 50.0) + 1e-9
    assert torch.rand(1, generator=a).item() == torch.rand(1, generator=b).item()


def test_an_mprage_states_one_echo_per_excitation_in_its_files():
    from synthspec.families.modality.mri.series import sequence_facts

    entry = {"name": "t1", "type": "inversion_prepared_gradient_echo", "echo_train_length": 176}
    assert sequence_facts(entry).echo_train_length == 1     # DICOM / BIDS EchoTrainLength: echoes per excitation
    assert sequence_facts({**entry, "type": "turbo_spin_echo", "echo_train_length": 16}).echo_train_length == 16


def test_dicom_acquisition_type_follows_the_encoding():
    assert sequence_codes(SequenceFacts("t1", "inversion_prepared_gradient_echo"))[2] == "3D"
    assert sequence_codes(SequenceFacts("t1", "inversion_prepared_gradient_echo", encoding="multislice"))[2] == "2D"
    assert sequence_codes(SequenceFacts("f", "flair"))[2] == "2D"
    assert sequence_codes(SequenceFacts("f", "flair", encoding="volume"))[2] == "3D"
    assert sequence_codes(SequenceFacts("d", "diffusion", b_values=(0.0, 1000.0), encoding="volume"))[2] == "2D"


# ---- the shared tissue factor ----

def test_correlated_quantiles_keep_uniform_marginals_and_correlate():
    rng = np.random.default_rng(5)
    gm, wm = [], []
    for _ in range(10000):
        u = correlated_quantiles({"grey_matter": rng.random(), "white_matter": rng.random()}, rng.standard_normal())
        gm.append(u["grey_matter"])
        wm.append(u["white_matter"])
    gm, wm = np.array(gm), np.array(wm)
    for u in (gm, wm):       # uniform: deciles within sampling error
        assert np.allclose(np.quantile(u, np.linspace(0.1, 0.9, 9)), np.linspace(0.1, 0.9, 9), atol=0.025)
    assert 0.75 < np.corrcoef(gm, wm)[0, 1] < 0.92
    assert correlated_quantiles({"csf": 0.3}, None) == {"csf": 0.3}


def test_flair_grey_matter_stays_above_white_matter_for_every_subject():
    from synthspec import api

    result = api.compile(ROOT / "examples" / "brain_tumour_mri_contrast.synth")
    table = protocol.tissue_table(result.program.registry.items["tissue"], 3.0)
    rng = np.random.default_rng(11)
    worst = math.inf
    for _ in range(2000):
        u = correlated_quantiles({"grey_matter": rng.random(), "white_matter": rng.random()}, rng.standard_normal())
        s = {}
        for tissue in ("grey_matter", "white_matter"):
            p = {k: lo + u[tissue] * (hi - lo) for k, (lo, hi) in table[tissue].items()}
            s[tissue] = sig.inversion_recovery(p["pd"], p["t1_ms"], p["t2_ms"], 9000.0, 120.0, 2500.0)
        worst = min(worst, s["grey_matter"] / s["white_matter"])
    assert worst > 1.02


# ---- the linter knows every sequence type the modality runs ----

def _codes(edit):
    from synthspec.compiler.check import compile_text

    path = ROOT / "examples" / "brain_tumour_mri_contrast.synth"
    result = compile_text(edit(path.read_text()), path)
    return {d.code for d in result.visible if d.severity.name.lower() == "error"}


def test_linter_accepts_tse_and_mprage_and_checks_their_fields():
    assert _codes(lambda s: s) == set()
    no_ti = _codes(lambda s: s.replace("      ti: 900 ms\n", "", 1))
    assert "PHY004" in no_ti                                   # an MPRAGE needs its TI
    assert "NAM007" in _codes(lambda s: s.replace("type: turbo_spin_echo", "type: turbo_spin_echo; encoding: 3d"))
    assert "NAM004" in _codes(lambda s: s.replace("type: turbo_spin_echo", "type: turbo_spin_echo; encoding: thick"))
    assert _codes(lambda s: s.replace("type: turbo_spin_echo", "type: turbo_spin_echo; encoding: volume")) == set()
