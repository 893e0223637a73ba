"""One subject's ground-truth volume: phantom, then lesions.  The executor's entry point.

`build_subject` runs the anatomy from `anatomy_rng` only and the lesions from
`lesion_rng` only, so a counterfactual twin (`with_pathology=False`) has
bit-identical `hu` and `labels` everywhere outside the lesions' bounding boxes
(`InsertedLesion.bbox` holds every voxel a lesion changed, partial-volume edge
and spicules included; `lesion_mask` marks the voxels it occupies >= 50 %).
Lesions do not change `labels`: a nodule's voxels keep their lobe label and are
found through `lesion_mask`.

It does not simulate imaging (physics/) nor write files (writers/).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from synthspec.families.grid import Grid
from synthspec.families.anatomy.thorax.build import R_LUNG, build_thorax


@dataclass
class Anatomy:
    """Demographics that shape the body."""

    sex: str              # "female" | "male"
    age_y: float
    height_mm: float
    bmi: float


@dataclass
class LesionRequest:
    kind: str             # "lung_nodule"
    subtype: str          # "solid" | "part_solid" | "ground_glass"
    diameter_mm: float
    locations: list[str]  # organ names the lesion may sit in; the group "lung" means any lobe
    lobulation: float = 0.0   # 0..1
    spiculation: float = 0.0  # 0..1
    min_pleura_mm: float | None = None        # require distance_to(pleura) >= X
    max_vessel_overlap: float | None = None   # fraction of lesion volume allowed inside large vessels


@dataclass
class InsertedLesion:
    id: int
    kind: str
    subtype: str
    location: str
    diameter_mm: float
    centre_mm: tuple[float, float, float]   # (x, y, z) in the grid's centred mm frame
    bbox: tuple[int, int, int, int, int, int]  # (z0, y0, x0, z1, y1, x1) voxel, half-open
    volume_ml: float
    attempts: int


@dataclass
class SubjectVolume:
    hu: np.ndarray            # float32 [Z,Y,X] ground-truth HU before imaging physics
    labels: np.ndarray        # uint8 [Z,Y,X] organ label codes from anatomy_thorax.synth (0 = air outside body)
    lesion_mask: np.ndarray   # uint16 [Z,Y,X] 0 = none, n = lesion id n
    lesions: list[InsertedLesion]
    rejected: list[str]       # reasons lesions could not be placed (constraint names), empty normally
    lung: np.ndarray | None = field(default=None, repr=False)
    """bool [Z,Y,X] lung region (parenchyma and the vessels inside it); distance_to(pleura) is measured
    from its boundary (`pleura_distance_mm`)."""


def build_subject(anatomy: Anatomy, grid: Grid, tissue_hu: dict[str, tuple[float, float]], organ_tissue: dict[int, str],
                  lesions: list[LesionRequest], anatomy_rng: np.random.Generator, lesion_rng: np.random.Generator,
                  with_pathology: bool = True, max_attempts: int = 200) -> SubjectVolume:
    """Phantom from `anatomy_rng`, then (if `with_pathology`) lesions from `lesion_rng`.

    Raises ValueError when the body does not fit the grid's field of view."""
    phantom = build_thorax(anatomy, grid, tissue_hu, organ_tissue, anatomy_rng)
    lesion_mask = np.zeros(grid.shape, dtype=np.uint16)
    inserted: list[InsertedLesion] = []
    rejected: list[str] = []
    if with_pathology and lesions:
        from synthspec.families.pathology.lung_nodule import insert_lesions

        inserted, rejected = insert_lesions(phantom, grid, lesions, lesion_rng, lesion_mask, tissue_hu,
                                            max_attempts=max_attempts)
    return SubjectVolume(hu=phantom.hu, labels=phantom.labels, lesion_mask=lesion_mask, lesions=inserted,
                         rejected=rejected, lung=phantom.region == R_LUNG)


def pleura_distance_mm(lung: np.ndarray, spacing) -> np.ndarray:
    """Distance (mm) from each lung voxel centre to the nearest voxel outside the lung (0 outside).

    The grid's own faces are not pleura (a scan that cuts the lungs does not make a surface)."""
    from scipy.ndimage import distance_transform_edt

    return distance_transform_edt(lung, sampling=tuple(float(s) for s in spacing)).astype(np.float32)
