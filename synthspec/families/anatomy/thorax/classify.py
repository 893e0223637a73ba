"""Analytic classification of every voxel of the thorax: body layers, bones, heart, lungs, lobes, fissures.

One numba kernel, run slab by slab; it draws nothing (the shape was sampled before).
"""

from __future__ import annotations

import numba
import numpy as np

from synthspec.families.anatomy.thorax.codes import (AIR, BODY_WALL, HEART, LLL, LUL, MUSCLE, RIBS, RLL, RML, RUL,
                                                     SPINAL_CANAL, STERNUM, SUBCUT_FAT, VERTEBRAE)

@numba.njit(cache=True, inline="always")
def _smooth(t):
    if t <= 0.0:
        return 0.0
    if t >= 1.0:
        return 1.0
    return t * t * (3.0 - 2.0 * t)


@numba.njit(cache=True, inline="always")
def _superellipse(ax, ay, sx, sy, a, b, p):
    """(rho, |grad rho|) of the superellipse norm (rho = 1 on the outline) at |x|/a = ax, |y|/b = ay,
    given sx = ax^p and sy = ay^p (precomputed per row and column: pow is the costly part)."""
    t = sx + sy
    if t < 1e-30:
        return 0.0, 1.0 / min(a, b)
    rho = t ** (1.0 / p)
    gx = sx / (ax * a) if ax > 0.0 else 0.0
    gy = sy / (ay * b) if ay > 0.0 else 0.0
    return rho, rho / t * np.sqrt(gx * gx + gy * gy)


@numba.njit(cache=True, inline="always")
def _powers(v, a, p, out_a, out_s):
    for q in range(v.shape[0]):
        r = abs(v[q]) / a
        out_a[q] = r
        out_s[q] = r ** p if r > 0.0 else 0.0


@numba.njit(cache=True, nogil=True, fastmath=True)
def _classify(zc, yc, xc, S, heart_c, heart_M, heart_Md, rib_jit, spacing, labels, region, fiss, k0, k1):
    Z, Y, X = labels.shape
    dz, dy = spacing[0], spacing[1]
    bxa, bxs_ant, bxs_post, cxa, cxs = np.empty(X), np.empty(X), np.empty(X), np.empty(X), np.empty(X)
    bya, bys_ant, bys_post, cya, cys = np.empty(Y), np.empty(Y), np.empty(Y), np.empty(Y), np.empty(Y)
    for k in range(k0, k1):
        z = zc[k]
        neck = 1.0 - S.neck * _smooth((z - S.z_apex + 20.0) / 80.0)
        ba, bb = S.body_a * neck, S.body_b * neck
        vphase = (z - S.vert_z0) - np.floor((z - S.vert_z0) / S.rib_p) * S.rib_p
        in_disc = vphase < S.disc
        st_w = S.st_w + 10.0 * _smooth((z - (S.st_top - 45.0)) / 20.0)
        in_st = S.st_bot < z < S.st_top
        ap_on = z > S.z_apex - S.ap_len
        zeta = (z - (S.z_apex - S.ap_len)) / S.ap_len
        ap_f = np.sqrt(max(0.0, 1.0 - zeta * zeta)) if ap_on else 1.0
        # the rib cage narrows toward the apices (and to the thoracic inlet above them)
        top_a = (S.ap_x + S.ap_ax * ap_f) / S.cav_a + 0.06 if ap_on else 2.0
        top_b = 0.62 + 0.45 * ap_f if ap_on else 2.0
        cav_a = S.cav_a * min(1.0 - S.cav_taper * (1.0 - _smooth((S.z_apex - z) / (0.6 * S.H))), top_a)
        cav_b = S.cav_b * min(1.0, top_b)
        _powers(xc, ba, S.p_ant, bxa, bxs_ant)
        _powers(xc, ba, S.p_post, bxa, bxs_post)
        _powers(yc, bb, S.p_ant, bya, bys_ant)
        _powers(yc, bb, S.p_post, bya, bys_post)
        _powers(xc, cav_a, S.cav_p, cxa, cxs)
        _powers(yc - S.cav_yc, cav_b, S.cav_p, cya, cys)
        for j in range(Y):
            y = yc[j]
            ant = y < 0.0
            p = S.p_ant if ant else S.p_post
            bys = bys_ant[j] if ant else bys_post[j]
            u = (y - (S.cav_yc - S.cav_b)) / (2.0 * S.cav_b)  # 0 anterior .. 1 posterior
            for i in range(X):
                x = xc[i]
                lab = AIR
                reg = 0
                fo = 0.0
                rho, g = _superellipse(bxa[i], bya[j], bxs_ant[i] if ant else bxs_post[i], bys, ba, bb, p)
                if rho >= 1.0:
                    labels[k, j, i] = AIR
                    region[k, j, i] = 0
                    fiss[k, j, i] = 0.0
                    continue
                d = (1.0 - rho) / g
                r = np.sqrt(x * x + y * y) + 1e-9
                c1, s1 = y / r, x / r
                c2, s2 = c1 * c1 - s1 * s1, 2.0 * s1 * c1
                c3, s3 = c1 * c2 - s1 * s2, s1 * c2 + c1 * s2
                fat_here = S.fat * (0.85 + 0.15 * s1 * s1 - 0.2 * max(c1, 0.0)) * (
                    1.0 + S.fat_c1 * c1 + S.fat_s1 * s1 + S.fat_c2 * c2 + S.fat_s2 * s2 + S.fat_c3 * c3 + S.fat_s3 * s3)
                if d < S.skin:
                    lab = BODY_WALL
                elif d < S.skin + fat_here:
                    lab = SUBCUT_FAT
                else:
                    # spine
                    ry = y - S.y_can
                    rr2 = x * x + ry * ry
                    if rr2 <= S.rc * S.rc:
                        lab = SPINAL_CANAL
                    elif (x / S.vw) ** 2 + ((y - S.y_v) / S.vd) ** 2 <= 1.0:
                        lab = BODY_WALL if in_disc else VERTEBRAE
                    elif (not in_disc) and (
                            (rr2 <= (S.rc + 5.5) ** 2 and y >= S.y_v + 0.3 * S.vd)
                            or (abs(x) < 3.5 and S.y_can + S.rc <= y <= S.y_can + S.rc + S.spin_len)
                            or (abs(ry - 0.35 * abs(x)) < 5.0 and abs(x) < S.tp_w)):
                        lab = VERTEBRAE
                    if lab == 0:
                        rc_, gc = _superellipse(cxa[i], cya[j], cxs[i], cys[j], cav_a, cav_b, S.cav_p)
                        t = (rc_ - 1.0) / gc
                        if t > S.rib_t:
                            lab = MUSCLE
                        elif t > 0.0:
                            lab = MUSCLE
                            if in_st and y < S.cav_yc and abs(x) < st_w:
                                lab = STERNUM
                            elif abs(x) > S.vw + 2.0:
                                side = 1 if x > 0.0 else 0
                                cth = (y - S.cav_yc) / np.sqrt(x * x + (y - S.cav_yc) ** 2 + 1e-9)
                                th = np.arccos(cth)
                                nr = (S.rib_z0 - S.rib_drop * (1.0 - cth) * 0.5 - z) / S.rib_p
                                n = int(np.floor(nr + 0.5))
                                if 0 <= n < 12:
                                    phimax = 2.55 - 0.15 * max(0, n - 7)
                                    if th < phimax:
                                        dzr = (nr - n) * S.rib_p + rib_jit[side, n]
                                        tm = t - S.rib_tmid
                                        if (dzr / S.rib_hr) ** 2 + (tm / S.rib_wr) ** 2 <= 1.0:
                                            lab = RIBS
                        else:
                            # thoracic cavity
                            qz, qy, qx = z - heart_c[0], y - heart_c[1], x - heart_c[2]
                            h1 = heart_M[0, 0] * qz + heart_M[0, 1] * qy + heart_M[0, 2] * qx
                            h2 = heart_M[1, 0] * qz + heart_M[1, 1] * qy + heart_M[1, 2] * qx
                            h3 = heart_M[2, 0] * qz + heart_M[2, 1] * qy + heart_M[2, 2] * qx
                            e1 = heart_Md[0, 0] * qz + heart_Md[0, 1] * qy + heart_Md[0, 2] * qx
                            e2 = heart_Md[1, 0] * qz + heart_Md[1, 1] * qy + heart_Md[1, 2] * qx
                            e3 = heart_Md[2, 0] * qz + heart_Md[2, 1] * qy + heart_Md[2, 2] * qx
                            right = x < 0.0
                            xd = -S.dome_x if right else S.dome_x
                            dh = S.dome_hr if right else S.dome_hl
                            zlow = S.z_base + S.dia_tilt * (0.5 - 0.5 * (y - S.cav_yc) / S.cav_b)
                            qd = ((x - xd) / S.dome_ax) ** 2 + ((y - S.dome_y) / S.dome_ay) ** 2
                            zd = zlow + (dh * (1.0 - qd) ** 0.7 if qd < 1.0 else 0.0)
                            mw = S.m_ant + (S.m_mid - S.m_ant) * _smooth((y - S.m_y0) / S.m_w)
                            if h1 * h1 + h2 * h2 + h3 * h3 <= 1.0:
                                lab = HEART
                            elif e1 * e1 + e2 * e2 + e3 * e3 <= 1.0:
                                lab, reg = 1, 2
                            elif z < zd:
                                lab, reg = 1, 5
                            elif abs(x) < S.vw + 7.0 and y > S.y_v - S.vd - 4.0:
                                lab, reg = 1, 5
                            elif ap_on and (ap_f <= 0.0 or ((abs(x) - S.ap_x) / (S.ap_ax * ap_f)) ** 2
                                            + ((y - S.ap_y) / (S.ap_ay * ap_f)) ** 2 > 1.0):
                                lab, reg = 1, 5
                            elif abs(x) < mw:
                                lab, reg = 1, 2
                            else:
                                reg = 1
                                ax_ = abs(x) / S.cav_a
                                pert = (S.fis_a1 * np.sin(2.0 * np.pi * S.fis_f1 * u + S.fis_p1)
                                        + S.fis_a2 * np.sin(2.0 * np.pi * S.fis_f2 * ax_ + S.fis_p2))
                                if right:
                                    za, zm, zp = S.obl_r_ant, S.obl_r_mid, S.obl_r_post
                                    u0, lat = S.obl_r_u0, S.obl_r_lat
                                else:
                                    za, zm, zp = S.obl_l_ant, S.obl_l_mid, S.obl_l_post
                                    u0, lat = S.obl_l_u0, S.obl_l_lat
                                # quadratic through (u0, za), (0.55, zm), (1, zp): steep low, flatter high
                                u1 = 0.55
                                l0 = (u - u1) * (u - 1.0) / ((u0 - u1) * (u0 - 1.0))
                                l1 = (u - u0) * (u - 1.0) / ((u1 - u0) * (u1 - 1.0))
                                l2 = (u - u0) * (u - u1) / ((1.0 - u0) * (1.0 - u1))
                                d0 = ((u - u1) + (u - 1.0)) / ((u0 - u1) * (u0 - 1.0))
                                d1 = ((u - u0) + (u - 1.0)) / ((u1 - u0) * (u1 - 1.0))
                                d2 = ((u - u0) + (u - u1)) / ((1.0 - u0) * (1.0 - u1))
                                G = (za * d0 + zm * d1 + zp * d2) / (2.0 * S.cav_b)
                                zo = za * l0 + zm * l1 + zp * l2 + lat * (ax_ - 0.5) + pert
                                nrm = np.sqrt(1.0 + G * G)
                                so = (z - zo) / nrm
                                hn = (dz + abs(G) * dy) / nrm
                                if abs(so) < hn:
                                    fo = S.fiss_tau / hn * (1.0 - abs(so) / hn)
                                if so < 0.0:
                                    lab = RLL if right else LLL
                                elif right:
                                    zh = S.hor_z + S.hor_tilt * (0.5 - u) + 0.5 * pert
                                    sh = z - zh
                                    lab = RML if sh < 0.0 else RUL
                                    if abs(sh) < dz:
                                        fo = max(fo, S.fiss_tau / dz * (1.0 - abs(sh) / dz))
                                else:
                                    lab = LUL
                labels[k, j, i] = lab
                region[k, j, i] = reg
                fiss[k, j, i] = fo


