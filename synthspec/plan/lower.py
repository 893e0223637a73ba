"""Lower a checked cohort model to an execution plan.

Decides the voxel grid, the stage DAG with tensor shapes and dtypes, the batch
size from a memory estimate, shards for workers and the seeding key.  A request
too large for the device is refused here, before any compute is spent.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

from synthspec import __version__
from synthspec.compiler.check import FileResult
from synthspec.compiler.model import Cohort
from synthspec.plan import estimate
from synthspec.plan.model import GridSpec, Label, Plan, ScannerParams, Shard, Stage, TensorSpec

SUPPORTED = {("ct", "thorax_adult")}
"""(modality, anatomy) pairs the runtime can generate today; others compile but do not plan."""

SCAN_LENGTH_MM = {"thorax_adult": 300.0}
DEFAULT_FOV_MM = 400.0
DEFAULT_MATRIX = 256
MAX_BATCH = 8


class PlanError(Exception):
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


def lower(result: FileResult, device: str = "auto", subjects: int | None = None, workers: int = 1,
          memory_budget: int | None = None) -> Plan:
    cohort = result.cohort
    if cohort is None or result.program is None:
        raise PlanError("the spec has no cohort to plan")
    registry = result.program.registry
    modality = cohort.task.modality if cohort.task else None
    if (modality, cohort.anatomy) not in SUPPORTED:
        raise PlanError(f"generating {modality} of {cohort.anatomy} is not implemented yet "
                        f"(available: {', '.join(f'{m} of {a}' for m, a in sorted(SUPPORTED))}); `synth check` still lints this spec")
    try:
        device = estimate.resolve_device(device)
    except RuntimeError as error:
        raise PlanError(str(error)) from None
    n = subjects if subjects is not None else cohort.subjects
    if n is None or n < 1:
        raise PlanError("the cohort needs at least one subject (`subjects:` or --subjects)")

    proto = cohort.protocol
    matrix = proto.matrix or DEFAULT_MATRIX
    fov = proto.field_of_view or DEFAULT_FOV_MM
    pixel = fov / matrix
    if cohort.voxel_size:
        pixel = cohort.voxel_size
        matrix = int(math.ceil(fov / pixel))
    dz = proto.slice_thickness or 2.5
    z = int(math.ceil(SCAN_LENGTH_MM[cohort.anatomy] / dz))
    grid = GridSpec(shape=(z, matrix, matrix), spacing=(dz, pixel, pixel))
    views = proto.views or math.ceil(math.pi / 2 * matrix)  # full angular sampling unless the spec says otherwise

    per_subject = estimate.bytes_per_subject(grid.shape, views)
    available = memory_budget if memory_budget is not None else estimate.available_memory(device)
    budget = int(available * 0.6)
    if per_subject > budget:
        raise PlanError(
            f"one subject needs about {per_subject / 2**30:.1f} GiB ({grid.voxels:,} voxels on a {z}x{matrix}x{matrix} grid), "
            f"but {device} can give about {budget / 2**30:.1f} GiB; lower `matrix`, raise `slice_thickness` or "
            f"`voxel_size`, or use a larger device")
    batch = max(1, min(MAX_BATCH, budget // per_subject, n))
    times = estimate.seconds_per_subject(grid.shape, views, device)
    seconds = sum(times.values())

    # stdlib tables the runtime needs, resolved now so the plan is self-contained
    family = registry.get("anatomy", cohort.anatomy)
    organ_tissue = {o.get("label"): o.get("tissue") for o in family.all("organ")}
    organ_names = {o.get("label"): o.name for o in family.all("organ")}
    labels = [Label(id=o.get("label"), name=o.name, tissue=o.get("tissue"), group=o.get("group"),
                    written=o.name != "pleura") for o in family.all("organ")]
    tissue_hu = {}
    for name, d in registry.items["tissue"].items():
        if d.get("hu") is not None:
            tissue_hu[name] = tuple(d.get("hu")) + ((d.get("hu_typical"),) if d.get("hu_typical") is not None else ())
    scanners = {}
    for name in cohort.scanners.names:
        s = registry.get("scanner", name)
        scanners[name] = ScannerParams(name=name, modality=s.get("modality"), noise_factor=s.get("noise_factor") or 1.0,
                                       electronic_noise=s.get("electronic_noise") or 20.0, mtf50=s.get("mtf50"),
                                       kernels=s.get("kernels") or [])

    vol = list(grid.shape)
    stages = [
        Stage(id="sample", kind="sample_population", doc="demographics, scanner, protocol and lesion parameters per subject",
              params={"stratify": cohort.population.stratify if cohort.population else []}),
        Stage(id="phantom", kind="build_phantom", after=["sample"],
              outputs=[TensorSpec(name="hu", shape=vol, dtype="float32"), TensorSpec(name="labels", shape=vol, dtype="uint8")],
              params={"anatomy": cohort.anatomy}, seconds_per_subject=times["build_phantom"],
              bytes_per_subject=grid.voxels * 13, doc="procedural anatomy scaled by sex, age, height and BMI"),
        Stage(id="pathology", kind="insert_pathology", after=["phantom"],
              outputs=[TensorSpec(name="lesion_mask", shape=vol, dtype="uint16")],
              params={"pathologies": [p.name for p in cohort.pathologies]},
              doc="lesions placed by rejection sampling under the spec's constraints"),
        Stage(id="physics", kind="simulate_physics", after=["pathology"], device=device,
              outputs=[TensorSpec(name="image", shape=vol, dtype="float32")],
              params={"modality": modality, "views": views, "geometry": "parallel-beam", "kernel": proto.kernel or "standard",
                      "kv": proto.kv, "slice_thickness_mm": dz, "pixel_mm": pixel},
              seconds_per_subject=times["simulate_physics"], bytes_per_subject=per_subject - grid.voxels * 13,
              doc="HU -> attenuation, projection, Poisson + electronic noise, filtered back-projection"),
        Stage(id="scanner", kind="scanner_effects", after=["physics"], device=device,
              params={"scanners": list(scanners)}, doc="scanner class noise factor and MTF (applied inside the physics stage)"),
        Stage(id="write", kind="write", after=["scanner"],
              outputs=[TensorSpec(name="image_int16", shape=vol, dtype="int16")],
              params={"formats": cohort.output.formats if cohort.output else ["nifti", "dicom", "masks"]},
              seconds_per_subject=times["write"], doc="NIfTI, DICOM series, masks, per-subject record (atomic)"),
    ]
    shards = []
    per_worker = math.ceil(n / max(1, workers))
    for w in range(max(1, workers)):
        start, stop = w * per_worker, min(n, (w + 1) * per_worker)
        if start < stop:
            shards.append(Shard(index=w, start=start, stop=stop))
    data = cohort_data(cohort)
    texts = result.program.texts
    notes = []
    if views < math.ceil(math.pi / 2 * matrix):
        notes.append(f"{views} views is below the {math.ceil(math.pi / 2 * matrix)} that full angular sampling needs; "
                     "expect faint streaks far from the centre (set `views` in the ct block)")
    return Plan(
        synthspec_version=__version__, spec_file=result.path, spec_hash=spec_hash(texts), seed_key=seed_key(data),
        cohort_name=cohort.name, cohort_seed=cohort.seed or 0, subjects=n, modality=modality, anatomy=cohort.anatomy,
        device=device, grid=grid, batch_size=int(batch), workers=max(1, workers), shards=shards, stages=stages,
        scanners=scanners, tissue_hu=tissue_hu, labels=labels, organ_tissue=organ_tissue, organ_names=organ_names, cohort=data,
        memory={"per_subject_bytes": per_subject, "budget_bytes": budget, "available_bytes": int(available)},
        estimates={"seconds_per_subject": seconds, "total_seconds": seconds * n / max(1, workers), **{f"{k}_s": v for k, v in times.items()}},
        notes=notes,
    )
