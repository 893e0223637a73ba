"""Which slabs the probes see, and the record that holds them and every variant of them.

A slab is three adjacent axial slices (z-1, z, z+1) in HU; detector slabs go through each
lesion (or a virtual lesion in a negative), twin-probe slabs are spaced evenly over the lungs.
Pure geometry on arrays: building the variants is `variants.py`'s job, training `probe.py`'s.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from synthspec.validate.shortcut.settings import CONTEXT


@dataclass
class Data:
    """The subjects' folds, their detector slabs and every variant of them, keyed by (subject, z)."""

    positive: list[bool]
    folds: list[int]                                # -1: left out
    test: dict[int, list[int]]                      # subject -> detector slab indices
    lung: dict = field(default_factory=dict)        # (subject, z) -> 2-D eroded lung mask
    original: dict = field(default_factory=dict)    # (subject, z) -> [3, Y, X] HU slab
    twin: dict = field(default_factory=dict)        # positives without lesions (marker kept if planted)
    masked: dict = field(default_factory=dict)
    noise_swap: dict = field(default_factory=dict)
    scanner_swap: dict = field(default_factory=dict)
    scan: dict = field(default_factory=dict)        # subject -> twin-probe inputs (twins for positives)
    scan_marked: dict = field(default_factory=dict)  # positives' twin-probe inputs with an in-memory marker
    mismatch: dict = field(default_factory=dict)    # subject id -> twin vs original mean |HU| off the lesions
    notes: list[str] = field(default_factory=list)
    unit: str = "HU"                                # of the slabs' values: HU on CT, "units" (stored) on MRI


def slab(volume: np.ndarray, z: int, half: int = 1) -> np.ndarray:
    """Slices z-half .. z+half as channels (edge slices repeated), float32 HU."""
    idx = np.clip(np.arange(z - half, z + half + 1), 0, volume.shape[0] - 1)
    return volume[idx].astype(np.float32)


def lesion_slices(lesions: np.ndarray, per_lesion: int) -> list[int]:
    """Axial slices through each lesion: its largest cross-sections, each at least half the largest."""
    out: list[int] = []
    for i in [int(v) for v in np.unique(lesions) if v]:
        area = (lesions == i).sum(axis=(1, 2))
        zmax = int(np.argmax(area))
        order = sorted(np.flatnonzero(area >= 0.5 * area[zmax]), key=lambda z: (-area[z], abs(int(z) - zmax)))
        out.extend(int(z) for z in order[:per_lesion])
    return sorted(set(out))


def lung_extent(lung: np.ndarray) -> tuple[int, int]:
    """First and last slice with lung in the (z, y, x) lung mask (the whole volume when there is none)."""
    zs = np.flatnonzero(lung.any(axis=(1, 2)))
    return (int(zs[0]), int(zs[-1])) if zs.size else (0, lung.shape[0] - 1)


def scan_slices(extent: tuple[int, int], n: int) -> list[int]:
    """About `n` evenly spaced slices strictly inside `extent`."""
    lo, hi = extent
    return sorted({int(round(z)) for z in np.linspace(lo + 1, max(lo + 1, hi - 1), n)})


def stack(prep, volume: np.ndarray, lung: np.ndarray, zs: list[int]):
    """Twin-probe inputs (context channels only), half precision to keep whole scans in memory."""
    from scipy.ndimage import binary_erosion
    import torch

    return torch.stack([prep(slab(volume, z), binary_erosion(lung[z]))[CONTEXT] for z in zs]).half()
