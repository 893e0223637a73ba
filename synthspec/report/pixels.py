"""Pixels: HU slices to grey levels, resampled, outlined and encoded as PNG, with nothing but numpy and zlib.

Shared by the HTML report (thumbnails) and the reader pack (cases), so both show
slices through the same window arithmetic, resampling and encoder.  Images are
in display orientation: numpy [Z, Y, X] in LPS, so a slice [z] shown as is has
anterior at the top and the patient's right on the viewer's left (the
radiological convention).  It knows no cohort, plan or window names: callers
pass (width, level) in the image's units.
"""

from __future__ import annotations

import base64
import struct
import zlib

import numpy as np

CONTOUR_RGB = (255, 48, 48)


def apply_window(hu: np.ndarray, width: float, level: float) -> np.ndarray:
    """HU -> uint8 grey levels: level - width/2 is black, level + width/2 is white (linear between)."""
    if width <= 0:
        raise ValueError(f"window width must be positive, got {width}")
    low = level - width / 2.0
    scaled = (np.asarray(hu, dtype=np.float64) - low) * 255.0 / width
    return np.clip(np.rint(np.nan_to_num(scaled, nan=0.0)), 0, 255).astype(np.uint8)


def _axis_coords(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # pixel centres aligned: out pixel centre j maps to in position (j + 0.5) * n_in / n_out - 0.5
    pos = np.clip((np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5, 0.0, n_in - 1.0)
    i0 = np.floor(pos).astype(np.intp)
    i1 = np.minimum(i0 + 1, n_in - 1)
    return i0, i1, (pos - i0)


def resize_bilinear(a: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Bilinear resampling of a 2-D array to `shape` (pixel centres aligned, edges clamped)."""
    a = np.asarray(a, dtype=np.float32)
    (y0, y1, fy), (x0, x1, fx) = _axis_coords(a.shape[0], shape[0]), _axis_coords(a.shape[1], shape[1])
    top = a[y0][:, x0] * (1 - fx) + a[y0][:, x1] * fx
    bottom = a[y1][:, x0] * (1 - fx) + a[y1][:, x1] * fx
    return (top * (1 - fy)[:, None] + bottom * fy[:, None]).astype(np.float32)


def resize_nearest(a: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    a = np.asarray(a)
    iy = np.minimum((np.arange(shape[0]) + 0.5) * a.shape[0] / shape[0], a.shape[0] - 1).astype(np.intp)
    ix = np.minimum((np.arange(shape[1]) + 0.5) * a.shape[1] / shape[1], a.shape[1] - 1).astype(np.intp)
    return a[iy][:, ix]


def outline(mask: np.ndarray) -> np.ndarray:
    """The ring of pixels just outside a boolean mask (8-neighbours of it, not in it).

    Drawn outside, the contour never covers the lesion it marks."""
    m = np.asarray(mask, dtype=bool)
    p = np.pad(m, 1, constant_values=False)
    h, w = m.shape
    grown = np.zeros_like(m)
    for dy in (0, 1, 2):
        for dx in (0, 1, 2):
            grown |= p[dy:dy + h, dx:dx + w]
    return grown & ~m


def png_bytes(pixels: np.ndarray) -> bytes:
    """Encode uint8 grey (H, W) or RGB (H, W, 3) as PNG: no metadata, same pixels give same bytes."""
    a = np.ascontiguousarray(pixels)
    if a.dtype != np.uint8 or a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] != 3) or 0 in a.shape:
        raise ValueError(f"png_bytes needs uint8 (H, W) or (H, W, 3), got {a.dtype} {a.shape}")
    height, width = a.shape[:2]
    colour = 0 if a.ndim == 2 else 2
    rows = a.reshape(height, -1)
    raw = np.concatenate([np.zeros((height, 1), np.uint8), rows], axis=1).tobytes()  # filter 0 per row

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9))
            + chunk(b"IEND", b""))


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def display_shape(shape_yx: tuple[int, int], spacing_yx: tuple[float, float], size: int) -> tuple[int, int]:
    """Pixel size that shows a slice at its physical aspect ratio with the longer side `size`."""
    h_mm, w_mm = shape_yx[0] * spacing_yx[0], shape_yx[1] * spacing_yx[1]
    scale = size / max(h_mm, w_mm)
    return max(1, int(round(h_mm * scale))), max(1, int(round(w_mm * scale)))


def render_axial(hu: np.ndarray, spacing_yx: tuple[float, float], window: tuple[float, float],
                 size: int, mask: np.ndarray | None = None,
                 colour: tuple[int, int, int] = CONTOUR_RGB) -> np.ndarray:
    """One axial slice at a (width, level) window, resized to `size`; with `mask`, RGB with its contour drawn."""
    hu = np.asarray(hu, dtype=np.float32)
    if hu.ndim != 2:
        raise ValueError(f"an axial slice is 2-D, got shape {hu.shape}")
    shape = display_shape(hu.shape, spacing_yx, size)
    grey = apply_window(resize_bilinear(hu, shape), *window)
    if mask is None:
        return grey
    rgb = np.repeat(grey[:, :, None], 3, axis=2)
    edge = outline(resize_nearest(np.asarray(mask) > 0, shape))
    rgb[edge] = colour
    return rgb
