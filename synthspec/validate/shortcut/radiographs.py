"""The shortcut tests on radiographs: the same probes and verdicts, fed whole projection images.

A radiograph is one image per subject, so every subject contributes one "slab" (index 0): the
radiograph itself, resampled to size x size.  The input channels mirror the CT ones so the two
probe networks and every verdict are shared (`probe.py`, `crossval.py`, `verdicts.py`):

    0-2  the radiograph in three windows: full range, bone (upper half), soft tissue (lower half)
    3    the radiograph inside the projected body part only (flat outside it): the detector
         probe's finding branch
    4    the background window (the darkest tenth of the range: collimator edges, marker, padding)

Variants: counterfactual twins (the positive regenerated without its pathology, same anatomy,
positioning and noise), the scanner swap, and the planted control, which uses the real
laterality marker, the best-known shortcut of radiographs: the positives' twins are
regenerated WITHOUT their lead marker, and the twin probe must notice its absence.  Variants
come from the generator through `_generate`; nothing here trains or judges.
"""

from __future__ import annotations

import numpy as np

from synthspec.validate.shortcut._generate import generate_with
from synthspec.validate.shortcut.planted import plant, planted
from synthspec.validate.shortcut.settings import CONTEXT, ShortcutSettings
from synthspec.validate.shortcut.slabs import Data

WINDOWS = ((0.0, 1.0), (0.5, 1.0), (0.0, 0.5), (0.0, 0.1))
"""(low, high) fractions of the stored range for channels 0, 1, 2 and 4."""
CONTROL = "the lead laterality marker left out of the positives' twins"


class RadiographInputs:
    """Stored radiograph [1, rows, cols] + its projected body mask -> five channels at size x size."""

    def __init__(self, size: int, stored_max: float):
        from monai.transforms import Resize

        self.size, self.stored_max = size, float(stored_max)
        self.resize = Resize((size, size), mode="area")

    def __call__(self, image: np.ndarray, body: np.ndarray):
        import torch

        x = torch.as_tensor(np.asarray(image, dtype=np.float32)[0] / self.stored_max)
        windows = [((x - lo) / (hi - lo)).clamp(0.0, 1.0) for lo, hi in WINDOWS]
        inside = torch.as_tensor(np.asarray(body, dtype=bool))
        fill = windows[0][inside].median() if bool(inside.any()) else windows[0].new_tensor(0.5)
        channels = torch.stack([windows[0], windows[1], windows[2], torch.where(inside, windows[0], fill), windows[3]])
        return torch.as_tensor(self.resize(channels), dtype=torch.float32)


def _image(subject) -> np.ndarray:
    return subject.channels["image"]


def collect_radiographs(cohort, subjects, params, positive, folds, tests, s: ShortcutSettings, prep,
                        control: bool) -> Data:
    """Each subject's radiograph and the variants the tests need, keyed (subject, 0) like CT slabs."""
    plan = cohort.plan
    data = Data(positive=list(positive), folds=list(folds), test={})
    for k, sub in enumerate(subjects):
        image = sub.image()
        body = sub.detector_mask("labels_projected")[0] > 0
        key = (k, 0)
        data.test[k] = [0]
        data.original[key] = image
        data.lung[key] = body
        free = image
        if positive[k] and "counterfactual" in tests:
            twin = generate_with(plan, params[k], with_pathology=False)
            free = _image(twin)
            if planted(plan):
                free = plant(plan, params[k], free)
            data.twin[key] = free
            if control:
                unmarked = params[k].model_copy(update={"acquisition": {**params[k].acquisition,
                                                                        "marker_corner": "none"}})
                bare = _image(generate_with(plan, unmarked, with_pathology=False))
                data.scan_marked[k] = prep(bare, body)[CONTEXT][None].half()
        if "counterfactual" in tests:
            data.scan[k] = prep(free, body)[CONTEXT][None].half()
    if "scanner_swap" in tests:
        names = sorted(plan.scanners)
        if len(names) < 2:
            data.notes.append("scanner_swap: the plan has one scanner class; nothing to swap")
        else:
            for k in sorted(data.test):
                own = params[k].scanner
                other = names[(names.index(own) + 1) % len(names)] if own in names else names[0]
                data.scanner_swap[(k, 0)] = _image(generate_with(plan, params[k].model_copy(update={"scanner": other})))
    if "lesion_mask" in tests or "artifact_swap" in tests:
        data.notes.append("lesion_mask and artifact_swap: not defined for radiographs yet; counterfactual twins and "
                          "the scanner swap test them")
    return data
