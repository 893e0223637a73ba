"""The state of each validation family, and an overall verdict that never passes a check that did not run.

A family is `pass` when at least one of its checks ran and none failed, `fail`
when one ran and failed, and `not run` when `validation.json` holds none of its
checks or only skipped ones (a skipped check is counted apart, never as a pass).
Without a `validation.json` every family is `not run`.

The overall status, first that applies:

    fail        a check that ran failed
    not run     no family ran
    stale       the results are for other cohort content
    incomplete  a family the spec's `validate` block asks for did not run
    partial     everything the spec asks for ran and passed, but some family did not run
    pass        every family ran and passed (the only green verdict)

`headline` says it in one line, naming every family's state.  Pure data in,
data out: it reads no files and renders nothing.
"""

from __future__ import annotations

from typing import Any

from synthspec.validate.results import CheckResult, ValidationReport

PASS, FAIL, NOT_RUN = "pass", "fail", "not run"
INCOMPLETE, PARTIAL, STALE = "incomplete", "partial", "stale"


def _skipped(check: CheckResult) -> bool:
    return bool((check.details or {}).get("skipped"))


def _check_row(check: CheckResult) -> dict[str, Any]:
    result = "skipped" if _skipped(check) else (PASS if check.passed else FAIL)
    return {"name": check.name, "result": result, "passed": check.passed and not _skipped(check),
            "skipped": _skipped(check), "value": check.value, "threshold": check.threshold, "reason": check.reason}


def family_state(family: str, checks: list[CheckResult], requested: bool) -> dict[str, Any]:
    ran = [c for c in checks if not _skipped(c)]
    failed = sum(1 for c in ran if not c.passed)
    return {
        "status": NOT_RUN if not ran else (FAIL if failed else PASS),
        "requested": requested,
        "passed": len(ran) - failed, "failed": failed, "skipped": len(checks) - len(ran),
        "checks": [_check_row(c) for c in checks],
    }


def validation_summary(validation: ValidationReport | None, content_hash: str | None,
                       families: tuple[str, ...], requested: tuple[str, ...]) -> dict[str, Any]:
    """Per-family states and the overall verdict (see the module doc); JSON-ready."""
    checks = list(validation.checks) if validation is not None else []
    names = list(families) + sorted({c.family for c in checks} - set(families))
    states = {f: family_state(f, [c for c in checks if c.family == f], f in requested) for f in names}
    matches = validation is None or content_hash is None or validation.content_hash == content_hash
    missing = [f for f in names if states[f]["requested"] and states[f]["status"] != PASS]
    if any(s["status"] == FAIL for s in states.values()):
        status = FAIL
    elif all(s["status"] == NOT_RUN for s in states.values()):
        status = NOT_RUN
    elif not matches:
        status = STALE
    elif missing:
        status = INCOMPLETE
    elif any(s["status"] == NOT_RUN for s in states.values()):
        status = PARTIAL
    else:
        status = PASS
    summary: dict[str, Any] = {
        "status": status,
        "requested": [f for f in names if states[f]["requested"]],
        "not_run": [f for f in names if states[f]["status"] == NOT_RUN],
        "matches_cohort": matches,
        "families": states,
    }
    if validation is not None:
        summary.update(content_hash=validation.content_hash, synthspec_version=validation.synthspec_version,
                       seconds=validation.seconds)
    summary["headline"] = headline(summary)
    return summary


def headline(summary: dict[str, Any]) -> str:
    """One line naming every family's state and what the overall verdict rests on."""
    families = summary["families"]
    parts = "; ".join(f"{f}: {s['status']}" + ("" if s["requested"] else " (not asked for by the spec)")
                      for f, s in families.items())
    status = summary["status"]
    if status == PASS:
        lead = "Validation passed"
    elif status == FAIL:
        failed = [f for f, s in families.items() if s["status"] == FAIL]
        lead = f"Validation FAILED ({', '.join(failed)})"
    elif status == STALE:
        lead = "Validation results are for different cohort content, so they say nothing about this cohort"
    elif status == NOT_RUN:
        lead = "Validation not run"
    elif status == PARTIAL:
        lead = "Validation partial: what the spec asks for passed, but not every family ran"
    else:
        asked = [f for f in summary["requested"] if families[f]["status"] == NOT_RUN]
        lead = f"Validation incomplete: {', '.join(asked)} asked for by the spec but not run"
    return f"{lead}. Families: {parts}."
