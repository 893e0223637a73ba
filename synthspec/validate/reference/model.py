"""What a loaded reference scan is: the `Reference` record, its tissue codes and its error.

Only the data: CT numbers, tissue classes and the regions noise is measured in, with where each
class came from.  Fetching, reading files and assigning classes live in the sibling modules;
nothing here reads a file or draws a random number.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from synthspec.errors import InputError

TISSUES = ("lung", "fat", "muscle_soft", "bone", "blood")
CODE = {name: i + 1 for i, name in enumerate(TISSUES)}
"""uint8 codes of the tissue classes in `Reference.classes` and `Reference.homogeneous` (0 = none)."""


class ReferenceError(InputError):
    """A reference scan that cannot be used; the message names the file and the fix."""


@dataclass
class Reference:
    name: str
    source: str
    image: np.ndarray
    """CT numbers (HU), float32, (z, y, x)."""
    spacing: tuple[float, float, float]
    """(dz, dy, dx) in mm."""
    classes: np.ndarray
    """uint8 tissue codes (`CODE`), 0 where no class applies."""
    homogeneous: np.ndarray
    """uint8 codes of regions used for noise and NPS (muscle_soft, fat, blood pool); 0 elsewhere."""
    valid: np.ndarray
    """True inside the reconstructed field of view."""
    labels_found: dict[str, list[str]] = field(default_factory=dict)
    derived: list[str] = field(default_factory=list)
    """Tissue classes derived from CT numbers instead of labels."""
    notes: list[str] = field(default_factory=list)
    version: str | None = None

    def mask(self, tissue: str) -> np.ndarray:
        return self.classes == CODE[tissue]

    @cached_property
    def contrast_enhanced(self) -> bool | None:
        """True when the blood pool is iodinated (median above 150 HU); None without blood labels."""
        blood = self.image[(self.homogeneous == CODE["blood"]) & self.valid]
        if blood.size < 50:
            return None
        return bool(np.median(blood) > 150.0)

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "source": self.source, "shape": list(self.image.shape),
                               "spacing_mm": [round(float(s), 4) for s in self.spacing],
                               "derived_from_hu": list(self.derived), "notes": list(self.notes),
                               "contrast_enhanced": self.contrast_enhanced}
        if self.version:
            out["version"] = self.version
        out["labels"] = {k: v for k, v in self.labels_found.items()}
        return out
