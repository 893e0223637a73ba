"""`run_shortcut_tests` / `shortcut_checks`: the shortcut family's driver, from a cohort to CheckResults.

Checks that the cohort has enough of each class, deals the subject-wise folds, gathers the
slabs and variants (`collect.py`), cross-validates the probes (`crossval.py`), turns their
predictions into checks (`verdicts.py`) and, on a clean cohort, runs the in-memory planted
control (`planted.py`).  It computes no statistic and builds no image itself.
"""

from __future__ import annotations

import os
import time

from synthspec.families import registry
from synthspec.validate.results import CheckResult
from synthspec.validate.shortcut._generate import subject_params
from synthspec.validate.shortcut.collect import collect
from synthspec.validate.shortcut.crossval import detector, twin_probe, twin_probe_null
from synthspec.validate.shortcut.planted import control_result, planted
from synthspec.validate.shortcut.probe import Inputs, folds_of
from synthspec.validate.shortcut.settings import SHORTCUT_TESTS, ShortcutReport, ShortcutSettings
from synthspec.validate.shortcut.verdicts import checks_of, numbers_of


def shortcut_checks(cohort, tests=None, settings: ShortcutSettings | None = None,
                    planted_control: bool = True) -> list[CheckResult]:
    """The shortcut CheckResults of a loaded cohort (`synthspec.cohort.read.load`)."""
    return run_shortcut_tests(cohort, tests, settings, planted_control).checks


def run_shortcut_tests(cohort, tests=None, settings: ShortcutSettings | None = None,
                       planted_control: bool = True) -> ShortcutReport:
    """Cross-validate the probes and run `tests` (default: the spec's `validate.shortcut_tests`,
    else all four); returns the checks and the measured numbers."""
    import torch

    started = time.perf_counter()
    s = settings or ShortcutSettings()
    plan = cohort.plan
    tests = _tests(plan, tests)
    report = ShortcutReport()
    subjects = list(cohort.subjects)
    positive = [bool(sub.record.get("positive")) for sub in subjects]
    n_pos, n_neg = sum(positive), len(positive) - sum(positive)
    if n_pos < 4 or n_neg < 4:
        report.checks.append(CheckResult(
            family="shortcut", name="shortcut_model", passed=False, value=float(min(n_pos, n_neg)), threshold=4.0,
            reason=f"{n_pos} positive and {n_neg} negative subjects: the shortcut tests need at least 4 of each; "
                   "raise `subjects` or bring `prevalence` nearer 50 %"))
        report.seconds = time.perf_counter() - started
        return report
    control = planted_control and not planted(plan) and "counterfactual" in tests
    threads = torch.get_num_threads()
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    try:
        params = [subject_params(plan, sub.index) for sub in subjects]
        folds = folds_of(positive, min(s.folds, n_pos, n_neg))
        projection = registry.is_projection(plan.modality)
        if projection:   # one radiograph per subject: the same probes on whole images
            from synthspec.validate.shortcut.radiographs import RadiographInputs, collect_radiographs

            prep = RadiographInputs(s.size or 128, registry.modality(plan.modality).units_range[1])
            data = collect_radiographs(cohort, subjects, params, positive, folds, tests, s, prep, control)
        else:
            from synthspec.validate.shortcut.reading import windows

            prep = Inputs(s.size or int(min(128, plan.grid.shape[1])), *(windows(plan) or ()))
            data = collect(cohort, subjects, params, positive, folds, tests, s, prep, control)
        preds = detector(data, prep, s)
        numbers = numbers_of(data, preds, s)
        if data.scan:
            numbers.update(twin_probe(data, data.scan, s, tag=0))
            if "counterfactual" in tests and (numbers.get("twin_probe_auc") or 0.0) > s.max_probe_auc:
                numbers.update(twin_probe_null(data, data.scan, s, numbers["twin_probe_auc"]))
        numbers.update(planted_cohort=planted(plan), image_size=prep.size, folds=max(folds) + 1,
                       twin_mismatch_hu=data.mismatch or None,
                       slabs={"positive": sum(len(v) for k, v in data.test.items() if data.positive[k]),
                              "negative": sum(len(v) for k, v in data.test.items() if not data.positive[k])})
        if data.notes:
            numbers["notes"] = data.notes
        report.checks.extend(checks_of(numbers, tests, s, data))
        if control:
            free = {k: (data.scan_marked[k] if data.positive[k] else x) for k, x in data.scan.items()}
            nb = twin_probe(data, free, s, tag=1)
            report.checks.append(control_result(nb, s, lead_marker=projection))
            numbers["planted_control"] = report.checks[-1].details
        report.numbers = numbers
    finally:
        torch.set_num_threads(threads)
    report.seconds = time.perf_counter() - started
    report.numbers["seconds"] = round(report.seconds, 1)
    return report


def _tests(plan, tests) -> tuple[str, ...]:
    if tests is None:
        tests = plan.validation.shortcut_tests or SHORTCUT_TESTS
    unknown = [t for t in tests if t not in SHORTCUT_TESTS]
    if unknown:
        raise ValueError(f"unknown shortcut test(s) {', '.join(unknown)}; choose from {', '.join(SHORTCUT_TESTS)}")
    return tuple(tests)
