"""The peripheral pulmonary vessels the development scan does not resolve, grown into the subject's lungs.

The scan's 2.5 mm slices carry its central and segmental vessels (template.py takes them from its CT numbers),
but a vessel under about 2 mm across is blurred into the parenchyma there, so its outer third is nearly empty
where a real lung is full of small branches.  Here each lung gets an arterial and a venous tree grown by the
procedural thorax's space-filling bisection (Kitaoka et al., J Appl Physiol 1999; thorax/vessels.py): points
uniform in each lobe, radii by Murray's law from a hilar stem of 8.5 mm (scaled with height; thorax/vessels.tree_size), leaves of about
0.55-0.6 mm radius (vessels of about 1.1-1.2 mm).  Only branches thinner than FINE_RADIUS_MM are drawn: the
thicker ones are the scan's own, which stay where they are.  The trees are rooted at each lung's hilum (the
most medial lung voxels around its middle height: arteries a little above, veins a little below, as the
pulmonary artery crosses above the inferior veins); arteries and veins are both `lung_vessels` and are not
paired with bronchi (the scan's airways stop at the segmental bronchi).

Drawn from the anatomy stream only (after the rest of the subject).  It paints nothing itself: it returns
the occupancy each voxel's parenchyma gives up to vessel, which build.py moves from the lung share to the
vessel share.
"""

from __future__ import annotations

import numpy as np

from synthspec.families.anatomy.thorax.vessels import grow_lobe_tree, lobe_extents, tree_size
from synthspec.families.grid import Grid, draw_tubes

FINE_RADIUS_MM = 1.0
"""Branches thinner than this (2 mm across, under one 2.5 mm slice of the scan) are drawn; thicker ones are the
scan's."""
HILUM_BAND = {"artery": (0.50, 0.65), "vein": (0.30, 0.45)}
"""Where along each lung's height (from its base) its arterial and venous roots lie."""
MEDIAL_SHARE = 0.04
"""The medial fraction of a band's lung voxels whose centroid is the root."""


def _root(lung: np.ndarray, grid: Grid, midline_x: float, band: tuple[float, float]) -> np.ndarray | None:
    """Centroid (z/y/x mm) of the most medial lung voxels within a height band of the lung."""
    ks = np.flatnonzero(lung.any(axis=(1, 2)))
    if ks.size == 0:
        return None
    k0 = int(ks[0] + band[0] * (ks[-1] - ks[0]))
    k1 = max(int(ks[0] + band[1] * (ks[-1] - ks[0])), k0 + 1)
    idx = np.argwhere(lung[k0:k1])
    if idx.shape[0] == 0:
        return None
    idx[:, 0] += k0
    mm = grid.origin_mm() + idx * np.asarray(grid.spacing, np.float64)
    depth = np.abs(mm[:, 2] - midline_x)
    keep = depth <= np.quantile(depth, MEDIAL_SHARE)
    return mm[keep].mean(axis=0)


def fine_vessel_occupancy(codes: np.ndarray, grid: Grid, lobe_codes: dict[str, int], height_mm: float,
                          rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """Occupancy (float32, 0..1 per voxel) of the fine arterial and venous trees inside the lobes, and the
    number of capsules drawn.  `lobe_codes` names the five lobes' codes in `codes`."""
    r_hilum, n_lung = tree_size(grid, height_mm)
    lungs = {"right": [lobe_codes[n] for n in ("right_upper_lobe", "right_middle_lobe", "right_lower_lobe")],
             "left": [lobe_codes[n] for n in ("left_upper_lobe", "left_lower_lobe")]}
    masks = {side: np.isin(codes, ids) for side, ids in lungs.items()}
    xs = {side: np.flatnonzero(m.any(axis=(0, 1))) for side, m in masks.items()}
    occ = np.zeros(grid.shape, np.float32)
    if any(x.size == 0 for x in xs.values()):
        return occ, 0
    x_mm = grid.centres_mm()[2]
    centre = {side: float(x_mm[x].mean()) for side, x in xs.items()}
    midline_x = 0.5 * (centre["right"] + centre["left"])
    region = codes if codes.dtype == np.uint8 else codes.astype(np.uint8)
    allowed = tuple(int(c) for ids in lungs.values() for c in ids)
    lab = np.zeros(grid.shape, np.uint8)
    drawn = 0
    for side, ids in lungs.items():
        counts, boxes = lobe_extents(codes, ids)
        total = sum(counts.values())
        for system, band in HILUM_BAND.items():
            root = _root(masks[side], grid, midline_x, band)
            if root is None or total == 0:
                continue
            for code in ids:
                if counts[code] == 0:
                    continue
                k = max(2, int(round(n_lung * counts[code] / total)))
                tree = grow_lobe_tree(codes, grid, code, k, root, r_hilum, n_lung, boxes[code], rng)
                if tree is None:
                    continue
                a, b, ra, rb = tree
                fine = np.maximum(ra, rb) < FINE_RADIUS_MM
                if fine.any():
                    draw_tubes(grid, a[fine], b[fine], ra[fine], rb[fine], 1, region, allowed, occ=occ, lab=lab)
                    drawn += int(fine.sum())
    return occ, drawn
