"""Anatomy validation of a written cohort: the anatomy family's own acceptance checks, aggregated.

Role: read every subject's label map and lesion mask through the cohort contract, ask the
family that built them (`families.registry.anatomy(plan.anatomy).assess`) to judge each one,
and turn the findings into one `CheckResult` per check.  The checks themselves, and the
references they use, belong to the family (families/anatomy/thorax/checks.py for the chest);
the generator calls the same checks for its re-draw loop.  A family with no checks gets one
failing result that says so, never a silent pass.
"""

from __future__ import annotations

import numpy as np

from synthspec.validate.results import CheckResult


def _family(plan):
    from synthspec.families.registry import UnknownFamily, anatomy

    try:
        return anatomy(plan.anatomy)
    except UnknownFamily:
        return None



def anatomy_checks(cohort, min_pass_rate: float = 1.0, subjects=None) -> list[CheckResult]:
    """One `CheckResult` per anatomy check over the cohort's subjects, plus a per-subject summary.

    A check passes when the share of subjects that pass it is >= `min_pass_rate` (1.0: every
    subject); `details` name the failing subjects with their reasons and list subjects the
    check could not evaluate (e.g. lungs cut by the field of view)."""
    family = _family(cohort.plan)
    if family is None or not hasattr(family, "assess"):
        return [CheckResult(family="anatomy", name="anatomy_family", passed=False,
                            reason=f"no anatomy checks exist for the family {cohort.plan.anatomy!r} yet; "
                                   "validate it by eye (reader pack) or set `validate {{ anatomy: false }}`")]
    checks = tuple(family.anatomy_checks) + tuple(family.lesion_checks)
    spacing = cohort.spacing
    chosen = cohort.subjects if subjects is None else [s for s in cohort.subjects if s.index in set(subjects)]
    per: dict = {}
    for s in chosen:
        per[s.subject_id] = family.assess(s.labels(), s.lesions(), spacing, s.record, cohort.plan)
    n = len(per)
    results = []
    for check in checks:
        failed = {sid: [m for c, m in a.failures if c == check] for sid, a in per.items()}
        failed = {sid: ms for sid, ms in failed.items() if ms}
        skipped = {sid: [m for c, m in a.skipped if c == check] for sid, a in per.items()}
        skipped = {sid: ms[0] for sid, ms in skipped.items() if ms}
        evaluated = n - len(skipped)
        rate = 1.0 - len(failed) / evaluated if evaluated else 1.0
        details: dict = {"evaluated": evaluated, "failed": failed}
        if skipped:
            details["not_evaluated"] = skipped
        details.update(_summary(check, per))
        if failed:
            first = next(iter(failed.items()))
            reason = (f"{len(failed)} of {evaluated} subjects fail {check}: {first[0]} {first[1][0]}"
                      + (f" (and {len(failed) - 1} more; see details)" if len(failed) > 1 else ""))
        elif evaluated == 0:
            reason = f"{check} could not be evaluated on any subject: {next(iter(skipped.values()), '')}"
        else:
            reason = f"{evaluated} of {evaluated} subjects pass" + (f"; {len(skipped)} not evaluated (see details)"
                                                                    if skipped else "")
        results.append(CheckResult(family="anatomy", name=check, passed=rate >= min_pass_rate, value=round(rate, 4),
                                   threshold=min_pass_rate, reason=reason, details=details))
    bad = sorted(sid for sid, a in per.items() if a.failures)
    rate = 1.0 - len(bad) / n if n else 1.0
    results.append(CheckResult(
        family="anatomy", name="anatomy_subjects", passed=rate >= min_pass_rate, value=round(rate, 4),
        threshold=min_pass_rate,
        reason=f"all {n} subjects pass every anatomy check" if not bad else f"{len(bad)} of {n} subjects fail an anatomy check: {', '.join(bad[:8])}"
                                  + (" ..." if len(bad) > 8 else ""),
        details={"subjects": n, "failed": {sid: per[sid].reasons for sid in bad}}))
    return results


def _summary(check: str, per: dict) -> dict:
    """Cohort-level measurements that explain a check (systematic bias shows here before it fails)."""
    def stats(values):
        v = np.asarray([x for x in values if x is not None], dtype=float)
        if not v.size:
            return None
        return {"mean": round(float(v.mean()), 4), "min": round(float(v.min()), 4), "max": round(float(v.max()), 4)}

    if check == "lung_volume":
        return {"lung_to_predicted_tlc": stats(a.measures.get("lung_to_tlc") for a in per.values()),
                "lung_ml": stats(a.measures.get("lung_ml") for a in per.values())}
    if check == "heart_volume":
        return {"heart_ml": stats(a.measures.get("heart_ml") for a in per.values()),
                "heart_ml_per_m2": stats(a.measures.get("heart_ml_per_m2") for a in per.values())}
    if check == "connectivity":
        specks = {sid: a.measures["specks_voxels"] for sid, a in per.items() if a.measures.get("specks_voxels")}
        return {"specks_voxels": specks} if specks else {}
    return {}
