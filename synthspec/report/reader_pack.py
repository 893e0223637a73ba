"""A blinded reader study: can a radiologist tell synthetic slices from real ones?

`make_reader_pack` writes two files:

- `reader_pack.html`: a self-contained page for the reader with `2 * n_per_class`
  axial slices (half synthetic from the cohort, half real from reference scans
  the caller supplies), shuffled with `seed`, each labelled by a case number
  only, with a real/synthetic choice per case and a button that downloads the
  answers as CSV (`case,answer`).  Both classes go through exactly the same
  code: the same slice choice rule (a slice well inside the lungs, found from
  HU alone), the same crop (the body, padded to a square), the same resampling
  to the same pixel size, the same window (the modality's `lung` display window,
  CT W1500/L-600) and the same PNG encoder (no metadata).  The page holds no file names, subject ids, hashes or
  spec text, so nothing but the pixels tells the classes apart.
- `reader_key.json`: which case is which, kept apart from the page (the page
  never refers to it); give the reader the HTML only.

`score_answers(key, answers_csv)` scores a returned sheet: accuracy with a
Wilson 95 % interval and a verdict (near chance when the interval covers 0.5).
`slices_from_nifti` pulls real axial HU slices from a CT volume (NIfTI or a
DICOM folder) for the pack.  Every random draw (which slices, the case order)
comes from `analysis_rng("reader_pack", seed, ...)`, so a seed gives the same
pack on any machine.  It reads the cohort; it generates and validates nothing.
"""

from __future__ import annotations

import base64
import csv
import errno
import hashlib
import io
import json
import math
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from synthspec.errors import InputError
from synthspec.report.inputs import lung_window, subject_image
from synthspec.report.pixels import apply_window, data_uri, png_bytes, resize_bilinear
from synthspec.validate.stats import wilson_interval

KEY_FORMAT = 1
KEY_KIND = "synthspec reader-study key"
READING_PX = 384
CLASSES = ("real", "synthetic")
Z95 = 1.959963984540054
BODY_HU = -500.0          # above: body (soft tissue, bone); below: air and lung
MIN_SIDE = 32


class ReaderPackError(InputError):
    """A reader pack that cannot be made or scored; the message names the input and the fix."""


def _rng(seed: int, draw: str) -> np.random.Generator:
    """The stream of one draw of the pack (`real`, `synthetic`, `order`, `reference_slices`) under `seed`."""
    from synthspec.seeds import analysis_rng

    return analysis_rng("reader_pack", seed, draw)


# ---------------------------------------------------------------- slices

def _body_mask(hu: np.ndarray) -> np.ndarray:
    """The largest connected region above BODY_HU with its holes (the lungs) filled."""
    from scipy import ndimage

    solid = hu > BODY_HU
    labels, n = ndimage.label(solid)
    if n == 0:
        return solid
    sizes = np.bincount(labels.ravel())[1:]
    return ndimage.binary_fill_holes(labels == (int(np.argmax(sizes)) + 1))


def lung_fraction(hu: np.ndarray) -> float:
    """Fraction of the body's cross-section that is air-filled (lung) on one axial HU slice."""
    body = _body_mask(hu)
    area = int(body.sum())
    return float((body & (hu <= BODY_HU)).sum()) / area if area else 0.0


def lung_slices(volume: np.ndarray, keep: float = 0.5) -> list[int]:
    """Indices of axial slices whose lung fraction is at least `keep` times the volume's largest."""
    scores = np.array([lung_fraction(volume[z]) for z in range(volume.shape[0])])
    if scores.size == 0 or scores.max() < 0.05:
        return []
    return [int(z) for z in np.flatnonzero(scores >= keep * scores.max())]


def _check_slice(hu: Any, where: str) -> np.ndarray:
    a = np.asarray(hu)
    if a.ndim != 2 or min(a.shape) < MIN_SIDE:
        raise ReaderPackError(f"{where}: an axial slice must be a 2-D array of at least {MIN_SIDE}×{MIN_SIDE} pixels, "
                              f"got shape {a.shape}")
    if not np.issubdtype(a.dtype, np.number) or np.issubdtype(a.dtype, np.complexfloating):
        raise ReaderPackError(f"{where}: expected numbers (HU), got dtype {a.dtype}")
    a = a.astype(np.float32)
    if not np.isfinite(a).all():
        raise ReaderPackError(f"{where}: contains NaN or infinite values; pass a clean HU slice")
    low, high = float(a.min()), float(a.max())
    if low > -500.0 or high < -100.0 or low < -3100.0 or high > 40000.0:
        raise ReaderPackError(f"{where}: values {low:.0f}..{high:.0f} do not look like CT in Hounsfield units "
                              "(air near -1000, soft tissue near 40); apply the rescale slope and intercept first")
    return a


def reading_pixels(hu: np.ndarray, size: int, window: tuple[float, float]) -> np.ndarray:
    """How every case is shown: the body cropped and padded (air) to a square, resized, windowed at (width, level).

    Square pixels are assumed (see `slices_from_nifti`, which resamples to them)."""
    hu = np.asarray(hu, dtype=np.float32)
    body = _body_mask(hu)
    if body.any():
        ys, xs = np.nonzero(body)
        cy, cx = (ys.min() + ys.max() + 1) / 2.0, (xs.min() + xs.max() + 1) / 2.0
        side = int(math.ceil(max(ys.max() - ys.min() + 1, xs.max() - xs.min() + 1) * 1.06)) + 2
    else:
        cy, cx, side = hu.shape[0] / 2.0, hu.shape[1] / 2.0, max(hu.shape)
    y0, x0 = int(round(cy - side / 2.0)), int(round(cx - side / 2.0))
    canvas = np.full((side, side), -1000.0, dtype=np.float32)
    sy0, sx0 = max(0, y0), max(0, x0)
    sy1, sx1 = min(hu.shape[0], y0 + side), min(hu.shape[1], x0 + side)
    canvas[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = hu[sy0:sy1, sx0:sx1]
    return apply_window(resize_bilinear(canvas, (size, size)), *window)


def _square_pixels(volume: np.ndarray, spacing_yx: tuple[float, float]) -> np.ndarray:
    dy, dx = spacing_yx
    if abs(dy - dx) <= 0.01 * min(dy, dx):
        return volume
    step = min(dy, dx)
    shape = (max(1, int(round(volume.shape[1] * dy / step))), max(1, int(round(volume.shape[2] * dx / step))))
    return np.stack([resize_bilinear(s, shape) for s in volume])


def _dicom_series(folder: Path) -> list[str]:
    """The files of the (largest) DICOM series in `folder`, in order, refusing an incomplete series."""
    from synthspec.validate.reference import ReferenceError, dicom_series_files

    try:
        return dicom_series_files(folder)
    except ReferenceError as error:
        raise ReaderPackError(str(error)) from None


def slices_from_nifti(path: Path, n: int | None = None, seed: int = 0) -> list[np.ndarray]:
    """Real axial HU slices through the lungs of a CT volume (NIfTI/NRRD/MHA file, or a DICOM folder).

    The volume is reoriented to LPS (so slices display like the cohort's:
    anterior up, patient's right on the left) and resampled to square pixels.
    With `n`, that many slices are drawn (seeded) from the lung slices; else all."""
    import SimpleITK as sitk

    path = Path(path)
    if not path.exists():
        raise ReaderPackError(f"{path} does not exist; give a chest CT volume (.nii.gz) or a DICOM series folder")
    if not path.is_dir() and not path.is_file():
        raise ReaderPackError(f"{path} is a device, FIFO or socket, not a file; give a chest CT volume (.nii.gz) or a "
                              "DICOM series folder")
    try:
        if path.is_dir():
            reader = sitk.ImageSeriesReader()
            reader.SetFileNames(_dicom_series(path))
            image = reader.Execute()
        else:
            image = sitk.ReadImage(str(path))
    except RuntimeError as error:
        last = str(error).strip().splitlines()[-1][:160] if str(error).strip() else "unreadable"
        raise ReaderPackError(f"{path} cannot be read as a CT volume ({last}); is the file complete?") from None
    if image.GetDimension() != 3 or image.GetNumberOfComponentsPerPixel() != 1:
        raise ReaderPackError(f"{path}: expected a 3-D single-channel CT volume, got {image.GetDimension()}-D "
                              f"with {image.GetNumberOfComponentsPerPixel()} component(s)")
    image = sitk.DICOMOrient(image, "LPS")
    volume = sitk.GetArrayFromImage(image).astype(np.float32)  # [Z, Y, X]
    dx, dy, _ = image.GetSpacing()
    if not np.isfinite(volume).all():
        raise ReaderPackError(f"{path} contains NaN or infinite voxels; it is damaged")
    _check_slice(volume[volume.shape[0] // 2] if volume.shape[0] else volume, f"{path} (middle slice)")
    volume = _square_pixels(volume, (dy, dx))
    candidates = lung_slices(volume)
    if not candidates:
        raise ReaderPackError(f"{path}: no axial slice crosses the lungs; the reader pack needs a chest CT")
    if n is not None:
        if n < 1:
            raise ReaderPackError(f"n must be at least 1, got {n}")
        if n > len(candidates):
            raise ReaderPackError(f"{path} has {len(candidates)} slices through the lungs, fewer than the {n} asked for; "
                                  "add another reference scan or ask for fewer")
        candidates = sorted(_rng(seed, "reference_slices").choice(candidates, size=n, replace=False).tolist())
    return [volume[z].copy() for z in candidates]


def _synthetic_slices(cohort, n: int, rng: np.random.Generator) -> list[tuple[np.ndarray, dict]]:
    """`n` distinct lung slices from the cohort, spread evenly over (shuffled) subjects.

    One subject is read at a time and only its chosen slices are kept, so a large
    cohort never sits in memory; a subject with few lung slices leaves its share
    to the subjects after it."""
    order = [cohort.subjects[i] for i in rng.permutation(len(cohort.subjects))]
    picked: list[tuple[np.ndarray, dict]] = []
    used: dict[str, set[int]] = {}
    _, dy, dx = cohort.spacing
    for sweep in range(2):  # the second sweep only when some subjects had fewer lung slices than their share
        for position, subject in enumerate(order):
            missing = n - len(picked)
            want = missing if sweep else -(-missing // (len(order) - position))  # ceil: a fair share
            if want <= 0:
                break
            volume = _square_pixels(subject_image(subject).astype(np.float32), (dy, dx))
            taken = used.setdefault(subject.subject_id, set())
            candidates = [z for z in lung_slices(volume) if z not in taken]
            for z in sorted(rng.permutation(candidates)[:want].tolist()):
                taken.add(int(z))
                picked.append((volume[int(z)].copy(), {"subject_id": subject.subject_id, "z": int(z)}))
        if len(picked) >= n:
            break
    if len(picked) < n:
        raise ReaderPackError(f"{cohort.folder} has only {len(picked)} slices through the lungs, fewer than the "
                              f"{n} synthetic cases asked for; ask for fewer cases or generate more subjects")
    return picked


# ---------------------------------------------------------------- pack

def _script_hash(script: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")


def _render(cases: list[dict], pack_id: str, size: int) -> str:
    import jinja2
    from markupsafe import Markup

    folder = Path(__file__).with_name("templates")
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(folder)), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    script = (folder / "reader_pack.js.j2").read_text(encoding="utf-8")
    csp = (f"default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src '{_script_hash(script)}'; "
           "base-uri 'none'; form-action 'none'")
    return env.get_template("reader_pack.html.j2").render(cases=cases, pack_id=pack_id, size=size, csp=csp,
                                                          script=Markup(script))


def make_reader_pack(cohort, reference_slices: list[np.ndarray], out_dir: Path, n_per_class: int, seed: int = 0,
                     key_path: Path | None = None, size: int = READING_PX, overwrite: bool = False) -> tuple[Path, Path]:
    """Write `reader_pack.html` into `out_dir` and the key (default `out_dir/reader_key.json`); returns both paths.

    `reference_slices` are real axial CT slices in HU (e.g. from `slices_from_nifti`).
    Existing packs and keys are never replaced unless `overwrite` (a key lost is a study lost).
    Nothing is half-written: a new `out_dir` is built under a temporary sibling name and renamed into
    place when complete; into an existing folder both files are written in full under temporary names
    first and only then renamed.  A write that fails (disk full, no permission) leaves nothing behind."""
    from synthspec.report.card import as_cohort

    cohort = as_cohort(cohort)
    if isinstance(n_per_class, bool) or not isinstance(n_per_class, (int, np.integer)) or n_per_class < 1:
        raise ReaderPackError(f"n_per_class must be a whole number >= 1, got {n_per_class!r}")
    n_per_class = int(n_per_class)
    if reference_slices is None or len(reference_slices) == 0:
        raise ReaderPackError("no real reference slices were given; load some with slices_from_nifti(PATH)")
    if len(reference_slices) < n_per_class:
        raise ReaderPackError(f"{len(reference_slices)} real reference slices were given, fewer than n_per_class="
                              f"{n_per_class}; give more slices or ask for fewer cases")
    real = [_check_slice(s, f"reference slice {i}") for i, s in enumerate(reference_slices)]
    out_dir = Path(out_dir)
    pack_path = out_dir / "reader_pack.html"
    key_path = Path(key_path) if key_path is not None else out_dir / "reader_key.json"
    for folder in {out_dir, key_path.parent}:
        _check_writable(folder)
    if not overwrite:
        for existing in (pack_path, key_path):
            if os.path.lexists(existing):
                raise ReaderPackError(_exists_message(existing))
    window = lung_window(cohort.plan)
    real_pick = sorted(_rng(seed, "real").choice(len(real), size=n_per_class, replace=False).tolist())
    items = [("real", real[i], {"reference_index": int(i)}) for i in real_pick]
    items += [("synthetic", s, src) for s, src in _synthetic_slices(cohort, n_per_class, _rng(seed, "synthetic"))]
    order = _rng(seed, "order").permutation(len(items))
    cases, key_cases = [], []
    digest = hashlib.sha256()
    for number, index in enumerate(order, start=1):
        truth, hu, source = items[int(index)]
        png = png_bytes(reading_pixels(hu, size, (window.width, window.level)))
        digest.update(png)
        cases.append({"number": number, "uri": data_uri(png)})
        key_cases.append({"case": number, "truth": truth, "source": source})
    pack_id = digest.hexdigest()[:12]
    html = _render(cases, pack_id, size)
    key = {
        "format": KEY_FORMAT, "kind": KEY_KIND, "pack_id": pack_id,
        "pack_sha256": hashlib.sha256(html.encode("utf-8")).hexdigest(),
        "seed": seed, "n_per_class": n_per_class, "size_px": size, "window": [window.width, window.level],
        "window_name": window.name,
        "cohort": cohort.plan.cohort_name, "content_hash": cohort.info.get("content_hash"),
        "cases": key_cases,
    }
    files = [(key_path, (json.dumps(key, indent=2, sort_keys=True) + "\n").encode("utf-8")),
             (pack_path, html.encode("utf-8"))]
    try:
        _write_pack(out_dir, files, overwrite)
    except FileExistsError as error:  # appeared while the pack was being made
        raise ReaderPackError(_exists_message(Path(error.filename or out_dir))) from None
    except OSError as error:
        raise ReaderPackError(_cannot_write(out_dir, error)) from None
    return pack_path, key_path


def _exists_message(existing: Path) -> str:
    return (f"{existing} already exists; choose another --out folder (a pack already sent out needs its key) "
            "or rerun with --overwrite to replace it (overwrite=True from Python)")


def _cannot_write(out_dir: Path, error: OSError) -> str:
    reason = error.strerror or type(error).__name__
    if error.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        fix = "free some disk space or choose another --out"
    elif error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        fix = "choose a folder you can write to with --out"
    else:
        fix = "choose another --out"
    return f"cannot write the reader pack to {out_dir} ({reason}); nothing was written; {fix}"


def _check_writable(folder: Path) -> None:
    """Refuse early (before any slice is rendered) an output folder that is a file or cannot be written."""
    from synthspec.cohort.folder import system_tree

    if system_tree(folder) is not None:
        raise ReaderPackError(f"{folder} is inside the system tree {system_tree(folder)}; give --out a folder on a disk")
    probe = folder
    while not os.path.lexists(probe) and probe.parent != probe:
        probe = probe.parent
    if os.path.lexists(probe) and not probe.is_dir():
        where = "is a file" if probe == folder else f"cannot be made: {probe} is a file"
        raise ReaderPackError(f"{folder} {where}, not a folder; give --out a new or existing folder")
    if probe.is_dir() and not os.access(probe, os.W_OK | os.X_OK):
        raise ReaderPackError(f"cannot write the reader pack to {folder} ({probe} is not writable); "
                              "choose a folder you can write to with --out")


def _write_file(path: Path, data: bytes, durable: bool = True) -> None:
    with open(path, "xb") as handle:
        handle.write(data)
        handle.flush()
        if durable:
            os.fsync(handle.fileno())


def _write_pack(out_dir: Path, files: list[tuple[Path, bytes]], overwrite: bool) -> None:
    """Write every file in full before any of them appears under its final name (see `make_reader_pack`)."""
    from synthspec.cohort.atomic import fsync_dir, rename_noreplace, staged_dir, temp_name

    if not os.path.lexists(out_dir) and all(final.parent == out_dir for final, _ in files):
        with staged_dir(out_dir) as stage:  # a sibling `.tmp-*` folder, renamed to out_dir when complete
            for final, data in files:
                _write_file(stage / final.name, data, durable=False)  # staged_dir fsyncs the folder
        return
    temps: list[tuple[Path, Path]] = []
    placed: list[Path] = []
    try:
        for final, data in files:
            final.parent.mkdir(parents=True, exist_ok=True)
            temps.append((temp_name(final), final))
            _write_file(temps[-1][0], data)
        for tmp, final in temps:
            (os.replace if overwrite else rename_noreplace)(tmp, final)
            placed.append(final)
    except BaseException:
        for tmp, _ in temps:
            tmp.unlink(missing_ok=True)
        if not overwrite:  # what this call placed is new; take it back so no key is left without its page
            for final in placed:
                final.unlink(missing_ok=True)
        raise
    for folder in {final.parent for final, _ in files}:
        fsync_dir(folder)


# ---------------------------------------------------------------- scoring

MAX_KEY_BYTES = 64 << 20      # a key lists a few hundred cases: kilobytes
MAX_SHEET_BYTES = 16 << 20    # an answer sheet is `case,answer` per case: kilobytes
USAGE = "synth review-score KEY ANSWERS_CSV"


def _read_input(path: Path, what: str, limit: int, encoding: str) -> str:
    """The text of one input file, or a one-line error naming it and what to give instead."""
    if path.is_dir():
        inside = path / "reader_key.json"
        hint = f"; did you mean {inside}?" if what == "key" and inside.is_file() else ""
        raise ReaderPackError(f"{path} is a directory, not a file; give the {_WHAT[what]}{hint}")
    if not path.exists():
        raise ReaderPackError(f"{path} does not exist; give the {_WHAT[what]}")
    if not path.is_file():
        raise ReaderPackError(f"{path} is not a regular file; give the {_WHAT[what]}")
    try:
        size = path.stat().st_size
        if size > limit:
            raise ReaderPackError(f"{path} is {size / 2**20:.0f} MiB, far too large for a reader {what}; "
                                  f"give the {_WHAT[what]}")
        return path.read_text(encoding=encoding)
    except UnicodeDecodeError:
        raise ReaderPackError(f"{path} is not a UTF-8 text file; give the {_WHAT[what]}") from None
    except OSError as error:
        raise ReaderPackError(f"{path} cannot be read ({error.strerror or type(error).__name__}); "
                              f"check its permissions or give the {_WHAT[what]}") from None


_WHAT = {"key": "reader_key.json written with the pack", "answer sheet": "CSV the reader downloaded from the pack"}


def _looks_like_sheet(text: str) -> bool:
    first = next((line for line in text.lstrip("\ufeff").splitlines() if line.strip()), "")
    return [c.strip().strip('"').lower() for c in first.split(",")][:2] == ["case", "answer"]


def _looks_like_json(text: str) -> bool:
    return text.lstrip("\ufeff \t\r\n")[:1] in ("{", "[")


def _describe_cases(cases) -> str:
    """`1..20` for a run of case numbers, else the numbers themselves (abridged when many)."""
    ids = sorted(cases)
    if ids == list(range(ids[0], ids[-1] + 1)):
        return f"{ids[0]}..{ids[-1]}" if len(ids) > 1 else str(ids[0])
    if len(ids) <= 12:
        return ", ".join(map(str, ids))
    return ", ".join(map(str, ids[:10])) + f", ... {ids[-1]} ({len(ids)} cases)"


def _load_key(key_path: Path) -> dict:
    key_path = Path(key_path)
    text = _read_input(key_path, "key", MAX_KEY_BYTES, "utf-8")
    try:
        key = json.loads(text)
    except RecursionError:
        raise ReaderPackError(f"{key_path} is not a synthspec reader key (its JSON is nested too deeply); "
                              "give the reader_key.json written with the pack") from None
    except ValueError:
        if _looks_like_sheet(text):
            raise ReaderPackError(f"{key_path} is an answer sheet (CSV), not the key; were the two swapped? "
                                  f"the key comes first: {USAGE}") from None
        raise ReaderPackError(f"{key_path} is not valid JSON; it is damaged (restore it from where the pack was made)") from None
    if isinstance(key, dict) and key.get("kind") == KEY_KIND and key.get("format") != KEY_FORMAT:
        from synthspec import __version__

        raise ReaderPackError(f"{key_path} is a reader key of format {key.get('format')!r}, but synthspec "
                              f"{__version__} reads format {KEY_FORMAT} only; score it with the synthspec "
                              "version that made the pack")
    if not isinstance(key, dict) or key.get("kind") != KEY_KIND:
        raise ReaderPackError(f"{key_path} is not a synthspec reader key (no \"kind\": \"{KEY_KIND}\"); "
                              "give the reader_key.json written with the pack")
    cases = key.get("cases")
    truth: dict[int, str] = {}
    if not isinstance(cases, list) or not cases:
        raise ReaderPackError(f"{key_path} lists no cases; it is damaged")
    for entry in cases:
        if (not isinstance(entry, dict) or type(entry.get("case")) is not int or entry.get("truth") not in CLASSES
                or entry["case"] in truth):
            raise ReaderPackError(f"{key_path}: a case entry is damaged ({str(entry)[:80]})")
        truth[entry["case"]] = entry["truth"]
    key["truth"] = truth
    return key


def _load_answers(answers_csv: Path, truth: dict[int, str]) -> dict[int, str]:
    answers_csv = Path(answers_csv)
    text = _read_input(answers_csv, "answer sheet", MAX_SHEET_BYTES, "utf-8-sig")
    if _looks_like_json(text):
        raise ReaderPackError(f"{answers_csv} is JSON (a reader key?), not the answer CSV; were the two swapped? "
                              f"the answers come second: {USAGE}")
    try:
        rows = [r for r in csv.reader(io.StringIO(text)) if any(c.strip() for c in r)]
    except csv.Error as error:
        raise ReaderPackError(f"{answers_csv} is not a readable answer sheet ({error}); give the CSV the reader "
                              "downloaded from the pack") from None
    if not rows or [c.strip().lower() for c in rows[0]] != ["case", "answer"]:
        raise ReaderPackError(f"{answers_csv} must start with the header `case,answer` (as the pack downloads it)")
    answers: dict[int, str] = {}
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != 2:
            raise ReaderPackError(f"{answers_csv}, row {line}: expected two columns `case,answer`, got {len(row)}")
        case_text, answer = row[0].strip(), row[1].strip().lower()
        if not re.fullmatch(r"[0-9]{1,9}", case_text):
            raise ReaderPackError(f"{answers_csv}, row {line}: case `{case_text[:20]}` is not a case number")
        case = int(case_text)
        if case not in truth:
            raise ReaderPackError(f"{answers_csv}, row {line}: case {case} is not in this pack (the key has "
                                  f"cases {_describe_cases(truth)}); is this the answer sheet for another pack?")
        if case in answers:
            raise ReaderPackError(f"{answers_csv}, row {line}: case {case} is answered twice")
        if answer not in CLASSES + ("",):
            raise ReaderPackError(f"{answers_csv}, row {line}: answer `{answer[:20]}` must be `real` or `synthetic` "
                                  "(or empty for no answer)")
        if answer:
            answers[case] = answer
    return answers


def score_answers(key_path: Path, answers_csv: Path) -> dict[str, Any]:
    """Accuracy of one reader's answer sheet against the key, with a Wilson 95 % CI and a verdict."""
    key = _load_key(key_path)
    truth = key["truth"]
    answers = _load_answers(answers_csv, truth)
    if not answers:
        raise ReaderPackError(f"{answers_csv} answers none of the {len(truth)} cases; nothing to score")
    n = len(answers)
    correct = sum(1 for case, answer in answers.items() if truth[case] == answer)
    low, high = wilson_interval(correct, n)
    by_truth = {}
    for cls in CLASSES:
        answered = [c for c in answers if truth[c] == cls]
        right = sum(1 for c in answered if answers[c] == cls)
        by_truth[cls] = {"n": len(answered), "correct": right,
                         "accuracy": round(right / len(answered), 4) if answered else None}
    confusion = {f"{t}->{a}": sum(1 for c in answers if truth[c] == t and answers[c] == a)
                 for t in CLASSES for a in CLASSES}
    near_chance = low <= 0.5 <= high
    ci = f"[{low:.2f}, {high:.2f}]"
    if near_chance:
        verdict = (f"near chance: the 95 % CI {ci} covers 0.5, so this reader could not reliably tell synthetic "
                   f"from real on these {n} cases")
    elif low > 0.5:
        verdict = (f"distinguishable: accuracy {correct / n:.2f}, 95 % CI {ci} above 0.5; this reader tells synthetic "
                   "from real better than chance (look at which synthetic cases gave it away)")
    else:
        verdict = (f"below chance: 95 % CI {ci} below 0.5; the reader systematically swapped the classes "
                   "(check the answer sheet against the right key)")
    result = {
        "pack_id": key.get("pack_id"), "cases": len(truth), "n": n, "unanswered": len(truth) - n,
        "unanswered_cases": sorted(set(truth) - set(answers)),
        "correct": correct, "accuracy": round(correct / n, 4), "ci95": [round(low, 4), round(high, 4)],
        "near_chance": near_chance, "verdict": verdict, "by_truth": by_truth, "confusion": confusion,
    }
    if n < 30:
        result["note"] = f"only {n} answered cases: the interval is wide; use more cases or readers for a firm answer"
    return result
