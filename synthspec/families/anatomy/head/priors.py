"""The real templates the head is built from, fetched on demand and cached with their checksums.

    MNI ICBM152 2009a symmetric grey and white matter probability maps  nilearn 0.14.1 wheel (PyPI)
    Colin27 single-subject T1 with scalp, its brain mask and the AAL atlas  Debian mricron-data

Both are downloaded only when a head is first built (`pip download` / `apt-get download`; nothing is
installed), copied into `$SYNTH_CACHE/reference/...` and checked against the SHA-256 sums below on
every load, exactly like the realism references.  Which scans may shape generation and which must
stay held out is DATA.md's rule: these templates shape it; the real head CT that judges realism
(Debian invesalius-examples) is never read here.

This module reads files into numpy arrays on the MNI152 grid; it builds nothing (template.py does).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from synthspec.validate.reference.debian import fetch_deb_files
from synthspec.validate.reference.fetch import cache_root, extract_members, fetch_wheel_files, verify_files

NILEARN_VERSION = "0.14.1"
MRICRON_DATA_VERSION = "1.2.20211006+dfsg-4"

MNI_FILES = {"gm.nii.gz": "nilearn/datasets/data/mni_icbm152_gm_tal_nlin_sym_09a_converted.nii.gz",
             "wm.nii.gz": "nilearn/datasets/data/mni_icbm152_wm_tal_nlin_sym_09a_converted.nii.gz",
             "t1.nii.gz": "nilearn/datasets/data/mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz"}
COLIN_FILES = {"ch2.nii.gz": "usr/share/mricron/templates/ch2.nii.gz",
               "ch2bet.nii.gz": "usr/share/mricron/templates/ch2bet.nii.gz",
               "aal.nii.gz": "usr/share/mricron/templates/aal.nii.gz",
               "aal.nii.txt": "usr/share/mricron/templates/aal.nii.txt"}
COLIN_SHA256 = {"ch2.nii.gz": "a009051127f64dc3dd554d5f5b589870ea72106d9642c21b4e7093e478cfc309",
                "ch2bet.nii.gz": "592a2d20abdf36eefcb540ca8958428040edffc1bc1a18ba1dcfbabac77c5dd1",
                "aal.nii.gz": "b512dcd3f36b77f56be7a9a038134096e66314b7e8c31d25875b96bcf6991454",
                "aal.nii.txt": "1788d6556a9ec056de9867b2382cf1ce1b51b87ae4cfd9cd25de48ae4dde709e"}

PRIOR_SOURCES = (
    {"name": "MNI ICBM152 2009a nonlinear symmetric grey/white matter probability maps",
     "package": f"nilearn=={NILEARN_VERSION} (PyPI wheel, nilearn/datasets/data)",
     "licence": "nilearn BSD-3-Clause; template: Copyright (C) 1993-2009 Louis Collins, McConnell Brain Imaging Centre, "
                "Montreal Neurological Institute, McGill University, use with attribution",
     "cite": "Fonov et al., NeuroImage 54:313 (2011); Fonov et al., NeuroImage 47:S102 (2009)"},
    {"name": "Colin27 head (ch2, ch2bet) and the AAL atlas",
     "package": f"Debian mricron-data {MRICRON_DATA_VERSION}",
     "licence": "BSD-style per Debian's copyright file; AAL: Tzourio-Mazoyer et al., NeuroImage 15:273 (2002), "
                "free for research with citation",
     "cite": "Holmes et al., J Comput Assist Tomogr 22:324 (1998); Tzourio-Mazoyer et al. 2002"},
)


def _nilearn_dir(cache: Path | None = None) -> Path:
    return Path(cache or cache_root()) / "reference" / f"nilearn-{NILEARN_VERSION}-mni152"


def _colin_dir(cache: Path | None = None) -> Path:
    return Path(cache or cache_root()) / "reference" / f"mricron-data-{MRICRON_DATA_VERSION}"


def fetch_priors(cache: Path | None = None) -> dict[str, Path]:
    """Every prior file's cached path, downloading what is missing; ReferenceError names what failed."""
    mni = fetch_wheel_files(
        f"nilearn=={NILEARN_VERSION}", _nilearn_dir(cache),
        lambda wheel, target: extract_members(wheel, target, MNI_FILES, "nilearn", NILEARN_VERSION, None,
                                              f"use nilearn=={NILEARN_VERSION}"), "the MNI152 template")
    colin = fetch_deb_files("mricron-data", MRICRON_DATA_VERSION, _colin_dir(cache), COLIN_FILES, COLIN_SHA256,
                            "the Colin27 head and AAL atlas")
    paths = verify_files(mni, {n: n for n in MNI_FILES}, "template file", "the MNI152 template")
    paths.update(verify_files(colin, {n: n for n in COLIN_FILES}, "template file", "the Colin27 head"))
    return paths


def fingerprint(paths: dict[str, Path]) -> str:
    """The prior files' SHA-256 sums joined (from the manifests): what the cached template is keyed by."""
    import hashlib
    import json

    sums = []
    for folder in sorted({p.parent for p in paths.values()}):
        sums.append(json.loads((folder / "manifest.json").read_text(encoding="utf-8"))["sha256"])
    return hashlib.sha256(json.dumps(sums, sort_keys=True).encode()).hexdigest()[:16]


def read_on_mni_grid(paths: dict[str, Path]) -> dict[str, np.ndarray]:
    """The priors as [Z, Y, X] arrays on the MNI152 1 mm grid (LPS frame: x = 98 - i, y = 134 - j, z = k - 72).

    gm, wm: probabilities 0..1 (float32); t1: the MNI152 T1 (float32); colin: the Colin27 T1 with scalp
    (float32); colin_brain: its brain mask (bool); aal: AAL region ids (uint8), nearest-neighbour resampled."""
    import SimpleITK as sitk

    reference = sitk.ReadImage(str(paths["gm.nii.gz"]))

    def on_grid(name: str, nearest: bool = False) -> np.ndarray:
        image = sitk.ReadImage(str(paths[name]))
        if image.GetSize() != reference.GetSize() or image.GetOrigin() != reference.GetOrigin():
            image = sitk.Resample(image, reference, sitk.Transform(),
                                  sitk.sitkNearestNeighbor if nearest else sitk.sitkLinear, 0.0, image.GetPixelID())
        return sitk.GetArrayFromImage(image)

    out = {"gm": on_grid("gm.nii.gz").astype(np.float32) / 255.0, "wm": on_grid("wm.nii.gz").astype(np.float32) / 255.0,
           "t1": on_grid("t1.nii.gz").astype(np.float32), "colin": on_grid("ch2.nii.gz").astype(np.float32),
           "colin_brain": on_grid("ch2bet.nii.gz") > 0, "aal": on_grid("aal.nii.gz", nearest=True).astype(np.uint8)}
    return out


def aal_names(paths: dict[str, Path]) -> dict[int, str]:
    """AAL id -> region name (`aal.nii.txt`: `id name code` lines)."""
    names = {}
    for line in paths["aal.nii.txt"].read_text(encoding="utf-8", errors="replace").splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].isdigit():
            names[int(parts[0])] = parts[1]
    return names


MNI_ORIGIN_LPS = (98.0, 134.0, -72.0)
"""LPS position (x, y, z) of MNI152 voxel (0, 0, 0); the axes run -x, -y, +z with the indices."""
