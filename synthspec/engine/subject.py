"""One subject from the plan and its index: the plan's stages, run in order.  Pure given (plan, k).

`STAGES` maps each stage kind of the plan to the function that runs it; `generate_subject`
walks the plan's own stage list (the plan is what runs, not decoration) and hands each
stage the parameters the plan gives it.  The local executor, `synth verify`, the shortcut
tests' twins and the benchmarks all call `generate_subject`.

Counterfactual twins come from the same call with `with_pathology=False`: the anatomy and
noise streams are the same, only the lesion stream is skipped.  After the pathology stage the
anatomy family's acceptance checks judge the tissues; a failure sends the subject back to the
anatomy stage (a new anatomy draw) or only to the pathology stage (a new lesion draw in the
same anatomy), so a twin walks through exactly the same anatomy draws as its original.

It writes nothing (cohort/writer.py does) and judges nothing beyond the family's own
acceptance checks that drive the re-draws.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from synthspec.engine.sample import SubjectParams, sample_subject
from synthspec.seeds import numpy_stream, torch_stream
from synthspec.families import registry
from synthspec.families.base import Demographics, TissueScene
from synthspec.families.grid import Grid
from synthspec.plan.model import Plan


@dataclass
class GeneratedSubject:
    params: SubjectParams
    channels: dict[str, np.ndarray]
    """Delivered images by channel name (CT: `image`, int16 HU [Z, Y, X])."""
    truth: np.ndarray | None
    """The modality's noiseless rendering before acquisition (CT: float32 HU)."""
    labels: np.ndarray         # uint8 anatomy labels (plan.labels)
    lesion_mask: np.ndarray    # uint16 lesion ids
    lesions: list              # families.base.InsertedLesion
    rejected: list[str]
    attempts: int = 1          # 1 + anatomy re-draws
    anatomy_failures: list[str] | None = None   # reasons still failing after the last re-draw (None: passed)
    masks: dict[str, np.ndarray] = field(default_factory=dict)
    """Masks in a channel's own geometry, by name (radiographs: `labels_projected`, `lesions_projected`)."""

    @property
    def image(self) -> np.ndarray:
        """The first channel (a CT volume)."""
        return next(iter(self.channels.values()))


@dataclass
class _Work:
    """What flows between the stages of one subject."""

    plan: Plan
    index: int
    with_pathology: bool
    noiseless: bool
    device: str
    grid: Grid
    params: SubjectParams | None = None
    scene: TissueScene | None = None
    attempts: int = 1
    anatomy_attempt: int = 0
    lesion_attempt: int = 0
    clean_scene: TissueScene | None = None
    failures: list[str] | None = None
    truth: Any = None
    channels: dict = field(default_factory=dict)
    masks: dict = field(default_factory=dict)


def _sample(work: _Work, stage) -> None:
    if work.params is None:
        work.params = sample_subject(work.plan, work.index)


def _build_anatomy(work: _Work, stage) -> None:
    plan, p = work.plan, work.params
    family = registry.anatomy(stage.params.family)
    demographics = Demographics(sex=p.sex, age_y=p.age_y, height_mm=p.height_mm, bmi=p.bmi)
    rng = numpy_stream(plan.seed_key, plan.cohort_seed, p.index, "anatomy", work.anatomy_attempt)
    work.scene = family.build(stage.params.settings, demographics, work.grid, rng)


def _insert_pathology(work: _Work, stage) -> None:
    """Each lesion by its pathology family, in the order sampled, from the one lesion stream."""
    plan, p = work.plan, work.params
    if not (work.with_pathology and p.lesions):
        return
    if work.clean_scene is None:
        work.clean_scene = work.scene   # a lesion re-draw starts again from the lesion-free anatomy
    work.scene = copy.copy(work.clean_scene)
    work.scene.layers = list(work.clean_scene.layers)
    work.scene.lesion_mask = work.clean_scene.lesion_mask.copy()
    work.scene.lesions, work.scene.rejected = [], []
    rng = numpy_stream(plan.seed_key, plan.cohort_seed, p.index, "lesions", work.lesion_attempt)
    # consecutive lesions of one kind go to their family together; lesion ids run over the whole subject
    first = 0
    while first < len(p.lesions):
        kind = p.lesions[first].kind
        last = first
        while last < len(p.lesions) and p.lesions[last].kind == kind:
            last += 1
        registry.pathology(kind).insert(work.scene, work.grid, p.lesions[first:last], rng, plan.labels,
                                        max_attempts=int(stage.params.settings["max_attempts"]), first_id=first + 1)
        first = last


def _accept(work: _Work) -> str | None:
    """Judge the tissues with the anatomy family's checks; the stage kind to run again, or None to go on.

    Anatomy failures re-draw the anatomy stream; lesion failures re-draw only the lesion stream, so a
    twin (no lesions) walks through exactly the same anatomy draws as its original."""
    from synthspec.cohort.record import checked_record

    plan, p, scene = work.plan, work.params, work.scene
    if not plan.validation.anatomy:
        return None
    family = registry.anatomy(plan.stage("build_anatomy").params.family)
    requested = len(p.lesions) if work.with_pathology else 0
    failures = family.check(scene.labels, scene.lesion_mask, plan.grid.spacing,
                            checked_record(p, scene.lesions, requested), plan)
    if work.with_pathology:
        failures += [f"lesion placement: {r}" for r in scene.rejected]
    work.failures = failures or None
    if not failures or work.attempts > int(plan.validation.max_resamples):
        return None
    work.attempts += 1
    if any(f.split(":", 1)[0] in family.anatomy_checks for f in failures):
        work.anatomy_attempt += 1
        work.clean_scene = None
        return "build_anatomy"
    work.lesion_attempt += 1
    return "insert_pathology"


def _acquire(work: _Work, stage) -> None:
    from synthspec.cohort.labels import tissues
    from synthspec.engine.debug import plant_shortcut

    plan, p = work.plan, work.params
    modality = registry.modality(stage.params.family)
    work.truth = modality.truth(work.scene, stage.params.settings, tissues(plan))
    noise = None if work.noiseless else torch_stream(plan.seed_key, plan.cohort_seed, p.index, "noise")
    images = modality.acquire(work.truth, stage.params.settings, p.acquisition, plan.scanners[p.scanner], noise,
                              work.device)
    positive = bool(work.scene.lesions)
    work.channels = {name: modality.store(plant_shortcut(plan, image, positive))
                     for name, image in images.items()}
    work.masks = dict(work.scene.masks)   # a pathology's own masks on the plan's grid (BraTS compartments)
    if getattr(modality, "projection", False):   # a projection modality: the masks in its image plane too
        work.masks.update(modality.detector_masks(work.scene, stage.params.settings, p.acquisition, work.device))


STAGES = {
    "sample_population": _sample,
    "build_anatomy": _build_anatomy,
    "insert_pathology": _insert_pathology,
    "acquire": _acquire,
    "write": None,   # the executor writes (cohort/writer.py); a generated subject stays in memory
}
"""Stage kind -> the function that runs it, in the order a subject passes through them."""
ACCEPT_AFTER = "insert_pathology"
"""After this stage the anatomy family's acceptance checks may send the subject back to an earlier stage."""


def generate_subject(plan: Plan, k: int, *, with_pathology: bool = True, noiseless: bool = False,
                     device: str | None = None, params: SubjectParams | None = None,
                     timings: dict[str, float] | None = None) -> GeneratedSubject:
    """Subject `k` of `plan`, in memory: the same whatever the batch, worker or resume history.

    `params` replaces what the sampler would draw for subject k (another scanner, a donor's lesions:
    the shortcut tests' counterfactuals); every random stream is still subject k's.  `timings`, when
    given, receives the seconds each stage kind took (for benchmarks)."""
    if k < 0:
        raise ValueError(f"subject index must be >= 0, got {k}")
    unknown = [s.kind for s in plan.stages if s.kind not in STAGES]
    if unknown:
        raise ValueError(f"the plan has stages this synthspec cannot run: {', '.join(unknown)}")
    work = _Work(plan=plan, index=k, with_pathology=with_pathology, noiseless=noiseless, device=device or plan.device,
                 grid=Grid(shape=tuple(plan.grid.shape), spacing=tuple(plan.grid.spacing)), params=params)
    order = [stage.kind for stage in plan.stages]
    i = 0
    while i < len(plan.stages):
        stage = plan.stages[i]
        run = STAGES[stage.kind]
        if run is not None:
            started = time.perf_counter()
            run(work, stage)
            if timings is not None:
                timings[stage.kind] = timings.get(stage.kind, 0.0) + time.perf_counter() - started
        again = _accept(work) if stage.kind == ACCEPT_AFTER else None
        i = order.index(again) if again else i + 1
    scene = work.scene
    return GeneratedSubject(params=work.params, channels=work.channels, truth=work.truth, labels=scene.labels,
                            lesion_mask=scene.lesion_mask, lesions=list(scene.lesions), rejected=list(scene.rejected),
                            attempts=work.attempts, anatomy_failures=work.failures, masks=work.masks)
