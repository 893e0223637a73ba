"""Parallel-beam geometry and a matched distance-driven projector / back-projector pair.

Role: line integrals of a stack of square slices (`project`) and the exact
adjoint of that operator (`backproject`), batched over slices, on whatever
device the tensors live on.  Not here: units of attenuation, noise, filtering
(see `filters.py`) or HU (see `acquisition.py`).

Frames and units
    Slice tensors are [B, n, n] indexed [row i, column j]; pixel (i, j) sits at
    x = j - c, y = i - c in pixel units, c = (n - 1) / 2.  View v has angle
    theta_v = pi * v / V (v = 0..V-1, half a turn, parallel beam) and detector
    bin k measures the strip t in [t_k - 1/2, t_k + 1/2] of t = x cos(theta) + y sin(theta),
    t_k = k - (D - 1) / 2, with D = ceil(sqrt(2) n) + 2 so every pixel of the
    square lies on the detector at every angle.  Detector pitch = pixel pitch.
    Values are line integrals: `project(mu, pixel_mm)` of mu in 1/mm is
    dimensionless.

The operator (distance-driven, De Man & Basu, Phys. Med. Biol. 49:2463, 2004)
    For a view whose rays run closer to the y axis (|cos| >= |sin|) the image
    is read row by row ("lines"), otherwise column by column.  On each line the
    strip of ray k covers an interval of width 1/|a| pixels (a = the larger of
    cos, sin), and the weight of a pixel is the length of the overlap of that
    interval with the pixel: a box * box footprint.  Each ray meets at most 3
    pixels per line (1/|a| <= sqrt 2), each pixel at most 2 rays per view.
    Unlike a pixel-driven projector this has no moire in flat regions, and unlike
    the adjoint of Joseph's interpolating projector its adjoint is a
    partition of unity (every pixel gets the same total weight per view), so
    the same pair serves simulation and filtered back-projection.

Both directions are written as gathers (`torch.nn.functional.embedding_bag`
with per-sample weights: a fused weighted gather-sum, fbgemm on CPU), never
scatters, so results do not depend on atomic ordering, and the tap tables are
built from per-view constants computed in float64 on the CPU, so the tables
are the same bits on every device.  Tap tables are built per chunk of views to
bound memory, reused across the slices of a call, and kept between calls when
the whole geometry's tables are small (CACHE_BYTES).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import torch
import torch.nn.functional as F

# Tap tables per view chunk are kept below about this many bytes (indices + weights + temporaries).
TABLE_BYTES = 128 * 2**20


def _physical_memory() -> int:
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, OSError, ValueError):
        return 8 * 2**30


# The tables of one geometry are kept between calls (slices, passes, subjects) when all of them fit
# in this many bytes: an eighth of the machine's memory, at most 2 GiB.  n = 128 with n views needs
# ~105 MB; a 256 head at 403 views ~1.3 GB (kept on a 16 GB machine: building them costs about as
# much as applying them to ~30 slices, a quarter of a head's CT time).  Cached or not, the tables are
# the same bits, so the images do not depend on it.
CACHE_BYTES = min(2 * 2**30, _physical_memory() // 8)
_cache: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}


@dataclass(frozen=True)
class ParallelBeam:
    """n x n slices, `views` angles over 180 degrees, detector pitch = pixel pitch."""

    n: int
    views: int

    @property
    def detectors(self) -> int:
        return math.ceil(math.sqrt(2.0) * self.n) + 2

    def angles(self) -> torch.Tensor:
        """View angles in radians, float64 on the CPU."""
        return torch.arange(self.views, dtype=torch.float64) * (math.pi / self.views)

    def view_chunks(self, taps_per_view: int) -> list[tuple[int, int]]:
        """(start, stop) view ranges whose tap tables (int32 + float32 + work space) fit TABLE_BYTES."""
        per_view = max(1, taps_per_view * 24)
        step = max(1, min(self.views, TABLE_BYTES // per_view))
        return [(v, min(v + step, self.views)) for v in range(0, self.views, step)]

    def table_bytes(self) -> int:
        """Bytes of all projection and back-projection tap tables (int32 index + float32 weight per tap)."""
        return 8 * self.views * (self.detectors * 3 * self.n + self.n * self.n * 2)


def clear_cache() -> None:
    """Drop the kept tap tables (they are rebuilt on the next call)."""
    _cache.clear()


def _taps(kind: str, geom: ParallelBeam, v0: int, v1: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    key = (kind, geom, v0, v1, str(device))
    hit = _cache.get(key)
    if hit is not None:
        return hit
    build = _projection_taps if kind == "project" else _backprojection_taps
    tables = build(geom, v0, v1, device)
    if geom.table_bytes() <= CACHE_BYTES:
        if any(k[1] != geom or k[4] != str(device) for k in _cache):
            _cache.clear()                     # one geometry at a time
        _cache[key] = tables
    return tables


def _view_constants(geom: ParallelBeam, v0: int, v1: int) -> dict[str, torch.Tensor]:
    theta = geom.angles()[v0:v1]
    cos, sin = torch.cos(theta), torch.sin(theta)
    x_major = cos.abs() >= sin.abs()            # lines are rows (rays run closer to the y axis)
    a = torch.where(x_major, cos, sin)         # the larger direction cosine, |a| >= 1/sqrt 2
    b = torch.where(x_major, sin, cos)
    return {"cos": cos, "sin": sin, "x_major": x_major, "a": a, "b": b}


def _projection_taps(geom: ParallelBeam, v0: int, v1: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices into the flattened, zero-bordered slice ((n+2)^2 rows) and weights (pixel units), [(v1-v0)*D, 3n].

    A tap that falls off the slice points into the zero border instead of being
    masked: the three taps of a line are consecutive, so clamping each to
    [-1, n] is enough.
    """
    n, d = geom.n, geom.detectors
    c, cd = (n - 1) / 2, (d - 1) / 2
    k = _view_constants(geom, v0, v1)
    a, b = k["a"], k["b"]
    width = 1.0 / a.abs()                                       # strip width on a line, pixels
    # left edge of ray k's strip on line l, in pixel-edge coordinates (pixel m spans [m, m+1]):
    #   alpha = k / a - l * b / a + (c * b - cd) / a - width / 2 + c + 1/2
    base = (c * b - cd) / a - width / 2 + c + 0.5
    per_k, per_l = 1.0 / a, -b / a
    np2 = n + 2
    stride_l = torch.where(k["x_major"], np2, 1)                 # in the bordered slice
    stride_m = torch.where(k["x_major"], 1, np2)

    def col(x: torch.Tensor, dtype=torch.float32) -> torch.Tensor:
        return x.to(dtype).to(device)[:, None, None]

    kk = torch.arange(d, device=device, dtype=torch.float32)[None, :, None]
    ll = torch.arange(n, device=device, dtype=torch.float32)[None, None, :]
    alpha = (col(base) + col(per_k) * kk) + col(per_l) * ll       # [V, D, n]
    m0 = torch.floor(alpha)
    phi = alpha.sub_(m0)
    # a bag (one ray) lists its taps tap-major, [3, n]: the order inside a bag does not matter to the sum
    w = torch.empty((v1 - v0, d, 3, n), device=device, dtype=torch.float32)
    torch.sub(1.0, phi, out=w[:, :, 0])
    e = phi.add_(col(width))                                     # right edge relative to m0, in [1, 1 + sqrt 2)
    torch.clamp(e, max=2.0, out=w[:, :, 1]).sub_(1.0)
    torch.clamp(e.sub_(2.0), min=0.0, out=w[:, :, 2])
    del alpha, phi, e
    line0 = (torch.arange(1, n + 1, device=device, dtype=torch.int32)[None, None, :] * col(stride_l, torch.int32)
             + col(stride_m, torch.int32))                       # bordered index of (line l, m = 0)
    m0 = m0.to(torch.int32)
    idx = torch.empty(w.shape, device=device, dtype=torch.int32)
    for tap in range(3):
        idx[:, :, tap] = (m0 + tap).clamp_(-1, n).mul_(col(stride_m, torch.int32)).add_(line0)
    return idx.reshape((v1 - v0) * d, 3 * n), w.reshape((v1 - v0) * d, 3 * n)


def _backprojection_taps(geom: ParallelBeam, v0: int, v1: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices into the view chunk's rows (v - v0) * D + k and weights, both [n*n, 2 (v1-v0)].

    Every pixel's footprint lies on the detector (D >= sqrt 2 n + 2), so no tap
    falls off it; the clamp only guards rounding.
    """
    n, d = geom.n, geom.detectors
    c, cd = (n - 1) / 2, (d - 1) / 2
    k = _view_constants(geom, v0, v1)
    cos, sin = k["cos"], k["sin"]
    width = torch.maximum(cos.abs(), sin.abs())                  # pixel footprint on the detector, bins
    # left edge of pixel (i, j)'s footprint in detector-edge coordinates (bin k spans [k, k+1]):
    #   gamma = j cos + i sin - c (cos + sin) - width / 2 + cd + 1/2
    base = -c * (cos + sin) - width / 2 + cd + 0.5

    def row(x: torch.Tensor) -> torch.Tensor:
        return x.to(torch.float32).to(device)[None, None, :]

    jj = torch.arange(n, device=device, dtype=torch.float32)
    gamma = (row(base) + row(cos) * jj[None, :, None]) + row(sin) * jj[:, None, None]   # [i, j, V]
    k0 = torch.floor(gamma)
    phi = gamma.sub_(k0)
    e = phi + row(width)                                         # in [1/sqrt 2, 2)
    # overlap in detector bins, divided by the footprint width = overlap along the line = the projector's weight
    inv = 1.0 / row(width)
    w = torch.empty((n, n, 2, v1 - v0), device=device, dtype=torch.float32)   # a bag (one pixel): [2, views]
    torch.clamp(e, max=1.0, out=w[:, :, 0]).sub_(phi).mul_(inv)
    torch.clamp(e.sub_(1.0), min=0.0, out=w[:, :, 1]).mul_(inv)
    del gamma, phi, e
    first = torch.arange(v1 - v0, device=device, dtype=torch.int32)[None, None, :] * d
    k0 = k0.to(torch.int32)
    rows = torch.empty(w.shape, device=device, dtype=torch.int32)
    for tap in range(2):
        rows[:, :, tap] = (k0 + tap).clamp_(0, d - 1).add_(first)
    return rows.reshape(n * n, 2 * (v1 - v0)), w.reshape(n * n, 2 * (v1 - v0))


def project_columns(mu: torch.Tensor, geom: ParallelBeam, pixel_mm: float) -> torch.Tensor:
    """mu [n*n, B] (1/mm, one column per slice) -> line integrals [V*D, B] (row (v, k) = v*D + k)."""
    d, n, b = geom.detectors, geom.n, mu.shape[1]
    bordered = mu.new_zeros((n + 2, n + 2, b))
    bordered[1:-1, 1:-1] = mu.reshape(n, n, b)
    mu = bordered.reshape((n + 2) ** 2, b)
    out = mu.new_empty((geom.views * d, b))
    for v0, v1 in geom.view_chunks(d * 3 * geom.n):
        idx, w = _taps("project", geom, v0, v1, mu.device)
        out[v0 * d:v1 * d] = F.embedding_bag(idx, mu, per_sample_weights=w, mode="sum")
    return out.mul_(pixel_mm)


def backproject_columns(sino: torch.Tensor, geom: ParallelBeam, pixel_mm: float) -> torch.Tensor:
    """The exact adjoint of `project_columns`: [V*D, B] -> [n*n, B]."""
    d, n = geom.detectors, geom.n
    out = sino.new_zeros((n * n, sino.shape[1]))
    for v0, v1 in geom.view_chunks(n * n * 2):
        idx, w = _taps("backproject", geom, v0, v1, sino.device)
        out += F.embedding_bag(idx, sino[v0 * d:v1 * d], per_sample_weights=w, mode="sum")
    return out.mul_(pixel_mm)


def project(images: torch.Tensor, geom: ParallelBeam, pixel_mm: float = 1.0) -> torch.Tensor:
    """Slices [B, n, n] -> sinograms [B, V, D]: line integrals of the pixel values along each strip."""
    b = images.shape[0]
    cols = images.reshape(b, -1).t().contiguous()
    return project_columns(cols, geom, pixel_mm).t().reshape(b, geom.views, geom.detectors)


def backproject(sinograms: torch.Tensor, geom: ParallelBeam, pixel_mm: float = 1.0) -> torch.Tensor:
    """Sinograms [B, V, D] -> slices [B, n, n]; the adjoint of `project` (<Ax, y> = <x, A^T y>)."""
    b = sinograms.shape[0]
    cols = sinograms.reshape(b, -1).t().contiguous()
    return backproject_columns(cols, geom, pixel_mm).t().reshape(b, geom.n, geom.n)
