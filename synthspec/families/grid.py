"""The voxel grid of a subject and the kernels that draw tubes onto it.

Frame (DICOM LPS, the grid centred on the isocentre):

    array axes  (k, j, i) = (z, y, x); x runs patient right -> LEFT, y anterior -> POSTERIOR,
                z inferior -> SUPERIOR; the centre of the volume is x = y = z = 0 mm.

Internally every point is a (z, y, x) triple in mm so it indexes like the arrays;
only the public lesion records use (x, y, z).

The tube rasteriser draws tapered capsules with a partial-volume edge: a voxel's
occupancy is the fraction of it a capsule covers, approximated by the box filter
of the voxel along the capsule's normal (a linear ramp as wide as the voxel's
extent h in that direction), with the radius adjusted so the cross-section keeps
its area pi r^2.  Tubes thinner than a voxel keep their volume (their peak
occupancy drops as 3 r^2 / h^2), so sub-voxel vessels still add their HU.
This module knows nothing about anatomy.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numba
import numpy as np


@dataclass(frozen=True)
class Grid:
    """A (Z, Y, X) voxel grid with (dz, dy, dx) spacing in mm, centred at the isocentre."""

    shape: tuple[int, int, int]          # (Z, Y, X) voxels
    spacing: tuple[float, float, float]  # (dz, dy, dx) mm

    def __post_init__(self) -> None:
        if len(self.shape) != 3 or any(int(n) < 1 for n in self.shape):
            raise ValueError(f"grid shape must be three positive sizes (Z, Y, X), got {self.shape}")
        if len(self.spacing) != 3 or any(not float(s) > 0 for s in self.spacing):
            raise ValueError(f"grid spacing must be three positive sizes in mm (dz, dy, dx), got {self.spacing}")

    def centres_mm(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """1-D coordinates (mm) of the voxel centres along z, y, x; each axis centred on 0."""
        return tuple((np.arange(n, dtype=np.float64) - (n - 1) / 2.0) * float(s)  # type: ignore[return-value]
                     for n, s in zip(self.shape, self.spacing))

    def origin_mm(self) -> np.ndarray:
        """(z, y, x) mm of voxel [0, 0, 0]."""
        return np.array([-(n - 1) / 2.0 * float(s) for n, s in zip(self.shape, self.spacing)])

    def extent_mm(self) -> tuple[float, float, float]:
        """Edge-to-edge size of the grid (z, y, x) in mm."""
        return tuple(float(n) * float(s) for n, s in zip(self.shape, self.spacing))  # type: ignore[return-value]

    @property
    def voxel_mm3(self) -> float:
        dz, dy, dx = self.spacing
        return float(dz) * float(dy) * float(dx)

    def index_of(self, zyx_mm) -> np.ndarray:
        """Fractional voxel index (k, j, i) of a (z, y, x) point in mm."""
        return (np.asarray(zyx_mm, dtype=np.float64) - self.origin_mm()) / np.asarray(self.spacing, dtype=np.float64)


@numba.njit(cache=True, fastmath=True, inline="always")
def capsule_occupancy(qz, qy, qx, az, ay, ax, bz, by, bx, ra, rb, dz, dy, dx):
    """Partial-volume occupancy of the voxel centred at q by the tapered capsule a -> b."""
    ux, uy, uz = bx - ax, by - ay, bz - az
    L2 = ux * ux + uy * uy + uz * uz
    t = 0.0
    if L2 > 0.0:
        t = ((qx - ax) * ux + (qy - ay) * uy + (qz - az) * uz) / L2
        if t < 0.0:
            t = 0.0
        elif t > 1.0:
            t = 1.0
    cx, cy, cz = qx - (ax + t * ux), qy - (ay + t * uy), qz - (az + t * uz)
    d = np.sqrt(cx * cx + cy * cy + cz * cz)
    r = ra + t * (rb - ra)
    if d > 1e-9:
        h = (abs(cz) * dz + abs(cy) * dy + abs(cx) * dx) / d
    else:
        h = min(dz, min(dy, dx))
    # a ramp one voxel wide integrates to pi (r^2 + h^2/12) across the tube: shrink the radius to
    # keep the cross-section pi r^2; below r = h/sqrt(3), keep the h/2 ramp and lower its peak
    if 3.0 * r * r >= h * h:
        o = 0.5 + (np.sqrt(r * r - h * h / 12.0) - d) / h
    else:
        o = 3.0 * r * r / (h * h) * (1.0 - d / h)
    if o < 0.0:
        return 0.0
    if o > 1.0:
        return 1.0
    return o


@numba.njit(cache=True)
def raster_capsules(a, b, ra, rb, seg_label, occ, lab, region, allowed, origin, spacing):
    """Draw capsules a[n] -> b[n] (mm, z/y/x) of radii ra[n] -> rb[n] into `occ` (max occupancy).

    `lab` takes seg_label[n] wherever capsule n is the most occupying one so far; only
    voxels whose `region` code is flagged in `allowed` (a lookup table over codes) are drawn.
    """
    Z, Y, X = occ.shape
    dz, dy, dx = spacing[0], spacing[1], spacing[2]
    hmax = dz + dy + dx
    for n in range(a.shape[0]):
        rmax = max(ra[n], rb[n]) + hmax
        lo = np.empty(3, np.int64)
        hi = np.empty(3, np.int64)
        dims = (Z, Y, X)
        for ax in range(3):
            mn = min(a[n, ax], b[n, ax]) - rmax
            mx = max(a[n, ax], b[n, ax]) + rmax
            lo[ax] = max(0, int(np.floor((mn - origin[ax]) / spacing[ax])))
            hi[ax] = min(dims[ax], int(np.ceil((mx - origin[ax]) / spacing[ax])) + 1)
        for k in range(lo[0], hi[0]):
            qz = origin[0] + k * dz
            for j in range(lo[1], hi[1]):
                qy = origin[1] + j * dy
                for i in range(lo[2], hi[2]):
                    if not allowed[region[k, j, i]]:
                        continue
                    qx = origin[2] + i * dx
                    o = capsule_occupancy(qz, qy, qx, a[n, 0], a[n, 1], a[n, 2], b[n, 0], b[n, 1], b[n, 2],
                                          ra[n], rb[n], dz, dy, dx)
                    if o > occ[k, j, i]:
                        occ[k, j, i] = o
                        lab[k, j, i] = seg_label[n]


def draw_tubes(grid: Grid, a, b, ra, rb, labels_per_segment, region: np.ndarray, allowed_codes,
               occ: np.ndarray | None = None, lab: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Rasterise capsules (mm, z/y/x) into an occupancy volume and a per-voxel segment label.

    Returns (occ float32, lab uint8); pass existing arrays to draw more tubes into them.
    """
    a = np.ascontiguousarray(a, dtype=np.float64).reshape(-1, 3)
    b = np.ascontiguousarray(b, dtype=np.float64).reshape(-1, 3)
    n = a.shape[0]  # fresh writable copies: one compiled signature for every call
    ra = np.array(np.broadcast_to(np.asarray(ra, dtype=np.float64), (n,)), dtype=np.float64, order="C")
    rb = np.array(np.broadcast_to(np.asarray(rb, dtype=np.float64), (n,)), dtype=np.float64, order="C")
    seg = np.array(np.broadcast_to(np.asarray(labels_per_segment, dtype=np.uint8), (n,)), dtype=np.uint8, order="C")
    if occ is None:
        occ = np.zeros(grid.shape, dtype=np.float32)
    if lab is None:
        lab = np.zeros(grid.shape, dtype=np.uint8)
    table = np.zeros(256, dtype=np.bool_)
    table[list(allowed_codes)] = True
    if a.shape[0]:
        raster_capsules(a, b, ra, rb, seg, occ, lab, region, table, grid.origin_mm(),
                        np.asarray(grid.spacing, dtype=np.float64))
    return occ, lab


def run_slabs(kernel, n_slices: int, *args) -> None:
    """Run a `nogil` kernel `kernel(*args, k0, k1)` over z-slabs on a few threads.

    Slabs write disjoint slices, so the result does not depend on the thread count.
    (Threads over nogil kernels instead of numba's parallel=True: that compiles in
    seconds less, which matters for a cold cache.)"""
    workers = max(1, min(4, os.cpu_count() or 1, n_slices))
    if workers == 1:
        kernel(*args, 0, n_slices)
        return
    bounds = np.linspace(0, n_slices, 2 * workers + 1).astype(int)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for f in [pool.submit(kernel, *args, int(bounds[q]), int(bounds[q + 1])) for q in range(2 * workers)]:
            f.result()
