"""Real cases for the transfer test: read a datalist (JSON or CSV) and check every case before any training.

Accepted forms (paths relative to the file's own folder, or absolute):

    JSON  a list of entries, or an object holding the list under `real`, `training` or `test` (MONAI style);
          each entry {"image": ..., "label": ..., "site": ..., "class": 0/1 (classify), "id": ...}
    CSV   columns image, label, site (and class, id where needed)

`image` is a NIfTI (or any file SimpleITK reads) or a folder holding one DICOM series.  Each case is checked:
the files exist and are regular files (a link, FIFO or device is refused), SimpleITK reads them, the label's
geometry (size, spacing, origin, direction) equals the image's, the label holds only expected values, and the
site is named; at least two sites are needed for leave-one-site-out.  Each problem is one `InputError` naming
the file and the fix.  This module reads headers and labels only; resampling and training are elsewhere.
"""

from __future__ import annotations

import csv
import io
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from synthspec.cohort.atomic import open_regular, read_regular
from synthspec.errors import InputError

GEOMETRY_TOLERANCE = 1e-3
LIST_KEYS = ("real", "training", "test")


@dataclass(frozen=True)
class RealCase:
    case_id: str
    image: Path
    label: Path | None
    site: str
    klass: int | None = None
    """The class of the scan (classify: 1 positive, 0 negative); None for segment and detect."""


def _fail(where, message: str) -> InputError:
    return InputError(f"{where}: {message}")


def _entries(path: Path) -> list[dict]:
    try:
        raw = read_regular(path)
    except FileNotFoundError:
        raise InputError(f"no such real datalist: {path}; give --real a JSON datalist or a CSV of image,label,site") from None
    except OSError as error:
        raise _fail(path, f"cannot be read ({error.strerror or error}); give --real a regular JSON or CSV file") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _fail(path, "is not UTF-8 text; give a JSON datalist or a CSV of image,label,site") from None
    if path.suffix.lower() == ".csv":
        rows = list(csv.DictReader(io.StringIO(text)))
        if not rows or "image" not in rows[0] or "site" not in rows[0]:
            raise _fail(path, "needs a header with at least the columns image and site (and label); add them")
        return rows
    try:
        data = json.loads(text)
    except ValueError as error:
        raise _fail(path, f"is not valid JSON ({error.msg} at line {error.lineno}); fix the file") from None
    if isinstance(data, dict):
        key = next((k for k in LIST_KEYS if isinstance(data.get(k), list)), None)
        if key is None:
            raise _fail(path, f"holds no list of cases under {', '.join(LIST_KEYS)}; put the entries under `real`")
        data = data[key]
    if not isinstance(data, list) or not data:
        raise _fail(path, "holds no cases; list entries with image, label and site")
    for k, entry in enumerate(data):
        if not isinstance(entry, dict):
            raise _fail(path, f"entry {k} is a JSON {type(entry).__name__}, not an object with image, label and site")
    return data


def _resolve(base: Path, value, where: str, what: str) -> Path:
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{where} has no {what} path; give one")
    p = Path(value)
    return p if p.is_absolute() else base / p


def _check_file(path: Path, where: str) -> None:
    """Refuse what is not a regular file (or, for an image, a folder of regular DICOM files)."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        raise InputError(f"{path} is missing ({where}); fix the path in the datalist") from None
    except OSError as error:
        raise InputError(f"{path} cannot be read ({error.strerror or error}; {where}); fix its permissions") from None
    if stat.S_ISDIR(info.st_mode):
        return
    try:
        with open_regular(path):
            pass
    except OSError as error:
        raise InputError(f"{path} cannot be read ({error.strerror or error}; {where}); give a NIfTI file or a DICOM "
                         "folder in its place") from None


def read_image(path: Path):
    """A SimpleITK image from a file or a folder holding one DICOM series; InputError when unreadable."""
    import SimpleITK as sitk

    try:
        if path.is_dir():
            for entry in os.scandir(path):   # before GDCM opens anything: a FIFO would hang it, a device feed it
                if entry.is_symlink() or not (entry.is_file(follow_symlinks=False) or entry.is_dir(follow_symlinks=False)):
                    raise InputError(f"{Path(entry.path)} in the DICOM series folder {path} is a link or a special "
                                     "file; keep only the series' regular files there")
            reader = sitk.ImageSeriesReader()
            series = reader.GetGDCMSeriesIDs(str(path))
            if not series:
                raise InputError(f"{path} is a folder without a DICOM series; give a NIfTI file or a DICOM series folder")
            files = reader.GetGDCMSeriesFileNames(str(path), series[0])
            for name in files:
                _check_file(Path(name), f"in the DICOM series {path}")
            reader.SetFileNames(files)
            return reader.Execute()
        return sitk.ReadImage(str(path))
    except RuntimeError as error:
        reason = (str(error).strip().splitlines() or ["unreadable"])[-1][:120]
        raise InputError(f"{path} cannot be read as an image ({reason}); give a NIfTI file or a DICOM series") from None


def _same_geometry(image, label) -> str | None:
    if image.GetSize() != label.GetSize():
        return f"size {label.GetSize()} differs from the image's {image.GetSize()}"
    for name in ("Spacing", "Origin", "Direction"):
        a, b = np.asarray(getattr(image, f"Get{name}")()), np.asarray(getattr(label, f"Get{name}")())
        if np.max(np.abs(a - b)) > GEOMETRY_TOLERANCE:
            return f"{name.lower()} {tuple(np.round(b, 4))} differs from the image's {tuple(np.round(a, 4))}"
    return None


def _check_values(label_path: Path, label, expected: set[int] | None) -> None:
    import SimpleITK as sitk

    values = np.unique(sitk.GetArrayViewFromImage(label))
    if not np.all(np.isfinite(values)) or not np.all(values == np.round(values)):
        raise InputError(f"{label_path} holds non-integer label values; give a mask of whole numbers (0 background)")
    ints = {int(v) for v in values}
    bad = sorted(v for v in ints if (v < 0 if expected is None else v not in expected))
    if bad:
        allowed = "0 and positive integers" if expected is None else ", ".join(map(str, sorted(expected)))
        raise InputError(f"{label_path} holds label value(s) {', '.join(map(str, bad[:5]))}, expected only {allowed}; "
                         "fix the mask or give --label-values")


def _class_of(entry: dict, where: str) -> int:
    value = entry.get("class", entry.get("label"))
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        raise InputError(f"{where} has no class (0 or 1) for classify; add a `class` field") from None
    if number not in (0, 1):
        raise InputError(f"{where} has class {number}; classify takes 0 (negative) or 1 (positive)")
    return number


def load_real(path, job: str = "segment", label_values: set[int] | None = None, min_sites: int = 2) -> list[RealCase]:
    """Every real case of the datalist at `path`, checked (see the module doc)."""
    path = Path(path)
    base = path.parent
    cases, seen = [], set()
    for k, entry in enumerate(_entries(path)):
        where = f"{path} entry {k}"
        site = entry.get("site")
        if not isinstance(site, str) or not site.strip():
            raise InputError(f"{where} names no site; give each case a non-empty `site` (the hospital or scanner)")
        image = _resolve(base, entry.get("image"), where, "image")
        _check_file(image, where)
        img = read_image(image)
        label = None
        klass = None
        if job == "classify":
            klass = _class_of(entry, where)
        else:
            label = _resolve(base, entry.get("label"), where, "label")
            _check_file(label, where)
            if label.is_dir():
                raise InputError(f"{label} is a folder ({where}); give the label as one NIfTI mask file")
            lab = read_image(label)
            problem = _same_geometry(img, lab)
            if problem:
                raise InputError(f"{label} does not match its image {image.name}: {problem}; resample the mask onto "
                                 "the image's grid")
            _check_values(label, lab, label_values)
        case_id = str(entry.get("id") or entry.get("case") or f"{site.strip()}-{k}")
        if case_id in seen:
            raise InputError(f"{where} repeats the case id {case_id!r}; give every case its own id")
        seen.add(case_id)
        cases.append(RealCase(case_id, image, label, site.strip(), klass))
    sites = sorted({c.site for c in cases})
    if len(sites) < min_sites:
        raise InputError(f"{path} names {len(sites)} site ({', '.join(sites)}); leave-one-site-out needs at least "
                         f"{min_sites}: add cases from another site")
    return cases
