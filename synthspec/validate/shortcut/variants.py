"""The controlled variants of a subject: twins, masked lesions, noise and scanner swaps, virtual lesions.

    twin            the positive regenerated WITHOUT its lesions (same anatomy, same noise;
                    the planted marker kept, as the cohort's positives carry it)
    masked          lesion voxels and their partial-volume rim replaced by lung parenchyma
                    resampled from around them
    noise swap      noiseless regeneration + the noise residual of a subject of the other class
    scanner swap    the subject regenerated through another scanner class of the plan
    virtual lesion  a positive's lesion requests placed in a negative's own anatomy (mask only)

Every regeneration goes through `_generate`; every random draw through `analysis_rng`.  This
module chooses no slab and trains nothing.
"""

from __future__ import annotations

import math

import numpy as np

from synthspec.validate.shortcut._generate import generate_subject, generate_with
from synthspec.validate.shortcut.reading import image_of, read
from synthspec.validate.shortcut.planted import plant, planted
from synthspec.validate.shortcut.slabs import Data, lesion_slices, slab


def twin(plan, params, channel: str | None = None, with_labels: bool = False):
    """The counterfactual twin of a positive subject, carrying the marker its original carries (`channel`: the
    MRI probe channel; None: the first image); with `with_labels`, (image, the twin's label map)."""
    subject = generate_subject(plan, params.index, with_pathology=False)
    image = image_of(subject, channel)
    image = plant(plan, params, image) if planted(plan) else image
    return (image, subject.labels) if with_labels else image


def mismatch(twin: np.ndarray, image: np.ndarray, lesions: np.ndarray) -> float:
    """Mean |twin - original| (HU) away from what the lesions changed (`lesions`: the lesion mask, or every voxel a
    lesion touched: its oedema, the anatomy its mass effect moved; grown by 3 voxels in-plane and 1 slice):
    ~0.1 HU when the twin is a true counterfactual, the noise level when it is not."""
    from scipy.ndimage import binary_dilation

    near = binary_dilation(lesions > 0, structure=np.ones((3, 7, 7), bool))
    far = ~near
    return round(float(np.abs(twin.astype(np.float32) - image.astype(np.float32))[far].mean()), 3) if far.any() else 0.0


def virtual_lesion_slices(plan, params, donor, per_lesion: int) -> list[int]:
    """Slabs through lesions placed in `params`' anatomy with `donor`'s lesion requests."""
    virtual = params.model_copy(update={"lesions": donor.lesions, "positive": True})
    try:
        mask = generate_with(plan, virtual, noiseless=True).lesion_mask
    except Exception:  # noqa: BLE001 - a placement that cannot run falls back to mid-lung slabs
        return []
    return lesion_slices(mask, per_lesion)


def noise_swap(data: Data, cohort, subjects, channel: str | None = None) -> None:
    """Noiseless regeneration of each tested slab plus the noise residual of a subject of the
    other class at the same slices (positives and negatives paired in index order)."""
    plan = cohort.plan
    order = sorted(data.test)
    pos_list = [k for k in order if data.positive[k]]
    neg_list = [k for k in order if not data.positive[k]]
    partner = {k: neg_list[i % len(neg_list)] for i, k in enumerate(pos_list)}
    partner.update({k: pos_list[i % len(pos_list)] for i, k in enumerate(neg_list)})
    wanted: dict[int, set[int]] = {}
    for k, j in partner.items():
        wanted.setdefault(j, set()).update(data.test[k])
    noiseless, residual = {}, {}
    for k in order:
        clean = image_of(generate_subject(plan, subjects[k].index, noiseless=True), channel)
        image = read(subjects[k], channel)
        for z in data.test[k]:
            noiseless[(k, z)] = slab(clean, z)
        for z in wanted.get(k, ()):
            residual[(k, z)] = slab(image, z) - slab(clean, z)
    for k in order:
        for z in data.test[k]:
            data.noise_swap[(k, z)] = noiseless[(k, z)] + residual[(partner[k], z)]


def scanner_swap(data: Data, cohort, params, channel: str | None = None) -> None:
    """Each tested subject regenerated through the next scanner class of the plan (same other streams)."""
    plan = cohort.plan
    names = sorted(plan.scanners)
    if len(names) < 2:
        data.notes.append("scanner_swap: the plan has one scanner class; nothing to swap")
        return
    for k in sorted(data.test):
        own = params[k].scanner
        other = names[(names.index(own) + 1) % len(names)] if own in names else names[0]
        swapped = image_of(generate_with(plan, params[k].model_copy(update={"scanner": other})), channel)
        for z in data.test[k]:
            data.scanner_swap[(k, z)] = slab(swapped, z)


def mask_lesions(image: np.ndarray, lesions: np.ndarray, lung: np.ndarray, spacing,
                 rng: np.random.Generator) -> np.ndarray:
    """Lesion voxels and a rim as wide as the partial-volume edge (>= 1 voxel, >= 2 mm) replaced by
    lung parenchyma (`lung`: the lung mask) resampled with `rng` from a shell around them, so noise
    and texture stay."""
    from scipy.ndimage import binary_dilation

    lesion = lesions > 0
    reach = [max(1, int(math.ceil(2.0 / float(sp)))) for sp in spacing]
    region = binary_dilation(lesion, structure=np.ones([2 * r + 1 for r in reach], bool))
    shell = binary_dilation(region, structure=np.ones((3, 3, 3), bool), iterations=3) & ~region
    lung = np.asarray(lung, bool)
    source = image[shell & lung]
    if source.size == 0:
        source = image[lung & ~region] if (lung & ~region).any() else np.array([-850], image.dtype)
    out = image.copy()
    out[region] = rng.choice(source, size=int(region.sum()), replace=True)
    return out
