"""Volumes for the transfer test: real and synthetic scans as arrays on one working grid, and seeded patches.

Real images are oriented to LPS and resampled to the working spacing (linear for the image, nearest for
the mask); synthetic subjects are read through `synthspec.cohort.read.load` (one image channel, one target
mask) and resampled only when the working spacing is not the cohort's.  Intensities are put on one scale the
same way for both: CT is windowed (HU clipped to [-1000, 400], scaled to [0, 1]); MR, whose values have no
unit, is divided by the 99th percentile inside the head and clipped to [0, 1.5] (one scale for every scanner,
as nnU-Net normalises MR per image).  Each volume carries its region (`regions`: the lungs, the head).
Patches are drawn from `synthspec.seeds.analysis_rng("transfer", ...)`: a fixed fraction centred on lesions,
half of the rest centred in the region.  This module trains nothing and measures nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

HU_WINDOW = (-1000.0, 400.0)
POSITIVE_FRACTION = 0.5
"""Share of training patches centred on a lesion voxel (where the volume has one)."""
HEAT_MIN_SIGMA_MM = 3.0
"""The narrowest detector target (`heatmap`): a 4 mm nodule's Gaussian still spans a few voxels at 1.8 mm."""
REGION_FRACTION = 0.5
"""Share of the other patches centred on a voxel of the volume's region (hard negatives); the rest anywhere."""
MR_SCALE_PERCENTILE = 99.0
MR_CLIP = 1.5
TARGETS = ("lesions", "tumour_core")
"""The synthetic mask trained against: every lesion voxel, or a tumour's core (BraTS necrotic core + enhancing
tumour, labels 1 and 3 of tumour_compartments: what a post-contrast T1 outlines, without the oedema)."""


@dataclass
class Volume:
    case_id: str
    site: str
    image: np.ndarray          # float32 (z, y, x) in [0, 1]
    mask: np.ndarray | None    # uint8 (z, y, x), 1 = lesion; None for classify without a mask
    klass: int | None = None   # classify: 1 positive, 0 negative
    region: np.ndarray | None = None   # bool (z, y, x): where lesions can be (`regions`); None: anywhere
    heat: np.ndarray | None = None   # float32 (z, y, x): the detector's target (`heatmap`); None for other jobs
    voxels: dict = field(default_factory=dict, repr=False, compare=False)
    """Flat indices of the lesion and region voxels on the padded grid, kept across patches (`_centred`)."""


def window(hu: np.ndarray) -> np.ndarray:
    low, high = HU_WINDOW
    return ((np.clip(hu.astype(np.float32), low, high) - low) / (high - low)).astype(np.float32)


def normalise(image: np.ndarray, modality: str, region: np.ndarray | None) -> np.ndarray:
    """`image` on the network's scale: CT windowed; MR over its 99th percentile inside `region`, clipped."""
    if modality != "mri":
        return window(image)
    values = image[region] if region is not None and region.any() else image
    scale = float(np.percentile(values, MR_SCALE_PERCENTILE)) if values.size else 0.0
    scaled = image.astype(np.float32) / scale if scale > 0 else np.zeros(image.shape, np.float32)
    return np.clip(scaled, 0.0, MR_CLIP).astype(np.float32)


def _prepared(case_id, site, raw, mask, klass, spacing_zyx, modality, region_kind) -> Volume:
    from synthspec.transfer.regions import region

    where = region(region_kind, raw, spacing_zyx)
    return Volume(case_id, site, normalise(raw, modality, where), mask, klass, where)


def _resample(image, spacing_xyz, interpolator, outside: float | None = None):
    """`image` at `spacing_xyz`; voxels beyond the field take `outside` (default: air for a linear image, 0 else)."""
    import SimpleITK as sitk

    old_spacing, old_size = np.asarray(image.GetSpacing()), np.asarray(image.GetSize())
    new_spacing = np.asarray(spacing_xyz, dtype=float)
    size = [max(1, int(round(n))) for n in old_size * old_spacing / new_spacing]
    return sitk.Resample(image, size, sitk.Transform(), interpolator, image.GetOrigin(), tuple(new_spacing),
                         image.GetDirection(),
                         float(outside if outside is not None else
                               HU_WINDOW[0] if interpolator != sitk.sitkNearestNeighbor else 0.0),
                         image.GetPixelID())


def real_volume(case, spacing_zyx: tuple[float, float, float], modality: str = "ct",
                region_kind: str | None = None) -> Volume:
    """A real case on the working grid (spacing given z, y, x as the arrays are)."""
    import SimpleITK as sitk

    from synthspec.transfer.inputs import read_image

    spacing_xyz = tuple(reversed(spacing_zyx))
    image = sitk.DICOMOrient(sitk.Cast(read_image(case.image), sitk.sitkFloat32), "LPS")
    # beyond the field: air (-1000 HU) on CT, no signal (0) on MR
    image = _resample(image, spacing_xyz, sitk.sitkLinear, 0.0 if modality == "mri" else None)
    mask = None
    if case.label is not None:
        label = sitk.DICOMOrient(sitk.Cast(read_image(case.label), sitk.sitkUInt8), "LPS")
        label = _resample(label, spacing_xyz, sitk.sitkNearestNeighbor)
        mask = (sitk.GetArrayFromImage(label) > 0).astype(np.uint8)
    return _prepared(case.case_id, case.site, sitk.GetArrayFromImage(image), mask, case.klass, spacing_zyx,
                     modality, region_kind)


def target_mask(subject, target: str) -> np.ndarray:
    """The synthetic subject's mask for `target` (TARGETS) as uint8 0/1."""
    if target == "tumour_core":
        return np.isin(subject.mask("tumour_compartments"), (1, 3)).astype(np.uint8)
    return (subject.lesions() > 0).astype(np.uint8)


def synthetic_volumes(cohort, spacing_zyx: tuple[float, float, float], job: str, limit: int | None = None,
                      channel: str | None = None, target: str = "lesions", modality: str = "ct",
                      region_kind: str | None = None) -> list[Volume]:
    """The cohort's subjects (the first `limit`) on the working grid: image channel `channel` (default the
    first), label = `target_mask`, class = record['positive']."""
    import SimpleITK as sitk

    native = tuple(float(s) for s in cohort.spacing)
    out = []
    for subject in cohort.subjects[:limit]:
        image = (subject.channel(channel) if channel else subject.image()).astype(np.float32)
        mask = target_mask(subject, target)
        if not np.allclose(native, spacing_zyx, atol=1e-6):
            spacing_xyz = tuple(reversed(spacing_zyx))
            img = sitk.GetImageFromArray(image)
            img.SetSpacing(tuple(reversed(native)))
            lab = sitk.GetImageFromArray(mask)
            lab.SetSpacing(tuple(reversed(native)))
            outside = 0.0 if modality == "mri" else None
            image = sitk.GetArrayFromImage(_resample(img, spacing_xyz, sitk.sitkLinear, outside))
            mask = sitk.GetArrayFromImage(_resample(lab, spacing_xyz, sitk.sitkNearestNeighbor))
        out.append(_prepared(subject.subject_id, "synthetic", image, mask,
                             int(bool(subject.record.get("positive"))) if job == "classify" else None,
                             spacing_zyx, modality, region_kind))
    return out


def pad_to(array: np.ndarray, shape: tuple[int, int, int], value: float = 0.0) -> np.ndarray:
    """`array` padded (at the far end of each axis) to at least `shape`."""
    pads = [(0, max(0, s - n)) for n, s in zip(array.shape, shape)]
    return np.pad(array, pads, constant_values=value) if any(p[1] for p in pads) else array


def _centred(volume: Volume, kind: str, where: np.ndarray, rng: np.random.Generator, half, shape, size):
    key = (kind, tuple(shape))
    if key not in volume.voxels:
        volume.voxels[key] = np.flatnonzero(where)
    flat = volume.voxels[key]
    centre = np.asarray(np.unravel_index(int(flat[int(rng.integers(len(flat)))]), tuple(shape)))
    return np.clip(centre - half, 0, shape - size)


def heatmap(mask: np.ndarray, spacing_zyx) -> np.ndarray:
    """The detector's target: for each lesion (connected component of `mask`) a Gaussian centred on its centroid,
    sigma its equivalent-sphere radius but at least HEAT_MIN_SIGMA_MM, peak 1; the maximum where two meet.

    A centre heatmap (as CenterNet and nnDetection's point targets) gives a small lesion a target of many voxels,
    where a voxel mask gives a 4 mm nodule a dozen voxels that a patch of 70,000 drowns."""
    from scipy import ndimage

    spacing = np.asarray(spacing_zyx, float)
    out = np.zeros(mask.shape, np.float32)
    lesions, count = ndimage.label(mask > 0)
    for k, box in enumerate(ndimage.find_objects(lesions), start=1):
        voxels = np.argwhere(lesions[box] == k) + [b.start for b in box]
        centre = voxels.mean(axis=0)
        radius = (3 * len(voxels) * float(np.prod(spacing)) / (4 * np.pi)) ** (1 / 3)
        sigma = max(radius, HEAT_MIN_SIGMA_MM)
        low = np.maximum(0, np.floor(centre - 3 * sigma / spacing)).astype(int)
        high = np.minimum(mask.shape, np.ceil(centre + 3 * sigma / spacing) + 1).astype(int)
        axes = np.meshgrid(*[((np.arange(a, b) - c) * d) ** 2 for a, b, c, d in zip(low, high, centre, spacing)],
                           indexing="ij", sparse=True)
        where = tuple(slice(a, b) for a, b in zip(low, high))
        out[where] = np.maximum(out[where], np.exp(-(axes[0] + axes[1] + axes[2]) / (2 * sigma * sigma)))
    return out


def add_heatmaps(volumes: list[Volume], spacing_zyx) -> None:
    """Give each volume with a mask its `heatmap` (in place), the target a detector trains against."""
    for volume in volumes:
        if volume.mask is not None and volume.heat is None:
            volume.heat = heatmap(volume.mask, spacing_zyx)


def patch(volume: Volume, size: tuple[int, int, int], rng: np.random.Generator, positive: bool):
    """One (image, target) patch of `size`: centred on a random lesion voxel when `positive` and there is one,
    else, REGION_FRACTION of the time, on a random voxel of the volume's region, else anywhere.  The target is
    the volume's heatmap where it has one (detect), else its mask."""
    image = pad_to(volume.image, size)
    mask = pad_to(volume.mask, size) if volume.mask is not None else None
    shape = np.asarray(image.shape)
    half = np.asarray(size) // 2
    if positive and mask is not None and mask.any():
        start = _centred(volume, "lesion", mask > 0, rng, half, shape, size)
    elif volume.region is not None and volume.region.any() and rng.random() < REGION_FRACTION:
        start = _centred(volume, "region", pad_to(volume.region, size), rng, half, shape, size)
    else:
        start = np.array([int(rng.integers(0, n - s + 1)) for n, s in zip(shape, size)])
    box = tuple(slice(int(a), int(a) + s) for a, s in zip(start, size))
    if volume.heat is not None:
        return image[box], pad_to(volume.heat, size)[box]
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
