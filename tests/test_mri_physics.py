"""MR simulator against closed forms: signal equations, contrast order, noise statistics, k-space artefacts,
diffusion, gadolinium, determinism and co-registration, and the refusals of the planner.

Phantoms are tiny (a few slices of 64-128 px), so the file runs in seconds on a 2-core CPU.
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from synthspec.families.modality.mri import MODALITY, MRSettings, protocol
from synthspec.families.modality.mri import signal as sig
from synthspec.families.modality.mri.acquire import acquire_subject
from synthspec.families.modality.mri.diffusion import acquire_diffusion
from synthspec.families.modality.mri.kspace import acquire_magnitude, bias_field

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def compiled():
    from synthspec import api

    return {name: api.compile(ROOT / "examples" / f"{name}.synth")
            for name in ("stroke_mri_territory", "brain_tumour_mri_contrast")}


def _table(compiled, tesla):
    return protocol.tissue_table(compiled["stroke_mri_territory"].program.registry.items["tissue"], tesla)


def _mid(table, tissue):
    return {k: 0.5 * (v[0] + v[1]) for k, v in table[tissue].items()}


# ---- signal equations (PHYSICS.md, MRI relaxation), hand-computed values ----

def test_signal_equations_match_hand_values():
    # spin echo: PD (1 - e^-TR/T1) e^-TE/T2 with PD 0.7, T1 850, T2 75, TR 600, TE 12
    assert sig.spin_echo(0.7, 850.0, 75.0, 600.0, 12.0) == pytest.approx(0.302025, rel=1e-5)
    # FLAIR: PD |1 - 2 e^-TI/T1 + e^-TR/T1| e^-TE/T2, CSF T1 4000 T2 2000, TR 9000 TE 120 TI 2500
    assert sig.inversion_recovery(1.0, 4000.0, 2000.0, 9000.0, 120.0, 2500.0) == pytest.approx(0.0328453, rel=1e-5)
    # spoiled GRE: PD sin a (1 - E1) / (1 - cos a E1) e^-TE/T2*, a 30 deg, TR 20, TE 5, T1 850, T2* 50
    assert sig.spoiled_gradient_echo(0.7, 850.0, 50.0, 20.0, 5.0, 30.0) == pytest.approx(0.0477869, rel=1e-5)
    # diffusion: S0 e^-b ADC with ADC in um2/ms (1e-3 mm2/s)
    assert sig.diffusion(1.0, 0.7, 1000.0) == pytest.approx(math.exp(-0.7), rel=1e-9)
    # the Ernst angle maximises the spoiled GRE signal: cos a = e^-TR/T1
    ernst = math.degrees(math.acos(math.exp(-20.0 / 850.0)))
    angles = np.linspace(1, 40, 391)
    best = angles[np.argmax(sig.spoiled_gradient_echo(1.0, 850.0, 50.0, 20.0, 0.0, angles))]
    assert best == pytest.approx(ernst, abs=0.2)


def test_flair_nulls_csf_near_t1_ln2():
    t1 = 4000.0
    ti = np.linspace(2000.0, 3500.0, 1501)
    s = sig.inversion_recovery(1.0, t1, 2000.0, 1e7, 120.0, ti)   # TR far longer than T1
    assert ti[np.argmin(s)] == pytest.approx(t1 * math.log(2), rel=0.002)
    # a finite TR moves the null earlier: 2 e^-TI/T1 = 1 + e^-TR/T1
    s = sig.inversion_recovery(1.0, t1, 2000.0, 9000.0, 120.0, ti)
    assert ti[np.argmin(s)] == pytest.approx(t1 * math.log(2 / (1 + math.exp(-9000 / t1))), rel=0.002)


@pytest.mark.parametrize("tesla", [1.5, 3.0])
def test_contrast_order_from_stdlib_values(compiled, tesla):
    table = _table(compiled, tesla)
    wm, gm, csf = (_mid(table, t) for t in ("white_matter", "grey_matter", "csf"))

    def s(kind, p, **k):
        return sig.structural(kind, p["pd"], p["t1_ms"], p["t2_ms"], p["t2s_ms"], **k)

    t1w = {k: s("spin_echo", p, tr=600.0, te=12.0) for k, p in (("wm", wm), ("gm", gm), ("csf", csf))}
    assert t1w["wm"] > t1w["gm"] > t1w["csf"]
    t2w = {k: s("turbo_spin_echo", p, tr=4000.0, te=100.0) for k, p in (("wm", wm), ("gm", gm), ("csf", csf))}
    assert t2w["csf"] > t2w["gm"] > t2w["wm"]
    flair = {k: s("flair", p, tr=9000.0, te=120.0, ti=2500.0) for k, p in (("wm", wm), ("gm", gm), ("csf", csf))}
    assert flair["csf"] < 0.3 * flair["wm"] and flair["gm"] > flair["wm"]
    mprage = {k: s("inversion_prepared_gradient_echo", p, tr=2300.0, te=3.0, ti=900.0, flip_deg=9.0)
              for k, p in (("wm", wm), ("gm", gm), ("csf", csf))}
    assert mprage["wm"] > mprage["gm"] > mprage["csf"]
    # T2* rule: shorter than T2, shorter at 3 T than at 1.5 T
    assert wm["t2s_ms"] < wm["t2_ms"]
    assert _mid(_table(compiled, 3.0), "white_matter")["t2s_ms"] < _mid(_table(compiled, 1.5), "white_matter")["t2s_ms"]


# ---- k-space: noise, truncation, partial Fourier, motion ----

def test_background_is_rayleigh():
    g = torch.Generator().manual_seed(5)
    image = acquire_magnitude(torch.zeros(8, 64, 64), sigma=2.0, generator=g).numpy().astype(np.float64)
    assert image.mean() == pytest.approx(2.0 * math.sqrt(math.pi / 2), rel=0.02)
    assert image.std() == pytest.approx(2.0 * math.sqrt(2 - math.pi / 2), rel=0.03)


def test_signal_is_rician():
    g = torch.Generator().manual_seed(6)
    image = acquire_magnitude(torch.full((8, 64, 64), 20.0), sigma=1.0, generator=g).numpy().astype(np.float64)
    # high SNR: mean sqrt(A^2 + sigma^2) to first order, std sigma
    assert image.mean() == pytest.approx(math.sqrt(400 + 1), rel=0.005)
    assert image.std() == pytest.approx(1.0, rel=0.05)


def _step(n=128):
    s = torch.zeros(1, 8, n)
    s[..., n // 4: 3 * n // 4] = 1.0       # a slab with two sharp edges along the phase axis (x)
    return s


def test_gibbs_overshoot_with_truncation_only():
    full = acquire_magnitude(_step(), sigma=0.0, phase_axis=2, phase_resolution=1.0)
    assert float(full.max()) == pytest.approx(1.0, abs=1e-4)
    cut = acquire_magnitude(_step(), sigma=0.0, phase_axis=2, phase_resolution=0.5)
    overshoot = float(cut.max()) - 1.0
    assert 0.06 < overshoot < 0.12          # Gibbs: ~9 % of the jump
    # the readout direction keeps its full matrix: no ringing along y
    along_y = acquire_magnitude(_step().transpose(1, 2).contiguous(), sigma=0.0, phase_axis=2, phase_resolution=0.5)
    assert float(along_y.max()) == pytest.approx(1.0, abs=1e-4)


def _square(n=64):
    s = torch.zeros(2, n, n)
    s[:, n // 2 - 8: n // 2 + 8, n // 2 - 8: n // 2 + 8] = 1.0
    return s


def test_motion_ghosts_along_phase_only():
    n = 64
    rows_out = np.r_[0:16, 48:64]
    inner = slice(24, 40)

    def leaks(image):
        image = image.numpy()
        along_phase = np.abs(image[:, inner][:, :, rows_out]).mean()     # same rows, columns off the object
        along_readout = np.abs(image[:, rows_out][:, :, inner]).mean()   # same columns, rows off the object
        return along_phase, along_readout

    still = acquire_magnitude(_square(n), sigma=0.0, phase_axis=2)
    assert max(leaks(still)) < 1e-5
    motion = {"start": 20, "stop": 40, "shift_px": (0.0, 3.0)}
    moved = acquire_magnitude(_square(n), sigma=0.0, phase_axis=2, motion=motion)
    phase, readout = leaks(moved)
    assert phase > 0.02 and phase > 20 * readout
    # phase encoding along y moves the ghosts to y
    moved_y = acquire_magnitude(_square(n), sigma=0.0, phase_axis=1, motion=motion)
    phase, readout = leaks(moved_y)
    assert readout > 20 * phase


def test_partial_fourier_keeps_the_image_close():
    yy, xx = torch.meshgrid(torch.arange(64.0), torch.arange(64.0), indexing="ij")
    blob = torch.exp(-((yy - 32) ** 2 + (xx - 30) ** 2) / (2 * 8.0**2))[None].repeat(2, 1, 1)
    full = acquire_magnitude(blob, sigma=0.0)
    pf = acquire_magnitude(blob, sigma=0.0, partial_fourier=0.75)
    rel = float((pf - full).norm() / full.norm())
    assert rel < 0.05
    assert float((pf - full).abs().max()) > 0      # it does leave lines out


def test_bias_field_is_smooth_and_bounded():
    g = torch.Generator().manual_seed(2)
    b = bias_field((8, 32, 32), 0.25, g)
    assert float(b.min()) >= 0.75 - 1e-6 and float(b.max()) <= 1.25 + 1e-6
    assert float((b[:, 1:] - b[:, :-1]).abs().max()) < 0.05
    assert torch.equal(bias_field((8, 32, 32), 0.25, None), torch.ones(8, 32, 32))


# ---- diffusion ----

def test_adc_of_a_uniform_phantom():
    adc_true = 0.8
    s0 = torch.zeros(4, 64, 64)
    s0[:, 8:56, 8:56] = 1.0
    g = torch.Generator().manual_seed(9)
    sigma = 0.005

    def acquire(signal):
        return acquire_magnitude(torch.as_tensor(signal, dtype=torch.float32), sigma=sigma, generator=g)

    images = acquire_diffusion(lambda b: sig.diffusion(s0.numpy(), adc_true, b), [0.0, 1000.0], acquire, sigma)
    inside = images["adc"][:, 16:48, 16:48]
    assert float(inside.mean()) == pytest.approx(adc_true, rel=0.02)
    assert float(images["adc"][:, :4, :4].abs().max()) == 0.0          # noise floor: no ADC in the background
    assert float(images["b1000"][:, 16:48, 16:48].mean()) == pytest.approx(math.exp(-0.8), rel=0.02)


# ---- the examination: gadolinium, determinism, co-registration ----

def _settings(contrast=True, motion=0.0):
    tissue = {"pd": (0.7, 0.7), "t1_ms": (1000.0, 1000.0), "t2_ms": (80.0, 80.0), "t2s_ms": (50.0, 50.0),
              "adc_um2_ms": (0.7, 0.7)}
    seqs = [{"name": "t1", "type": "spin_echo", "tr_ms": 600.0, "te_ms": 12.0},
            {"name": "t1_post", "type": "spin_echo", "tr_ms": 600.0, "te_ms": 12.0, "post_contrast": True},
            {"name": "flair", "type": "flair", "tr_ms": 9000.0, "te_ms": 120.0, "ti_ms": 2500.0},
            {"name": "dwi", "type": "diffusion", "tr_ms": 5000.0, "te_ms": 90.0, "b_values": [0.0, 1000.0],
             "partial_fourier": 0.75}]
    data = {"field_strength_t": 3.0, "slice_thickness_mm": 2.0, "pixel_mm": 1.0, "sequences": seqs,
            "tissues": {"white_matter": tissue},
            "scanners": {"mr.test": {"field_strength_t": 3.0, "snr": 50.0, "coil_bias": 0.2}},
            "contrast": {"agent": "gadobutrol", "r1_per_mM_s": 5.0, "r2_per_mM_s": 6.0, "dose_mmol_kg": 0.1,
                         "plasma_mM": 0.6, "uptake": {}} if contrast else None}
    return MRSettings.model_validate(data)


def _phantom(gd: bool = True):
    shape = (3, 48, 48)
    inside = np.zeros(shape, bool)
    inside[:, 8:40, 8:40] = True
    maps = {"pd": np.where(inside, 0.7, 0.0).astype(np.float32), "t1_ms": np.full(shape, 1000.0, np.float32),
            "t2_ms": np.full(shape, 80.0, np.float32), "t2s_ms": np.full(shape, 50.0, np.float32),
            "adc_um2_ms": np.full(shape, 0.7, np.float32), "gd_mM": np.zeros(shape, np.float32)}
    if gd:
        maps["gd_mM"][:, 8:40, 24:40] = 0.2       # the right half takes up the agent
    return maps


def test_gadolinium_shortens_t1_only_after_contrast():
    s = _settings()
    out = acquire_subject(_phantom(), s, {"motion_mm": 0.0}, "mr.test", None, "cpu")
    left, right = (slice(None), slice(12, 36), slice(12, 20)), (slice(None), slice(12, 36), slice(28, 36))
    pre, post = out["t1"], out["t1_post"]
    assert float(pre[right].mean()) == pytest.approx(float(pre[left].mean()), rel=1e-3)
    # 1/T1 = 1/1000 + 5 * 0.2e-3 per ms -> T1 500 ms
    expect = sig.spin_echo(0.7, 500.0, 1.0 / (1 / 80 + 6.0 * 0.2e-3), 600.0, 12.0) / sig.spin_echo(
        0.7, 1000.0, 80.0, 600.0, 12.0)
    assert float(post[right].mean() / post[left].mean()) == pytest.approx(expect, rel=0.01)
    assert float(out["flair"][right].mean()) == pytest.approx(float(out["flair"][left].mean()), rel=1e-3)


def test_same_subject_twice_gives_identical_bytes_and_coregistered_sequences():
    s = _settings()
    runs = []
    for _ in range(2):
        g = torch.Generator().manual_seed(1234)
        runs.append(acquire_subject(_phantom(), s, {"motion_mm": 1.5}, "mr.test", g, "cpu"))
    assert list(runs[0]) == ["t1", "t1_post", "flair", "dwi_b0", "dwi_b1000", "dwi_adc"]
    for name in runs[0]:
        assert MODALITY.store(runs[0][name]).tobytes() == MODALITY.store(runs[1][name]).tobytes()
    other = acquire_subject(_phantom(), s, {"motion_mm": 1.5}, "mr.test", torch.Generator().manual_seed(99),
                            "cpu")
    assert not np.array_equal(other["t1"], runs[0]["t1"])
    # co-registered: every noiseless sequence puts the object in the same place
    clean = acquire_subject(_phantom(gd=False), s, {"motion_mm": 0.0}, "mr.test", None, "cpu")
    centroids = set()
    for name, image in clean.items():
        assert image.shape == (3, 48, 48)
        if name.endswith("adc"):
            continue
        w = image.astype(np.float64)
        centroids.add(tuple(round(float((w.sum(axis=a) * np.arange(48)).sum() / w.sum()), 2) for a in ((0, 2), (0, 1))))
    assert len(centroids) == 1


def test_channels_and_store():
    s = _settings().model_dump(mode="json")
    names = [c.name for c in MODALITY.channels_for(s)]
    assert names == ["t1", "t1_post", "flair", "dwi_b0", "dwi_b1000", "dwi_adc"]
    assert MODALITY.channels_for(s)[-1].unit == "1e-6 mm2/s"
    stored = MODALITY.store(np.array([-5.0, 1000.4, 1e6]))
    assert stored.dtype == np.uint16 and stored.tolist() == [0, 1000, 65535]


# ---- lowering: defaults and refusals ----

def _lower(compiled, name, **changes):
    result = compiled[name]
    cohort = result.cohort
    proto = cohort.protocol
    if changes:
        proto = proto.model_copy(deep=True)
        for seq_name, fields in changes.items():
            if seq_name == "protocol":
                proto = proto.model_copy(update=fields)
                continue
            i = next(i for i, s in enumerate(proto.sequences) if s.name == seq_name)
            proto.sequences[i] = proto.sequences[i].model_copy(update=fields)
    anatomy = type("A", (), {"scan_length_mm": 175.0})()
    shape, spacing = MODALITY.grid(proto, None, anatomy)
    return MODALITY.lower(proto, shape, spacing, {}, [], scanners={n: None for n in cohort.scanners.names},
                          stdlib=result.program.registry)


def test_lower_decides_every_default(compiled):
    settings, notes = _lower(compiled, "brain_tumour_mri_contrast")
    s = MRSettings.model_validate(settings)
    assert s.field_strength_t == 3.0 and s.contrast is not None and s.contrast.r1_per_mM_s == 5.0
    assert [q.post_contrast for q in s.sequences] == [False, True, False, False]
    assert s.tissues["white_matter"]["t1_ms"] == (1050.0, 1100.0)
    assert s.scanners["mr.research_3t"].snr == 50.0 and s.scanners["mr.research_3t"].coil_bias == 0.25
    assert s.contrast.uptake["necrosis"] == (0.0, 0.0) and s.contrast.uptake["tumour_enhancing"][0] > 0.2
    wm = _mid({k: {p: list(v) for p, v in d.items()} for k, d in s.tissues.items()}, "white_matter")
    for q in s.sequences:       # the stored scale puts mid-range white matter at 1000
        assert q.scale * sig.sequence_signal({**q.model_dump(), "post_contrast": False}, {**wm, "gd_mM": 0.0}) == \
            pytest.approx(1000.0, rel=1e-3)
    settings, _ = _lower(compiled, "stroke_mri_territory")
    assert [c.name for c in MODALITY.channels_for(settings)] == ["dwi_b0", "dwi_b1000", "dwi_adc", "flair"]


@pytest.mark.parametrize("name, changes, words", [
    ("stroke_mri_territory", {"dwi": {"b_values": [0.0, 2500.0]}}, "over the 2000 s/mm2"),
    ("stroke_mri_territory", {"flair": {"ti": 9000.0}}, "not shorter than tr"),
    ("stroke_mri_territory", {"protocol": {"field_strength": 3.0}}, "cannot run on mr.clinical_1p5t"),
    ("stroke_mri_territory", {"flair": {"post_contrast": True}}, "gives no contrast agent"),
    ("stroke_mri_territory", {"dwi": {"b_values": [1000.0]}}, "needs b = 0"),
    ("stroke_mri_territory", {"flair": {"type": "echo_planar_magic"}}, "not one the MR modality simulates"),
    ("brain_tumour_mri_contrast", {"t1": {"tr": 1200.0, "ti": 500.0}}, "does not fit between the inversions"),
    ("brain_tumour_mri_contrast", {"t2": {"type": "spin_echo", "encoding": "volume"}}, "acquired slice by slice"),
    ("brain_tumour_mri_contrast", {"protocol": {"slice_gap": 1.0}}, "3-D encoded, a contiguous slab"),
])
def test_lower_refuses_impossible_requests(compiled, name, changes, words):
    with pytest.raises(ValueError, match=words) as error:
        _lower(compiled, name, **changes)
    message = str(error.value)
    assert "\n" not in message and ".synth:" in message


def test_importing_the_modality_loads_no_numpy_or_torch():
    code = ("import sys, synthspec.families.modality.mri; "
            "print(','.join(m for m in ('numpy', 'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == ""
