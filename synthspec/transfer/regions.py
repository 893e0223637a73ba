"""Where a lesion can be, found from the image alone: the lungs of a chest CT, the head of a brain MRI.

The transfer test uses the region twice, the same way on real and synthetic scans: half of the lesion-free
training patches are centred in it (hard negatives: vessels and airways for a nodule detector, not air outside
the patient), and the models' probability maps are set to zero outside it before lesions are counted, as a
lung-nodule detector's candidates are kept inside a lung mask (the LUNA16 convention).  The region never looks
at a label, so it cannot leak the answer.

    lungs     CT numbers: air-density components (< -400 HU after a 1 mm in-plane smoothing) of at least 100 mL
              (or a quarter of the largest), after the air that reaches a slice's border (around the patient,
              or between arm and chest) is taken out slice by slice; holes filled slice by slice (vessels,
              nodules), then closed in-plane by CLOSE_MM (a juxta-pleural tumour indents the lung's outline)
              and grown by MARGIN_MM
    head      MRI: voxels above a tenth of the 99th percentile, the largest component, holes filled, grown by
              MARGIN_MM

A scan where none is found (a phantom, a crop without lung) gets the whole volume, so nothing is hidden.
This module trains nothing and measures nothing.
"""

from __future__ import annotations

import numpy as np

LUNG_HU = -400.0
MIN_LUNG_ML = 100.0
CLOSE_MM = 15.0
MARGIN_MM = 3.0


def _disk(radius_px: int) -> np.ndarray:
    r = max(1, int(radius_px))
    yy, xx = np.mgrid[-r:r + 1, -r:r + 1]
    return (yy ** 2 + xx ** 2 <= r * r)[None]


def _fill_slices(mask: np.ndarray) -> np.ndarray:
    from scipy.ndimage import binary_fill_holes

    return np.stack([binary_fill_holes(m) for m in mask])


def _grow(mask: np.ndarray, spacing_zyx, mm: float) -> np.ndarray:
    from scipy.ndimage import binary_dilation

    return binary_dilation(mask, structure=_disk(round(mm / float(np.mean(spacing_zyx[1:])))))


def lungs(hu: np.ndarray, spacing_zyx) -> np.ndarray:
    """The lungs of a chest CT (`hu` in HU, z y x), closed and grown as the module says; bool, hu's shape."""
    from scipy.ndimage import binary_closing, gaussian_filter, label

    spacing = np.asarray(spacing_zyx, float)
    smooth = gaussian_filter(hu.astype(np.float32), sigma=[0.0, 1.0 / spacing[1], 1.0 / spacing[2]])
    low = smooth < LUNG_HU
    for plane in low:  # air reaching a slice's border is around the patient (or between arm and chest): not lung
        parts, _ = label(plane)
        edge = np.unique(np.concatenate([parts[0], parts[-1], parts[:, 0], parts[:, -1]]))
        plane[np.isin(parts, edge[edge > 0])] = False
    parts, count = label(low)
    if count == 0:
        return np.ones(hu.shape, bool)
    sizes = np.bincount(parts.ravel()).astype(float) * float(np.prod(spacing)) / 1000.0
    sizes[0] = 0.0
    if not sizes.max() > 0:
        return np.ones(hu.shape, bool)
    keep = np.flatnonzero(sizes >= min(MIN_LUNG_ML, 0.25 * sizes.max()))
    lung = _fill_slices(np.isin(parts, keep))
    radius = round(CLOSE_MM / float(np.mean(spacing[1:])))
    pad = radius + 1
    padded = np.pad(lung, ((0, 0), (pad, pad), (pad, pad)))
    lung = _fill_slices(binary_closing(padded, structure=_disk(radius))[:, pad:-pad, pad:-pad])
    return _grow(lung, spacing, MARGIN_MM)


def head(image: np.ndarray, spacing_zyx) -> np.ndarray:
    """The head of an MR image (any scale): bright enough, the largest component, holes filled, grown."""
    from scipy.ndimage import label

    high = float(np.percentile(image, 99.0))
    if not high > 0:
        return np.ones(image.shape, bool)
    parts, count = label(image > 0.1 * high)
    if count == 0:
        return np.ones(image.shape, bool)
    sizes = np.bincount(parts.ravel())
    sizes[0] = 0
    return _grow(_fill_slices(parts == int(np.argmax(sizes))), spacing_zyx, MARGIN_MM)


def region(kind: str | None, image: np.ndarray, spacing_zyx) -> np.ndarray | None:
    """The region of `kind` ("lungs": `image` in HU; "head": raw MR values), or None for no region."""
    if kind == "lungs":
        return lungs(image, spacing_zyx)
    if kind == "head":
        return head(image, spacing_zyx)
    return None


def kind_for(modality: str | None, anatomy: str | None) -> str | None:
    """Which region a cohort's lesions live in: the lungs on a thorax CT, the head on a head MRI, else none."""
    if modality == "ct" and anatomy and anatomy.startswith("thorax"):
        return "lungs"
    if modality == "mri" and anatomy and anatomy.startswith("head"):
        return "head"
    return None
