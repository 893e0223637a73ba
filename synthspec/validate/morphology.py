"""In-plane morphology of (z, y, x) masks: grow, erode, distance to the edge, slice by slice.

CT slices are thick compared with their pixels, so the validation code grows and erodes masks
within each axial slice only; these are the separable, bounding-box-limited versions that stay
fast on a 512 x 512 x 133 reference.  Nothing here knows about tissues, labels or cohorts.
"""

from __future__ import annotations

import numpy as np


def grow_in_plane(mask: np.ndarray, radius: int) -> np.ndarray:
    """In-plane dilation by a (2r+1)^2 square: separable, so fast on large volumes."""
    from scipy.ndimage import maximum_filter1d

    r = max(1, int(radius))
    grown = maximum_filter1d(mask.view(np.uint8) if mask.dtype == bool else mask.astype(np.uint8), 2 * r + 1, axis=1)
    return maximum_filter1d(grown, 2 * r + 1, axis=2).astype(bool)


def erode_in_plane(mask: np.ndarray, voxels: int = 1) -> np.ndarray:
    """In-plane erosion by a (2v+1)^2 square; the volume border counts as outside."""
    from scipy.ndimage import minimum_filter1d

    m = mask.astype(np.uint8)
    size = 2 * voxels + 1
    return minimum_filter1d(minimum_filter1d(m, size, axis=1, mode="constant"), size, axis=2, mode="constant").astype(bool)


def disk_in_plane(radius: int) -> np.ndarray:
    """A (1, 2r+1, 2r+1) disk structuring element."""
    r = max(1, int(radius))
    yy, xx = np.mgrid[-r:r + 1, -r:r + 1]
    disk = (yy ** 2 + xx ** 2) <= r * r
    return disk[None, :, :]


def chessboard_in_plane(mask: np.ndarray) -> np.ndarray:
    """Per voxel: chessboard distance (in-plane) to the nearest voxel outside the mask, computed per bounding box."""
    from scipy.ndimage import distance_transform_cdt, find_objects

    out = np.zeros(mask.shape, dtype=np.int32)
    boxes = find_objects(mask.astype(np.uint8))
    if not boxes or boxes[0] is None:
        return out
    box = boxes[0]
    padded = tuple(slice(max(0, s.start - 1), min(n, s.stop + 1)) for s, n in zip(box, mask.shape))
    structure = np.zeros((3, 3, 3), dtype=bool)
    structure[1] = True
    sub = np.pad(mask[padded], ((0, 0), (1, 1), (1, 1)))  # the border counts as outside
    out[padded] = distance_transform_cdt(sub, metric=structure)[:, 1:-1, 1:-1]
    return out
