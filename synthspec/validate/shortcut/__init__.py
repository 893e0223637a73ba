"""No-cheat tests: does a model trained on the cohort look at the lesion, or at something else?

Small MONAI probes are trained on a written cohort with subject-wise cross-validation (every
prediction comes from a model that never saw that subject) and asked about images that differ
from the originals in one controlled way.  Tests (names as in `validate { shortcut_tests: ... }`):

    counterfactual   positives regenerated WITHOUT their lesions (same anatomy, same noise): the
                     detector's predictions must collapse to the negatives' level, and the twin
                     probe must not tell twins from negatives
    lesion_mask      lesion voxels and their rim replaced by resampled lung parenchyma: the
                     detector's predictions must collapse
    artifact_swap    each subject's noise replaced by the noise of a subject of the other class:
                     the AUC must hold
    scanner_swap     each subject regenerated through another scanner class: the AUC must hold

The planted-shortcut control (`debug { planted_shortcut: true }`) is a cohort with such a flaw
by design and must be flagged; on a clean cohort `planted_control=True` plants the marker in
memory and checks that the twin probe catches it.

    checks.py      run_shortcut_tests / shortcut_checks: the driver
    settings.py    test names, ShortcutSettings, ShortcutReport
    collect.py     each subject's slabs and variants, lungs from the plan's label table
    slabs.py       slab geometry and the Data record
    reading.py     what the probes read: the channel (MRI: highest-b DWI, else post-contrast), region, windows
    variants.py    twins, lesion masking, noise and scanner swaps, virtual lesions
    planted.py     the planted-shortcut marker and the control's verdict
    probe.py       MONAI inputs, the two probe networks, seeded training
    crossval.py    subject-wise cross-validation of the detector and twin probes
    verdicts.py    predictions -> numbers -> CheckResults
    _generate.py   the one door to the generator (the engine's public entries only)

Anatomy and realism are `synthspec.validate.anatomy`'s and `synthspec.validate.realism`'s
business; AUC and bootstrap are `synthspec.validate.stats`'.
"""

from synthspec.validate.shortcut.checks import run_shortcut_tests, shortcut_checks
from synthspec.validate.shortcut.probe import probe_model
from synthspec.validate.shortcut.settings import (CONTEXT, LOW_DENSITY_WINDOW_HU, LUNG_WINDOW_HU, SHORTCUT_TESTS,
                                                  ShortcutReport, ShortcutSettings)
from synthspec.validate.shortcut.variants import mask_lesions

__all__ = ["CONTEXT", "LOW_DENSITY_WINDOW_HU", "LUNG_WINDOW_HU", "SHORTCUT_TESTS", "ShortcutReport",
           "ShortcutSettings", "mask_lesions", "probe_model", "run_shortcut_tests", "shortcut_checks"]
