"""The synthetic side's tissue classes: the cohort's label map read through the plan's label table.

Which label is lung, fat, muscle, bone or blood comes from `synthspec.cohort.labels` (the
table carried in the plan), never from numbers written here.  Lesion voxels are left out of
every class.  This module reads no file and measures nothing.
"""

from __future__ import annotations

import numpy as np

from synthspec.cohort import labels as label_table
from synthspec.validate.morphology import grow_in_plane
from synthspec.validate.realism.sampling import NOISE_REGIONS
from synthspec.validate.reference import CODE

TISSUE_CLASS = {"lung": "lung", "fat": "fat", "muscle": "muscle_soft", "cancellous_bone": "bone",
                "cortical_bone": "bone", "bone": "bone", "blood": "blood", "iodinated_blood": "blood"}
"""Phantom tissue (the stdlib's material names) -> the compared tissue class."""


def synthetic_luts(plan) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Label -> tissue class / homogeneous region on the synthetic side, and labels that join the lung near it."""
    tissue_of = {int(k): str(v) for k, v in label_table.tissues(plan).items()}
    name_of = {int(k): str(v) for k, v in label_table.names(plan).items()}
    top = max(list(tissue_of) + list(name_of) + [0])
    lut_class = np.zeros(top + 1, dtype=np.uint8)
    lut_homog = np.zeros(top + 1, dtype=np.uint8)
    lung_extra = []
    for label, tissue in tissue_of.items():
        name = name_of.get(label, "").lower()
        if "pulmonary" in name or "bronch" in name:
            lung_extra.append(label)  # TotalSegmentator lobes include intrapulmonary vessels and airways
            continue
        cls = TISSUE_CLASS.get(tissue)
        if cls is None:
            continue
        lut_class[label] = CODE[cls]
        if cls in NOISE_REGIONS:
            lut_homog[label] = CODE[cls]
    return lut_class, lut_homog, lung_extra


def synthetic_classes(labels: np.ndarray, lesions: np.ndarray | None, luts) -> tuple[np.ndarray, np.ndarray]:
    """Tissue classes and homogeneous regions of one subject's label map (lesions excluded)."""
    lut_class, lut_homog, lung_extra = luts
    labels = np.clip(labels.astype(np.int64), 0, len(lut_class) - 1)
    classes = lut_class[labels]
    homogeneous = lut_homog[labels]
    if lung_extra:
        near_lung = grow_in_plane(classes == CODE["lung"], 2)
        classes[np.isin(labels, lung_extra) & near_lung] = CODE["lung"]
    if lesions is not None and lesions.shape == classes.shape:
        classes[lesions > 0] = 0
        homogeneous[lesions > 0] = 0
    return classes, homogeneous
