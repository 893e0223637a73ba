"""Cohort card and HTML report: true counts, governance stated, hostile text escaped, and a real browser renders it."""

from __future__ import annotations

import base64
import datetime
import importlib.util
import json
import re
import shutil
import struct
import subprocess
from html import unescape
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from synthspec.cohort.read import load
from synthspec.compiler.check import compile_file
from synthspec.plan.lower import lower
from synthspec.report import ReportError, cohort_card, load_validation, write_card, write_report
from synthspec.report.card import governance_section, size_class, _vocabulary
from synthspec.report.html import render_report, thumbnail
from synthspec.report.inputs import DisplayWindow, display_windows, lung_labels
from synthspec.report.pixels import apply_window, outline, png_bytes
from synthspec.report.screenshot import ScreenshotError, find_chromium, page_height, screenshot
from synthspec.engine.executor import run
from synthspec.validate.results import CheckResult, ValidationReport

from test_run import tiny_spec

HOSTILE = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def cohort_dir(tmp_path_factory) -> Path:
    """Four tiny subjects whose spec carries hostile text in its title and approval."""
    tmp = tmp_path_factory.mktemp("report")
    spec = tiny_spec(tmp, subjects=4)
    text = spec.read_text(encoding="utf-8")
    text = text.replace('title: "Small solid lung nodules on low-dose chest CT"', f'title: "{HOSTILE} & nodules"')
    text = text.replace('approved_by: "Imaging AI governance board"',
                        'approved_by: "<img src=x onerror=alert(2)> board"\n    prohibit: diagnostic_use')
    text = text.replace("prevalence: 60%", "prevalence: 40%")
    spec.write_text(text, encoding="utf-8")
    result = compile_file(spec)
    assert not [d for d in result.visible if d.severity.value == "error"], result.visible
    out = tmp / "cohort"
    run(lower(result, device="cpu"), out)
    return out


@pytest.fixture(scope="module")
def validation(cohort_dir) -> ValidationReport:
    info = json.loads((cohort_dir / "cohort.json").read_text())
    return ValidationReport(cohort=str(cohort_dir), synthspec_version=info["synthspec_version"],
                            content_hash=info["content_hash"], checks=[
        CheckResult(family="anatomy", name="lung_volume_in_range", passed=True, value=4.1, threshold=2.0),
        CheckResult(family="realism", name="wasserstein_lung", passed=False, value=61.5, threshold=40.0,
                    reason=f"lung HU distribution too far from reference {HOSTILE}"),
        CheckResult(family="realism", name="noise_sd", passed=True, value=18.0, threshold=30.0),
        CheckResult(family="shortcut", name="counterfactual_twins", passed=True, value=0.02, threshold=0.05),
    ])


def manifest(cohort_dir: Path) -> list[dict]:
    return json.loads((cohort_dir / "manifest.json").read_text())["rows"]


# ---------------------------------------------------------------- card

def test_card_counts_match_the_manifest(cohort_dir):
    rows = manifest(cohort_dir)
    card = cohort_card(cohort_dir, None)
    comp = card["composition"]
    lesions = [l for r in rows for l in r["lesions"]]
    assert card["synthetic"] is True and "SYNTHETIC" in card["notice"]
    assert comp["subjects"] == len(rows) == 4
    assert comp["sex"] == dict(Counter(r["sex"] for r in rows))
    assert comp["positives"] == sum(r["positive"] for r in rows)
    assert comp["negatives"] == sum(not r["positive"] for r in rows)
    assert comp["lesions"]["total"] == len(lesions) == sum(r["n_lesions"] for r in rows)
    assert comp["lesions"]["by_subtype"] == dict(Counter(l["subtype"] for l in lesions))
    assert comp["lesions"]["by_location"] == dict(Counter(l["location"] for l in lesions))
    assert sum(comp["lesions"]["by_size_class"].values()) == len(lesions)
    assert {k: v["count"] for k, v in comp["scanners"].items() if v["count"]} == dict(Counter(r["scanner"] for r in rows))
    assert {k for k, v in comp["scanners"].items() if v["planned_fraction"]} == {
        "ct.wide_detector_256", "ct.midrange_64", "ct.budget_16"}  # planned scanners listed even when none drawn
    assert comp["age_y"]["min"] == round(min(r["age_y"] for r in rows), 2)
    assert comp["age_y"]["max"] == round(max(r["age_y"] for r in rows), 2)
    assert comp["bmi"]["n"] == 4 and sum(comp["bmi_classes"].values()) == 4


def test_fleischner_size_classes():
    assert [size_class(d) for d in (4.0, 5.99, 6.0, 8.0, 8.01, 20.0)] == [
        "<6 mm", "<6 mm", "6-8 mm", "6-8 mm", ">8 mm", ">8 mm"]


def test_card_states_governance_and_provenance(cohort_dir):
    card = cohort_card(cohort_dir, None, today=datetime.date(2026, 1, 1))
    uses = {u["purpose"]: u["meaning"] for u in card["intended_uses"]}
    assert set(uses) == {"rare_case_gap_filling", "brittleness_testing"} and all(uses.values())
    prohibited = {p["use"]: p for p in card["prohibited_uses"]}
    for always in ("final_performance_claim_without_real_confirmation", "safety_critical_without_real_validation",
                   "replacing_real_data"):
        assert always in prohibited and prohibited[always]["source"].startswith("always")
    assert "also named by the spec" in prohibited["diagnostic_use"]["source"]
    assert card["approval"]["expires"] == "2027-12-31" and card["approval"]["expired"] is False
    assert cohort_card(cohort_dir, None, today=datetime.date(2030, 1, 1))["approval"]["expired"] is True
    info = json.loads((cohort_dir / "cohort.json").read_text())
    prov = card["provenance"]
    assert prov["content_hash"] == info["content_hash"] and prov["spec_hash"] == info["spec_hash"]
    assert prov["plan_hash"] == info["plan_hash"] and prov["synthspec_version"] == info["synthspec_version"]
    assert prov["seeding"] and prov["cohort_seed"] == 42
    assert card["validation"]["status"] == "not run"


def test_claims_needing_real_confirmation():
    vocab = _vocabulary()
    model = {"governance": {"purpose": ["brittleness_testing"], "claims": ["performance_claim", "clinical_deployment"],
                            "prohibit": ["vendor_benchmarking"], "real_confirmation": "required",
                            "expires": "2027-01-01"},
             "transfer": {"data": "real/datalist.json", "held_out": ["site_c"]}}
    g = governance_section(model, vocab, datetime.date(2026, 6, 1))
    claims = {c["claim"]: c for c in g["claims"]}
    assert claims["performance_claim"]["needs_real_confirmation"] and claims["performance_claim"]["status"].startswith("required")
    assert claims["clinical_deployment"]["safety_critical"] and "blocked" in claims["clinical_deployment"]["status"]
    assert g["real_confirmation"] == {"declared": "required", "required": True, "done": False,
                                      "transfer_test": {"data": True, "held_out_sites": ["site_c"], "gate": "not run"}}
    assert claims["performance_claim"]["refused"] and "refused until `synth transfer`" in claims["performance_claim"]["status"]
    passed = governance_section(model, vocab, datetime.date(2026, 6, 1),
                                {"gate": {"status": "passed", "rule": "r", "reason": "ok"}, "metric": "dice", "held_out": []})
    assert not {c["claim"]: c for c in passed["claims"]}["performance_claim"]["refused"]
    assert {"use": "vendor_benchmarking", "meaning": "excluded by this cohort's spec", "source": "spec"} in g["prohibited_uses"]


def test_card_validation_summary(cohort_dir, validation):
    v = cohort_card(cohort_dir, validation)["validation"]
    assert v["status"] == "fail" and v["matches_cohort"] is True
    assert v["families"]["anatomy"]["status"] == "pass"
    assert v["families"]["realism"] == {**v["families"]["realism"], "status": "fail", "passed": 1, "failed": 1}
    assert v["families"]["shortcut"]["status"] == "pass"
    other = validation.model_copy(update={"content_hash": "0" * 64})
    assert cohort_card(cohort_dir, other)["validation"]["matches_cohort"] is False


def test_card_files_are_written_and_readable(cohort_dir, validation, tmp_path):
    md_path, json_path = write_card(cohort_dir, validation, out_dir=tmp_path)
    card = json.loads(json_path.read_text(encoding="utf-8"))
    assert card["composition"]["subjects"] == 4
    md = md_path.read_text(encoding="utf-8")
    assert "SYNTHETIC" in md.splitlines()[0]
    assert "replacing\\_real\\_data" in md and "Fleischner" in md
    assert HOSTILE not in md and "&lt;script&gt;" in md  # hostile text is inert in Markdown too
    assert "<img" not in md
    assert card["provenance"]["content_hash"] in md
    # the nodules' real shapes are data the cohort was built from: named with their licence and citation
    lidc = [p for p in card["priors"] if p["name"].startswith("LIDC-IDRI")]
    assert len(lidc) == 1 and "CC BY 3.0" in lidc[0]["licence"] and "Armato" in lidc[0]["cite"]
    assert "Real data the anatomy and lesions were built from" in md and "LIDC-IDRI" in md


def test_card_writes_are_atomic(cohort_dir, tmp_path, monkeypatch):
    import synthspec.cohort.atomic as atomic

    (tmp_path / "cohort_card.json").write_text("OLD", encoding="utf-8")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(atomic.os, "replace", broken_replace)
    with pytest.raises(OSError):
        write_card(cohort_dir, None, out_dir=tmp_path)
    assert (tmp_path / "cohort_card.json").read_text(encoding="utf-8") == "OLD"
    assert not (tmp_path / "cohort_card.md").exists()
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]


def test_bad_inputs_give_clear_errors(cohort_dir, tmp_path):
    with pytest.raises(ReportError, match="not a folder"):
        cohort_card(tmp_path / "nowhere")
    with pytest.raises(ReportError, match="no plan.json"):
        cohort_card(tmp_path)
    broken = tmp_path / "broken"
    shutil.copytree(cohort_dir, broken, ignore=shutil.ignore_patterns("*.nii.gz", "dicom"))
    (broken / "manifest.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ReportError, match="manifest.json is not the file this cohort was finished with.*--resume"):
        cohort_card(broken)
    (broken / "validation.json").write_text("[]", encoding="utf-8")
    with pytest.raises(ReportError, match="validation.json is damaged"):
        load_validation(broken)
    assert load_validation(tmp_path) is None
    with pytest.raises(ReportError, match="is a folder"):
        write_report(cohort_dir, None, tmp_path)


# ---------------------------------------------------------------- pixels

def test_windows_and_png_encoding():
    hu = np.array([[-2000, -1350, -600], [150, 40, 3000]], dtype=np.float32)
    assert apply_window(hu, 1500.0, -600.0).tolist() == [[0, 0, 128], [255, 236, 255]]  # lung W1500/L-600
    assert apply_window(np.array([-160.0, 40.0, 240.0]), 400.0, 40.0).tolist() == [0, 128, 255]  # W400/L40
    mask = np.zeros((7, 7), bool)
    mask[2:5, 2:5] = True
    ring = outline(mask)
    assert not (ring & mask).any() and ring.sum() == 16  # drawn around the lesion, never over it
    png = png_bytes(np.arange(12, dtype=np.uint8).reshape(3, 4))
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and png == png_bytes(np.arange(12, dtype=np.uint8).reshape(3, 4))
    import zlib

    idat = png[png.index(b"IDAT") + 4:png.index(b"IEND") - 8]  # one IDAT chunk, filter 0 on every row
    rows = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(3, 5)
    assert (rows[:, 0] == 0).all() and rows[:, 1:].tolist() == np.arange(12).reshape(3, 4).tolist()
    with pytest.raises(ValueError):
        png_bytes(np.zeros((2, 2), np.float32))


class FakeSubject:
    def __init__(self, image, labels, lesions, record):
        self._image, self._labels, self._lesions, self.record = image, labels, lesions, record
        self.subject_id = record["subject_id"]

    def image(self):
        return self._image

    def labels(self):
        return self._labels

    def lesions(self):
        return self._lesions


WRITTEN = {"image.nii.gz": "0" * 64, "labels.nii.gz": "1" * 64, "lesions.nii.gz": "2" * 64}
"""A subject record's hashes: the thumbnail reads only the masks a subject has."""


def test_thumbnail_slices():
    image = np.full((20, 32, 32), -1000.0, np.float32)
    labels = np.zeros((20, 32, 32), np.uint8)
    labels[8:15, 8:24, 8:24] = 11  # lungs span slices 8..14: the middle is 11
    lesions = np.zeros((20, 32, 32), np.uint16)
    lesions[3:6, 10:13, 10:13] = 2
    lesions[4, 13, 13] = 2            # slice 4 holds most of lesion 2
    lesions[15, 20:22, 20:22] = 1
    windows = (DisplayWindow("lung", 1500.0, -600.0), DisplayWindow("soft", 400.0, 40.0), DisplayWindow("bone", 2000.0, 500.0))
    lungs = (10, 11, 12, 13, 14)
    negative = thumbnail(FakeSubject(image, labels, lesions, {"subject_id": "S1", "lesions": [], "hashes": WRITTEN}), (1.0, 1.0), windows,
                         lungs, 64)
    assert negative["z"] == 11 and negative["lesion"] is None
    record = {"subject_id": "S2", "hashes": WRITTEN, "lesions": [
        {"id": 1, "diameter_mm": 4.0, "bbox_voxels": [15, 20, 20, 16, 22, 22]},
        {"id": 2, "diameter_mm": 9.0, "bbox_voxels": [3, 10, 10, 6, 14, 14], "subtype": "solid"}]}
    positive = thumbnail(FakeSubject(image, labels, lesions, record), (1.0, 1.0), windows, lungs, 64)
    assert positive["z"] == 4 and positive["lesion"]["id"] == 2
    assert [im["window"] for im in positive["images"]] == ["lung", "soft", "bone"]  # one image per window, in order
    assert all(im["uri"].startswith("data:image/png;base64,") for im in positive["images"])
    other_lungs = thumbnail(FakeSubject(image, labels, lesions, {"subject_id": "S1", "lesions": [], "hashes": WRITTEN}), (1.0, 1.0),
                            windows, (99,), 64)
    assert other_lungs["z"] == 10  # no label 99 anywhere: the middle slice, so the lung ids really came from the caller


# ---------------------------------------------------------------- HTML

def test_report_escapes_hostile_text_and_embeds_images(cohort_dir, validation):
    html = render_report(cohort_dir, validation)
    assert HOSTILE not in html and "<script" not in html.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img src=x" not in html and "onerror=alert" not in html.replace("onerror=alert(2)&gt;", "")
    assert html.count("&lt;img src=x onerror=alert(2)&gt; board") == 1
    images = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    plots = 4 if importlib.util.find_spec("matplotlib") else 0
    windows = display_windows(load(cohort_dir).plan)
    assert len(images) == len(windows) * 4 + plots  # one image per display window per subject, four plots
    assert all(base64.b64decode(b).startswith(b"\x89PNG\r\n\x1a\n") for b in images)
    assert not re.search(r'(src|href)="(?!data:)', html)  # nothing to fetch: self-contained
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html)
    assert policy and "default-src 'none'" in unescape(policy.group(1)) and "script-src" not in policy.group(1)
    assert "SYNTHETIC DATA" in html
    assert "wasserstein_lung" in html and "FAIL" in html and "Cohort card" in html


def test_report_without_validation_says_not_run(cohort_dir, tmp_path):
    path = write_report(cohort_dir, None, tmp_path / "r.html")
    html = path.read_text(encoding="utf-8")
    assert "Validation not run" in html and html.count("not run") >= 4
    assert family_states(html) == {"anatomy": "not run", "realism": "not run", "shortcut": "not run"}
    assert overall(html) == "not run"


# ---------------------------------------------------------------- validation states

def family_states(html: str) -> dict[str, str]:
    """The state the headline gives each family."""
    return dict(re.findall(r'data-family="([a-z_]+)" data-status="([a-z ]+)"', html))


def overall(html: str) -> str:
    """The overall verdict of the headline; checks that it is green only when it is a pass."""
    chips = re.findall(r'<span class="chip overall ([a-z]+)" data-overall="([a-z ]+)"', html)
    assert len(chips) == 1, chips
    css, status = chips[0]
    assert (css == "pass") == (status == "pass")
    return status


def report_for(cohort_dir, checks: list[CheckResult]) -> tuple[dict, str]:
    info = json.loads((cohort_dir / "cohort.json").read_text())
    report = ValidationReport(cohort="x", synthspec_version=info["synthspec_version"], content_hash=info["content_hash"],
                              checks=checks)
    return cohort_card(cohort_dir, report)["validation"], render_report(cohort_dir, report, max_thumbnails=1)


ANATOMY_OK = [CheckResult(family="anatomy", name="lung_volume_in_range", passed=True, value=4.1, threshold=2.0),
              CheckResult(family="anatomy", name="heart_inside_mediastinum", passed=True)]


def test_only_anatomy_validated_is_no_overall_pass(cohort_dir, tmp_path):
    card, html = report_for(cohort_dir, ANATOMY_OK)
    assert {f: x["status"] for f, x in card["families"].items()} == {
        "anatomy": "pass", "realism": "not run", "shortcut": "not run"}
    assert card["status"] != "pass" and card["not_run"] == ["realism", "shortcut"]
    assert "realism: not run" in card["headline"] and "shortcut: not run" in card["headline"]
    assert family_states(html) == {"anatomy": "pass", "realism": "not run", "shortcut": "not run"}
    assert overall(html) != "pass"
    assert 'class="v pass"' not in html  # the summary tile is not green either
    md = write_card(cohort_dir, ValidationReport(cohort="x", synthspec_version=card["synthspec_version"],
                                                 content_hash=card["content_hash"], checks=ANATOMY_OK),
                    out_dir=tmp_path)[0].read_text(encoding="utf-8")
    assert "| anatomy | pass |" in md and "| realism | not run |" in md and "| shortcut | not run |" in md
    assert "Overall: **pass**" not in md and "Validation passed" not in md


def test_a_family_the_spec_asks_for_but_did_not_run_is_named(cohort_dir, monkeypatch):
    import synthspec.report.card as card_module

    monkeypatch.setattr(card_module, "requested_families", lambda cohort: ("anatomy", "realism", "shortcut"))
    card, html = report_for(cohort_dir, ANATOMY_OK)
    assert card["status"] == "incomplete" and card["requested"] == ["anatomy", "realism", "shortcut"]
    assert card["headline"].startswith("Validation incomplete: realism, shortcut asked for by the spec but not run")
    assert overall(html) == "incomplete" and "realism, shortcut asked for by the spec but not run" in html


def test_a_failing_check_shows_fail(cohort_dir, validation):
    card = cohort_card(cohort_dir, validation)["validation"]
    html = render_report(cohort_dir, validation, max_thumbnails=1)
    assert card["status"] == "fail" and card["headline"].startswith("Validation FAILED (realism)")
    assert family_states(html) == {"anatomy": "pass", "realism": "fail", "shortcut": "pass"}
    assert overall(html) == "fail"
    row = re.search(r"<tr><td>wasserstein_lung</td><td class=\"([a-z]+)\">([A-Za-z ]+)</td>", html)
    assert row and row.groups() == ("fail", "FAIL")


def test_skipped_checks_are_not_a_pass(cohort_dir):
    skipped = [CheckResult(family="realism", name="noise_level", passed=True, reason="not measured: no ROI",
                           details={"skipped": True})]
    card, html = report_for(cohort_dir, ANATOMY_OK + skipped)
    assert card["families"]["realism"] == {**card["families"]["realism"], "status": "not run", "passed": 0,
                                           "skipped": 1}
    assert family_states(html)["realism"] == "not run"
    row = re.search(r"<tr><td>noise_level</td><td class=\"([a-z]+)\">([A-Za-z ]+)</td>", html)
    assert row and row.groups() == ("notrun", "skipped")


def test_every_family_passing_is_the_only_green_verdict(cohort_dir, validation):
    passing = [c.model_copy(update={"passed": True}) for c in validation.checks]
    card, html = report_for(cohort_dir, passing)
    assert card["status"] == "pass" and card["headline"].startswith("Validation passed")
    assert overall(html) == "pass"
    stale = validation.model_copy(update={"checks": passing, "content_hash": "0" * 64})
    assert cohort_card(cohort_dir, stale)["validation"]["status"] == "stale"


def test_windows_come_from_the_modality_and_labels_from_the_plan(cohort_dir, monkeypatch):
    from types import SimpleNamespace

    import synthspec.families.registry as registry
    from synthspec.cohort.labels import lung_ids

    plan = load(cohort_dir).plan
    assert lung_labels(plan) == lung_ids(plan) and lung_labels(plan)

    declared = registry.modality(plan.modality).windows
    assert [(w.name, w.width, w.level) for w in display_windows(plan)] == [(w.name, w.width, w.level) for w in declared]
    monkeypatch.setattr(registry, "modality", lambda name: SimpleNamespace(windows=(
        SimpleNamespace(name="lung", width=1600.0, level=-550.0), SimpleNamespace(name="bone", width=2000.0, level=500.0),
        SimpleNamespace(name="soft", width=350.0, level=50.0))))
    html = render_report(cohort_dir, None, max_thumbnails=1)
    assert "lung W1600/L-550; bone W2000/L500; soft W350/L50." in html
    thumbs = re.findall(r'<img src="data:image/png;base64,[^"]+" width="\d+" alt="([^"]+) window', html)
    assert [t.split()[-1] for t in thumbs] == ["lung", "bone", "soft"]


@pytest.fixture(scope="module")
def chromium() -> str:
    if find_chromium() is None and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], capture_output=True, timeout=600, check=False)
    browser = find_chromium()
    if browser is None:
        pytest.skip("chromium is not installed and could not be installed")
    return browser


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) from the PNG's IHDR chunk."""
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR"
    return struct.unpack(">II", head[16:24])


def test_report_renders_whole_in_a_real_browser(cohort_dir, validation, tmp_path, chromium):
    Image = pytest.importorskip("PIL.Image", reason="reading the screenshot needs Pillow (installed with matplotlib)")

    html = write_report(cohort_dir, validation, tmp_path / "report.html")
    height = page_height(html)
    assert height > 2400  # taller than the old fixed window, so a fixed window would cut it
    png = screenshot(html, tmp_path / "shots" / "report.png")
    assert png_size(png) == (1280, height)
    pixels = np.asarray(Image.open(png).convert("RGB")).astype(np.float64)
    assert pixels.shape == (height, 1280, 3)
    assert pixels.std() > 20  # not a blank page
    banner = pixels[5:20, 300:900]  # the red SYNTHETIC banner: CSS applied
    assert banner[..., 0].mean() > 150 and banner[..., 1].mean() < 80
    dark = (pixels.sum(axis=2) < 60).mean()
    assert dark > 0.01  # the black CT backgrounds of the thumbnails were drawn
    footer = pixels[-90:]  # the footer line is the last thing on the page: its text is in the picture
    assert (footer.sum(axis=2) < 450).sum() > 200
    assert not [p for p in png.parent.iterdir() if p.name.startswith(".tmp-")]


def test_a_page_taller_than_the_cap_is_cut_and_says_so(tmp_path, chromium):
    page = tmp_path / "tall.html"
    page.write_text('<!doctype html><meta http-equiv="Content-Security-Policy" content="default-src &#39;none&#39;; '
                    'style-src &#39;unsafe-inline&#39;"><body style="margin:0"><div style="height:3100px;background:#123">'
                    '</div></body>', encoding="utf-8")
    assert page_height(page) == 3100  # measured despite a policy that forbids every script
    said: list[str] = []
    png = screenshot(page, tmp_path / "tall.png", max_height=1000, log=said.append)
    assert png_size(png) == (1280, 1000)
    assert len(said) == 1 and "3100 px tall" in said[0] and "top 1000 px" in said[0]


def test_measuring_copy_only_adds_its_script():
    from synthspec.report.screenshot import MEASURE_SCRIPT, _measuring_copy

    page = ('<html><head><meta http-equiv="Content-Security-Policy" content="default-src &#39;none&#39;; '
            'script-src &#39;sha256-abc&#39;"></head><body><p>x</p></body></html>')
    copy = _measuring_copy(page)
    policy = unescape(re.search(r'content="([^"]+)"', copy).group(1))
    assert policy.startswith("default-src 'none'; script-src 'sha256-abc' 'sha256-")
    assert copy.endswith("<p>x</p><script>" + MEASURE_SCRIPT + "</script></body></html>")
    assert "script-src 'sha256-" in unescape(_measuring_copy('<meta http-equiv="content-security-policy" '
                                                             'content="img-src data:"><p>y</p>'))


def test_screenshot_errors_are_clear(tmp_path, monkeypatch):
    with pytest.raises(ScreenshotError, match="does not exist"):
        screenshot(tmp_path / "missing.html", tmp_path / "x.png")
    page = tmp_path / "p.html"
    page.write_text("<p>hi</p>", encoding="utf-8")
    monkeypatch.setenv("SYNTH_CHROMIUM", str(tmp_path / "no-such-browser"))
    with pytest.raises(ScreenshotError, match="chromium is not installed"):
        screenshot(page, tmp_path / "x.png")
