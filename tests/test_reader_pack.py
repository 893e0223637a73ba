"""Blinded reader pack: right number of cases, nothing but pixels tells the classes apart, scoring is sound."""

from __future__ import annotations

import base64
import errno
import hashlib
import json
import os
import re
import shutil
import struct
from html import unescape
from pathlib import Path

import numpy as np
import pytest

from synthspec.report import ReaderPackError, make_reader_pack, score_answers, slices_from_nifti, wilson_interval
from synthspec.report.reader_pack import KEY_FORMAT, KEY_KIND, lung_fraction, reading_pixels
from synthspec.report.screenshot import dump_dom, find_chromium
from synthspec.engine.executor import run

from test_run import tiny_plan

N = 4  # cases per class; the cohort has 2 subjects, so each gives two distinct slices


def fake_chest_ct(path: Path, shape=(36, 120, 128), seed: int = 0, direction=(-1, 0, 0, 0, -1, 0, 0, 0, 1),
                  lungs: bool = True) -> Path:
    """An elliptical 'chest' (soft tissue, two air-filled lungs, noise), stored RAS-oriented by default,
    with a bright marker at low array x (patient's left in RAS storage)."""
    import SimpleITK as sitk

    rng = np.random.default_rng(seed)
    z, y, x = np.mgrid[0:shape[0], 0:shape[1], 0:shape[2]].astype(np.float32)
    cy, cx = shape[1] / 2, shape[2] / 2
    vol = np.full(shape, -1000.0, np.float32)
    vol[((y - cy) / (shape[1] * 0.32)) ** 2 + ((x - cx) / (shape[2] * 0.42)) ** 2 <= 1] = 40.0
    if lungs:
        for side in (-1, 1):
            lung = ((y - cy) / (shape[1] * 0.22)) ** 2 + ((x - cx - side * shape[2] * 0.2) / (shape[2] * 0.13)) ** 2 <= 1
            vol[lung & (z > 4) & (z < shape[0] - 4)] = -850.0
    vol[:, int(cy) - 2:int(cy) + 2, 18:22] = 1500.0  # marker
    vol += rng.normal(0, 20, shape).astype(np.float32)
    image = sitk.GetImageFromArray(vol)
    image.SetSpacing((0.8, 0.8, 2.5))
    image.SetDirection(direction)
    sitk.WriteImage(image, str(path))
    return path


@pytest.fixture(scope="module")
def cohort_dir(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("reader")
    out = tmp / "cohort"
    run(tiny_plan(tmp, subjects=2), out)
    return out


@pytest.fixture(scope="module")
def real_slices(tmp_path_factory) -> list[np.ndarray]:
    path = fake_chest_ct(tmp_path_factory.mktemp("real") / "chest.nii.gz")
    return slices_from_nifti(path, n=8, seed=1)


@pytest.fixture(scope="module")
def pack(cohort_dir, real_slices, tmp_path_factory):
    out = tmp_path_factory.mktemp("pack")
    html_path, key_path = make_reader_pack(cohort_dir, real_slices, out, n_per_class=N, seed=7)
    return html_path, key_path, html_path.read_text(encoding="utf-8"), json.loads(key_path.read_text())


def case_blocks(html: str) -> list[str]:
    return re.findall(r'<fieldset class="case".*?</fieldset>', html, flags=re.S)


def png_chunks(png: bytes) -> list[tuple[bytes, bytes | None]]:
    """(type, body for IHDR else None) of every chunk."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, at = [], 8
    while at < len(png):
        length, kind = struct.unpack(">I4s", png[at:at + 8])
        chunks.append((kind, png[at + 8:at + 8 + length] if kind == b"IHDR" else None))
        at += 12 + length
    return chunks


# ---------------------------------------------------------------- the pack

def test_pack_has_the_right_cases_and_a_separate_key(pack):
    html_path, key_path, html, key = pack
    assert html_path.name == "reader_pack.html" and key_path.name == "reader_key.json"
    blocks = case_blocks(html)
    assert len(blocks) == 2 * N
    assert [int(n) for n in re.findall(r'data-case="(\d+)"', html)] == list(range(1, 2 * N + 1))
    assert key["kind"] == KEY_KIND and key["format"] == KEY_FORMAT
    truths = [c["truth"] for c in key["cases"]]
    assert [c["case"] for c in key["cases"]] == list(range(1, 2 * N + 1))
    assert truths.count("real") == N and truths.count("synthetic") == N
    assert truths != sorted(truths)  # shuffled
    assert key["pack_sha256"] == hashlib.sha256(html.encode()).hexdigest()
    assert "reader_key" not in html and ".json" not in html  # the page never points at its key
    synthetic_sources = [(c["source"]["subject_id"], c["source"]["z"]) for c in key["cases"] if c["truth"] == "synthetic"]
    assert len(set(synthetic_sources)) == N  # distinct slices


def test_pack_draws_only_from_the_analysis_stream(pack, cohort_dir):
    """Which real slices, which synthetic slices and the case order all come from analysis_rng("reader_pack", seed, ...)."""
    from synthspec.seeds import analysis_rng
    from synthspec.report.inputs import lung_window

    _, _, _, key = pack
    order = analysis_rng("reader_pack", 7, "order").permutation(2 * N)  # items: N real, then N synthetic
    assert [c["truth"] for c in key["cases"]] == ["real" if i < N else "synthetic" for i in order]
    real_pick = sorted(analysis_rng("reader_pack", 7, "real").choice(8, size=N, replace=False).tolist())
    real_in_order = [c["source"]["reference_index"] for c in key["cases"] if c["truth"] == "real"]
    assert sorted(real_in_order) == real_pick
    window = lung_window(json_plan(cohort_dir))
    assert key["window"] == [window.width, window.level] and key["window_name"] == window.name == "lung"


def json_plan(cohort_dir: Path):
    from synthspec.cohort.read import load

    return load(cohort_dir).plan


def test_pack_does_not_leak_the_key(pack, cohort_dir):
    _, _, html, key = pack
    blocks = case_blocks(html)
    normalised = {re.sub(r"base64,[A-Za-z0-9+/=]+", "base64,IMAGE", re.sub(r"\b\d+\b", "N", b)) for b in blocks}
    assert len(normalised) == 1  # real and synthetic cases differ only in their image data
    info = json.loads((cohort_dir / "cohort.json").read_text())
    plan = json.loads((cohort_dir / "plan.json").read_text())
    for secret in (info["content_hash"][:12], info["spec_hash"][:12], plan["cohort_name"], "S00000", "tiny",
                   str(cohort_dir), "subject", "reference_index"):
        assert secret not in html, secret
    images = [base64.b64decode(b) for b in re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)]
    assert len(images) == 2 * N
    layouts = {tuple(png_chunks(png)) for png in images}
    assert len(layouts) == 1  # same size, same colour type, same chunks (no metadata) for every case
    (kind, ihdr), *_ = next(iter(layouts))
    assert kind == b"IHDR" and struct.unpack(">II", ihdr[:8]) == (key["size_px"], key["size_px"])


def test_pack_is_deterministic_and_refuses_to_overwrite(cohort_dir, real_slices, pack, tmp_path):
    _, key_path, html, _ = pack
    again_html, again_key = make_reader_pack(cohort_dir, real_slices, tmp_path, n_per_class=N, seed=7)
    assert again_html.read_text(encoding="utf-8") == html
    assert again_key.read_text() == key_path.read_text()
    with pytest.raises(ReaderPackError, match="already exists"):
        make_reader_pack(cohort_dir, real_slices, tmp_path, n_per_class=N, seed=8)
    other = tmp_path / "other"
    other_html, _ = make_reader_pack(cohort_dir, real_slices, other, n_per_class=N, seed=8)
    assert other_html.read_text(encoding="utf-8") != html


def test_every_case_is_rendered_the_same_way():
    hu = np.full((80, 100), -1000.0, np.float32)
    hu[20:60, 10:90] = 40.0
    hu[30:50, 20:45] = -850.0
    hu[30:50, 55:80] = -850.0
    lung = (1500.0, -600.0)
    pixels = reading_pixels(hu, 64, lung)
    assert pixels.shape == (64, 64) and pixels.dtype == np.uint8
    bigger = reading_pixels(np.kron(hu, np.ones((3, 3), np.float32)), 64, lung)  # same body at 3x the resolution
    assert np.abs(pixels.astype(int) - bigger.astype(int)).mean() < 8  # body framed the same, whatever the FOV
    assert 0.3 < lung_fraction(hu) < 0.4


# ---------------------------------------------------------------- scoring

def write_sheet(path: Path, answers: dict[int, str]) -> Path:
    path.write_text("case,answer\n" + "".join(f"{c},{a}\n" for c, a in sorted(answers.items())), encoding="utf-8")
    return path


def test_perfect_and_wrong_sheets(pack, tmp_path):
    _, key_path, _, key = pack
    truth = {c["case"]: c["truth"] for c in key["cases"]}
    perfect = score_answers(key_path, write_sheet(tmp_path / "perfect.csv", truth))
    assert perfect["accuracy"] == 1.0 and perfect["n"] == 2 * N and perfect["correct"] == 2 * N
    assert perfect["ci95"][1] == 1.0 and perfect["by_truth"]["real"]["accuracy"] == 1.0
    flipped = {c: ("real" if t == "synthetic" else "synthetic") for c, t in truth.items()}
    wrong = score_answers(key_path, write_sheet(tmp_path / "wrong.csv", flipped))
    assert wrong["accuracy"] == 0.0 and wrong["verdict"].startswith("below chance")
    half = dict(list(truth.items())[:N])
    partial = score_answers(key_path, write_sheet(tmp_path / "partial.csv", half))
    assert partial["n"] == N and partial["unanswered"] == N and partial["accuracy"] == 1.0


def test_random_answers_are_near_chance(tmp_path):
    rng = np.random.default_rng(0)
    truth = rng.choice(["real", "synthetic"], size=200)
    key = {"format": KEY_FORMAT, "kind": KEY_KIND, "pack_id": "x",
           "cases": [{"case": i + 1, "truth": str(t), "source": {}} for i, t in enumerate(truth)]}
    key_path = tmp_path / "key.json"
    key_path.write_text(json.dumps(key))
    guesses = {i + 1: str(g) for i, g in enumerate(rng.choice(["real", "synthetic"], size=200))}
    result = score_answers(key_path, write_sheet(tmp_path / "random.csv", guesses))
    low, high = result["ci95"]
    assert result["near_chance"] and low <= 0.5 <= high and result["verdict"].startswith("near chance")
    assert "note" not in result


def test_wilson_interval_matches_published_values():
    # Newcombe (1998), method 3: 0/10 -> 0 .. 0.2775; 5/10 -> 0.2366 .. 0.7634; 81/263 -> 0.2553 .. 0.3662
    for (k, n), expected in {(0, 10): (0.0, 0.2775), (5, 10): (0.2366, 0.7634), (81, 263): (0.2553, 0.3662)}.items():
        assert wilson_interval(k, n) == pytest.approx(expected, abs=1e-4)
    with pytest.raises(ValueError):
        wilson_interval(0, 0)


def test_scoring_rejects_bad_inputs(pack, tmp_path):
    _, key_path, _, _ = pack
    sheet = write_sheet(tmp_path / "ok.csv", {1: "real"})
    with pytest.raises(ReaderPackError, match="does not exist"):
        score_answers(tmp_path / "none.json", sheet)
    with pytest.raises(ReaderPackError, match="does not exist"):
        score_answers(key_path, tmp_path / "none.csv")
    (tmp_path / "bad.json").write_text("{oops")
    with pytest.raises(ReaderPackError, match="not valid JSON"):
        score_answers(tmp_path / "bad.json", sheet)
    (tmp_path / "foreign.json").write_text(json.dumps({"cases": []}))
    with pytest.raises(ReaderPackError, match="not a synthspec reader key"):
        score_answers(tmp_path / "foreign.json", sheet)
    cases = {
        "header.csv": ("answer,case\n1,real\n", "header"),
        "unknown.csv": ("case,answer\n99,real\n", "not in this pack"),
        "twice.csv": ("case,answer\n1,real\n1,synthetic\n", "answered twice"),
        "value.csv": ("case,answer\n1,maybe\n", "must be `real` or `synthetic`"),
        "number.csv": ("case,answer\none,real\n", "not a case number"),
        "columns.csv": ("case,answer\n1,real,extra\n", "two columns"),
        "empty.csv": ("case,answer\n1,\n", "answers none"),
    }
    for name, (text, message) in cases.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
        with pytest.raises(ReaderPackError, match=message):
            score_answers(key_path, tmp_path / name)
    (tmp_path / "binary.csv").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ReaderPackError, match="not a UTF-8"):
        score_answers(key_path, tmp_path / "binary.csv")
    # a sheet saved by a spreadsheet (BOM, CRLF, capitals, blank lines) still scores
    (tmp_path / "excel.csv").write_bytes(b"\xef\xbb\xbfCase,Answer\r\n1,Real\r\n\r\n2, SYNTHETIC \r\n")
    assert score_answers(key_path, tmp_path / "excel.csv")["n"] == 2


def test_pack_rejects_bad_inputs(cohort_dir, real_slices, tmp_path):
    with pytest.raises(ReaderPackError, match="no real reference slices"):
        make_reader_pack(cohort_dir, [], tmp_path / "a", n_per_class=2)
    with pytest.raises(ReaderPackError, match="fewer than n_per_class"):
        make_reader_pack(cohort_dir, real_slices[:1], tmp_path / "a", n_per_class=2)
    with pytest.raises(ReaderPackError, match="n_per_class"):
        make_reader_pack(cohort_dir, real_slices, tmp_path / "a", n_per_class=0)
    with pytest.raises(ReaderPackError, match="Hounsfield"):
        make_reader_pack(cohort_dir, [np.full((64, 64), 128, np.uint8)] * 2, tmp_path / "a", n_per_class=2)
    with pytest.raises(ReaderPackError, match="2-D array"):
        make_reader_pack(cohort_dir, [np.zeros(64)] * 2, tmp_path / "a", n_per_class=2)
    nan = real_slices[0].copy()
    nan[0, 0] = np.nan
    with pytest.raises(ReaderPackError, match="NaN"):
        make_reader_pack(cohort_dir, [nan] * 2, tmp_path / "a", n_per_class=2)
    with pytest.raises(ReaderPackError, match="fewer than the 200 synthetic cases"):
        make_reader_pack(cohort_dir, real_slices * 25, tmp_path / "a", n_per_class=200)
    with pytest.raises(Exception, match="not a folder"):
        make_reader_pack(tmp_path / "no-cohort", real_slices, tmp_path / "a", n_per_class=2)
    assert not (tmp_path / "a").exists()  # nothing written on failure


# ---------------------------------------------------------------- real slices from NIfTI

def test_slices_from_nifti_orientation_and_choice(tmp_path):
    ras = slices_from_nifti(fake_chest_ct(tmp_path / "ras.nii.gz"))
    lps = slices_from_nifti(fake_chest_ct(tmp_path / "lps.nii.gz", direction=(1, 0, 0, 0, 1, 0, 0, 0, 1)))
    assert len(ras) == len(lps) > 10  # the lung slices only (the fake lungs span slices 5..30)
    assert len(ras) < 36
    # stored RAS, the marker sits at low array x; reoriented to LPS it must move to high x (patient's left)
    assert np.argmax(ras[0].max(axis=0)) > ras[0].shape[1] // 2
    assert np.argmax(lps[0].max(axis=0)) < lps[0].shape[1] // 2
    assert all(s.dtype == np.float32 and s.shape == (120, 128) for s in ras)
    assert len(slices_from_nifti(tmp_path / "ras.nii.gz", n=3, seed=2)) == 3


def test_slices_from_nifti_errors(tmp_path):
    with pytest.raises(ReaderPackError, match="does not exist"):
        slices_from_nifti(tmp_path / "missing.nii.gz")
    (tmp_path / "corrupt.nii.gz").write_bytes(b"\x1f\x8b" + bytes(200))
    with pytest.raises(ReaderPackError, match="cannot be read"):
        slices_from_nifti(tmp_path / "corrupt.nii.gz")
    with pytest.raises(ReaderPackError, match="no axial slice crosses the lungs"):
        slices_from_nifti(fake_chest_ct(tmp_path / "abdomen.nii.gz", lungs=False))
    with pytest.raises(ReaderPackError, match="fewer than the 500"):
        slices_from_nifti(fake_chest_ct(tmp_path / "chest.nii.gz"), n=500)
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(ReaderPackError, match="no DICOM series"):
        slices_from_nifti(tmp_path / "empty_dir")


# ---------------------------------------------------------------- the form, in a real browser

def test_answer_form_works_in_a_real_browser(pack, tmp_path):
    if find_chromium() is None:
        pytest.skip("chromium is not installed (tests/test_report.py installs it where it can)")
    _, key_path, html, key = pack
    probe = ('document.querySelector(\'input[name="case-1"][value="real"]\').click();'
             'document.querySelector(\'input[name="case-3"][value="synthetic"]\').click();'
             'var out = document.createElement("pre"); out.id = "probe";'
             'out.textContent = window.readerAnswersCsv() + "|" + document.getElementById("status").textContent;'
             'document.body.appendChild(out);')
    digest = base64.b64encode(hashlib.sha256(probe.encode()).digest()).decode()
    # the page's own script runs under its own CSP hash; the probe is allowed by adding its hash
    tested = html.replace("script-src &#39;", f"script-src &#39;sha256-{digest}&#39; &#39;", 1)
    assert tested != html
    tested = tested.replace("</body>", f"<script>{probe}</script>\n</body>")
    page = tmp_path / "probe.html"
    page.write_text(tested, encoding="utf-8")
    dom = dump_dom(page)
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom, flags=re.S)
    assert found, dom[-2000:]
    sheet_text, status = unescape(found.group(1)).split("|")
    assert status == f"2 of {2 * N} cases answered"
    lines = sheet_text.strip().split("\n")
    assert lines[0] == "case,answer" and len(lines) == 2 * N + 1
    assert lines[1] == "1,real" and lines[3] == "3,synthetic" and lines[2] == "2,"
    sheet = tmp_path / "answers.csv"
    sheet.write_text(sheet_text, encoding="utf-8")
    result = score_answers(key_path, sheet)
    truth = {c["case"]: c["truth"] for c in key["cases"]}
    assert result["n"] == 2 and result["correct"] == (truth[1] == "real") + (truth[3] == "synthetic")


# ---------------------------------------------------------------- failures leave nothing half-written

from synthspec.cli import main  # noqa: E402
from synthspec.report import reader_pack as reader_pack_module  # noqa: E402


@pytest.fixture(scope="module")
def chest_ct(tmp_path_factory) -> Path:
    return fake_chest_ct(tmp_path_factory.mktemp("ct") / "chest.nii.gz")


def review_pack(cohort_dir, chest_ct, out, *extra) -> list[str]:
    return ["review-pack", str(cohort_dir), "--reference", str(chest_ct), "--out", str(out), "--cases", str(N), *extra]


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err, err
    return err


def disk_full_on_page(monkeypatch) -> list[str]:
    """Make the disk 'fill up' when the page is written, after the key (the order that lost studies before)."""
    real_write, written = reader_pack_module._write_file, []

    def write(path, data, durable=True):
        if path.name.endswith("reader_pack.html") or ".tmp-reader_pack.html" in path.name:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real_write(path, data, durable)
        written.append(path.name)

    monkeypatch.setattr(reader_pack_module, "_write_file", write)
    return written


def test_a_full_disk_leaves_nothing_behind_and_a_rerun_works(cohort_dir, chest_ct, tmp_path, monkeypatch, capsys):
    written = disk_full_on_page(monkeypatch)
    out = tmp_path / "pack"
    assert main(review_pack(cohort_dir, chest_ct, out)) == 2
    err = one_line_error(capsys)
    assert str(out) in err and "No space left on device" in err and "--out" in err, err
    assert written and "key" in written[0]  # the key really was written before the page failed
    assert not out.exists() and list(tmp_path.iterdir()) == []  # no pack, no key, no temporary folder
    existing = tmp_path / "existing"  # an existing folder: the key must not appear in it either
    existing.mkdir()
    (existing / "notes.txt").write_text("mine")
    assert main(review_pack(cohort_dir, chest_ct, existing)) == 2
    assert str(existing) in one_line_error(capsys)
    assert sorted(p.name for p in existing.iterdir()) == ["notes.txt"]
    monkeypatch.undo()
    assert main(review_pack(cohort_dir, chest_ct, out)) == 0  # the rerun is not blocked by a half-written pack
    assert sorted(p.name for p in out.iterdir()) == ["reader_key.json", "reader_pack.html"]
    assert main(review_pack(cohort_dir, chest_ct, existing)) == 0
    assert sorted(p.name for p in existing.iterdir()) == ["notes.txt", "reader_key.json", "reader_pack.html"]


def test_an_existing_pack_names_the_cli_option_to_replace_it(cohort_dir, chest_ct, tmp_path, capsys):
    out = tmp_path / "pack"
    assert main(review_pack(cohort_dir, chest_ct, out, "--seed", "1")) == 0
    key = (out / "reader_key.json").read_text()
    capsys.readouterr()
    assert main(review_pack(cohort_dir, chest_ct, out, "--seed", "2")) == 2
    err = one_line_error(capsys)
    assert "already exists" in err and "--overwrite" in err and "--out" in err, err
    assert (out / "reader_key.json").read_text() == key
    assert main(review_pack(cohort_dir, chest_ct, out, "--seed", "2", "--overwrite")) == 0
    replaced = json.loads((out / "reader_key.json").read_text())
    assert replaced["seed"] == 2
    assert replaced["pack_sha256"] == hashlib.sha256((out / "reader_pack.html").read_bytes()).hexdigest()
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []


def test_an_unwritable_out_is_a_clear_error(cohort_dir, chest_ct, tmp_path, monkeypatch, capsys):
    a_file = tmp_path / "a_file"
    a_file.write_text("not a folder")
    for out in (a_file, a_file / "sub"):
        assert main(review_pack(cohort_dir, chest_ct, out)) == 2
        err = one_line_error(capsys)
        assert str(out) in err and "is a file" in err and "--out" in err, err
    assert a_file.read_text() == "not a folder"
    if os.geteuid() != 0:  # root writes anywhere; the permission check below covers it by a failing write
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o555)
        try:
            assert main(review_pack(cohort_dir, chest_ct, locked / "pack")) == 2
            err = one_line_error(capsys)
            assert str(locked) in err and "--out" in err, err
        finally:
            locked.chmod(0o755)

    def denied(path, data, durable=True):
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(reader_pack_module, "_write_file", denied)
    out = tmp_path / "denied"
    assert main(review_pack(cohort_dir, chest_ct, out)) == 2
    err = one_line_error(capsys)
    assert str(out) in err and "Permission denied" in err and "you can write to" in err, err
    assert not out.exists()


def test_zero_cases_names_the_option(cohort_dir, chest_ct, tmp_path, capsys):
    assert main(review_pack(cohort_dir, chest_ct, tmp_path / "p")[:-1] + ["0"]) == 2
    err = one_line_error(capsys)
    assert "--cases" in err and "at least 1" in err, err
    assert not (tmp_path / "p").exists()


# ---------------------------------------------------------------- review-score at the command line

def test_review_score_reports_unanswered_cases(pack, tmp_path, capsys):
    _, key_path, _, key = pack
    truth = {c["case"]: c["truth"] for c in key["cases"]}
    sheet = write_sheet(tmp_path / "some.csv", {c: truth[c] for c in (2, 5, 7)})
    assert main(["review-score", str(key_path), str(sheet)]) == 0
    out = capsys.readouterr().out
    assert f"on 3 of the key's {2 * N} cases" in out
    assert f"not answered: {2 * N - 3} of the key's {2 * N} cases (1, 3, 4, 6, 8)" in out, out
    assert score_answers(key_path, sheet)["unanswered_cases"] == [1, 3, 4, 6, 8]
    full = write_sheet(tmp_path / "full.csv", truth)
    assert main(["review-score", str(key_path), str(full)]) == 0
    assert "not answered" not in capsys.readouterr().out


def test_review_score_bad_inputs_are_one_line_errors(pack, tmp_path, capsys):
    _, key_path, _, key = pack
    sheet = write_sheet(tmp_path / "ok.csv", {1: "real"})

    def fails(key_file, answers, *expected):
        assert main(["review-score", str(key_file), str(answers)]) == 2
        err = one_line_error(capsys)
        for text in expected:
            assert text in err, err

    (tmp_path / "huge.csv").write_text("case,answer\n1," + "x" * 200_000 + "\n", encoding="utf-8")
    fails(key_path, tmp_path / "huge.csv", str(tmp_path / "huge.csv"), "not a readable answer sheet")
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    fails(tmp_path / "deep.json", sheet, str(tmp_path / "deep.json"), "nested too deeply")
    fails(sheet, key_path, "swapped", str(sheet), "KEY ANSWERS_CSV")  # the two arguments swapped
    fails(key_path, key_path, "swapped", "JSON")
    newer = dict(key, format=KEY_FORMAT + 1)
    (tmp_path / "newer.json").write_text(json.dumps(newer))
    fails(tmp_path / "newer.json", sheet, f"format {KEY_FORMAT + 1}", f"reads format {KEY_FORMAT}")
    fails(key_path, tmp_path, str(tmp_path), "is a directory")
    fails(key_path.parent, sheet, "is a directory", str(key_path))  # and it points at the key inside
    # a key whose cases are not numbered 1..n: the message shows the offending case and the key's real ones
    shifted = dict(key, cases=[dict(c, case=c["case"] + 10) for c in key["cases"]])
    (tmp_path / "shifted.json").write_text(json.dumps(shifted))
    fails(tmp_path / "shifted.json", sheet, "case 1 is not in this pack", f"cases 11..{10 + 2 * N}")
    gappy = dict(key, cases=[dict(c, case=c["case"] * 3) for c in key["cases"]])
    (tmp_path / "gappy.json").write_text(json.dumps(gappy))
    fails(tmp_path / "gappy.json", sheet, "case 1 is not in this pack", "cases 3, 6, 9")
    (tmp_path / "underscore.csv").write_text("case,answer\n1_0,real\n", encoding="utf-8")
    fails(key_path, tmp_path / "underscore.csv", "not a case number")


# ---------------------------------------------------------------- incomplete DICOM reference series

@pytest.mark.parametrize("damage", ["missing", "truncated", "junk"])
def test_an_incomplete_dicom_series_names_the_slice(cohort_dir, tmp_path, damage):
    source = cohort_dir / "subjects" / "S000000" / "dicom"
    series = tmp_path / "series"
    shutil.copytree(source, series)
    assert len(slices_from_nifti(series, n=2)) == 2  # the complete series reads
    files = sorted(series.iterdir())
    victim, before, after = files[len(files) // 2], files[len(files) // 2 - 1], files[len(files) // 2 + 1]
    if damage == "missing":
        victim.unlink()
        expected = [before.name, after.name, "missing or corrupt", "gap"]
    elif damage == "truncated":
        victim.write_bytes(victim.read_bytes()[:-400])
        expected = [str(victim), "truncated or corrupt"]
    else:
        victim.write_bytes(b"not dicom at all")
        expected = [str(victim), "truncated or corrupt"]
    with pytest.raises(ReaderPackError) as caught:
        slices_from_nifti(series, n=2)
    message = str(caught.value)
    assert "\n" not in message
    for text in expected:
        assert text in message, message
