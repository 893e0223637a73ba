"""The execution plan: typed, serialisable stages plus everything needed to replay them.

A plan is pure data (no callables), so it pickles to workers, saves to JSON, and
`synth run --plan FILE` executes exactly what was reviewed.  It is the only thing the
compiler hands the runtime: the engine reads these types, never the checked model.

Each stage carries its own parameters.  The generic stages (sampling, writing) have typed
fields here; the family stages (anatomy, pathology, acquisition) carry the family's name
and a `settings` mapping that the family lowered and validates again with its own pydantic
model when it runs, so a new modality needs no change to this file.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, Field, model_serializer, model_validator

from synthspec.compiler.model import ConstraintFields, DebugFields, PopulationFields, ValidateFields
from synthspec.compiler.values import Dist, Mix

PLAN_VERSION = 4
"""2: typed stage parameters and the label table replaced the model dump (`cohort`) of version 1.
3: the spec's sources are recorded in the plan; its path and text hash no longer enter the plan hash."""

class TensorSpec(BaseModel):
    name: str
    shape: list[int]
    dtype: str


class PopulationParams(PopulationFields):
    """Demographics as the sampler draws them (canonical units: y, mm, kg/m2)."""


class ConstraintParams(ConstraintFields):
    """A `require` line in canonical units; the pathology's placement and the anatomy checks enforce it."""


class PathologyParams(BaseModel):
    """One pathology block: what the sampler draws per lesion, and the constraints on its placement."""

    name: str
    kind: str
    prevalence: float = 0.0
    count: tuple[int, int] = (1, 1)
    subtype: Mix | None = None
    diameter: Dist | None = None
    location: Mix | None = None
    lobulation: Dist | None = None
    spiculation: Dist | None = None
    constraints: list[ConstraintParams] = []
    volume: Dist | None = None
    """Lesion volume (mL), for kinds sized by volume (a haematoma); the family turns it into a shape."""
    onset: Dist | None = None
    """Time since onset (ms, the canonical time unit), for findings that change with age (blood, infarct)."""
    territory: Mix | None = None
    """Arterial territory mix (ischaemic infarcts), drawn per lesion after the other draws."""
    attachment: Mix | None = None
    """How a lung nodule meets its surroundings (isolated, juxta_pleural, juxta_vascular, perifissural), drawn per
    lesion after every other draw."""
    territory_covers: dict[str, list[str]] | None = None
    """The anatomy's locations each territory supplies (stdlib `territory ... { covers }`), with `territory`: the
    location is drawn again among those the drawn territory supplies, so the two never disagree."""

    @model_serializer(mode="wrap")
    def _omit_unset_sizes(self, handler):
        """`volume` and `onset` are left out of plan.json (and the plan hash) when the spec gives none, so plans
        written before they existed keep their bytes."""
        data = handler(self)
        for key in ("volume", "onset", "territory", "territory_covers", "attachment"):
            if data.get(key) is None:
                data.pop(key, None)
        return data


class SampleParams(BaseModel):
    stage: Literal["sample_population"] = "sample_population"
    population: PopulationParams
    scanners: Mix
    pathologies: list[PathologyParams] = []
    sampling_budget: int = 10_000
    """Draws allowed per clipped distribution before sampling gives up and names it."""


class FamilyParams(BaseModel):
    """A family stage: which registered family runs it, with the settings it lowered for itself."""

    stage: Literal["build_anatomy", "insert_pathology", "acquire"]
    family: str
    settings: dict[str, Any] = {}


class WriteParams(BaseModel):
    stage: Literal["write"] = "write"
    formats: list[str] = ["nifti", "dicom", "masks"]
    channels: list[str] = ["image"]
    """Image channels of every subject, as the modality declares them (CT: one, `image`)."""
    dicom_seg: Literal["lesions", "all", "none"] = "lesions"
    """DICOM SEG beside each series (when `dicom` is written): lesion segments, lesions and anatomy, or none."""
    dicom_compression: Literal["none", "jpeg_ls"] = "none"
    """Transfer syntax of the written series: Explicit VR Little Endian or JPEG-LS lossless."""



class Stage(BaseModel):
    id: str
    kind: Literal["sample_population", "build_anatomy", "insert_pathology", "acquire", "write"]
    after: list[str] = []
    device: str = "cpu"
    outputs: list[TensorSpec] = []
    params: Annotated[SampleParams | FamilyParams | WriteParams, Field(discriminator="stage")]
    seconds_per_subject: float = 0.0
    bytes_per_subject: int = 0
    doc: str = ""

    @model_validator(mode="after")
    def _parameters_fit_the_stage(self):
        if self.params.stage != self.kind:
            raise ValueError(f"stage {self.id!r} is a {self.kind} stage but carries {self.params.stage} parameters")
        return self


class Shard(BaseModel):
    index: int
    start: int
    stop: int


class GridSpec(BaseModel):
    shape: tuple[int, int, int]
    """(Z, Y, X) voxels; x patient right->left, y anterior->posterior, z inferior->superior (LPS)."""
    spacing: tuple[float, float, float]
    """(dz, dy, dx) in mm."""

    @property
    def voxels(self) -> int:
        z, y, x = self.shape
        return z * y * x

    def origin_xyz(self) -> tuple[float, float, float]:
        """LPS position of voxel [0, 0, 0]: the grid is centred on the isocentre."""
        (z, y, x), (dz, dy, dx) = self.shape, self.spacing
        return (-(x - 1) / 2 * dx, -(y - 1) / 2 * dy, -(z - 1) / 2 * dz)


class ScannerParams(BaseModel):
    name: str
    modality: str
    noise_factor: float = 1.0
    electronic_noise: float = 20.0
    mtf50: float | None = None
    kernels: list[str] = []


class Label(BaseModel):
    """One entry of the cohort's label table, read once from the stdlib family definition."""

    id: int
    name: str
    tissue: str
    kind: Literal["anatomy", "finding"] = "anatomy"
    group: str | None = None
    written: bool = True
    """False for a structure the family declares but does not draw as a label (the thorax's pleura)."""
    size_mm: float | None = None
    """The stdlib's smallest typical extent (the largest lesion it can hold)."""
    volume_ml: tuple[float, float] | None = None
    """The stdlib's adult reference volume range."""


class ValidationParams(ValidateFields):
    """The spec's `validate` block: what `synth validate` runs and the generator's re-draw budget."""


class DebugParams(DebugFields):
    """Method-development switches (rule GOV008 refuses them outside `purpose: method_development`)."""


class Summary(BaseModel):
    """What the cohort card and report show of the spec: words, not parameters the engine reads."""

    title: str | None = None
    description: str | None = None
    task: dict[str, Any] = {}
    protocol: dict[str, Any] = {}
    population: dict[str, Any] = {}
    pathologies: list[dict[str, Any]] = []
    governance: dict[str, Any] = {}
    transfer: dict[str, Any] = {}
    vocabulary: dict[str, list[str]] = {}
    """The stdlib's governance vocabulary (purposes, prohibited uses, claims) the spec was checked against."""


class Plan(BaseModel):
    plan_version: int = PLAN_VERSION
    synthspec_version: str
    spec_file: str
    spec_hash: str
    """sha256 of the spec's source text and everything it imports (provenance)."""
    sources: dict[str, str] = {}
    """The exact text of the spec and every file it imports, by the path the compiler read (provenance)."""
    seed_key: str
    """sha256 of the checked model without spans, subject count and outputs: seeds subjects, so
    formatting a spec or asking for more subjects never changes subject k."""
    cohort_name: str
    cohort_seed: int
    subjects: int
    modality: str
    anatomy: str
    device: str
    grid: GridSpec
    batch_size: int
    workers: int = 1
    shards: list[Shard]
    stages: list[Stage]
    scanners: dict[str, ScannerParams]
    labels: list[Label]
    """The label table of labels.nii.gz (kind `anatomy`; `finding` is reserved for lesion classes)."""
    validation: ValidationParams = ValidationParams()
    debug: DebugParams = DebugParams()
    summary: Summary = Summary()
    memory: dict[str, int]
    """Bytes: `per_subject_bytes` (the modality's estimate), `budget_bytes` (what a batch may take) and
    `device_bytes` (the device's memory, a fixed fact; never what was free when planning, so the same spec
    and options plan to the same bytes on one machine)."""
    estimates: dict[str, float]
    """Seconds per subject (in all, and `<stage>_s`), `total_seconds` across the workers, bytes on disk
    (`bytes_on_disk_per_subject`, `bytes_on_disk`, `disk_<part>_bytes`) and the budgets they were checked
    against (`max_seconds`, `max_bytes_on_disk`)."""
    notes: list[str] = []

    @model_validator(mode="after")
    def _this_plan_version(self):
        if self.plan_version != PLAN_VERSION:
            raise ValueError(f"plan version {self.plan_version} is not {PLAN_VERSION}, the one this synthspec runs; "
                             "plan the spec again with this version")
        return self

    EXECUTION_ONLY: ClassVar[tuple[str, ...]] = ("memory", "estimates", "batch_size", "workers", "shards", "notes")
    """Fields that change how a plan runs but never what it produces; left out of the hash."""
    PROVENANCE_ONLY: ClassVar[tuple[str, ...]] = ("spec_file", "spec_hash", "sources")
    """Where the spec came from and how it was spelled: recorded, but left out of the hash, so a
    reformatted spec, a CRLF checkout or another spelling of its path plans the same cohort."""

    def stage(self, kind: str) -> Stage:
        """The plan's stage of this kind (each kind occurs once)."""
        for s in self.stages:
            if s.kind == kind:
                return s
        raise KeyError(f"the plan has no {kind} stage (stages: {', '.join(s.kind for s in self.stages)})")

    @property
    def sampling(self) -> SampleParams:
        return self.stage("sample_population").params

    @property
    def writing(self) -> WriteParams:
        return self.stage("write").params

    @property
    def channels(self) -> list[str]:
        return list(self.writing.channels)

    def canonical_json(self) -> str:
        data = self.model_dump(mode="json", exclude={*self.EXECUTION_ONLY, *self.PROVENANCE_ONLY})
        return json.dumps(data, sort_keys=True, separators=(",", ":"))

    def hash(self) -> str:
        """Identity of the cohort this plan produces (same hash, same subjects)."""
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()
