"""The peripheral pulmonary vessels the development scan does not resolve, grown into the subject's lungs.

The scan's 2.5 mm slices carry its central and segmental vessels (template.py takes them from its CT numbers),
but a vessel under about 2 mm across is blurred into the parenchyma there, so its outer third is nearly empty
where a real lung is full of small branches.  Here each lung gets an arterial and a venous tree grown by the
procedural thorax's space-filling bisection (Kitaoka et al., J Appl Physiol 1999; thorax/vessels.py): points
uniform in each lobe, radii by Murray's law from a hilar stem of 8.5 mm (scaled with height), leaves of about
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

import math

import numpy as np

from synthspec.families.anatomy.thorax.shape import REF_HEIGHT_MM
from synthspec.families.anatomy.thorax.vessels import _grow_tree, _sample_lobe_points
from synthspec.families.grid import Grid, draw_tubes

FINE_RADIUS_MM = 1.0
"""Branches thinner than this (2 mm across, under one 2.5 mm slice of the scan) are drawn; thicker ones are the
scan's."""
HILUM_RADIUS_MM = 8.5
"""Radius of each lung's stem at the hilum for a 170 cm adult (the procedural thorax's; right and left
pulmonary arteries 2-2.5 cm across in CT series)."""
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
    s = math.sqrt(height_mm / REF_HEIGHT_MM)
    r_hilum = HILUM_RADIUS_MM * s
    r_leaf = max(0.55, 0.32 * min(grid.spacing[1], grid.spacing[2]), 0.2 * grid.spacing[0])
    n_lung = int(np.clip(round((r_hilum / r_leaf) ** 3), 24, 2600))
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
        counts, boxes = {}, {}
        for code in ids:
            m = codes == code
            counts[code] = int(np.count_nonzero(m))
            if counts[code]:
                zs, ys, xs_ = (np.flatnonzero(m.any(axes)) for axes in ((1, 2), (0, 2), (0, 1)))
                boxes[code] = ((zs[0], ys[0], xs_[0]), (zs[-1] + 1, ys[-1] + 1, xs_[-1] + 1))
        total = sum(counts.values())
        for system, band in HILUM_BAND.items():
            root = _root(masks[side], grid, midline_x, band)
            if root is None or total == 0:
                continue
            for code in ids:
                if counts[code] == 0:
                    continue
                k = max(2, int(round(n_lung * counts[code] / total)))
                pts = _sample_lobe_points(codes, grid, code, k, rng, boxes[code])
                if pts.shape[0] < 2:
                    continue
                rnd = rng.random(8 * pts.shape[0] + 16)
                cap = 8 * pts.shape[0] + 64
                a, b = np.zeros((cap, 3)), np.zeros((cap, 3))
                ra, rb = np.zeros(cap), np.zeros(cap)
                r_lobe = r_hilum * (pts.shape[0] / n_lung) ** (1.0 / 3.0)
                m = _grow_tree(pts, root, r_lobe, float(pts.shape[0]), rnd, 1, a, b, ra, rb, 0)
                fine = np.maximum(ra[:m], rb[:m]) < FINE_RADIUS_MM
                if fine.any():
                    draw_tubes(grid, a[:m][fine], b[:m][fine], ra[:m][fine], rb[:m][fine], 1, region, allowed,
                               occ=occ, lab=lab)
                    drawn += int(fine.sum())
    return occ, drawn
