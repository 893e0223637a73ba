"""The checked cohort model: a spec's meaning in canonical units with resolved references.

Built from elaborated definitions after `extends` merging.  Fields are optional
so that rules can still run on a spec with some errors; the planner only sees
a model whose compilation produced no errors.
"""

from __future__ import annotations

import datetime

from pydantic import BaseModel, Field, model_serializer

from synthspec.compiler.diagnostics import Span
from synthspec.compiler.elaborate import Definition
from synthspec.compiler.values import Dist, Mix


class Located(BaseModel):
    span: Span
    spans: dict[str, Span] = {}
    invalid: list[str] = Field(default_factory=list, exclude=True)
    """Fields written with a rejected value (already reported); rules should not call them missing.
    Excluded from dumps, so plan hashes do not see it."""

    def at(self, key: str) -> Span:
        return self.spans.get(key, self.span)


def _without_unset(data, keys: tuple[str, ...]):
    """`data` (a serialised block) less the `keys` that are None: fields added after a block existed are left
    out when unset, so the checked model (and the plan's seed key) of a spec without them keeps its bytes."""
    if isinstance(data, dict):
        for key in keys:
            if data.get(key) is None:
                data.pop(key, None)
    return data


class Task(Located):
    finding: str | None = None
    modality: str | None = None
    job: str | None = None
    target: str | None = None


class Sequence(Located):
    name: str
    type: str | None = None
    tr: float | None = None
    te: float | None = None
    ti: float | None = None
    flip: float | None = None
    b_values: list[float] = []
    post_contrast: bool = False
    encoding: str | None = None
    echo_train_length: int | None = None

    @model_serializer(mode="wrap")
    def _without_unset_newer_fields(self, handler):
        return _without_unset(handler(self), ("encoding", "echo_train_length"))


class ContrastAgent(Located):
    agent: str | None = None
    dose: float | None = None


class Protocol(Located):
    modality: str
    protocol: str | None = None
    kv: float | None = None
    mas: Dist | None = None
    slice_thickness: float | None = None
    field_of_view: float | None = None
    matrix: int | None = None
    coverage: list[str] = []
    kernel: str | None = None
    contrast: str | None = None
    phase: str | None = None
    pitch: float | None = None
    views: int | None = None
    beam: str | None = None
    thin_slices: float | None = None
    sid: float | None = None
    grid_ratio: float | None = None
    view: str | None = None
    detector_pixel: float | None = None
    field_strength: float | None = None
    slice_gap: float | None = None
    sequences: list[Sequence] = []
    contrast_agent: ContrastAgent | None = None

    @model_serializer(mode="wrap")
    def _without_unset_newer_fields(self, handler):
        return _without_unset(handler(self), ("beam", "slice_gap", "thin_slices"))


class PopulationFields(BaseModel):
    """What the sampler draws demographics from, without places (the plan carries these)."""

    age: Dist | None = None
    sex: Mix | None = None
    height: Dist | None = None
    bmi: Dist | None = None
    stratify: list[str] = []
    age_bands: list[float] = []


class Population(Located, PopulationFields):
    min_per_stratum: int | None = None


class ConstraintFields(BaseModel):
    """A `require` line's meaning, without its place (the plan carries these)."""

    label: str | None = None
    weight: float | None = None
    function: str | None = None
    argument: str | None = None
    left: str
    op: str
    right: str
    right_value: float | None = None
    right_dimension: str | None = None


class Constraint(ConstraintFields):
    """A `require` line; kept as source text for the generator and the reports."""

    span: Span


class Pathology(Located):
    name: str
    kind: str | None = None
    subtype: Mix | None = None
    diameter: Dist | None = None
    volume: Dist | None = None
    location: Mix | None = None
    territory: Mix | None = None
    attachment: Mix | None = None
    onset: Dist | None = None
    count: tuple[int, int] = (1, 1)
    prevalence: float | None = None
    min_positives: int | None = None
    lobulation: Dist | None = None
    spiculation: Dist | None = None
    enhancement: bool | None = None
    constraints: list[Constraint] = []

    @model_serializer(mode="wrap")
    def _omit_unset_attachment(self, handler):
        """`attachment` is left out when the spec gives none, so the seed key and plan of every spec written before
        it existed keep their bytes (the dump feeds both)."""
        data = handler(self)
        if data.get("attachment") is None:
            data.pop("attachment", None)
        return data


class ValidateFields(BaseModel):
    """The `validate` block's settings, without their places (the plan carries these)."""

    anatomy: bool = True
    reference: str | None = None
    max_wasserstein: float | None = None
    max_discriminator_auc: float | None = None
    shortcut_tests: list[str] = []
    reader_study: bool = False
    max_resamples: int = 20


class Validate(Located, ValidateFields):
    pass


class Transfer(Located):
    data: str | None = None
    sites: list[str] = []
    held_out: list[str] = []
    metric: str | None = None
    model: str | None = None
    min_gain: float | None = None


class Governance(Located):
    purpose: list[str] = []
    claims: list[str] = []
    prohibit: list[str] = []
    approved_by: str | None = None
    approval: str | None = None
    expires: datetime.date | None = None
    real_confirmation: str | None = None


class Output(Located):
    formats: list[str] = ["nifti", "dicom", "masks"]
    dir: str | None = None
    masks: bool = True
    dicom_seg: str = "lesions"
    dicom_compression: str = "none"


class DebugFields(BaseModel):
    """The `debug` block's switches, without their places (the plan carries these)."""

    planted_shortcut: bool = False
    marker_strength: float | None = None


class Debug(Located, DebugFields):
    pass


class Cohort(Located):
    name: str
    file: str
    title: str | None = None
    description: str | None = None
    subjects: int | None = None
    seed: int | None = None
    anatomy: str | None = None
    scanners: Mix | None = None
    voxel_size: float | None = None
    sampling_budget: int | None = None
    task: Task | None = None
    protocol: Protocol | None = None
    population: Population | None = None
    pathologies: list[Pathology] = []
    validate_: Validate | None = None
    transfer: Transfer | None = None
    governance: Governance | None = None
    output: Output | None = None
    debug: Debug | None = None


def _fields(d: Definition, cls) -> dict:
    known = cls.model_fields
    return {k: v for k, v in d.values.items() if k in known}


def _located(d: Definition | None, cls, **extra):
    if d is None:
        return None
    return cls(span=d.span, spans=dict(d.spans), invalid=list(d.invalid), **_fields(d, cls), **extra)


def _constraint(req) -> Constraint:
    from synthspec.compiler.syntax import Call, Quantity
    from synthspec.compiler import units

    function = argument = None
    if isinstance(req.left, Call):
        function = req.left.name
        argument = req.left.args[0].source() if req.left.args else None
    right_value = right_dimension = None
    if isinstance(req.right, Quantity):
        spec = units.lookup(req.right.unit)
        if spec is not None:
            right_value, right_dimension = req.right.number * spec.factor, spec.dimension
    return Constraint(span=req.span, label=req.label, weight=req.weight, function=function, argument=argument,
                      left=req.left.source(), op=req.op, right=req.right.source(),
                      right_value=right_value, right_dimension=right_dimension)


def build_cohort(d: Definition, file: str) -> Cohort:
    """Typed view of a merged cohort definition."""
    protocol = None
    for modality in ("ct", "xray", "mri"):
        pd = d.child(modality)
        if pd is not None:
            sequences = [Sequence(name=s.name or s.get("type") or "sequence", span=s.span, spans=dict(s.spans),
                                  **_fields(s, Sequence)) for s in pd.all("sequence")]
            protocol = _located(pd, Protocol, modality=modality, sequences=sequences,
                                contrast_agent=_located(pd.child("contrast"), ContrastAgent))
            break
    pathologies = [
        Pathology(name=p.name or "pathology", span=p.span, spans=dict(p.spans), **_fields(p, Pathology),
                  constraints=[_constraint(r) for r in p.requires])
        for p in d.all("pathology")
    ]
    validate = _located(d.child("validate"), Validate) or Validate(span=d.span)
    return Cohort(
        name=d.name or "cohort", file=file, span=d.span, spans=dict(d.spans), **_fields(d, Cohort),
        task=_located(d.child("task"), Task), protocol=protocol,
        population=_located(d.child("population"), Population), pathologies=pathologies,
        validate_=validate, transfer=_located(d.child("transfer"), Transfer),
        governance=_located(d.child("governance"), Governance),
        output=_located(d.child("output"), Output) or Output(span=d.span),
        debug=_located(d.child("debug"), Debug),
    )
