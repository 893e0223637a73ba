"""Smooth random diffeomorphic deformations shared by the template-based anatomy families.

A stationary velocity field of independent normal values on a coarse control grid, smoothed and scaled to a
target SD, is exponentiated by scaling and squaring: the resulting displacement is a diffeomorphism (no
folds, no tears), so structures move and bend but never cross.  This module draws and integrates fields; it
knows no anatomy and samples no template (the families' build modules apply the displacement).
"""

from __future__ import annotations

import math

import numpy as np


def exp_velocity(v: np.ndarray, spacing_mm: float, steps: int = 5) -> np.ndarray:
    """exp(v) by scaling and squaring on the coarse grid: phi = (id + v / 2^n) composed n times.

    v: [3, nz, ny, nx] with components (x, y, z) in mm; returns the displacement in the same layout."""
    from scipy.ndimage import map_coordinates

    u = v / float(2 ** steps)
    grid = np.indices(v.shape[1:]).astype(np.float64)
    for _ in range(steps):
        # u(x) <- u(x) + u(x + u(x)), coordinates in coarse voxels (components are x, y, z in mm)
        shifted = grid + np.stack([u[2], u[1], u[0]]) / spacing_mm
        u = u + np.stack([map_coordinates(c, shifted, order=1, mode="nearest") for c in u])
    return u.astype(np.float32)


def random_displacement(extent_mm, control_mm: float, sd_mm: float, rng: np.random.Generator) -> np.ndarray:
    """A random diffeomorphic displacement [3, nz, ny, nx] over `extent_mm` (z, y, x) on a `control_mm` grid.

    Draws 3 * nz * ny * nx standard normals from `rng` (nothing else), smooths each component by one control
    spacing and scales the field to `sd_mm` before integrating it."""
    from scipy.ndimage import gaussian_filter

    n = [max(int(math.ceil(e / control_mm)) + 1, 2) for e in extent_mm]
    raw = rng.normal(0.0, 1.0, (3, *n))
    smooth = np.stack([gaussian_filter(c, 1.0, mode="nearest") for c in raw])
    smooth *= sd_mm / max(float(smooth.std()), 1e-6)
    return exp_velocity(smooth, control_mm)
