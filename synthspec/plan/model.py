"""The execution plan: a typed, serialisable DAG of stages plus everything needed to replay it.

A plan is pure data (no callables), so it pickles to workers, saves to JSON,
and `synth run --plan FILE` executes exactly what was reviewed.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, ClassVar, Literal

from pydantic import BaseModel

PLAN_VERSION = 1


class TensorSpec(BaseModel):
    name: str
    shape: list[int]
    dtype: str


class Stage(BaseModel):
    id: str
    kind: Literal["sample_population", "build_phantom", "insert_pathology", "simulate_physics",
                  "scanner_effects", "write", "validate"]
    after: list[str] = []
    device: str = "cpu"
    outputs: list[TensorSpec] = []
    params: dict[str, Any] = {}
    seconds_per_subject: float = 0.0
    bytes_per_subject: int = 0
    doc: str = ""


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


class Plan(BaseModel):
    plan_version: int = PLAN_VERSION
    synthspec_version: str
    spec_file: str
    spec_hash: str
    """sha256 of the spec's source text and everything it imports (provenance)."""
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
    tissue_hu: dict[str, tuple[float, ...]]
    """(low, high) HU per tissue, plus the typical value where the stdlib gives one."""
    labels: list[Label] = []
    """The label table of labels.nii.gz (and, as kind `finding`, of lesion classes)."""
    organ_tissue: dict[int, str]
    organ_names: dict[int, str]
    cohort: dict[str, Any]
    """The checked cohort model (canonical units) the sampler reads."""
    memory: dict[str, int]
    estimates: dict[str, float]
    notes: list[str] = []

    EXECUTION_ONLY: ClassVar[tuple[str, ...]] = ("memory", "estimates", "batch_size", "workers", "shards", "notes")
    """Fields that change how a plan runs but never what it produces; left out of the hash."""

    def canonical_json(self) -> str:
        data = self.model_dump(mode="json", exclude=set(self.EXECUTION_ONLY))
        return json.dumps(data, sort_keys=True, separators=(",", ":"))

    def hash(self) -> str:
        """Identity of the cohort this plan produces (same hash, same subjects)."""
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()
