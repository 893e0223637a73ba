"""The held-out real head CT for the head realism checks: Cranium.inv3 in Debian's invesalius-examples.

    folder = fetch_head_ct()          # $SYNTH_CACHE/reference/invesalius-examples-3.1.99998-4/
    ct = load_head_ct()               # HeadCT: HU float32 (z, y, x), spacing (dz, dy, dx) mm, notes

`fetch_head_ct` takes `usr/share/doc/invesalius-examples/examples/Cranium.inv3` out of the pinned
`.deb` (`apt-get download`, or a `.deb` already in `$SYNTH_DEBS`; nothing is installed; see
`debian.py`), checks its SHA-256 and writes `manifest.json`; every later load is checked against it.

An `.inv3` is an InVesalius 3 project: a gzipped tar holding `main.plist` (the project: matrix file
name, dtype, shape (z, y, x), spacing (x, y, z) mm) and `matrix.dat`, the volume as raw
little-endian values with no header.  Cranium.inv3 ("ProMED CT 0051", 2012) is int16 HU -1024..2986,
108 x 256 x 256, 0.957 x 0.957 x 1.5 mm, a non-contrast adult head from the skull base to the
vertex.  Its rows are stored flipped (the face at the bottom of each slice); `read_inv3` flips them
so row 0 is anterior.  Slice 0 is the most inferior (skull base), as stored.  Left-right is not
recorded and is left as stored (the realism measurements do not depend on it).

This CT shaped nothing in the generator (DATA.md: the head priors are the MNI152 and Colin27 MR
templates); it only judges realism.  Every failure is one ReferenceError line naming the file.
"""

from __future__ import annotations

import plistlib
import tarfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from synthspec.validate.reference.debian import fetch_deb_files
from synthspec.validate.reference.fetch import cache_root, verify_files
from synthspec.validate.reference.model import ReferenceError

PACKAGE = "invesalius-examples"
VERSION = "3.1.99998-4"
FILE = "Cranium.inv3"
MEMBER = "usr/share/doc/invesalius-examples/examples/Cranium.inv3"
KNOWN_SHA256 = {FILE: "3b34f11f7c4f557f4c65cd6543c412a2f6ceb0cfecfd9c41184420e02d9b7e2a"}
DEFAULT_SHAPE = (108, 256, 256)
DEFAULT_SPACING = (1.5, 0.9570312, 0.9570312)
"""(dz, dy, dx) of Cranium.inv3, used only when an .inv3 carries no main.plist."""
DESCRIPTION = "real adult non-contrast head CT (InVesalius example 'ProMED CT 0051', Debian invesalius-examples)"


@dataclass
class HeadCT:
    name: str
    image: np.ndarray
    """HU, float32, (z, y, x): z from inferior to superior as stored, row 0 anterior."""
    spacing: tuple[float, float, float]
    """(dz, dy, dx) in mm."""
    description: str = DESCRIPTION
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict:
        return {"name": self.name, "description": self.description, "shape": list(self.image.shape),
                "spacing_mm": [round(float(s), 4) for s in self.spacing], "notes": list(self.notes),
                "source": f"Debian {PACKAGE} {VERSION}, {MEMBER}"}


def head_ct_dir(version: str = VERSION, cache: Path | None = None) -> Path:
    return Path(cache or cache_root()) / "reference" / f"{PACKAGE}-{version}"


def fetch_head_ct(version: str = VERSION, cache: Path | None = None,
                  download: Callable[[str, str, Path], Path] | None = None) -> Path:
    """The cache folder holding Cranium.inv3, downloading the .deb only when it is not cached."""
    known = KNOWN_SHA256 if version == VERSION else None
    return fetch_deb_files(PACKAGE, version, head_ct_dir(version, cache), {FILE: MEMBER}, known,
                           "the real head CT", download)


def verify_head_ct(folder: Path) -> Path:
    """Cranium.inv3 in `folder`, checked against the manifest, or ReferenceError."""
    return verify_files(folder, {FILE: FILE}, "head CT", "the real head CT")[FILE]


def _shape_spacing(plist: dict, path: Path) -> tuple[str, str, tuple[int, ...], tuple[float, float, float]]:
    matrix = plist.get("matrix")
    if not isinstance(matrix, dict):
        raise ReferenceError(f"{path}: main.plist has no 'matrix' entry; this is not an InVesalius 3 project")
    try:
        shape = tuple(int(s) for s in matrix["shape"])
        dtype = str(matrix.get("dtype", "int16"))
        name = str(matrix.get("filename", "matrix.dat"))
        sx, sy, sz = (float(s) for s in plist["spacing"])
    except (KeyError, TypeError, ValueError):
        raise ReferenceError(f"{path}: main.plist lacks a valid matrix shape or spacing") from None
    if len(shape) != 3 or min(shape) < 1 or not all(s > 0 for s in (sx, sy, sz)):
        raise ReferenceError(f"{path}: main.plist gives shape {shape} and spacing {(sx, sy, sz)}; "
                             "expected 3 positive dimensions")
    return name, dtype, shape, (sz, sy, sx)


def read_inv3(path: Path, flip_rows: bool = True) -> HeadCT:
    """An InVesalius 3 project (.inv3) as a HU volume (z, y, x) with its spacing; rows flipped to anterior-first."""
    path = Path(path)
    if not path.is_file():
        raise ReferenceError(f"{path} is missing; delete the cache folder and run again to download the real head CT")
    notes = []
    try:
        with tarfile.open(path, mode="r:*") as archive:
            files = {Path(m.name).name: m for m in archive.getmembers() if m.isfile()}
            plist_member = files.get("main.plist")
            if plist_member is not None:
                with archive.extractfile(plist_member) as handle:
                    try:
                        plist = plistlib.load(handle)
                    except Exception as error:  # noqa: BLE001 - any unparsable plist is the same user error
                        raise ReferenceError(f"{path}: main.plist is not a readable plist "
                                             f"({type(error).__name__})") from None
                name, dtype, shape, spacing = _shape_spacing(plist, path)
                notes.append("shape and spacing from main.plist")
            else:
                name, dtype, shape, spacing = "matrix.dat", "int16", DEFAULT_SHAPE, DEFAULT_SPACING
                notes.append("no main.plist: Cranium.inv3's shape and spacing assumed")
            member = files.get(name)
            if member is None:
                raise ReferenceError(f"{path} holds no {name} (the volume); this is not a complete InVesalius project")
            with archive.extractfile(member) as handle:
                raw = handle.read()
    except (tarfile.TarError, OSError, EOFError, zlib.error) as error:
        raise ReferenceError(f"{path} is not a readable InVesalius project (a gzipped tar: "
                             f"{type(error).__name__}); delete it and download the real head CT again") from None
    try:
        dt = np.dtype(dtype).newbyteorder("<")
    except TypeError:
        raise ReferenceError(f"{path}: main.plist names an unknown dtype {dtype!r}") from None
    expected = int(np.prod(shape)) * dt.itemsize
    if len(raw) != expected:
        raise ReferenceError(f"{path}: {name} holds {len(raw)} bytes, but shape {'x'.join(map(str, shape))} of "
                             f"{dtype} needs {expected}; the file is truncated or damaged")
    volume = np.frombuffer(raw, dtype=dt).reshape(shape).astype(np.float32)
    if flip_rows:
        volume = volume[:, ::-1, :].copy()
        notes.append("rows flipped: stored with the face at the bottom, now row 0 is anterior")
    if not np.isfinite(volume).all():
        raise ReferenceError(f"{path}: {name} holds non-finite values")
    return HeadCT(name=path.stem, image=volume, spacing=spacing, notes=notes)


def load_head_ct(cache: Path | None = None, path: Path | None = None) -> HeadCT:
    """The real head CT from the cache (fetched on first use), or the .inv3 at `path`."""
    if path is not None:
        return read_inv3(Path(path))
    ct = read_inv3(verify_head_ct(fetch_head_ct(cache=cache)))
    ct.notes.append(f"Debian {PACKAGE} {VERSION}: {MEMBER}")
    return ct
