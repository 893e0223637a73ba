"""`radiograph_realism_checks`: a radiograph cohort against a held-out real radiograph, as CheckResults.

The real side is one of the two computed radiographs in the pydicom-data wheel
(`validate.reference.radiographs`): RG1, a PA chest, for chest cohorts and RG3, an AP lower leg
(the only real extremity radiograph that ships), for every other body part.  Neither shaped
the generator: no parameter of the radiography modality was tuned on them, so they are
held-out scans in the sense of DESIGN section 7.

Each metric of `radiograph.py` (normalised intensity histogram, noise power spectrum, edge
sharpness) is measured on the delivered images of up to `max_subjects` subjects, pooled,
and its distance to the real radiograph is judged against the yardstick of two real
radiographs of different anatomy and systems (RG1 vs RG3): a cohort passes a metric when it
differs from its reference by no more than they differ from each other.  That bar is loose
(the real pair differs a lot), which the reasons say; the figures are in the details.
"""

from __future__ import annotations

from synthspec.validate.results import CheckResult

FAMILY = "realism"
REFERENCE_FOR_BODY_PART = {"CHEST": "RG1"}
DEFAULT_REFERENCE = "RG3"
MAX_SUBJECTS = 8


def reference_for(plan) -> str:
    s = plan.stage("acquire").params.settings
    return REFERENCE_FOR_BODY_PART.get(str(s.get("body_part", "")).upper(), DEFAULT_REFERENCE)


def _result(name: str, value, threshold, passed: bool, reason: str, details: dict) -> CheckResult:
    return CheckResult(family=FAMILY, name=name, passed=passed, value=None if value is None else round(float(value), 4),
                       threshold=None if threshold is None else round(float(threshold), 4), reason=reason,
                       details=details)


def radiograph_realism_checks(cohort, reference: str | None = None,
                              max_subjects: int | None = MAX_SUBJECTS) -> list[CheckResult]:
    """Histogram, NPS and edge checks of a radiograph cohort against `reference` ("RG1", "RG3"; default by
    body part)."""
    from synthspec.validate.realism.radiograph import compare

    plan = cohort.plan
    name = str(reference or reference_for(plan)).upper()
    if name not in ("RG1", "RG3"):
        return [_result("realism", None, None, False, f"unknown radiograph reference {reference!r}; use RG1 (PA "
                        "chest) or RG3 (AP lower leg) from the pydicom-data wheel", {})]
    s = plan.stage("acquire").params.settings
    pitch = float(s["detector_pixel_mm"])
    subjects = cohort.subjects[:max_subjects] if max_subjects else cohort.subjects
    images = [sub.image()[0] for sub in subjects]
    masks = [sub.detector_mask("labels_projected")[0] > 0 for sub in subjects] if "labels_projected" in \
        (subjects[0].record.get("files") or {}) else None
    result = compare(images, pitch, name, masks)
    d, yard = result["distance"], result["real_vs_real"]
    common = {"reference": name, "reference_description": result["reference_description"],
              "held_out": True, "subjects": len(images), "pitch_mm": pitch,
              "synthetic": result["synthetic"], "real": result["real"], "real_vs_real": yard}
    out = []
    w, w_yard = d["histogram"]["wasserstein"], yard["histogram"]["wasserstein"]
    out.append(_result(
        "radiograph_histogram", w, w_yard, w <= w_yard,
        f"normalised intensity histogram: Wasserstein-1 {w:.3f} of the 1-99 % range from {name} "
        f"({'within' if w <= w_yard else 'beyond'} the {w_yard:.3f} between the two real radiographs)",
        common | {"distance": d["histogram"]}))
    slope, slope_yard = d["nps"]["slope_difference"], yard["nps"]["slope_difference"]
    if slope is None or slope_yard is None:
        out.append(_result("radiograph_nps", None, None, False, "noise power spectrum: too few flat regions to fit "
                           "a slope on one side", common | {"distance": d["nps"]}))
    else:
        ok = abs(slope) <= abs(slope_yard)
        out.append(_result(
            "radiograph_nps", abs(slope), abs(slope_yard), ok,
            f"noise power spectrum: slope {result['synthetic']['nps']['slope']:.2f} against {name}'s "
            f"{result['real']['nps']['slope']:.2f} (difference {abs(slope):.2f}, "
            f"{'within' if ok else 'beyond'} the {abs(slope_yard):.2f} between the two real radiographs)",
            common | {"distance": d["nps"]}))
    edge, edge_yard = d["edge"].get("difference_mm"), yard["edge"]["difference_mm"]
    if edge is None:
        out.append(_result("radiograph_edge", None, None, False, "edge sharpness: no bone edge could be measured "
                           "in the synthetic radiographs", common | {"distance": d["edge"]}))
        return out
    ok = abs(edge) <= max(abs(edge_yard), 0.1)
    out.append(_result(
        "radiograph_edge", abs(edge), max(abs(edge_yard), 0.1), ok,
        f"edge sharpness: 10-90 % rise {result['synthetic']['edge']['median_mm']:.2f} mm against {name}'s "
        f"{result['real']['edge']['median_mm']:.2f} mm ({'within' if ok else 'beyond'} the real pair's "
        f"{abs(edge_yard):.2f} mm difference, or 0.1 mm)", common | {"distance": d["edge"]}))
    return out
