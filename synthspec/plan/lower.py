"""Lower a checked cohort model to an execution plan, asking the families for their parts.

Decides the voxel grid (the modality's, over the anatomy's coverage), the stages with their
typed parameters, the batch size from the modality's memory estimate and the device's memory
(a fixed fact of the machine, never what is free at the moment, so the same spec and options
give the same plan bytes), shards for workers and the seeding key.  A pair no family provides
is refused with the list of pairs that exist; a request too large for the device, or over the
time or storage budget (DEFAULT_MAX_HOURS, DEFAULT_MAX_STORAGE_BYTES; `synth plan --max-hours`,
`--max-storage`), is refused here with the estimate, before any compute is spent.
Every default is decided here or in the family that owns it, once.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

from pydantic import ValidationError

from synthspec import __version__
from synthspec.compiler.check import FileResult
from synthspec.compiler.model import Cohort
from synthspec.compiler.schema import MAX_SUBJECTS
from synthspec.errors import Failure
from synthspec.families import registry
from synthspec.plan import estimate
from synthspec.plan.model import (ConstraintParams, DebugParams, FamilyParams, GridSpec, Label, PathologyParams, Plan,
                                  PopulationParams, SampleParams, ScannerParams, Shard, Stage, Summary, TensorSpec,
                                  ValidationParams, WriteParams)
from synthspec.plan.show import disk_bytes

MAX_BATCH = 8
DEFAULT_SAMPLING_BUDGET = 10_000
DEFAULT_PLACEMENT_ATTEMPTS = 200
DEFAULT_MAX_HOURS = 168.0
"""Time budget of a plan: a week of estimated compute (wall clock across its workers).  Longer is rarely meant:
a run that long should be split into cohorts that can be checked as they finish; raise it with --max-hours."""
DEFAULT_MAX_STORAGE_BYTES = 10 * 10**12
"""Storage budget of a plan: 10 TB (decimal, as disks are sold), a large shared volume; about 400,000 subjects of
the lung example with DICOM.  More is usually a mistyped --subjects; raise it with --max-storage."""


class PlanError(Failure):
    """A cohort that cannot be planned; the message names the estimate and the knob to turn."""


def spec_hash(texts: dict[str, str]) -> str:
    h = hashlib.sha256()
    for name in sorted(texts):
        h.update(Path(name).name.encode() + b"\0" + texts[name].encode() + b"\0")
    return h.hexdigest()


def _strip_spans(value):
    if isinstance(value, dict):
        return {k: _strip_spans(v) for k, v in value.items() if k not in ("span", "spans", "file")}
    if isinstance(value, list):
        return [_strip_spans(v) for v in value]
    return value


def cohort_data(cohort: Cohort) -> dict:
    return _strip_spans(cohort.model_dump(mode="json"))


def seed_key(data: dict) -> str:
    keyed = {k: v for k, v in data.items() if k not in ("subjects", "output", "title", "description", "validate_", "transfer", "governance")}
    return hashlib.sha256(json.dumps(keyed, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _families(cohort: Cohort):
    modality = cohort.task.modality if cohort.task else None
    pairs = registry.supported_pairs()
    if (modality, cohort.anatomy) not in pairs:
        raise PlanError(f"generating {modality} of {cohort.anatomy} is not implemented yet "
                        f"(available: {', '.join(f'{m} of {a}' for m, a in pairs)}); `synth check` still lints this spec")
    kinds = [p.kind for p in cohort.pathologies]
    missing = [k for k in kinds if k not in registry.names("pathology")]
    if missing:
        raise PlanError(f"inserting {', '.join(sorted(set(missing)))} is not implemented yet (available: "
                        f"{', '.join(registry.names('pathology'))}); `synth check` still lints this spec")
    return modality, registry.anatomy(cohort.anatomy), registry.modality(modality)


def _labels(definition, not_drawn) -> list[Label]:
    out = []
    for o in definition.all("organ"):
        volume = o.get("volume")
        out.append(Label(id=o.get("label"), name=o.name, tissue=o.get("tissue"), group=o.get("group"),
                         written=o.name not in not_drawn, size_mm=o.get("size"),
                         volume_ml=tuple(volume) if volume is not None else None))
    return out


def stdlib_tables(stdlib, anatomy: str, not_drawn) -> tuple[list[Label], dict[str, tuple], list[str]]:
    """What the families need from the stdlib, read once: the anatomy's label table, the CT numbers
    per tissue ((low, high[, typical]) HU), and every tissue name."""
    labels = _labels(stdlib.get("anatomy", anatomy), not_drawn)
    tissues = stdlib.items["tissue"]
    tissue_hu = {name: tuple(d.get("hu")) + ((d.get("hu_typical"),) if d.get("hu_typical") is not None else ())
                 for name, d in tissues.items() if d.get("hu") is not None}
    return labels, tissue_hu, list(tissues)


def _oldest(cohort: Cohort) -> float | None:
    """The oldest age (y) a subject of the cohort can have; None when the spec leaves age to the family or sets
    heights of its own (which the family's fields by age do not bound)."""
    age = cohort.population.age if cohort.population else None
    if age is None or cohort.population.height is not None:
        return None
    high = age.support()[1]
    return high if math.isfinite(high) else None


def _tissue_density(stdlib, labels: list[Label], anatomy, cohort: Cohort) -> dict[str, float]:
    """Mass density (g/cm^3) of every tissue a subject of this cohort can hold: the anatomy's labels, the tissues
    its partial-volume layers paint (`layer_tissues`) and those of the spec's pathologies (`tissues`)."""
    tissues = {e.tissue for e in labels if e.tissue} | set(getattr(anatomy, "layer_tissues", ()))
    for kind in {p.kind for p in cohort.pathologies}:
        tissues |= set(getattr(registry.pathology(kind), "tissues", ()))
    table = stdlib.items["tissue"]
    out = {}
    for name in sorted(tissues):
        density = table[name].get("density") if name in table else None
        if density is None:
            raise PlanError(f"tissue `{name}` has no `density` in the stdlib tissue table, which a radiograph needs; "
                            "add one to its tissue block")
        out[name] = float(density)
    return out


def _territory_covers(stdlib, anatomy: str) -> dict[str, list[str]]:
    return {t.name: list(t.get("covers") or []) for t in stdlib.get("anatomy", anatomy).all("territory")}


def _pathologies(cohort: Cohort, stdlib=None) -> list[PathologyParams]:
    out = []
    for p in cohort.pathologies:
        covers = _territory_covers(stdlib, cohort.anatomy) if p.territory and stdlib is not None else None
        constraints = [ConstraintParams(**c.model_dump(mode="json", exclude={"span"})) for c in p.constraints]
        out.append(PathologyParams(name=p.name, kind=p.kind, prevalence=p.prevalence or 0.0, count=p.count,
                                   subtype=p.subtype, diameter=p.diameter, location=p.location,
                                   lobulation=p.lobulation, spiculation=p.spiculation, constraints=constraints,
                                   volume=p.volume, onset=p.onset, territory=p.territory, territory_covers=covers,
                                   attachment=p.attachment))
    return out


def _summary(data: dict, stdlib) -> Summary:
    vocabulary = stdlib.vocabulary()
    keys = ("purposes", "prohibited", "claims", "claims_need_real_confirmation", "safety_critical")
    return Summary(title=data.get("title"), description=data.get("description"), task=data.get("task") or {},
                   protocol=data.get("protocol") or {}, population=data.get("population") or {},
                   pathologies=data.get("pathologies") or [], governance=data.get("governance") or {},
                   transfer=data.get("transfer") or {},
                   vocabulary={k: [str(v) for v in (vocabulary.get(k) or [])] for k in keys} if vocabulary else {})


def _hours(seconds: float) -> str:
    hours = seconds / 3600
    return f"{hours:,.0f} h" if hours >= 100 else f"{hours:.3g} h"


def _dicom_options(output) -> dict:
    """The output block's DICOM choices, as the write stage carries them (defaults when there is no block)."""
    if output is None:
        return {}
    if output.dicom_compression == "jpeg_ls" and "dicom" in output.formats:
        _needs_jpeg_ls_encoder()
    return {"dicom_seg": output.dicom_seg, "dicom_compression": output.dicom_compression}


def _needs_jpeg_ls_encoder() -> None:
    """Refuse a JPEG-LS plan before anything is generated when pydicom has no JPEG-LS encoder here."""
    try:
        from pydicom.pixels import get_encoder
        from pydicom.uid import JPEGLSLossless

        available = get_encoder(JPEGLSLossless).is_available
    except ImportError:
        available = False
    if not available:
        raise PlanError("`dicom_compression: jpeg_ls` needs pydicom's JPEG-LS encoder (pyjpegls), which is not "
                        "installed; pip install 'synthspec[run]' (or pip install pyjpegls), or leave "
                        "`dicom_compression` out")


def _seg_segments(output, labels, pathologies: list[PathologyParams]) -> tuple[int, int]:
    """(finding classes, anatomy labels) the DICOM SEG of `output.dicom_seg` holds, for the storage estimate
    (`cohort.dicom_seg.segment_classes` numbers the same ones)."""
    mode = output.dicom_seg if output is not None else "lesions"
    if mode == "none":
        return 0, 0
    findings = len({p.kind for p in pathologies if p.prevalence > 0 and p.count[1] >= 1})
    anatomy = sum(1 for e in labels if e.kind == "anatomy" and e.written) if mode == "all" else 0
    return findings, anatomy


def _refuse_over_budget(n: int, device: str, workers: int, seconds: float, disk: dict[str, int], formats,
                        max_hours: float, max_storage_bytes: int) -> None:
    """PlanError, with the estimate and the knobs, when the plan's compute or storage is over its budget."""
    total = seconds * n / workers
    if total > max_hours * 3600:
        across = f" with {workers} workers" if workers > 1 else ""
        faster = ", use --device cuda" if device == "cpu" else ""
        raise PlanError(f"{n:,} subjects need about {_hours(total)} of compute on {device}{across} (estimated "
                        f"{seconds:.1f} s/subject), over the time budget of {max_hours:g} h; lower --subjects{faster}, "
                        "or raise --max-hours")
    per_subject = sum(disk.values())
    if per_subject * n > max_storage_bytes:
        lighter = ", leave `dicom` out of `output.formats`" if "dicom" in formats and disk.get("dicom") else ""
        raise PlanError(f"{n:,} subjects need about {disk_bytes(per_subject * n)} on disk (estimated "
                        f"{disk_bytes(per_subject)}/subject), over the storage budget of "
                        f"{disk_bytes(max_storage_bytes)}; lower --subjects{lighter}, or raise --max-storage")


def lower(result: FileResult, device: str = "auto", subjects: int | None = None, workers: int = 1,
          memory_budget: int | None = None, max_hours: float | None = None,
          max_storage_bytes: int | None = None, gpu_memory: int | None = None) -> Plan:
    """The plan of a checked spec; PlanError when it cannot be made or is over a budget.

    `memory_budget` replaces the bytes a batch may take (default: a share of the device's memory,
    `estimate.memory_budget`); `max_hours` and `max_storage_bytes` the time and storage budgets
    (default DEFAULT_MAX_HOURS, DEFAULT_MAX_STORAGE_BYTES).  `gpu_memory` plans a CUDA run for a GPU of that
    many bytes instead of the GPU here (none need be here: the plan is then for another machine)."""
    cohort = result.cohort
    if cohort is None or result.program is None:
        raise PlanError("the spec has no cohort to plan")
    stdlib = result.program.registry
    modality_name, anatomy, modality = _families(cohort)
    try:
        device = estimate.resolve_device(device, gpu_memory if device == "cuda" else None)
    except RuntimeError as error:
        raise PlanError(str(error)) from None
    n = subjects if subjects is not None else cohort.subjects
    if n is None or n < 1:
        raise PlanError("the cohort needs at least one subject (`subjects:` or --subjects)")
    if n > MAX_SUBJECTS:
        raise PlanError(f"{n:,} subjects is over the cap of {MAX_SUBJECTS:,} for one cohort; split the work into "
                        "several cohorts")

    # stdlib tables the families need, resolved now so the plan is self-contained
    labels, tissue_hu, tissues = stdlib_tables(stdlib, cohort.anatomy, anatomy.not_drawn)
    bone_labels = [e.id for e in labels if e.tissue in ("cancellous_bone", "cortical_bone")]
    scanners = {}
    for name in cohort.scanners.names:
        s = stdlib.get("scanner", name)
        scanners[name] = ScannerParams(name=name, modality=s.get("modality"), noise_factor=s.get("noise_factor") or 1.0,
                                       electronic_noise=s.get("electronic_noise") or 20.0, mtf50=s.get("mtf50"),
                                       kernels=s.get("kernels") or [])

    shape, spacing = modality.grid(cohort.protocol, cohort.voxel_size, anatomy, _oldest(cohort))
    grid = GridSpec(shape=shape, spacing=spacing)
    try:
        acquisition, notes = modality.lower(cohort.protocol, shape, spacing, tissue_hu, bone_labels, anatomy=anatomy,
                                            tissue_density=_tissue_density(stdlib, labels, anatomy, cohort)
                                            if getattr(modality, "needs_density", False) else None,
                                            scanners=scanners, labels=labels, stdlib=stdlib)
    except ValidationError as error:
        raise PlanError(f"the {modality_name} settings cannot be planned: {error.errors()[0]['msg']}") from None
    except ValueError as error:
        raise PlanError(str(error)) from None
    per_subject, times = modality.estimate(shape, acquisition, device)
    device_bytes = int(gpu_memory) if device == "cuda" and gpu_memory else estimate.device_memory(device)
    budget = int(memory_budget) if memory_budget is not None else \
        int(device_bytes * estimate.MEMORY_FRACTION[device])
    z, y, x = shape
    if per_subject > budget:
        raise PlanError(
            f"one subject needs about {per_subject / 2**30:.1f} GiB ({grid.voxels:,} voxels on a {z}x{y}x{x} grid), "
            f"but {device} can give about {budget / 2**30:.1f} GiB; lower `matrix`, raise `slice_thickness` or "
            f"`voxel_size`, or use a larger device")
    batch = max(1, min(MAX_BATCH, budget // per_subject, n))
    seconds = sum(times.values())
    workers = max(1, workers)
    formats = cohort.output.formats if cohort.output else ["nifti", "dicom", "masks"]
    segments = _seg_segments(cohort.output, labels, _pathologies(cohort)) if getattr(modality, "writes_seg", True) \
        else (0, 0)
    disk = modality.bytes_on_disk(shape, formats, segments, cohort.output.dicom_compression if cohort.output else "none",
                                  settings=acquisition)
    max_hours = DEFAULT_MAX_HOURS if max_hours is None else max_hours
    max_storage_bytes = DEFAULT_MAX_STORAGE_BYTES if max_storage_bytes is None else max_storage_bytes
    _refuse_over_budget(n, device, workers, seconds, disk, formats, max_hours, max_storage_bytes)

    vol = list(shape)
    channel_shape = list(modality.channel_shape(acquisition, shape)) if hasattr(modality, "channel_shape") else vol
    declared = modality.channels_for(acquisition) if hasattr(modality, "channels_for") else modality.channels
    channels = [c.name for c in declared]
    sampling = SampleParams(
        population=PopulationParams(**(cohort.population.model_dump(include=set(PopulationParams.model_fields))
                                       if cohort.population else {})),
        scanners=cohort.scanners, pathologies=_pathologies(cohort, stdlib),
        sampling_budget=cohort.sampling_budget or DEFAULT_SAMPLING_BUDGET)
    pathology_kinds = sorted({p.kind for p in cohort.pathologies})
    stages = [
        Stage(id="sample", kind="sample_population", params=sampling,
              doc="demographics, scanner, acquisition and lesion parameters per subject"),
        Stage(id="anatomy", kind="build_anatomy", after=["sample"],
              params=FamilyParams(stage="build_anatomy", family=cohort.anatomy,
                                  settings=anatomy.lower(list(tissues), labels)),
              outputs=[TensorSpec(name="labels", shape=vol, dtype="uint8"),
                       TensorSpec(name="tissue_layers", shape=vol, dtype="float32")],
              seconds_per_subject=times["build_anatomy"],
              doc="tissues: label map, partial-volume layers, texture; re-drawn until the family's checks pass"),
        Stage(id="pathology", kind="insert_pathology", after=["anatomy"],
              params=FamilyParams(stage="insert_pathology", family=",".join(pathology_kinds),
                                  settings={"max_attempts": cohort.sampling_budget or DEFAULT_PLACEMENT_ATTEMPTS}),
              outputs=[TensorSpec(name="lesion_mask", shape=vol, dtype="uint16")],
              doc="lesions placed by rejection sampling under the spec's constraints, added as tissue layers"),
        Stage(id="acquire", kind="acquire", after=["pathology"], device=device,
              params=FamilyParams(stage="acquire", family=modality_name, settings=acquisition),
              outputs=[TensorSpec(name=c, shape=channel_shape, dtype=ch.dtype) for c, ch in zip(channels, declared)],
              seconds_per_subject=times["acquire"], bytes_per_subject=per_subject,
              doc=f"{modality_name}: render tissue contrast, simulate the acquisition and the scanner class"),
        Stage(id="write", kind="write", after=["acquire"],
              params=WriteParams(formats=formats, channels=channels, **_dicom_options(cohort.output)),
              seconds_per_subject=times["write"], doc="NIfTI, DICOM series, masks, per-subject record (atomic)"),
    ]
    shards = []
    per_worker = math.ceil(n / workers)
    for w in range(workers):
        start, stop = w * per_worker, min(n, (w + 1) * per_worker)
        if start < stop:
            shards.append(Shard(index=w, start=start, stop=stop))
    data = cohort_data(cohort)
    validate = cohort.validate_.model_dump(include=set(ValidationParams.model_fields)) if cohort.validate_ else {}
    debug = cohort.debug.model_dump(include=set(DebugParams.model_fields)) if cohort.debug else {}
    return Plan(
        synthspec_version=__version__, spec_file=result.path, spec_hash=spec_hash(result.program.sources),
        sources=dict(result.program.sources),
        seed_key=seed_key(data), cohort_name=cohort.name, cohort_seed=cohort.seed or 0, subjects=n,
        modality=modality_name, anatomy=cohort.anatomy, device=device, grid=grid, batch_size=int(batch),
        workers=workers, shards=shards, stages=stages, scanners=scanners, labels=labels,
        validation=ValidationParams(**validate), debug=DebugParams(**debug), summary=_summary(data, stdlib),
        memory={"per_subject_bytes": per_subject, "budget_bytes": budget, "device_bytes": device_bytes},
        estimates={"seconds_per_subject": seconds, "total_seconds": seconds * n / workers,
                   **{f"{k}_s": v for k, v in times.items()},
                   "bytes_on_disk_per_subject": sum(disk.values()), "bytes_on_disk": sum(disk.values()) * n,
                   **{f"disk_{k}_bytes": v for k, v in disk.items()},
                   "max_seconds": max_hours * 3600, "max_bytes_on_disk": max_storage_bytes},
        notes=[*notes, *([f"planned for a GPU with {device_bytes / 2**30:.1f} GiB (--gpu-memory); the CUDA speed "
                         "is an assumed factor over the CPU's, not measured"] if device == "cuda" and gpu_memory else [])],
    )
