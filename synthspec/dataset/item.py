"""Subject k of a plan as a training item, in MONAI's layout: what LoadImaged gives from the written files.

    image        float32 MetaTensor [C, X, Y, Z]: the image channels (plan order; CT: `image`, HU), each the
                 voxels of the cohort's <channel>.nii.gz; the same as LoadImaged + EnsureChannelFirstd on
                 them (a list of files for several channels), so transforms need no change between disk
                 and on the fly
    label        float32 MetaTensor [1, X, Y, Z]: semantic.nii.gz (anatomy ids, lesion voxels set to
                 their finding class; `cohort.interop.semantic_map`); for a radiograph labels_projected.nii.gz,
                 the anatomy in the detector plane (and lesion_mask lesions_projected.nii.gz; no boxes)
    lesion_mask  (with lesion_mask=True) float32 MetaTensor [1, X, Y, Z]: lesions.nii.gz, instance ids
                 1..n as in `lesions`
    twin_image   (with twins=True) the counterfactual twin: the subject generated without its lesions
                 (same anatomy and noise streams); a subject with no lesions is its own twin.  The twin
                 is a negative, so a planted debug marker is absent from it
    box          float32 [N, 6] MONAI box mode cccwhd in world LPS mm; box_label int64 [N]: the index
                 into datalist.json's `box_classes` (both as datalist.json has them: `interop.datalist`)
    subject_id, index, patient_id, sex, age_y, height_mm, bmi, stratum, scanner, the modality's
                 acquisition fields (CT: kv, mas, kernel, slice_thickness_mm), positive, lesions
                 (each lesion as subject.json records it): plain Python values, as in subject.json

Axes: the runtime's numpy [Z, Y, X] volumes are transposed to the NIfTI voxel order [X, Y, Z] that
nibabel and MONAI read, and a channel axis is put first.  Every MetaTensor carries the RAS affine
nibabel and MONAI report for the written file (diag(-dx, -dy, dz) with offset (-ox, -oy, oz),
`cohort.nifti`), `space` RAS and `filename_or_obj` the subject id, so spatial transforms (Spacingd,
Orientationd, AffineBoxToImageCoordinated(..., affine_lps_to_ras=True)) act as on the loaded files.
`dtype` (default float32, LoadImaged's) is the dtype of every volume; None keeps the delivered dtypes
(CT image int16, label uint8, lesion ids as int32).

The item is built by the functions that write the cohort (`generate_subject`, `semantic_map`,
`subject_record`, `datalist`), so item k equals the written cohort's subject k when both are generated
on the same kind of device.  Nothing is written to disk and no global random state is touched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from synthspec.errors import Failure

_META_FIELDS = ("subject_id", "index", "patient_id", "sex", "age_y", "height_mm", "bmi", "stratum", "scanner")


@dataclass(frozen=True)
class ItemOptions:
    """What an item holds besides image, label and boxes, where it is generated, and its volumes' dtype."""

    twins: bool = False
    lesion_mask: bool = False
    device: str = "cpu"
    dtype: torch.dtype | None = torch.float32


def ras_affine(spacing_zyx, origin_xyz) -> np.ndarray:
    """The 4 x 4 RAS affine of a volume written by `cohort.nifti.write_nifti` (what nibabel and MONAI report)."""
    dz, dy, dx = (float(s) for s in spacing_zyx)
    ox, oy, oz = (float(o) for o in origin_xyz)
    affine = np.diag([-dx, -dy, dz, 1.0])
    affine[:3, 3] = (-ox, -oy, oz)
    return affine


def _tensor(volumes_zyx: list[np.ndarray], dtype) -> torch.Tensor:
    """[Z, Y, X] arrays -> a [C, X, Y, Z] tensor in `dtype` (None: the arrays' own; uint16 becomes int32)."""
    array = np.stack([np.asarray(v).transpose(2, 1, 0) for v in volumes_zyx])
    if dtype is None and array.dtype == np.uint16:
        array = array.astype(np.int32)
    tensor = torch.from_numpy(np.ascontiguousarray(array))
    return tensor if dtype is None else tensor.to(dtype)


def _volume(volumes_zyx: list[np.ndarray], affine: np.ndarray, name: str, dtype):
    from monai.data import MetaTensor
    from monai.utils import ImageMetaKey, MetaKeys, SpaceKeys

    tensor = _tensor(volumes_zyx, dtype)
    meta = {MetaKeys.ORIGINAL_AFFINE: affine.copy(), MetaKeys.SPATIAL_SHAPE: np.asarray(tensor.shape[1:]),
            MetaKeys.SPACE: SpaceKeys.RAS, MetaKeys.ORIGINAL_CHANNEL_DIM: float("nan") if len(volumes_zyx) == 1 else 0,
            ImageMetaKey.FILENAME_OR_OBJ: name}
    return MetaTensor(tensor, affine=torch.as_tensor(affine, dtype=torch.float64), meta=meta)


def _channels(plan, subject) -> tuple[list[str], np.ndarray]:
    """The image channels in the datalist's order (the plan's), and the affine they share."""
    from synthspec.families import registry

    names = [c for c in plan.channels if c in subject.channels] or list(subject.channels)
    modality = registry.modality(plan.modality)
    geometry = {name: (tuple(subject.channels[name].shape), *modality.channel_geometry(plan, name)) for name in names}
    first = geometry[names[0]]
    other = next((name for name in names if geometry[name] != first), None)
    if other is not None:
        raise Failure(f"channels {names[0]} and {other} of {plan.cohort_name} lie on different grids; a training item "
                      "stacks its channels on one grid, so resample them in a transform of the written cohort instead")
    return names, ras_affine(first[1], first[2])


def subject_item(plan, k: int, options: ItemOptions = ItemOptions()) -> dict[str, Any]:
    """Subject `k` of `plan` as a training item (the module docstring lists its keys)."""
    from synthspec.cohort.interop import datalist, semantic_map
    from synthspec.cohort.record import subject_record
    from synthspec.engine.subject import generate_subject
    from synthspec.families import registry
    from synthspec.identity import identity_for

    subject = generate_subject(plan, k, device=options.device)
    record = subject_record(subject, identity_for(plan.seed_key, plan.cohort_seed, k), {}, {})
    entry = datalist(plan, [record])["training"][0]
    names, affine = _channels(plan, subject)
    sid = record["subject_id"]
    projected = subject.masks   # a radiograph: its masks lie in the detector plane, as the cohort writes them
    label = projected["labels_projected"] if projected else semantic_map(plan, subject.labels, subject.lesion_mask,
                                                                         subject.lesions)
    item: dict[str, Any] = {
        "image": _volume([subject.channels[c] for c in names], affine, sid, options.dtype),
        "label": _volume([label], affine, sid, options.dtype),
    }
    if options.lesion_mask:
        lesions = projected["lesions_projected"] if projected else subject.lesion_mask
        item["lesion_mask"] = _volume([lesions], affine, sid, options.dtype)
    if options.twins:
        if subject.params.lesions:
            twin = generate_subject(plan, k, with_pathology=False, device=options.device)
            item["twin_image"] = _volume([twin.channels[c] for c in names], affine, sid, options.dtype)
        else:   # nothing to take away: the twin's stages are the original's, draw for draw
            item["twin_image"] = item["image"].clone()
    item["box"] = torch.as_tensor(entry.get("box", []), dtype=torch.float32).reshape(-1, 6)
    item["box_label"] = torch.as_tensor(entry.get("box_label", []), dtype=torch.long).reshape(-1)
    fields = (*_META_FIELDS, *registry.modality(plan.modality).acquisition_fields, "positive", "lesions")
    item.update({key: record[key] for key in fields if key in record})
    return item
