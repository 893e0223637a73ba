"""Image noise: its standard deviation in homogeneous regions and its power spectrum (NPS).

* Noise SD: residual of the image minus its in-plane 3 x 3 mean, inside each homogeneous
  region eroded by one voxel in-plane; SD = 1.4826 MAD(residual) / sqrt(8/9) (exact for white
  noise, an underestimate for correlated noise, identical on both sides).  Real tissue texture
  (fat septa, muscle fibres) counts as noise on the real side, phantom texture on the
  synthetic side.
* NPS: at each side's NATIVE in-plane spacing (the NPS is a function of spatial frequency in
  mm^-1, so no resampling is needed), from square ROIs of the same physical size L on both
  sides; each ROI is detrended by subtracting its least-squares plane (first-order detrending;
  NPS below about 1/L, i.e. < 0.03-0.05 mm^-1, depends on that choice, Dolly et al. 2016), then
  NPS = |DFT|^2 dx dy / N^2, averaged over ROIs, radially binned with bin width 1/L (DC
  excluded), and compared by shape (normalised to unit sum), not magnitude.

Pure array functions: where the ROIs come from is `sampling.py`'s job, the pass/fail `verdicts.py`'s.
"""

from __future__ import annotations

import math

import numpy as np


def residual(image: np.ndarray) -> np.ndarray:
    from scipy.ndimage import uniform_filter

    img = np.asarray(image, np.float32)
    return img - uniform_filter(img, size=(1, 3, 3), mode="nearest")


WHITE_NOISE_FACTOR = math.sqrt(8.0 / 9.0)


def noise_sigma(residuals: np.ndarray) -> float | None:
    """Robust SD of the 3x3 high-pass residual, rescaled to the noise SD for white noise."""
    r = np.asarray(residuals, float)
    if r.size < 50:
        return None
    mad = np.median(np.abs(r - np.median(r)))
    return float(1.4826 * mad / WHITE_NOISE_FACTOR)


def _detrend_plane(roi: np.ndarray) -> np.ndarray:
    n_y, n_x = roi.shape
    yy, xx = np.mgrid[0:n_y, 0:n_x]
    design = np.column_stack([np.ones(roi.size), yy.ravel(), xx.ravel()])
    coef, *_ = np.linalg.lstsq(design, roi.ravel().astype(float), rcond=None)
    return roi - (design @ coef).reshape(roi.shape)


def nps_2d(rois: np.ndarray, spacing_yx: tuple[float, float]) -> np.ndarray:
    """Mean 2-D NPS (HU^2 mm^2) of square ROIs (n, N, N), each detrended by its least-squares plane."""
    rois = np.asarray(rois, float)
    n, n_y, n_x = rois.shape
    detrended = np.stack([_detrend_plane(r) for r in rois])
    power = np.abs(np.fft.fft2(detrended)) ** 2
    return power.mean(axis=0) * spacing_yx[0] * spacing_yx[1] / (n_y * n_x)


def radial_nps(nps: np.ndarray, spacing_yx: tuple[float, float], edges: np.ndarray) -> np.ndarray:
    """Radially averaged NPS in the frequency bins `edges` (mm^-1); DC excluded; empty bins interpolated."""
    fy = np.fft.fftfreq(nps.shape[0], d=spacing_yx[0])
    fx = np.fft.fftfreq(nps.shape[1], d=spacing_yx[1])
    radius = np.sqrt(fy[:, None] ** 2 + fx[None, :] ** 2)
    keep = radius > 0
    which = np.digitize(radius[keep], edges) - 1
    ok = (which >= 0) & (which < len(edges) - 1)
    sums = np.bincount(which[ok], weights=nps[keep][ok], minlength=len(edges) - 1)
    counts = np.bincount(which[ok], minlength=len(edges) - 1)
    centres = 0.5 * (edges[:-1] + edges[1:])
    out = np.full(len(centres), np.nan)
    out[counts > 0] = sums[counts > 0] / counts[counts > 0]
    if (counts > 0).sum() >= 1 and (counts == 0).any():
        out[counts == 0] = np.interp(centres[counts == 0], centres[counts > 0], out[counts > 0])
    return out


def nps_shape_distance(f: np.ndarray, a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """Compare two radial NPS curves on the same bins by shape: both normalised to unit sum."""
    pa = np.asarray(a, float) / np.sum(a)
    pb = np.asarray(b, float) / np.sum(b)
    width = float(f[1] - f[0]) if len(f) > 1 else 1.0
    return {"w1_per_mm": float(np.sum(np.abs(np.cumsum(pa) - np.cumsum(pb))) * width),
            "total_variation": float(0.5 * np.abs(pa - pb).sum()),
            "peak_a": float(f[int(np.argmax(pa))]), "peak_b": float(f[int(np.argmax(pb))]),
            "mean_a": float(np.sum(f * pa)), "mean_b": float(np.sum(f * pb))}


def nps_edges(width: float, nyquist: float) -> np.ndarray:
    """Radial bins of `width` centred on k * width (k >= 1): the DFT rings of an ROI of side 1/width."""
    top = max(nyquist, 2.0 * width)
    return np.arange(0.5 * width, top + 0.5 * width + 1e-12, width)
