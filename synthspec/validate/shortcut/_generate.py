"""The one door from the shortcut tests to the generator: the engine's public entries only.

The shortcut tests regenerate subjects (twins without lesions, noiseless copies, another scanner,
virtual lesions in a negative's anatomy) and plant the debug marker in memory, through
`synthspec.engine.generate_subject`, `sample_subject` and `plant_shortcut`.  This module trains
nothing and judges nothing.
"""

from __future__ import annotations

import numpy as np


def generate_subject(plan, k: int, with_pathology: bool = True, noiseless: bool = False, device: str | None = None):
    """Subject `k` of `plan` as the cohort generates it (`.params`, `.image`, `.labels`, `.lesion_mask`, ...)."""
    from synthspec.engine import generate_subject as generate

    return generate(plan, k, with_pathology=with_pathology, noiseless=noiseless, device=device)


def subject_params(plan, k: int):
    """The parameters (`SubjectParams`: index, positive, lesions, scanner, sex ...) of subject `k`."""
    from synthspec.engine import sample_subject

    return sample_subject(plan, k)


def generate_with(plan, params, with_pathology: bool = True, noiseless: bool = False, device: str | None = None):
    """A subject generated from (possibly edited) `params`: every stream is that of subject `params.index`."""
    from synthspec.engine import generate_subject as generate

    return generate(plan, params.index, params=params, with_pathology=with_pathology, noiseless=noiseless,
                    device=device)


def store(plan, image: np.ndarray) -> np.ndarray:
    """Image values as the modality delivers them (CT: rounded, clipped to -1024 .. 3071 HU, int16)."""
    from synthspec.families import registry

    return registry.modality(plan.modality).store(image)


def plant_marker(plan, params, image: np.ndarray, positive: bool = True, strength: float | None = None) -> np.ndarray:
    """`image` (float32) with the planted-shortcut marker when `positive`: at the plan's strength when the
    plan plants it (`debug { planted_shortcut }`), or at `strength` whatever the plan says (the in-memory
    control); unchanged otherwise."""
    from synthspec.engine import plant_shortcut

    return plant_shortcut(plan, np.asarray(image, dtype=np.float32), positive, strength=strength)
