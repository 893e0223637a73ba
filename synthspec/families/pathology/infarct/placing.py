"""What the brain lesion families (infarct, glioblastoma) share: the family interface and the attempt loop.

`BrainLesionFamily.insert` copies every scene container it will write (layers, changes, masks, lesion mask:
the twin's clean scene shares them), reads the plan's label table once and hands each lesion to the family's
`_one` (a lesion is rejected when the scene lacks the geometry the family `needs`).  `attempts` runs a family's placement try until one succeeds, counting why the others failed, and
records the rejection (the most common reason first) when none does.  No shape or physics lives here.
"""

from __future__ import annotations

import numpy as np

from synthspec.families.base import LesionParams, TissueScene
from synthspec.families.pathology.infarct import spread


class BrainLesionFamily:
    """A pathology family of the head's brain; subclasses give `_one(scene, grid, req, rng, ids, groups,
    label_tissue, max_attempts, lesion_id)` and the scene geometry they need (`needs`)."""

    needs: tuple[str, ...] = ("brain", "region", "side")

    def shape_defaults(self, subtype: str) -> tuple[float, float]:
        return 0.0, 0.0

    def placement_limits(self, constraints) -> dict[str, float | None]:
        return {}

    def insert(self, scene: TissueScene, grid, lesions: list[LesionParams], rng: np.random.Generator, labels,
               max_attempts: int, first_id: int = 1) -> None:
        ids, groups, label_tissue = spread.labels_of(labels)
        scene.layers = list(scene.layers)
        scene.changes = list(scene.changes)
        scene.masks = dict(scene.masks)
        scene.lesion_mask = (np.zeros(grid.shape, np.uint16) if scene.lesion_mask is None
                             else scene.lesion_mask.copy())
        missing = [k for k in self.needs if k not in scene.geometry]
        for index, req in enumerate(lesions):
            if missing:
                scene.rejected.append(f"kind: {req.kind} {first_id + index}: the scene has no {', '.join(missing)} "
                                      "geometry (head_adult only)")
                continue
            self._one(scene, grid, req, rng, ids, groups, label_tissue, max(1, int(max_attempts)), first_id + index)

    def _one(self, scene, grid, req, rng, ids, groups, label_tissue, max_attempts, lesion_id):
        raise NotImplementedError


def attempts(scene, max_attempts: int, try_once, what: str, default_reason: str):
    """(attempt, *what try_once returned) for the first try that returns a tuple, or None after recording in
    `scene.rejected` why every try failed (try_once returns a reason string then)."""
    fails: dict[str, int] = {}
    for attempt in range(1, max_attempts + 1):
        got = try_once()
        if isinstance(got, str):
            fails[got] = fails.get(got, 0) + 1
            continue
        return (attempt, *got)
    worst = max(fails, key=fails.get) if fails else default_reason
    scene.rejected.append(f"{worst}: {what} after {max_attempts} attempts (failed: "
                          + ", ".join(f"{k} {v}" for k, v in fails.items()) + ")")
    return None
