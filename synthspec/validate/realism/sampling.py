"""What is measured on each side: voxel samples, noise residuals, NPS ROIs and texture patches.

Common grid.  Both sides are resampled to the coarser spacing of the two per axis (the
reference 0.70 x 0.70 x 2.5 mm usually goes to the cohort's grid): CT numbers with a Gaussian
anti-alias prefilter (sigma = (factor - 1) / 2 voxels, as skimage's rescale) and linear
interpolation, tissue classes by nearest neighbour.  Distributions, noise and texture are
measured there, so the real scan is seen at the resolution of the synthetic one (its noise is
lowered by the resampling; native values are kept too).  NPS ROIs are cut at each side's
native spacing.  Voxel samples are random subsets of a fixed size per side (the generator comes
from the caller, keyed by `analysis_rng`).  This module compares nothing and sets no threshold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from synthspec.validate.morphology import chessboard_in_plane, erode_in_plane
from synthspec.validate.realism.noise import noise_sigma, residual
from synthspec.validate.realism.texture import FEATURES, texture_features
from synthspec.validate.reference import CODE, TISSUES

NOISE_REGIONS = ("muscle_soft", "fat", "blood")
"""Homogeneous regions the noise SD and NPS are measured in."""


def resample(array: np.ndarray, spacing, target, labels: bool = False) -> np.ndarray:
    """Resample (z, y, x) `array` from `spacing` to `target` mm: images anti-aliased + linear, labels nearest."""
    from scipy.ndimage import gaussian_filter, zoom

    factors = [float(s) / float(t) for s, t in zip(spacing, target)]
    if all(abs(f - 1.0) < 1e-3 for f in factors):
        return array
    shape = [max(1, int(round(n * f))) for n, f in zip(array.shape, factors)]
    ratio = [o / n for o, n in zip(shape, array.shape)]
    if labels:
        return zoom(array, ratio, order=0, mode="nearest", grid_mode=True)
    sigma = [max(0.0, (1.0 / f - 1.0) / 2.0) for f in factors]
    source = np.asarray(array, np.float32)
    if any(s > 0 for s in sigma):
        source = gaussian_filter(source, sigma=sigma)
    return zoom(source, ratio, order=1, mode="nearest", grid_mode=True)


@dataclass
class Side:
    """Measurements gathered from one side (the real reference or the synthetic cohort)."""
    name: str
    native_spacing: tuple[float, float, float]
    samples: dict[str, list[np.ndarray]] = field(default_factory=dict)
    residuals: dict[str, list[np.ndarray]] = field(default_factory=dict)
    residuals_native: dict[str, list[np.ndarray]] = field(default_factory=dict)
    rois: dict[tuple[str, int], list[np.ndarray]] = field(default_factory=dict)
    roi_spacing: dict[int, tuple[float, float]] = field(default_factory=dict)
    patches: list[np.ndarray] = field(default_factory=list)
    region_voxels: dict[str, int] = field(default_factory=dict)

    def values(self, tissue: str) -> np.ndarray:
        parts = self.samples.get(tissue) or []
        return np.concatenate(parts) if parts else np.zeros(0)

    def noise(self, region: str, native: bool = False) -> float | None:
        parts = (self.residuals_native if native else self.residuals).get(region) or []
        return noise_sigma(np.concatenate(parts)) if parts else None

    def features(self) -> np.ndarray:
        return np.array(self.patches) if self.patches else np.zeros((0, len(FEATURES)))


def pooled(sides: list[Side], name: str = "reference") -> Side:
    """One side holding every sample, residual and patch of `sides` (several reference scans as one).

    NPS ROIs are not pooled: each scan has its own pixel grid, so `verdicts.nps_check` takes the sides
    themselves and averages their spectra."""
    if len(sides) == 1:
        return sides[0]
    out = Side(name, tuple(max(values) for values in zip(*(s.native_spacing for s in sides))))
    for side in sides:
        for mine, theirs in ((out.samples, side.samples), (out.residuals, side.residuals),
                             (out.residuals_native, side.residuals_native)):
            for key, parts in theirs.items():
                mine.setdefault(key, []).extend(parts)
        out.patches.extend(side.patches)
        for key, count in side.region_voxels.items():
            out.region_voxels[key] = out.region_voxels.get(key, 0) + count
    return out


def _take(values: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    if values.size <= n:
        return values
    return values[rng.choice(values.size, size=n, replace=False)]


@dataclass
class Budget:
    voxels: int          # voxel samples per tissue for this volume
    residuals: int       # residual samples per noise region
    patches: int         # texture patches from this volume
    rois: int            # NPS ROIs per candidate size from this volume


def collect_common(side: Side, image: np.ndarray, classes: np.ndarray, homogeneous: np.ndarray, valid: np.ndarray,
                   spacing, budget: Budget, rng: np.random.Generator, patch: int) -> None:
    """Voxel samples, noise residuals and texture patches on the common grid."""
    from scipy.ndimage import uniform_filter

    for tissue in TISSUES:
        sel = (classes == CODE[tissue]) & valid
        side.region_voxels[tissue] = side.region_voxels.get(tissue, 0) + int(sel.sum())
        if sel.any():
            side.samples.setdefault(tissue, []).append(_take(image[sel], budget.voxels, rng).astype(np.float32))
    high_pass = residual(image)
    for region in NOISE_REGIONS:
        core = erode_in_plane((homogeneous == CODE[region]) & valid, 1)
        if core.any():
            side.residuals.setdefault(region, []).append(_take(high_pass[core], budget.residuals, rng))
    # texture: patch x patch axial windows that are >= 80 % lung and wholly inside the field of view
    lung = ((classes == CODE["lung"]) & valid).astype(np.float32)
    if patch > min(image.shape[1:]) or not lung.any():
        return
    frac = uniform_filter(lung, size=(1, patch, patch), mode="constant")
    inside = uniform_filter(valid.astype(np.float32), size=(1, patch, patch), mode="constant") > 0.999
    half = patch // 2
    ok = (frac >= 0.8) & inside
    ok[:, :half, :] = False
    ok[:, :, :half] = False
    ok[:, image.shape[1] - (patch - half) + 1:, :] = False
    ok[:, :, image.shape[2] - (patch - half) + 1:] = False
    stride = max(1, half)  # half-overlapping grid of candidate centres
    grid = np.zeros_like(ok)
    grid[:, ::stride, ::stride] = True
    centres = np.argwhere(ok & grid)
    if centres.size == 0:
        return
    for z, y, x in centres[rng.choice(len(centres), size=min(budget.patches, len(centres)), replace=False)]:
        window = image[z, y - half:y - half + patch, x - half:x - half + patch]
        side.patches.append(texture_features(window))


def collect_native(side: Side, image: np.ndarray, homogeneous: np.ndarray, valid: np.ndarray, spacing,
                   sizes: dict[int, int], budget: Budget, rng: np.random.Generator) -> None:
    """Noise residuals at native resolution and NPS ROIs (for each candidate ROI size) at native spacing.

    Two kinds of ROI per location: the slice itself ("single") and the difference of the slice and
    the next one divided by sqrt(2) ("slice_difference"), which cancels most anatomy (it changes
    little over one slice) while independent noise keeps its spectrum.
    """
    high_pass = residual(image)
    candidates = []  # (z, y, x, in-plane chessboard depth in both slices z and z+1 / in slice z)
    for region in NOISE_REGIONS:
        mask = (homogeneous == CODE[region]) & valid
        core = erode_in_plane(mask, 1)
        if not core.any():
            continue
        side.residuals_native.setdefault(region, []).append(_take(high_pass[core], budget.residuals, rng))
        dist = chessboard_in_plane(mask)
        pair = np.zeros_like(dist)
        pair[:-1] = np.minimum(dist[:-1], dist[1:])
        z, y, x = np.nonzero(dist >= 4)  # the smallest ROI (4 voxels) needs depth h + 2 = 4
        candidates.append(np.column_stack([z, y, x, dist[z, y, x], pair[z, y, x]]))
    del high_pass
    if not candidates:
        return
    cand = np.concatenate(candidates)
    for key, n in sizes.items():
        h = n // 2
        stride = max(1, h)  # half-overlapping ROIs
        on_grid = (cand[:, 1] % stride == 0) & (cand[:, 2] % stride == 0)
        for kind, column in (("single", 3), ("slice_difference", 4)):
            pick = cand[on_grid & (cand[:, column] >= h + 2)]  # ROI inside the region eroded by one voxel
            if len(pick) == 0:
                continue
            pick = pick[rng.choice(len(pick), size=min(budget.rois, len(pick)), replace=False)]
            rois = []
            for z, y, x in pick[:, :3]:
                roi = image[z, y - h:y - h + n, x - h:x - h + n].astype(np.float32)
                if kind == "slice_difference":
                    roi = (roi - image[z + 1, y - h:y - h + n, x - h:x - h + n]) / np.float32(math.sqrt(2.0))
                if roi.shape == (n, n):
                    rois.append(roi)
            side.rois.setdefault((kind, key), []).extend(rois)
        side.roi_spacing[key] = (float(spacing[1]), float(spacing[2]))
