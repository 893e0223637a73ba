"""Tissue microstructure shared by anatomy families: correlated noise fields and population quantiles.

`noise_pair` draws two independent, unit-variance, spatially correlated fields in one complex
FFT (white noise in the real and imaginary parts, filtered by a real, symmetric, multi-scale
Gaussian kernel whose widths are in mm, so texture looks the same on every grid).
`draw_quantiles` places a subject in each tissue's population range (one uniform per tissue,
in sorted order, so the stream is stable).  A modality turns both into intensities; nothing
here knows a Hounsfield unit or a relaxation time.
"""

from __future__ import annotations

import numpy as np
import scipy.fft


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


def draw_quantiles(tissues, rng: np.random.Generator) -> dict[str, float]:
    """One uniform per tissue, in sorted name order: where this subject sits in each tissue's range."""
    return {name: float(rng.random()) for name in sorted(set(tissues))}
