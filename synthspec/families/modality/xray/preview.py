"""PNG previews of a radiograph: an 8-bit greyscale picture, or the same with mask outlines in colour.

    write_png(path, image, bits_stored)                     # greyscale, mode "L"
    write_png(path, image, bits_stored, overlay=labels)     # RGB, each label's outline in its colour

* Grey levels: a linear window (center, width) in the image's own values, as a DICOM VOI LUT
  (LINEAR, PS3.3 C.11.2.1.2: values below center - width/2 are black, above center + width/2 white),
  bone bright as the DX file (MONOCHROME2).  Without `window`, the image's 0.5-99.5 % percentile
  range, which is the DX writer's first ("IMAGE") window for the same pixels, so the preview and a
  DICOM viewer agree; `window="full"` shows the whole BitsStored range 0 .. 2^bits - 1.  Float
  images (a projector's output before quantisation) are windowed the same way.
* Overlay: an integer (or boolean) label array of the image's shape; each non-zero label's
  outline (the label minus its erosion, 1 pixel wide per 512 pixels of the shorter side) is
  drawn in a fixed colour (OUTLINE_COLOURS, cycling by label value) over the greyscale picture.
* Deterministic bytes: written by Pillow (matplotlib's own PNG writer) with no text chunks, no
  time chunk and a fixed compression level, so the same inputs give the same file.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

OUTLINE_COLOURS = ((255, 64, 64), (64, 200, 255), (255, 210, 0), (80, 230, 80), (255, 80, 255), (255, 140, 0))
"""RGB outline colour of label 1, 2, ... (cycling)."""


def _window(image: np.ndarray, bits_stored: int, window) -> tuple[float, float]:
    if isinstance(window, str):
        if window != "full":
            raise ValueError(f"window must be (center, width), 'full' or None, got {window!r}")
        top = float(1 << int(bits_stored))
        return top / 2.0, top
    if window is None:
        lo, hi = np.percentile(image, [0.5, 99.5])
        lo, hi = float(lo), float(hi)
        if image.dtype.kind in "ui":
            lo, hi = math.floor(lo), math.ceil(hi)
            width = max(hi - lo + 1.0, 2.0)
        else:
            width = max(hi - lo, 1e-12)
        return lo + width / 2.0, width
    centre, width = (float(v) for v in window)
    if not (math.isfinite(centre) and math.isfinite(width)) or width <= 0:
        raise ValueError(f"window must be a finite center and a positive width, got {window!r}")
    return centre, width


def to_grey(image: np.ndarray, bits_stored: int, window=None) -> np.ndarray:
    """The 8-bit grey picture (uint8 [rows, cols]) of `image` through a linear window."""
    image = np.asarray(image)
    if image.ndim != 2 or 0 in image.shape:
        raise ValueError(f"expected a non-empty 2-D [rows, cols] image, got shape {image.shape}")
    if image.dtype.kind not in "uifb":
        raise ValueError(f"cannot preview a {image.dtype} image")
    if image.dtype.kind == "f" and not np.isfinite(image).all():
        raise ValueError("the image holds NaN or infinite values")
    if not 1 <= int(bits_stored) <= 16:
        raise ValueError(f"bits stored must be 1-16, got {bits_stored}")
    centre, width = _window(image, bits_stored, window)
    low = centre - width / 2.0
    grey = np.clip((image.astype(np.float64) - low) / width, 0.0, 1.0)
    return np.rint(grey * 255.0).astype(np.uint8)


def outlines(labels: np.ndarray) -> np.ndarray:
    """Label value on each label's outline pixels, 0 elsewhere (same shape as `labels`)."""
    from scipy.ndimage import binary_erosion

    labels = np.asarray(labels)
    if labels.dtype.kind == "b":
        labels = labels.astype(np.uint8)
    if labels.dtype.kind not in "ui":
        raise ValueError(f"the overlay must be an integer or boolean label array, got {labels.dtype}")
    width = max(1, min(labels.shape) // 512)
    out = np.zeros(labels.shape, np.int64)
    for value in np.unique(labels):
        if value == 0:
            continue
        inside = labels == value
        edge = inside & ~binary_erosion(inside, iterations=width, border_value=0)
        out[edge] = int(value)
    return out


def write_png(path, image: np.ndarray, bits_stored: int, window=None, overlay: np.ndarray | None = None) -> Path:
    """Write the radiograph preview to `path` (greyscale "L", or "RGB" with `overlay` outlines); returns it."""
    from PIL import Image

    grey = to_grey(image, bits_stored, window)
    if overlay is None:
        picture = Image.fromarray(grey)  # uint8 [rows, cols]: mode "L"
    else:
        overlay = np.asarray(overlay)
        if overlay.shape != grey.shape:
            raise ValueError(f"overlay shape {overlay.shape} differs from the image's {grey.shape}")
        rgb = np.repeat(grey[:, :, None], 3, axis=2)
        edge = outlines(overlay)
        for value in np.unique(edge):
            if value:
                rgb[edge == value] = OUTLINE_COLOURS[(int(value) - 1) % len(OUTLINE_COLOURS)]
        picture = Image.fromarray(np.ascontiguousarray(rgb))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    picture.save(path, format="PNG", optimize=False, compress_level=6)
    return path
