"""The shortcut tests' names, knobs and result record: what can be asked and what comes back.

Only constants and dataclasses: the probes, the variants and the checks import them; this
module builds nothing and reads no cohort.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from synthspec.engine import DEFAULT_MARKER_STRENGTH
from synthspec.validate.results import CheckResult

SHORTCUT_TESTS = ("counterfactual", "lesion_mask", "artifact_swap", "scanner_swap")
"""Test names as in `validate { shortcut_tests: ... }`."""
LUNG_WINDOW_HU = (-1350.0, 150.0)
"""W 1500, L -600: input channels 0-3."""
LOW_DENSITY_WINDOW_HU = (-1100.0, -800.0)
"""W 300, L -950: input channel 4 (faint offsets in air and padding)."""
CONTEXT = [0, 1, 2, 4]
"""Channels of the position-aware context branch and of the twin probe."""


@dataclass(frozen=True)
class ShortcutSettings:
    """Knobs of the probes and the pass thresholds (the defaults are what the tests use)."""

    size: int | None = None               # slabs resampled to size x size; None: min(matrix, 128)
    slices_per_lesion: int = 3            # detector slabs per lesion (area >= half its largest)
    scan_slices: int = 12                 # twin-probe slabs per subject, evenly spaced over the lungs
    folds: int = 3                        # subject-wise cross-validation
    epochs: int = 30                      # detector probe
    scan_epochs: int = 10                 # twin probe (more slabs per subject, fewer passes)
    batch_size: int = 16
    learning_rate: float = 3e-3
    seed: int = 0                         # keys every random stream (analysis_rng(..., seed, ...))
    bootstrap: int = 2000                 # stratified resamples of subjects for the AUC confidence intervals
    min_auc: float = 0.7                  # detector's held-out slab AUC below this: too weak to judge
    max_collapse: float = 0.35            # twin / masked: share of the positive-negative gap that may remain
    max_still_positive: float = 0.25      # twins called positive, beyond the negatives' false-positive rate
    max_probe_auc: float = 0.75           # twin probe: held-out subject AUC above this = the label leaks ...
    permutations: int = 19                # ... when the permuted-label null (at most this many) puts it at
    probe_alpha: float = 0.05             # p <= probe_alpha: above every one of 19 permutations
    max_swap_drop: float = 0.10           # detector AUC may drop at most this much under a swap
    max_twin_mismatch_hu: float = 1.0     # twin vs original, mean |difference| away from the lesions
    control_strength: float = DEFAULT_MARKER_STRENGTH   # in-memory planted control: the default planted marker
    device: str = "cpu"


@dataclass
class ShortcutReport:
    """The checks and the numbers behind them (also in each CheckResult's details)."""

    checks: list[CheckResult] = field(default_factory=list)
    numbers: dict = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def flagged(self) -> bool:
        return not all(c.passed for c in self.checks)
