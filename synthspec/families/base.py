"""What the families hand each other: demographics in, tissues out, lesions as tissue layers.

An anatomy family builds a `TissueScene` (labels, the tissue under every voxel, partial-volume
layers, texture fields and where this subject sits in each tissue's population range); a
pathology adds layers and a lesion mask to the scene; a modality renders the scene into its
image channels from its own property tables (HU for CT).  Nothing here holds an intensity.

Only numpy-free types live here, so the registry, the plan and the lint path may import it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from synthspec.errors import Failure


class FamilyError(Failure, ValueError):
    """A subject a family cannot build as the plan asks (a body wider than the field of view, an unknown
    subtype); the message names the setting to change."""


@dataclass(frozen=True)
class Demographics:
    """What shapes a body: sex, age, height and BMI."""

    sex: str              # "female" | "male"
    age_y: float
    height_mm: float
    bmi: float


class LesionParams(BaseModel):
    """One lesion as the sampler drew it; the pathology family places it (the only lesion request type)."""

    pathology: str
    kind: str
    subtype: str
    diameter_mm: float
    locations: list[str]
    lobulation: float = 0.0
    spiculation: float = 0.0
    min_pleura_mm: float | None = None
    """`require distance_to(pleura) >= X`."""
    max_vessel_overlap: float | None = None
    """`require overlap_with(vessels) <= X` (fraction of the lesion)."""
    volume_ml: float | None = None
    """The spec's `volume` draw (mL), None when it gives none."""
    onset_h: float | None = None
    """The spec's `onset` draw (hours since onset), None when it gives none."""
    max_skull_mm: float | None = None
    """`require distance_to(skull) <= X` (mm)."""
    territory: str | None = None
    """The spec's `territory` draw (an arterial territory of the head family: ACA, MCA, PCA), None when it gives none."""
    attachment: str | None = None
    """The spec's `attachment` draw (lung nodules: isolated, juxta_pleural, juxta_vascular, perifissural), None when
    it gives none (placed anywhere the constraints allow)."""


@dataclass
class InsertedLesion:
    id: int
    kind: str
    subtype: str
    location: str
    diameter_mm: float
    centre_mm: tuple[float, float, float]   # (x, y, z) in the grid's centred LPS mm frame
    bbox: tuple[int, int, int, int, int, int]  # (z0, y0, x0, z1, y1, x1) voxel indices, half-open
    volume_ml: float
    attempts: int
    attributes: dict[str, Any] = field(default_factory=dict)
    """What the pathology family records beyond size and place (a rickets severity score, a blood age)."""


@dataclass
class Layer:
    """A partial-volume layer: `fraction` of each voxel becomes `tissue`, painted in scene order.

    `box` (a tuple of slices) places a cropped `fraction` in the volume.  `texture` (same shape)
    is a unit-scale field the modality turns into the tissue's own texture amplitude; `core`
    gives, per voxel, the share of the layer that is `core_tissue` instead (a solid core in a
    ground-glass halo); `keep` gives the share of the layer that stays `keep_tissue` (vessels
    that run through a nodule).  `level_quantiles` place this layer's tissues in their
    population ranges (a lesion's own density), falling back to the scene's."""

    tissue: str
    fraction: Any
    box: tuple | None = None
    texture: Any = None
    core_tissue: str | None = None
    core: Any = None
    keep_tissue: str | None = None
    keep: Any = None
    level_quantiles: dict[str, float] = field(default_factory=dict)


@dataclass
class PropertyChange:
    """A lesion that changes the tissue it lies in rather than replacing it (an infarct's cytotoxic oedema).

    Each factor multiplies the named physical property of whatever tissue mix is under the voxel
    (`pd`, `t1`, `t2`, `t2s`, `adc`, and `hu_offset` is added, not multiplied), weighted by `fraction`
    (0..1, the voxel's share of the lesion): property' = property * (1 + fraction * (factor - 1)).
    `box` (a tuple of slices) places a cropped `fraction`.  A modality applies the properties it has
    (MR: relaxation, PD, diffusion) and ignores the others; the pathology family derives the factors from
    physiology (time since onset), never from an image intensity."""

    name: str
    fraction: Any
    factors: dict[str, float]
    box: tuple | None = None


@dataclass
class TissueScene:
    """One subject's body as tissues on the plan's grid (numpy arrays, [Z, Y, X])."""

    labels: Any
    """uint8 anatomy label map, ids from the plan's label table (0 = outside the body)."""
    base_labels: Any
    """uint8 label whose tissue fills each voxel before the partial-volume layers (`labels` is the
    label map after them: an airway wall voxel is `body_wall` in `labels`, lung underneath)."""
    layers: list[Layer]
    textures: dict[str, Any]
    """Unit-variance correlated fields by name (`parenchyma`, `trabecular`)."""
    quantiles: dict[str, float]
    """Where this subject lies in each tissue's population range (0..1, one uniform per tissue)."""
    factors: dict[str, float] = field(default_factory=dict)
    """Other per-subject draws a modality needs: `gravity` (0..1, dependent-lung density),
    `bone_density_z` (standard normal, trabecular density for the age), `tissue_z` (standard normal, where
    this subject's soft tissues sit in their ranges together: the MR modality correlates each tissue's quantile
    with it), ..."""
    gradient: tuple[Any, tuple[float, float], tuple[int, ...]] | None = None
    """(y_mm per row, (y0, y1) span, labels it applies to): the dependent-lung density gradient."""
    age_y: float = 0.0
    lesion_mask: Any = None
    """uint16 lesion ids (0 = none), voxels a lesion occupies >= 50 %."""
    lesions: list[InsertedLesion] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    """Why requested lesions could not be placed (constraint names first), empty normally."""
    geometry: dict[str, Any] = field(default_factory=dict)
    """Family geometry pathologies need (`lung`: bool region, `vessel_fraction`, `lobe_boxes`)."""
    changes: list[PropertyChange] = field(default_factory=list)
    """Lesions that alter the properties of the tissue under them (applied after the layers)."""
    masks: dict[str, Any] = field(default_factory=dict)
    """Extra masks on the plan's grid a pathology delivers, by file name stem (`tumour_compartments`: BraTS
    labels); written beside labels and lesions."""


@dataclass(frozen=True)
class Window:
    """A display window of a modality's images (width, level in the channel's unit)."""

    name: str
    width: float
    level: float


@dataclass(frozen=True)
class Channel:
    """One image a subject holds (a CT volume; later an MR sequence or a radiograph view)."""

    name: str
    unit: str
    dtype: str
    windows: tuple[Window, ...] = ()


@dataclass(frozen=True)
class RadiographyField:
    """How an anatomy family is radiographed: the phantom the rays cross and where it lies.

    `beams` maps each view the family supports to the direction the central ray travels in its
    frame ("-y": posterior to anterior in the LPS frame, a PA chest); the detector sits past the
    phantom, `detector_gap_mm` beyond its far face (cassette cover, table, patient contact)."""

    field_mm: tuple[float, float, float]
    """(z, y, x) extent of the phantom grid in mm."""
    voxel_mm: float
    beams: dict[str, str]
    default_view: str
    default_sid_mm: float
    detector_gap_mm: float
    body_part: str
    """DICOM BodyPartExamined."""
    laterality: str = ""
    """The side imaged ("L", "R") for a paired part, "" for the chest."""
    focal_spot: str = "small"
    """"small" (fine, extremities) or "large" (broad, chest) focal spot."""
    field_by_age: tuple[tuple[float, tuple[float, float, float]], ...] = ()
    """Smaller phantoms for cohorts whose oldest subject is at most the given age (y): (max age, field_mm),
    smallest first; a cohort of young children then casts no rays through room only a teenager needs."""

    def field_for(self, max_age_y: float | None) -> tuple[float, float, float]:
        for age, extent in self.field_by_age:
            if max_age_y is not None and max_age_y <= age:
                return extent
        return self.field_mm
