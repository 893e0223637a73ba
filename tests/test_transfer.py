"""`synth transfer` end to end on tiny data, its reproducibility, its gate, and one clear error per bad real input.

The "real" sites here are stand-ins made on the fly: copies of a synthetic subject with a site-specific
intensity offset, noise and shift (one site also at a coarser in-plane spacing), with the shifted lesion
mask.  They exercise the reading, checking, resampling, training and judging, not transfer itself.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

sitk = pytest.importorskip("SimpleITK")
pytest.importorskip("torch")
pytest.importorskip("monai")

from synthspec import cli  # noqa: E402
from synthspec.errors import InputError  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "tests" / "data" / "reference_cohort.synth"
FAST = ["--steps", "4", "--patch", "16", "32", "32", "--device", "cpu"]
SITES = {"site_a": (0, 1), "site_b": (40, -1), "site_c": (-30, 2)}   # HU offset, shift in voxels


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    from synthspec import api
    from synthspec.engine.executor import run

    folder = tmp_path_factory.mktemp("transfer") / "cohort"
    run(api.plan(SPEC, device="cpu", subjects=2), folder)
    return folder


def _write(array, spacing_xyz, path: Path, dtype=np.int16) -> None:
    image = sitk.GetImageFromArray(array.astype(dtype))
    image.SetSpacing(tuple(float(s) for s in spacing_xyz))
    image.SetOrigin((-221.484375, -221.484375, -147.5))
    sitk.WriteImage(image, str(path))


def make_real(cohort: Path, folder: Path, sites=SITES, per_site: int = 2) -> Path:
    """Stand-in real sites (see the module doc) and their datalist.json."""
    from synthspec.cohort.read import load

    c = load(cohort)
    positive = next(s for s in c.subjects if s.record.get("positive"))
    image, mask = positive.image().astype(np.float32), (positive.lesions() > 0).astype(np.uint8)
    spacing_xyz = tuple(reversed(c.spacing))
    folder.mkdir(parents=True, exist_ok=True)
    entries = []
    for s, (site, (offset, shift)) in enumerate(sites.items()):
        for k in range(per_site):
            rng = np.random.default_rng(100 * s + k)
            img = np.roll(image, shift + k, axis=2) + offset + rng.normal(0, 20, image.shape)
            msk = np.roll(mask, shift + k, axis=2)
            sp = spacing_xyz
            if site == "site_c":   # a coarser in-plane grid, resampled back by `synth transfer`
                img, msk, sp = img[:, ::2, ::2], msk[:, ::2, ::2], (sp[0] * 2, sp[1] * 2, sp[2])
            _write(img, sp, folder / f"{site}_{k}.nii.gz")
            _write(msk, sp, folder / f"{site}_{k}_mask.nii.gz", np.uint8)
            entries.append({"image": f"{site}_{k}.nii.gz", "label": f"{site}_{k}_mask.nii.gz", "site": site})
    datalist = folder / "datalist.json"
    datalist.write_text(json.dumps({"real": entries}, indent=1))
    return datalist


def _numbers(result: dict) -> dict:
    kept = dict(result)
    for key in ("seconds", "train_seconds", "versions"):
        kept.pop(key, None)
    return kept


def test_transfer_end_to_end_and_reproducible(cohort, tmp_path, capsys):
    datalist = make_real(cohort, tmp_path / "real")
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    assert cli.main(["transfer", str(cohort), "--real", str(datalist), *FAST, "--out", str(first)]) == 0
    out = capsys.readouterr().out
    assert "held-out site site_a" in out and "gate: not asked" in out
    result = json.loads(first.read_text())
    assert result["job"] == "detect" and result["metric"] == "froc"
    assert [s["site"] for s in result["held_out"]] == sorted(SITES)
    for site in result["held_out"]:
        assert site["cases"] == 2 and site["site"] not in site["train_sites"]
        assert set(site["arms"]) == {"real_only", "synthetic_only", "mixed", "pretrain_finetune"}
        for arm, entry in site["arms"].items():
            for name in ("froc", "sensitivity_at_1fp", "sensitivity_at_2fp", "sensitivity_at_4fp", "dice",
                         "false_positives_per_scan"):
                metric = entry["metrics"][name]
                assert len(metric["ci95"]) == 2
                assert metric["value"] is None or 0.0 <= metric["value"] <= (50 if "false" in name else 1.0)
            assert len(entry["cases"]) == 2
            assert ("versus_real_only" in entry) == (arm != "real_only")
    assert result["protocol"]["steps"] == 4 and result["protocol"]["pretrain_steps"] == 2
    assert result["protocol"]["patch_voxels_zyx"] == [16, 32, 32]
    assert result["real_cases"] == {s: 2 for s in SITES} and result["synthetic_cases"] == 2
    assert result["gate"]["status"] == "not asked"
    assert cli.main(["transfer", str(cohort), "--real", str(datalist), *FAST, "--out", str(second)]) == 0
    assert _numbers(json.loads(second.read_text())) == _numbers(result)


def test_transfer_json_in_the_cohort_leaves_it_intact_and_reaches_the_card(cohort, tmp_path):
    from synthspec import api
    from synthspec.cohort.read import load

    copy = tmp_path / "cohort"
    shutil.copytree(cohort, copy)
    datalist = make_real(copy, tmp_path / "real", per_site=1)
    assert cli.main(["transfer", str(copy), "--real", str(datalist), *FAST, "--held-out", "site_b"]) == 0
    result = json.loads((copy / "transfer.json").read_text())
    assert [s["site"] for s in result["held_out"]] == ["site_b"]
    one = result["held_out"][0]["arms"]["mixed"]["metrics"]["froc"]
    assert one["ci95"] == [None, None] and "one case" in one["note"]   # no invented interval
    load(copy)   # cohort.json does not vouch for transfer.json: the cohort still loads
    paths = api.report(copy)
    card = json.loads(paths.card_json.read_text())
    assert card["real_confirmation"]["transfer_test"]["gate"] == "not asked"
    assert "Transfer gate" in paths.card_md.read_text()


def test_the_gate_judges_the_spec_rule():
    from synthspec.transfer.gate import judge

    def result(gains, width=0.02):
        return {"metric": "dice", "held_out": [
            {"site": s, "arms": {"mixed": {"versus_real_only": {"difference": g, "ci95": [g - width, g + width]}}}}
            for s, g in gains.items()]}

    assert judge(result({"a": 0.1}), {})["status"] == "not asked"
    assert judge(result({"a": -0.05, "b": 0.0}), {"min_gain": -0.1})["status"] == "passed"
    failed = judge(result({"a": -0.05, "b": -0.2}), {"min_gain": -0.1})
    assert failed["status"] == "failed" and "b" in failed["reason"]
    assert judge(result({"a": 0.3}), {"min_gain": 0, "held_out": ["z"]})["status"] == "failed"
    assert judge(result({"a": float("nan")}), {"min_gain": 0})["status"] == "failed"
    # non-inferiority on the interval, not the point: a tie whose interval dips below the margin fails,
    # and so does a site with no interval at all (one scan), even when the point estimates tie at 0
    wide = judge(result({"a": 0.0}, width=0.3), {"min_gain": -0.1})
    assert wide["status"] == "failed" and "-0.300" in wide["sites"][0]["reason"]
    lone = judge({"metric": "froc", "held_out": [{"site": "a", "arms": {"mixed": {"versus_real_only": {
        "difference": 0.0, "ci95": [None, None]}}}}]}, {"min_gain": -0.05})
    assert lone["status"] == "failed" and "no interval" in lone["sites"][0]["reason"]
    # without `held_out` in the spec every real site must have been held out, not just the ones a run chose
    partial = {**result({"a": 0.2}), "real_cases": {"a": 2, "b": 2}}
    judged = judge(partial, {"min_gain": 0})
    assert judged["status"] == "failed" and [s["site"] for s in judged["sites"]] == ["a", "b"]


def test_bootstrap_says_when_there_is_no_interval():
    from synthspec.transfer import metrics

    one = metrics.summarise("segment", [{"case": "x", "dice": 0.5}], 0, "s", "a")
    assert one["dice"]["value"] == 0.5 and np.isnan(one["dice"]["ci95"]).all() and "one case" in one["dice"]["note"]
    many = metrics.summarise("segment", [{"case": str(k), "dice": k / 10} for k in range(10)], 0, "s", "a")
    low, high = many["dice"]["ci95"]
    assert low < 0.45 < high
    auc = metrics.summarise("classify", [{"prob": 0.9, "class": 1}, {"prob": 0.2, "class": 1}], 0, "s", "a")
    assert np.isnan(auc["auc"]["value"]) and "one class" in auc["auc"]["note"]


def test_froc_counts_hits_and_false_positives():
    from synthspec.transfer import metrics

    mask = np.zeros((10, 20, 20), np.uint8)
    mask[4:7, 4:8, 4:8] = 1
    prob = np.zeros(mask.shape, np.float32)
    prob[5, 5, 5] = 0.9          # on the lesion
    prob[2, 15, 15] = 0.8        # a false positive
    case = metrics.lesion_candidates(prob, mask, (1.0, 1.0, 1.0))
    assert case["lesions"] == 1 and sorted(case["candidates"]) == [(pytest.approx(0.8), -1), (pytest.approx(0.9), 0)]
    assert metrics.site_metrics("detect", [dict(case, dice=0.0)])["sensitivity_at_1fp"] == 1.0
    everywhere = np.full(mask.shape, 0.7, np.float32)   # a map that is all lesion finds nothing
    everywhere[0, 0, 0] = 0.9
    assert all(hit < 0 for _, hit in metrics.lesion_candidates(everywhere, mask, (1.0, 1.0, 1.0))["candidates"])


# ---- bad real inputs: one clear error each -----------------------------------------------------------

def _bad(cohort, tmp_path, capsys, edit, *extra: str) -> str:
    datalist = make_real(cohort, tmp_path / "real", per_site=1)
    entries = json.loads(datalist.read_text())["real"]
    target = edit(entries, tmp_path / "real")
    datalist.write_text(json.dumps({"real": entries}))
    code = cli.main(["transfer", str(cohort), "--real", str(datalist), *FAST, *extra, "--out", str(tmp_path / "t.json")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("synth transfer: error: "), err
    assert not (tmp_path / "t.json").exists()
    if target is not None:
        assert str(target) in err[0]
    return err[0]


def _missing_image(entries, folder):
    (folder / entries[0]["image"]).unlink()
    return folder / entries[0]["image"]


def _geometry(entries, folder):
    path = folder / entries[1]["label"]
    label = sitk.ReadImage(str(path))
    label.SetSpacing((1.0, 1.0, 1.0))
    sitk.WriteImage(label, str(path))
    return path


def _value(entries, folder, value=7):
    path = folder / entries[2]["label"]
    label = sitk.ReadImage(str(path))
    array = sitk.GetArrayFromImage(label)
    array = array.astype(np.int16)
    array[0, 0, 0] = value
    out = sitk.GetImageFromArray(array)
    out.CopyInformation(label)
    sitk.WriteImage(out, str(path))
    return path


def _negative(entries, folder):
    return _value(entries, folder, -1)


def _no_site(entries, folder):
    entries[1]["site"] = ""
    return None


def _one_site(entries, folder):
    for e in entries:
        e["site"] = "only"
    return None


def _fifo(entries, folder):
    path = folder / "fifo.nii.gz"
    os.mkfifo(path)
    entries[0]["image"] = path.name
    return path


def _dev_zero(entries, folder):
    path = folder / "zero.nii.gz"
    path.symlink_to("/dev/zero")
    entries[0]["image"] = path.name
    return path


@pytest.mark.parametrize("edit, words", [
    (_missing_image, "is missing"),
    (_geometry, "does not match its image"),
    (_value, "label value(s) 7"),
    (_negative, "label value(s) -1"),
    (_no_site, "names no site"),
    (_one_site, "at least 2"),
    (_fifo, "special file"),
    (_dev_zero, "symbolic link"),
], ids=lambda v: getattr(v, "__name__", v))
def test_each_bad_real_input_is_one_line_naming_the_file(cohort, tmp_path, capsys, edit, words):
    extra = ("--label-values", "0,1") if edit is _value else ()
    assert words in _bad(cohort, tmp_path, capsys, edit, *extra)


@pytest.mark.parametrize("extra, words", [
    ((), "give --real DATALIST"),                                  # no --real and no transfer block
    (("--channel", "t2"), "has no such image channel"),
    (("--target", "tumour_core"), "has no tumour_compartments mask"),
])
def test_what_the_real_data_and_the_synthetic_side_are_is_checked_first(cohort, tmp_path, capsys, extra, words):
    datalist = make_real(cohort, tmp_path / "real", per_site=1)
    real = () if not extra else ("--real", str(datalist))
    assert cli.main(["transfer", str(cohort), *real, *FAST, *extra, "--out", str(tmp_path / "t.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0] and not (tmp_path / "t.json").exists()


def test_the_built_in_brain_mris_are_two_sites_with_their_lesions():
    from synthspec.transfer.inputs import load_real
    from synthspec.transfer.real import RealDataError, builtin_brain_mri

    try:
        datalist = builtin_brain_mri()
    except RealDataError as error:
        pytest.skip(f"the pyradiomics sdist cannot be fetched here: {error}")
    cases = load_real(datalist, job="segment")
    assert sorted(c.site for c in cases) == ["pyradiomics-brain1", "pyradiomics-brain2"]
    for case in cases:
        label = sitk.ReadImage(str(case.label))
        volume_ml = float(sitk.GetArrayFromImage(label).sum()) * np.prod(label.GetSpacing()) / 1000.0
        assert volume_ml == pytest.approx(16.4 if case.case_id.endswith("brain1") else 1.8, rel=0.1)


def test_an_unusable_out_is_refused_before_any_training(cohort, tmp_path, capsys):
    datalist = make_real(cohort, tmp_path / "real", per_site=1)
    target = tmp_path / "nowhere" / "t.json"
    assert cli.main(["transfer", str(cohort), "--real", str(datalist), *FAST, "--out", str(target)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(target) in err[0] and "does not exist" in err[0]


def test_a_csv_datalist_is_read(cohort, tmp_path):
    from synthspec.transfer.inputs import load_real

    datalist = make_real(cohort, tmp_path / "real", per_site=1)
    entries = json.loads(datalist.read_text())["real"]
    csv = tmp_path / "real" / "real.csv"
    csv.write_text("image,label,site\n" + "".join(f"{e['image']},{e['label']},{e['site']}\n" for e in entries))
    subject = next(p for p in sorted((cohort / "subjects").iterdir()) if (p / "dicom").is_dir())
    shutil.copytree(subject / "dicom", tmp_path / "real" / "series")            # a DICOM series folder as image
    shutil.copyfile(subject / "lesions.nii.gz", tmp_path / "real" / "series_mask.nii.gz")
    csv.write_text(csv.read_text() + "series,series_mask.nii.gz,site_d\n")
    cases = load_real(csv, job="detect")
    assert [c.site for c in cases] == [*sorted(SITES), "site_d"] and all(c.image.is_file() for c in cases[:3])
    from synthspec.transfer.data import real_volume

    volume = real_volume(cases[-1], (5.0, 7.03125, 7.03125))
    assert volume.image.shape == volume.mask.shape == (60, 64, 64) and 0 <= volume.image.min() <= volume.image.max() <= 1
    with pytest.raises(InputError, match="no such real datalist"):
        load_real(tmp_path / "absent.json")


def test_the_spec_gate_fails_and_the_claims_stay_refused(tmp_path, capsys):
    """A spec whose transfer block asks more than any model can give (mixed's Dice beats real only's by 1):
    the gate fails (exit 1), and the card keeps the claim that needs real confirmation refused."""
    from synthspec import api
    from synthspec.engine.executor import run

    text = SPEC.read_text(encoding="utf-8")
    block = ('  transfer {\n    data: "real/datalist.json"\n    held_out: site_c\n    metric: dice\n'
             '    model: unet\n    min_gain: 100%\n  }\n\n  governance {\n    claims: robustness_claim\n'
             '    real_confirmation: required\n')
    assert "  governance {\n" in text
    spec = tmp_path / "gated.synth"
    spec.write_text(text.replace("  governance {\n", block, 1))
    (tmp_path / ".git").mkdir()   # the configuration search stops here
    folder = tmp_path / "cohort"
    run(api.plan(spec, device="cpu", subjects=2), folder)
    card = json.loads(api.report(folder).card_json.read_text())
    (claim,) = card["claims"]
    assert claim["refused"] and "gate: not run" in claim["status"]
    datalist = make_real(folder, tmp_path / "real", per_site=1)
    assert cli.main(["transfer", str(folder), "--real", str(datalist), *FAST]) == 1
    assert "gate: failed" in capsys.readouterr().out
    result = json.loads((folder / "transfer.json").read_text())
    assert [s["site"] for s in result["held_out"]] == ["site_c"]   # the spec's held_out
    assert result["gate"]["status"] == "failed" and result["gate"]["min_gain"] == 1.0
    paths = api.report(folder)
    card = json.loads(paths.card_json.read_text())
    (claim,) = card["claims"]
    assert claim["refused"] and "gate: failed" in claim["status"]
    assert card["real_confirmation"]["transfer_test"]["gate"] == "failed"
    assert "Transfer gate (`synth transfer`): failed" in paths.card_md.read_text()
    assert cli.main(["verify", str(folder), "--sample", "1"]) == 0   # transfer.json leaves the cohort intact
    # without --real, the spec's transfer.data (relative to the spec's folder) is the real data
    assert cli.main(["transfer", str(folder), *FAST, "--out", str(tmp_path / "default.json")]) == 1
    assert json.loads((tmp_path / "default.json").read_text())["real_datalist"] == "datalist.json"


@pytest.mark.parametrize("job, metric", [("classify", "auc"), ("segment", "dice")])
def test_the_other_jobs_run_every_arm(job, metric):
    """classify (a small DenseNet121 on whole scans) and segment (the UNet) on tiny stand-in volumes."""
    from synthspec.transfer import protocol
    from synthspec.transfer.data import Volume

    rng = np.random.default_rng(0)

    def volume(name, site, positive):
        image = rng.random((12, 24, 24)).astype(np.float32) * 0.2
        if positive:
            image[4:8, 8:16, 8:16] += 0.7
        mask = (image > 0.5).astype(np.uint8) if job == "segment" else None
        return Volume(name, site, image, mask, positive if job == "classify" else None)

    real = [volume(f"{s}{k}", s, k % 2) for s in ("a", "b") for k in range(2)]
    synthetic = [volume(f"syn{k}", "synthetic", k % 2) for k in range(2)]
    result = protocol.run_protocol(job, real, synthetic, spacing=(1, 1, 1), patch=(8, 16, 16), steps=2, batch_size=2,
                                   seed=1, device="cpu", held_out=["b"], model=None, metric=metric)
    (site,) = result["held_out"]
    assert site["train_sites"] == ["a"] and set(site["arms"]) == set(protocol.ARMS)
    for arm, entry in site["arms"].items():
        assert metric in entry["metrics"] and len(entry["cases"]) == 2
        if arm != "real_only":
            assert entry["versus_real_only"]["metric"] == metric
