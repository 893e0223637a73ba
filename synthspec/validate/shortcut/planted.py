"""The planted-shortcut control: a marker that travels with the label, by design.

`debug { planted_shortcut: true }` makes a cohort whose positives carry a faint corner marker
(the engine plants it); such a cohort must be flagged.  On a clean cohort the same marker is
planted IN MEMORY on the positives' twins, and the twin probe must catch it, so a pass reads
"no shortcut found by a test shown to find one at this size".  The marker itself is the
engine's (through `_generate`); this module only asks for it and judges whether it was seen.
"""

from __future__ import annotations

import numpy as np

from synthspec.validate.results import CheckResult
from synthspec.validate.shortcut._generate import plant_marker, store
from synthspec.validate.shortcut.settings import ShortcutSettings


def planted(plan) -> bool:
    """Whether the cohort was generated with the planted-shortcut marker on its positives."""
    return bool(plan.debug.planted_shortcut)


def plant(plan, params, image: np.ndarray, strength: float | None = None) -> np.ndarray:
    """The marker a positive subject carries, planted on an int16 image as the cohort does: at the plan's
    strength, or at `strength` (the in-memory control on a clean cohort)."""
    marked = plant_marker(plan, params, np.asarray(image, dtype=np.float32), True, strength)
    return store(plan, marked)


def control_result(nb: dict, s: ShortcutSettings, lead_marker: bool = False) -> CheckResult:
    """The control's verdict: the in-memory corner marker, or (`lead_marker`, radiographs) the real lead
    laterality marker left out of the positives' twins."""
    value = nb.get("twin_probe_auc")
    caught = value is not None and value > s.max_probe_auc
    if lead_marker:
        details = {"test": "counterfactual"} | dict(nb) | {"control": "laterality marker left out of the positives' "
                                                           "twins", "must_exceed": s.max_probe_auc}
        return CheckResult(
            family="shortcut", name="shortcut_planted_control", passed=caught, value=value,
            threshold=s.max_probe_auc, details=details,
            reason=(f"the positives' twins regenerated without their lead laterality marker were told apart by the "
                    f"twin probe (AUC {value:.2f} > {s.max_probe_auc:.2f}): these tests can see a marker shortcut at "
                    "this cohort size") if caught else (
                f"the positives' twins regenerated without their lead laterality marker went unnoticed by the twin "
                f"probe (AUC {value}): at this cohort size the no-cheat tests are not sensitive enough to trust "
                "their pass; raise `subjects`"))
    details = {"test": "counterfactual"} | dict(nb) | {"marker_strength": s.control_strength,
                                                       "must_exceed": s.max_probe_auc}
    return CheckResult(
        family="shortcut", name="shortcut_planted_control", passed=caught, value=value, threshold=s.max_probe_auc,
        reason=(f"a corner marker planted in memory on the positives (strength {100 * s.control_strength:.0f} %) was "
                f"caught by the twin probe (AUC {value:.2f} > {s.max_probe_auc:.2f}): these tests can see a shortcut "
                "at this cohort size") if caught else (
            f"a corner marker planted in memory on the positives (strength {100 * s.control_strength:.0f} %) went "
            f"unnoticed by the twin probe (AUC {value}): at this cohort size the no-cheat tests are not sensitive "
            "enough to trust their pass; raise `subjects`"),
        details=details)
