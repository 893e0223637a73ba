"""Mediastinal tubes and the pulmonary vessel trees of the thorax (landmarks, then space-filling growth).

Draws from the anatomy generator only; rasterisation is `families.grid.draw_tubes`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

from synthspec.families.anatomy.thorax.codes import BRONCHI, LLL, LOBES, LUL, PULM_ARTERY, PULM_VEIN, RLL, RML, RUL, TRACHEA
from synthspec.families.anatomy.thorax.shape import REF_HEIGHT_MM, Shape, _n, _sex
from synthspec.families.grid import Grid

# ---------------------------------------------------------------------------------------------
# centrelines of the mediastinal tubes (mm, x/y/z in the subject frame; converted to z/y/x)


def _zyx(points_xyz) -> np.ndarray:
    return np.asarray(points_xyz, dtype=np.float64)[..., ::-1].copy()


def _polyline(points_xyz, radii):
    """Consecutive capsules along a polyline with per-vertex radii -> (a, b, ra, rb) in z/y/x."""
    p = _zyx(points_xyz)
    r = np.asarray(radii, dtype=np.float64)
    return p[:-1], p[1:], r[:-1], r[1:]


def _cat(*parts):
    a = np.concatenate([q[0] for q in parts])
    b = np.concatenate([q[1] for q in parts])
    ra = np.concatenate([q[2] for q in parts])
    rb = np.concatenate([q[3] for q in parts])
    return a, b, ra, rb


@dataclass
class Landmarks:
    """Points the tubes and trees hang from (mm, x/y/z)."""

    carina: np.ndarray
    trachea_r: float
    right_hilum_pa: np.ndarray
    left_hilum_pa: np.ndarray
    veins: dict            # name -> end point at the hilum
    left_atrium: np.ndarray
    airways: list          # (a_xyz, b_xyz, r_outer, r_inner, label)
    aorta: tuple           # (points_xyz, radii)
    pa_trunk: tuple        # list of (points_xyz, radii)


def landmarks(S: Shape, arr: dict, anatomy, rng: np.random.Generator) -> Landmarks:
    s = math.sqrt(anatomy.height_mm / REF_HEIGHT_MM)
    sexf = 1.05 if _sex(anatomy)[3] > 1 else 0.95   # men's airways and vessels are wider
    hz, hy, hx = arr["heart_c"]
    y_tr = S.y_v - S.vd - 13.0 * s
    x_tr = -2.0 + _n(rng, 1.0)
    r_tr = 9.5 * s * sexf
    car = np.array([x_tr, y_tr, S.z_car])
    top = np.array([x_tr, y_tr + 6.0, S.z_apex + 200.0])

    def unit(v):
        v = np.asarray(v, dtype=np.float64)
        return v / np.linalg.norm(v)

    ang_r = math.radians(25.0 + _n(rng, 3.0))
    ang_l = math.radians(45.0 + _n(rng, 4.0))
    rb_end = car + 25.0 * s * unit([-math.sin(ang_r), 0.12, -math.cos(ang_r)])
    lb_end = car + 48.0 * s * unit([math.sin(ang_l), 0.15, -math.cos(ang_l)])
    bi_end = rb_end + 25.0 * s * unit([-0.25, 0.15, -0.95])
    airways = [
        (top, car, r_tr, r_tr - 2.0, TRACHEA),
        (car, rb_end, 7.2 * s * sexf, 5.6 * s * sexf, BRONCHI),
        (car, lb_end, 6.6 * s * sexf, 5.0 * s * sexf, BRONCHI),
        (rb_end, rb_end + 16.0 * s * unit([-0.8, 0.1, 0.6]), 4.6 * s, 3.4 * s, BRONCHI),      # RUL
        (rb_end, bi_end, 5.2 * s, 4.0 * s, BRONCHI),                                        # intermedius
        (bi_end, bi_end + 16.0 * s * unit([-0.35, -0.8, -0.45]), 3.6 * s, 2.6 * s, BRONCHI),  # RML
        (bi_end, bi_end + 22.0 * s * unit([-0.2, 0.45, -0.85]), 4.2 * s, 3.1 * s, BRONCHI),   # RLL
        (lb_end, lb_end + 16.0 * s * unit([0.6, -0.3, 0.7]), 4.6 * s, 3.4 * s, BRONCHI),      # LUL
        (lb_end, lb_end + 22.0 * s * unit([0.3, 0.35, -0.9]), 4.6 * s, 3.4 * s, BRONCHI),     # LLL
    ]
    age_r = 0.04 * (anatomy.age_y - 45.0)
    ra, rd = 15.0 * s + age_r, 11.0 * s + 0.7 * age_r
    root = np.array([hx - 12.0 * s, hy - 5.0 * s, hz + 30.0 * s])
    aorta_pts = [root,
                 [-12.0 * s, hy - 12.0 * s, S.z_car - 10.0],
                 [-8.0 * s, y_tr - 30.0 * s, S.z_car + 16.0],
                 [4.0 * s, y_tr - 10.0 * s, S.z_car + 27.0],
                 [16.0 * s, y_tr + 12.0 * s, S.z_car + 22.0],
                 [20.0 * s, S.y_v - 8.0 * s, S.z_car],
                 [16.0 * s, S.y_v - 14.0 * s, S.z_base - 60.0]]
    aorta = (np.array(aorta_pts, dtype=np.float64), [ra, ra, 0.93 * ra, 0.85 * ra, rd * 1.05, rd, rd * 0.95])
    # pulmonary arteries: trunk from the right ventricle to the bifurcation, then to each hilum
    bif = np.array([10.0 * s, y_tr - 20.0 * s, S.z_car - 10.0])
    r_pa = 9.0 * s * sexf
    right_pa = rb_end + np.array([-4.0, -14.0, -8.0]) * s
    left_pa = lb_end + np.array([3.0, -2.0, 13.0]) * s
    trunk = [
        (np.array([[hx + 8.0 * s, hy - 30.0 * s, hz + 25.0 * s], bif]), [13.0 * s, 13.0 * s]),
        (np.array([bif, [x_tr - 12.0 * s, y_tr - 20.0 * s, S.z_car - 16.0], right_pa]), [10.0 * s, 10.0 * s, r_pa]),
        (np.array([bif, [25.0 * s, y_tr - 6.0 * s, S.z_car + 4.0], left_pa]), [10.0 * s, 10.0 * s, r_pa]),
    ]
    la = np.array([hx - 5.0 * s, hy + 30.0 * s, hz + 18.0 * s])
    mx = S.m_mid
    veins = {
        "right_superior": np.array([-(mx + 22.0 * s), hy + 8.0 * s, S.z_car - 32.0 * s]),
        "right_inferior": np.array([-(mx + 22.0 * s), y_tr + 12.0 * s, S.z_car - 58.0 * s]),
        "left_superior": np.array([mx + 30.0 * s, hy + 14.0 * s, S.z_car - 26.0 * s]),
        "left_inferior": np.array([mx + 28.0 * s, y_tr + 14.0 * s, S.z_car - 52.0 * s]),
    }
    return Landmarks(carina=car, trachea_r=r_tr, right_hilum_pa=right_pa, left_hilum_pa=left_pa, veins=veins,
                     left_atrium=la, airways=airways, aorta=aorta, pa_trunk=trunk)


# ---------------------------------------------------------------------------------------------
# pulmonary vessel trees


@numba.njit(cache=True)
def _grow_tree(pts, root, r_root, n_total, rnd, leaf, out_a, out_b, out_ra, out_rb, out_n0):
    """Space-filling bisection tree (after Kitaoka et al., J Appl Physiol 1999).

    A branch supplying the point set S runs from its start toward the centroid of S
    (a random 30-55 % of the way, all the way for a leaf); S is then split by the
    plane through its centroid across its widest extent perpendicular to the branch,
    and each half grows a child.  Radii follow Murray's law with flow ~ |S|:
    r = r_root * (|S| / n_total)^(1/3), so an even split gives r_child = r * 2^(-1/3).
    Writes capsules (two per branch, the joint jittered so vessels curve) from out_n0;
    returns the new count.  Scalar code on purpose: it compiles fast.
    """
    K = pts.shape[0]
    perm = np.arange(K)
    stack_lo = np.empty(2 * K + 2, np.int64)
    stack_hi = np.empty(2 * K + 2, np.int64)
    stack_p = np.empty((2 * K + 2, 3))
    stack_lo[0] = 0
    stack_hi[0] = K
    stack_p[0, 0], stack_p[0, 1], stack_p[0, 2] = root[0], root[1], root[2]
    top = 1
    m = out_n0
    ri = 0
    nr = rnd.shape[0]
    cap = out_a.shape[0]
    while top > 0 and m + 2 <= cap:
        top -= 1
        lo = stack_lo[top]
        hi = stack_hi[top]
        p0, p1, p2 = stack_p[top, 0], stack_p[top, 1], stack_p[top, 2]
        n = hi - lo
        c0 = c1 = c2 = 0.0
        for q in range(lo, hi):
            c0 += pts[perm[q], 0]
            c1 += pts[perm[q], 1]
            c2 += pts[perm[q], 2]
        c0 /= n
        c1 /= n
        c2 /= n
        r = r_root * (n / n_total) ** (1.0 / 3.0)
        u1 = rnd[ri % nr]
        u2 = rnd[(ri + 1) % nr]
        u3 = rnd[(ri + 2) % nr]
        u4 = rnd[(ri + 3) % nr]
        ri += 4
        d0, d1, d2 = c0 - p0, c1 - p1, c2 - p2
        L = np.sqrt(d0 * d0 + d1 * d1 + d2 * d2)
        is_leaf = n <= leaf
        lam = 1.0
        if not is_leaf:
            lam = 0.30 + 0.25 * u1
            if lam * L < 2.0 * r:
                lam = min(1.0, 2.0 * r / max(L, 1e-9))
        e0, e1_, e2_ = p0 + lam * d0, p1 + lam * d1, p2 + lam * d2
        s0, s1, s2 = e0 - p0, e1_ - p1, e2_ - p2
        sl = np.sqrt(s0 * s0 + s1 * s1 + s2 * s2)
        if sl > 1e-6:
            v0, v1, v2 = s0 / sl, s1 / sl, s2 / sl
        else:
            v0, v1, v2 = -1.0, 0.0, 0.0
        # two perpendiculars a, b of the branch direction v
        if abs(v2) < 0.9:
            t0, t1, t2 = 0.0, 0.0, 1.0
        else:
            t0, t1, t2 = 0.0, 1.0, 0.0
        dot = t0 * v0 + t1 * v1 + t2 * v2
        a0, a1, a2 = t0 - dot * v0, t1 - dot * v1, t2 - dot * v2
        an = np.sqrt(a0 * a0 + a1 * a1 + a2 * a2)
        a0, a1, a2 = a0 / an, a1 / an, a2 / an
        b0, b1, b2 = v1 * a2 - v2 * a1, v2 * a0 - v0 * a2, v0 * a1 - v1 * a0
        if sl > 1e-6:
            ang = 2.0 * np.pi * u2
            jit = (u3 - 0.5) * 0.16 * sl
            ca, sa = np.cos(ang) * jit, np.sin(ang) * jit
            m0 = 0.5 * (p0 + e0) + ca * a0 + sa * b0
            m1 = 0.5 * (p1 + e1_) + ca * a1 + sa * b1
            m2 = 0.5 * (p2 + e2_) + ca * a2 + sa * b2
            r_end = r * (0.8 if is_leaf else 0.93)
            r_mid = 0.5 * (r + r_end)
            out_a[m, 0], out_a[m, 1], out_a[m, 2] = p0, p1, p2
            out_b[m, 0], out_b[m, 1], out_b[m, 2] = m0, m1, m2
            out_ra[m] = r
            out_rb[m] = r_mid
            out_a[m + 1, 0], out_a[m + 1, 1], out_a[m + 1, 2] = m0, m1, m2
            out_b[m + 1, 0], out_b[m + 1, 1], out_b[m + 1, 2] = e0, e1_, e2_
            out_ra[m + 1] = r_mid
            out_rb[m + 1] = r_end
            m += 2
        if is_leaf:
            continue
        # split direction: widest extent of S across the branch (power iteration on the
        # projected covariance, started at a random perpendicular), then a small twist
        cxx = cxy = cxz = cyy = cyz = czz = 0.0
        for q in range(lo, hi):
            w0 = pts[perm[q], 0] - c0
            w1 = pts[perm[q], 1] - c1
            w2 = pts[perm[q], 2] - c2
            dw = w0 * v0 + w1 * v1 + w2 * v2
            w0 -= dw * v0
            w1 -= dw * v1
            w2 -= dw * v2
            cxx += w0 * w0
            cxy += w0 * w1
            cxz += w0 * w2
            cyy += w1 * w1
            cyz += w1 * w2
            czz += w2 * w2
        ct, st = np.cos(2.0 * np.pi * u4), np.sin(2.0 * np.pi * u4)
        f0, f1, f2 = ct * a0 + st * b0, ct * a1 + st * b1, ct * a2 + st * b2
        for _ in range(12):
            g0 = cxx * f0 + cxy * f1 + cxz * f2
            g1 = cxy * f0 + cyy * f1 + cyz * f2
            g2 = cxz * f0 + cyz * f1 + czz * f2
            gn = np.sqrt(g0 * g0 + g1 * g1 + g2 * g2)
            if gn < 1e-12:
                break
            f0, f1, f2 = g0 / gn, g1 / gn, g2 / gn
        tw = (u1 - 0.5) * 0.5
        x0, x1, x2 = v1 * f2 - v2 * f1, v2 * f0 - v0 * f2, v0 * f1 - v1 * f0
        ct, st = np.cos(tw), np.sin(tw)
        f0, f1, f2 = ct * f0 + st * x0, ct * f1 + st * x1, ct * f2 + st * x2
        # partition perm[lo:hi] by the side of the plane through the centroid
        i0, i1 = lo, hi - 1
        while i0 <= i1:
            q = perm[i0]
            if (pts[q, 0] - c0) * f0 + (pts[q, 1] - c1) * f1 + (pts[q, 2] - c2) * f2 < 0.0:
                i0 += 1
            else:
                perm[i0] = perm[i1]
                perm[i1] = q
                i1 -= 1
        mid_i = i0
        if mid_i == lo or mid_i == hi:  # all points on one side (degenerate): split the list
            mid_i = lo + n // 2
        stack_lo[top] = lo
        stack_hi[top] = mid_i
        stack_p[top, 0], stack_p[top, 1], stack_p[top, 2] = e0, e1_, e2_
        top += 1
        stack_lo[top] = mid_i
        stack_hi[top] = hi
        stack_p[top, 0], stack_p[top, 1], stack_p[top, 2] = e0, e1_, e2_
        top += 1
    return m


def _sample_lobe_points(labels: np.ndarray, grid: Grid, lobe: int, n: int, rng: np.random.Generator,
                        bbox) -> np.ndarray:
    """n points (mm, z/y/x) uniform in a lobe, by rejection inside its bounding box."""
    if n <= 0:
        return np.zeros((0, 3))
    lo, hi = bbox
    origin = grid.origin_mm()
    sp = np.asarray(grid.spacing, dtype=np.float64)
    got = []
    have = 0
    for _ in range(60):
        m = max(64, 3 * (n - have))
        idx = np.stack([rng.integers(lo[a], hi[a], size=m) for a in range(3)], axis=1)
        ok = labels[idx[:, 0], idx[:, 1], idx[:, 2]] == lobe
        idx = idx[ok][: n - have]
        jit = rng.random((idx.shape[0], 3)) - 0.5
        got.append(origin + (idx + jit) * sp)
        have += idx.shape[0]
        if have >= n:
            break
    return np.concatenate(got)[:n]


def tree_size(grid: Grid, height_mm: float) -> tuple[float, int]:
    """(hilar stem radius mm, points per lung): the stem scales with height; leaves as thin as the grid resolves
    (at least 0.55 mm radius), so the point count is (stem / leaf)^3 by Murray's law, within 24..2600."""
    r_hilum = 8.5 * math.sqrt(height_mm / REF_HEIGHT_MM)
    r_leaf = max(0.55, 0.32 * min(grid.spacing[1], grid.spacing[2]), 0.2 * grid.spacing[0])
    return r_hilum, int(np.clip(round((r_hilum / r_leaf) ** 3), 24, 2600))


def lobe_extents(labels: np.ndarray, lobes) -> tuple[dict, dict]:
    """Voxel count and bounding box ((z0, y0, x0), (z1, y1, x1), None when empty) of each lobe code."""
    counts, boxes = {}, {}
    for lobe in lobes:
        m = labels == lobe
        zs, ys, xs = np.flatnonzero(m.any((1, 2))), np.flatnonzero(m.any((0, 2))), np.flatnonzero(m.any((0, 1)))
        counts[lobe] = int(np.count_nonzero(m))
        boxes[lobe] = ((zs[0], ys[0], xs[0]), (zs[-1] + 1, ys[-1] + 1, xs[-1] + 1)) if counts[lobe] else None
    return counts, boxes


def grow_lobe_tree(labels: np.ndarray, grid: Grid, lobe: int, k: int, root_zyx, r_hilum: float, n_lung: int,
                   box, rng: np.random.Generator):
    """One lobe's tree from `root_zyx` through k points uniform in it: capsules (a, b, ra, rb), or None when the
    lobe yields fewer than two points.  Draws the points, then the growth's uniforms, from `rng`."""
    pts = _sample_lobe_points(labels, grid, lobe, k, rng, box)
    if pts.shape[0] < 2:
        return None
    rnd = rng.random(8 * pts.shape[0] + 16)
    cap = 8 * pts.shape[0] + 64        # a tree of K leaves has 2K - 1 branches, two capsules each
    a, b = np.zeros((cap, 3)), np.zeros((cap, 3))
    ra, rb = np.zeros(cap), np.zeros(cap)
    r_lobe = r_hilum * (pts.shape[0] / n_lung) ** (1.0 / 3.0)
    m = _grow_tree(pts, np.asarray(root_zyx, np.float64), r_lobe, float(pts.shape[0]), rnd, 1, a, b, ra, rb, 0)
    return a[:m], b[:m], ra[:m], rb[:m]


def vessel_trees(labels: np.ndarray, grid: Grid, lm: Landmarks, anatomy, rng: np.random.Generator):
    """Capsules of the arterial and venous trees of every lobe: (a, b, ra, rb, label) in z/y/x mm."""
    s = math.sqrt(anatomy.height_mm / REF_HEIGHT_MM)
    r_hilum, n_lung = tree_size(grid, anatomy.height_mm)
    counts, boxes = lobe_extents(labels, LOBES)
    right_total = counts[RUL] + counts[RML] + counts[RLL]
    left_total = counts[LUL] + counts[LLL]
    arteries_root = {RUL: lm.right_hilum_pa, RML: lm.right_hilum_pa, RLL: lm.right_hilum_pa,
                     LUL: lm.left_hilum_pa, LLL: lm.left_hilum_pa}
    veins_root = {RUL: lm.veins["right_superior"], RML: lm.veins["right_superior"], RLL: lm.veins["right_inferior"],
                  LUL: lm.veins["left_superior"], LLL: lm.veins["left_inferior"]}
    parts = []
    for system, roots, label in (("artery", arteries_root, PULM_ARTERY), ("vein", veins_root, PULM_VEIN)):
        for lobe in LOBES:
            total = right_total if lobe in (RUL, RML, RLL) else left_total
            if counts[lobe] == 0 or total == 0:
                continue
            k = max(2, int(round(n_lung * counts[lobe] / total)))
            tree = grow_lobe_tree(labels, grid, lobe, k, _zyx(roots[lobe]), r_hilum, n_lung, boxes[lobe], rng)
            if tree is not None:
                parts.append((*tree, np.full(len(tree[0]), label, np.uint8)))
    # mediastinal stems: pulmonary trunk and arteries, veins into the left atrium
    for pts, radii in lm.pa_trunk:
        a, b, ra, rb = _polyline(pts, radii)
        parts.append((a, b, ra, rb, np.full(len(a), PULM_ARTERY, np.uint8)))
    for end in lm.veins.values():
        a, b, ra, rb = _polyline(np.stack([lm.left_atrium, end]), [7.0 * s, 6.5 * s])
        parts.append((a, b, ra, rb, np.full(len(a), PULM_VEIN, np.uint8)))
    cat = [np.concatenate([p[i] for p in parts]) for i in range(5)]
    lobe_boxes = {lobe: (counts[lobe], np.array(boxes[lobe][0]), np.array(boxes[lobe][1]))
                  for lobe in LOBES if counts[lobe]}
    return tuple(cat), n_lung, lobe_boxes


