"""One subject from its parameters: phantom -> pathology -> physics.  Pure given the plan and index.

Counterfactual twins come from the same call with `with_pathology=False`: the
anatomy and noise streams are the same, only the lesion stream is skipped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synthspec.plan.model import Plan
from synthspec.engine.sample import SubjectParams
from synthspec.engine.seeds import numpy_stream, torch_stream

HU_MIN, HU_MAX = -1024, 3071


@dataclass
class GeneratedSubject:
    params: SubjectParams
    image: np.ndarray          # int16 HU [Z, Y, X] after imaging physics
    truth_hu: np.ndarray       # float32 HU before physics
    labels: np.ndarray         # uint8 organ labels
    lesion_mask: np.ndarray    # uint16 lesion ids
    lesions: list              # InsertedLesion
    rejected: list[str]
    attempts: int = 1          # 1 + anatomy re-draws
    anatomy_failures: list[str] | None = None   # reasons still failing after the last re-draw (None: passed)


def origin_xyz(plan: Plan) -> tuple[float, float, float]:
    """LPS position of voxel [0, 0, 0]: the grid is centred on the isocentre."""
    (z, y, x), (dz, dy, dx) = plan.grid.shape, plan.grid.spacing
    return (-(x - 1) / 2 * dx, -(y - 1) / 2 * dy, -(z - 1) / 2 * dz)


def generate(plan: Plan, params: SubjectParams, device: str | None = None, with_pathology: bool = True,
             noiseless: bool = False) -> GeneratedSubject:
    import torch

    from synthspec.families.grid import Grid
    from synthspec.families.modality.ct.acquisition import CTAcquisition, simulate_ct
    from synthspec.engine.volume import Anatomy, LesionRequest, build_subject

    grid = Grid(shape=tuple(plan.grid.shape), spacing=tuple(plan.grid.spacing))
    anatomy = Anatomy(sex=params.sex, age_y=params.age_y, height_mm=params.height_mm, bmi=params.bmi)
    requests = [LesionRequest(kind=l.kind, subtype=l.subtype, diameter_mm=l.diameter_mm, locations=l.locations,
                              lobulation=l.lobulation, spiculation=l.spiculation, min_pleura_mm=l.min_pleura_mm,
                              max_vessel_overlap=l.max_vessel_overlap) for l in params.lesions]
    key, seed, k = plan.seed_key, plan.cohort_seed, params.index
    validate = plan.cohort.get("validate_") or {}
    check_anatomy = validate.get("anatomy", True)
    retries = int(validate.get("max_resamples", 20)) if check_anatomy else 0
    failures: list[str] | None = None
    # Anatomy failures re-draw the anatomy stream; lesion failures re-draw only the lesion stream.
    # A twin (no lesions) therefore walks through exactly the same anatomy draws as its original.
    from synthspec.validate.anatomy import ANATOMY_CHECKS

    anatomy_attempt = lesion_attempt = 0
    for attempt in range(retries + 1):
        volume = build_subject(anatomy, grid, {n: tuple(v) for n, v in plan.tissue_hu.items()},
                               {int(label): t for label, t in plan.organ_tissue.items()}, requests,
                               numpy_stream(key, seed, k, "anatomy", anatomy_attempt),
                               numpy_stream(key, seed, k, "lesions", lesion_attempt),
                               with_pathology=with_pathology,
                               max_attempts=int(plan.cohort.get("sampling_budget") or 200))
        if not check_anatomy:
            break
        failures = _anatomy_failures(plan, params, volume, with_pathology)
        if not failures:
            break
        if any(f.split(":", 1)[0] in ANATOMY_CHECKS for f in failures):
            anatomy_attempt += 1
        else:
            lesion_attempt += 1
    scanner = plan.scanners[params.scanner]
    physics = next(s for s in plan.stages if s.kind == "simulate_physics").params
    acq = CTAcquisition(kv=params.kv, mas=params.mas, slice_thickness_mm=params.slice_thickness_mm,
                        pixel_mm=plan.grid.spacing[2], kernel=params.kernel, views=physics.get("views"),
                        noise_factor=scanner.noise_factor, electronic_noise=scanner.electronic_noise,
                        mtf50_lp_mm=scanner.mtf50)
    dev = torch.device(device or plan.device)
    hu = torch.from_numpy(np.ascontiguousarray(volume.hu, dtype=np.float32)).to(dev)
    generator = None if noiseless else torch_stream(key, seed, k, "noise")
    with torch.no_grad():
        image = simulate_ct(hu, acq, generator).to("cpu").numpy()
    image = plant_shortcut(plan, params, image, bool(volume.lesions))
    image16 = np.clip(np.rint(image), HU_MIN, HU_MAX).astype(np.int16)
    return GeneratedSubject(params=params, image=image16, truth_hu=volume.hu, labels=volume.labels,
                            lesion_mask=volume.lesion_mask, lesions=volume.lesions, rejected=list(volume.rejected),
                            attempts=attempt + 1, anatomy_failures=failures or None)


def _anatomy_failures(plan: Plan, params: SubjectParams, volume, with_pathology: bool) -> list[str]:
    """Why this draw fails anatomy validation (unplaceable lesions included); empty when it passes."""
    from synthspec.validate.anatomy import check_subject_anatomy, record_from

    record = record_from(params, volume.lesions, len(params.lesions) if with_pathology else 0)
    reasons = check_subject_anatomy(volume.labels, volume.lesion_mask, plan.grid.spacing, record, plan)
    if with_pathology:
        reasons += [f"lesion placement: {r}" for r in volume.rejected]
    return reasons


MARKER_HU = 100.0
"""Peak CT-number offset of the planted marker at marker_strength 100 %."""
DEFAULT_MARKER_STRENGTH = 0.5
"""50 HU in the air corner: invisible at the lung window, and the strength of the in-memory control that
a clean cohort's shortcut pass is measured against (validate.shortcut.ShortcutSettings.control_strength),
so the default planted cohort is the marker a pass claims it would have caught.  At 30 % the twin probe
only just flags it at the default size (held-out AUC 0.76 against the 0.75 limit)."""


def plant_shortcut(plan: Plan, params: SubjectParams, image: np.ndarray, positive: bool) -> np.ndarray:
    """`debug { planted_shortcut: true }`: a faint square in the image corner on positive subjects only.

    A deliberate flaw that correlates perfectly with the label and has nothing to do
    with the lesion: the shortcut tests must flag a model trained on such a cohort.
    Never used outside method development (rule GOV008 refuses it elsewhere).
    """
    debug = plan.cohort.get("debug") or {}
    if not debug.get("planted_shortcut") or not positive:
        return image
    strength = debug.get("marker_strength")
    strength = DEFAULT_MARKER_STRENGTH if strength is None else float(strength)
    z, y, x = image.shape
    size = max(2, y // 16)
    out = image.copy()
    out[:, 1:1 + size, 1:1 + size] += MARKER_HU * strength
    return out
