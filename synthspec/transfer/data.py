"""Volumes for the transfer test: real and synthetic scans as arrays on one working grid, and seeded patches.

Real images are oriented to LPS and resampled to the working spacing (linear for the image, nearest for
the mask); synthetic subjects are read through `synthspec.cohort.read.load` and resampled only when the
working spacing is not the cohort's.  CT is windowed: HU clipped to [-1000, 400] and scaled to [0, 1].
Patches are drawn from `synthspec.seeds.analysis_rng("transfer", ...)` with a fixed fraction centred on
lesions.  This module trains nothing and measures nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

HU_WINDOW = (-1000.0, 400.0)
POSITIVE_FRACTION = 0.5
"""Share of training patches centred on a lesion voxel (where the volume has one)."""


@dataclass
class Volume:
    case_id: str
    site: str
    image: np.ndarray          # float32 (z, y, x) in [0, 1]
    mask: np.ndarray | None    # uint8 (z, y, x), 1 = lesion; None for classify without a mask
    klass: int | None = None   # classify: 1 positive, 0 negative


def window(hu: np.ndarray) -> np.ndarray:
    low, high = HU_WINDOW
    return ((np.clip(hu.astype(np.float32), low, high) - low) / (high - low)).astype(np.float32)


def _resample(image, spacing_xyz, interpolator):
    import SimpleITK as sitk

    old_spacing, old_size = np.asarray(image.GetSpacing()), np.asarray(image.GetSize())
    new_spacing = np.asarray(spacing_xyz, dtype=float)
    size = [max(1, int(round(n))) for n in old_size * old_spacing / new_spacing]
    return sitk.Resample(image, size, sitk.Transform(), interpolator, image.GetOrigin(), tuple(new_spacing),
                         image.GetDirection(), float(HU_WINDOW[0]) if interpolator != sitk.sitkNearestNeighbor else 0.0,
                         image.GetPixelID())


def real_volume(case, spacing_zyx: tuple[float, float, float]) -> Volume:
    """A real case on the working grid (spacing given z, y, x as the arrays are)."""
    import SimpleITK as sitk

    from synthspec.transfer.inputs import read_image

    spacing_xyz = tuple(reversed(spacing_zyx))
    image = sitk.DICOMOrient(sitk.Cast(read_image(case.image), sitk.sitkFloat32), "LPS")
    image = _resample(image, spacing_xyz, sitk.sitkLinear)
    mask = None
    if case.label is not None:
        label = sitk.DICOMOrient(sitk.Cast(read_image(case.label), sitk.sitkUInt8), "LPS")
        label = _resample(label, spacing_xyz, sitk.sitkNearestNeighbor)
        mask = (sitk.GetArrayFromImage(label) > 0).astype(np.uint8)
    return Volume(case.case_id, case.site, window(sitk.GetArrayFromImage(image)), mask, case.klass)


def synthetic_volumes(cohort, spacing_zyx: tuple[float, float, float], job: str, limit: int | None = None) -> list[Volume]:
    """The cohort's subjects (the first `limit`) on the working grid; label = lesions > 0, class = record['positive']."""
    import SimpleITK as sitk

    native = tuple(float(s) for s in cohort.spacing)
    out = []
    for subject in cohort.subjects[:limit]:
        image = subject.image().astype(np.float32)
        mask = (subject.lesions() > 0).astype(np.uint8)
        if not np.allclose(native, spacing_zyx, atol=1e-6):
            spacing_xyz = tuple(reversed(spacing_zyx))
            img = sitk.GetImageFromArray(image)
            img.SetSpacing(tuple(reversed(native)))
            lab = sitk.GetImageFromArray(mask)
            lab.SetSpacing(tuple(reversed(native)))
            image = sitk.GetArrayFromImage(_resample(img, spacing_xyz, sitk.sitkLinear))
            mask = sitk.GetArrayFromImage(_resample(lab, spacing_xyz, sitk.sitkNearestNeighbor))
        out.append(Volume(subject.subject_id, "synthetic", window(image), mask,
                          int(bool(subject.record.get("positive"))) if job == "classify" else None))
    return out


def pad_to(array: np.ndarray, shape: tuple[int, int, int], value: float = 0.0) -> np.ndarray:
    """`array` padded (at the far end of each axis) to at least `shape`."""
    pads = [(0, max(0, s - n)) for n, s in zip(array.shape, shape)]
    return np.pad(array, pads, constant_values=value) if any(p[1] for p in pads) else array


def patch(volume: Volume, size: tuple[int, int, int], rng: np.random.Generator, positive: bool):
    """One (image, mask) patch of `size`: centred on a random lesion voxel when `positive` and there is one."""
    image = pad_to(volume.image, size)
    mask = pad_to(volume.mask, size) if volume.mask is not None else None
    shape = np.asarray(image.shape)
    half = np.asarray(size) // 2
    if positive and mask is not None and mask.any():
        voxels = np.argwhere(mask > 0)
        centre = voxels[int(rng.integers(len(voxels)))]
        start = np.clip(centre - half, 0, shape - size)
    else:
        start = np.array([int(rng.integers(0, n - s + 1)) for n, s in zip(shape, size)])
    box = tuple(slice(int(a), int(a) + s) for a, s in zip(start, size))
    return image[box], (mask[box] if mask is not None else None)


def batch(volumes: list[Volume], count: int, size: tuple[int, int, int], rng: np.random.Generator):
    """`count` patches from `volumes` (drawn with replacement), POSITIVE_FRACTION of them on lesions;
    returns images (count, 1, z, y, x) and masks of the same shape (zeros when a volume has none)."""
    images, masks = [], []
    for _ in range(count):
        volume = volumes[int(rng.integers(len(volumes)))]
        img, msk = patch(volume, size, rng, positive=bool(rng.random() < POSITIVE_FRACTION))
        images.append(img)
        masks.append(msk if msk is not None else np.zeros(size, np.uint8))
    return np.stack(images)[:, None].astype(np.float32), np.stack(masks)[:, None].astype(np.float32)


def whole(volume: Volume, size: tuple[int, int, int]) -> np.ndarray:
    """The whole volume resized to `size` (trilinear), as the classifier sees it: (1, z, y, x)."""
    from scipy.ndimage import zoom

    factors = [s / n for s, n in zip(size, volume.image.shape)]
    out = zoom(volume.image, factors, order=1)
    return pad_to(out, size)[: size[0], : size[1], : size[2]][None].astype(np.float32)
