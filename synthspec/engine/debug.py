"""The planted shortcut: a deliberate flaw for testing the shortcut tests (method development only).

`debug { planted_shortcut: true }` adds a faint square in the image corner on positive subjects
only: it correlates perfectly with the label and has nothing to do with the lesion, so the
shortcut tests must flag a model trained on such a cohort.  Rule GOV008 refuses it outside
`purpose: method_development`.  The amplitude is in the modality's units (CT: 100 HU at 100 %).
"""

from __future__ import annotations

import numpy as np

DEFAULT_MARKER_STRENGTH = 0.5
"""50 % of the modality's marker amplitude (CT: 50 HU in the air corner): invisible at the lung window,
and the strength of the in-memory control a clean cohort's shortcut pass is measured against
(validate.shortcut.ShortcutSettings.control_strength), so the default planted cohort is the marker a
pass claims it would have caught.  At 30 % the twin probe only just flags it at the default size
(held-out AUC 0.76 against the 0.75 limit)."""


def marker_strength(plan) -> float:
    strength = plan.debug.marker_strength
    return DEFAULT_MARKER_STRENGTH if strength is None else float(strength)


def plant_shortcut(plan, image: np.ndarray, positive: bool, strength: float | None = None) -> np.ndarray:
    """`image` with the marker when the plan plants it and the subject is positive (else unchanged).

    `strength` plants it whatever the plan says (the shortcut tests' in-memory control on a clean
    cohort).  The amplitude is the modality's `marker_units` at 100 %."""
    from synthspec.families import registry

    if strength is None:
        if not plan.debug.planted_shortcut or not positive:
            return image
        strength = marker_strength(plan)
    elif not positive:
        return image
    z, y, x = image.shape
    size = max(2, y // 16)
    out = image.copy()
    out[:, 1:1 + size, 1:1 + size] += registry.modality(plan.modality).marker_units * strength
    return out
