"""`synth export nnunet`: a cohort as an nnU-Net v2 raw dataset, ready for `nnUNetv2_plan_and_preprocess`.

    OUT/DatasetXXX_NAME/
        imagesTr/{case}_{XXXX}.nii.gz   one file per image channel (XXXX = the channel's index), case = subject id
        labelsTr/{case}.nii.gz          the label map with consecutive values 0..N
        dataset.json                    channel_names, labels (consecutive), numTraining, file_ending,
                                        and under `synthspec` the cohort's id of every label value

The cohort is read through `cohort.read.load`, so a folder that is not the cohort cohort.json
vouches for is refused, and every file is checked against its recorded SHA-256 before it is used.
Images are hard-linked when the target is on the same filesystem (a link is never a symlink; the
bytes are the cohort's, so edit neither copy in place), else copied; `copy=True` always copies.
Label maps are written anew: the cohort's ids (anatomy 1..53, findings 60.. for the thorax) are not
consecutive, and nnU-Net requires 0..N.  `labels="semantic"` keeps anatomy and findings,
`labels="findings"` keeps the finding classes only (everything else is background).

A channel whose unit is HU is named `CT` in channel_names (nnU-Net then applies its CT
normalisation); others keep their channel name (z-score normalisation).
The dataset is built under a `.tmp-*` name and renamed into place when complete.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from synthspec import __version__
from synthspec.cohort import layout
from synthspec.cohort.atomic import link_or_copy, staged_dir, write_text_atomic
from synthspec.errors import InputError

LABEL_CHOICES = ("semantic", "findings")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


class ExportError(InputError):
    """An export that cannot be made (exit 2); nothing was written."""


@dataclass
class ExportSummary:
    folder: Path
    cases: int
    labels: dict[str, int]
    bytes: int
    seconds: float
    linked: int
    copied: int


def dataset_name(name: str | None, cohort_name: str) -> str:
    """nnU-Net's dataset name: `name`, or the cohort's name with anything but letters, digits, _ and - as _."""
    if name is not None:
        if not NAME.match(name):
            raise ExportError(f"--name {name!r} must be letters, digits, _ and - (starting with a letter or digit), "
                              "as nnU-Net's DatasetXXX_NAME folders are")
        return name
    cleaned = re.sub(r"[^A-Za-z0-9_-]", "_", cohort_name).strip("_-") or "synthspec"
    return cleaned


def label_values(plan, labels: str) -> tuple[dict[str, int], dict[int, int]]:
    """(nnU-Net labels {name: value}, cohort id -> value) for the chosen label map, values 0..N."""
    from synthspec.cohort.interop import label_entries

    if labels not in LABEL_CHOICES:
        raise ExportError(f"--labels must be one of {', '.join(LABEL_CHOICES)}, not {labels!r}")
    entries = [e for e in label_entries(plan) if labels == "semantic" or e["kind"] == "finding"]
    names = {"background": 0}
    mapping = {0: 0}
    for value, entry in enumerate(sorted(entries, key=lambda e: e["id"]), start=1):
        names[entry["name"]] = value
        mapping[entry["id"]] = value
    return names, mapping


def export_nnunet(cohort_folder: Path, out: Path, dataset_id: int = 501, name: str | None = None,
                  labels: str = "semantic", copy: bool = False) -> ExportSummary:
    """Write the cohort at `cohort_folder` as nnU-Net v2 dataset `out/DatasetXXX_NAME`; returns what was written."""
    from synthspec.cohort.folder import check_out
    from synthspec.cohort.interop import label_entries
    from synthspec.cohort.read import load
    from synthspec.families import registry

    started = time.perf_counter()
    if not 1 <= dataset_id <= 999:
        raise ExportError(f"--dataset-id must be 1..999 (nnU-Net's three digits), not {dataset_id}")
    out = Path(out)
    check_out(out)
    cohort = load(Path(cohort_folder))
    plan = cohort.plan
    if registry.is_projection(plan.modality):
        raise ExportError(f"nnU-Net export of {plan.modality} cohorts is not supported yet: their images are 2-D "
                          "radiographs and their masks labels_projected.nii.gz in the detector plane; use datalist.json")
    target = out / layout.nnunet_folder(dataset_id, dataset_name(name, plan.cohort_name))
    _refuse_existing(out, target, dataset_id)
    names, mapping = label_values(plan, labels)
    known = {0, *(e["id"] for e in label_entries(plan))}
    modality = registry.modality(plan.modality)
    declared = modality.channels_for(plan.stage("acquire").params.settings) if hasattr(modality, "channels_for") \
        else modality.channels
    units = {c.name: c.unit for c in declared}
    channels = list(plan.channels)
    grid = (tuple(plan.grid.spacing), tuple(plan.grid.origin_xyz()))
    for channel in channels:
        spacing, origin = modality.channel_geometry(plan, channel)
        if (tuple(spacing), tuple(origin)) != grid:
            raise ExportError(f"channel {channel!r} does not lie on the label grid, and nnU-Net needs image and label "
                              "geometry equal; export a cohort whose channels share the grid")
    for subject in cohort.subjects:
        missing = [f for f in (*channels, "semantic") if f not in subject.record.get("files", {})]
        if missing:
            raise ExportError(f"{subject.folder} has no {', '.join(missing)} file (the spec's output formats need "
                              "`nifti, masks`); regenerate the cohort with them to export it for nnU-Net")
    lut = np.zeros(max(known) + 1, dtype=np.uint8 if len(names) < 256 else np.uint16)
    for cohort_id, value in mapping.items():
        lut[cohort_id] = value
    document = {
        "name": target.name,
        "description": f"Synthetic cohort {plan.cohort_name} (synthspec {__version__}); nothing in it comes from a "
                       "patient.",
        "reference": "synthspec, synthetic",
        "licence": "synthetic data; see the cohort's provenance.json",
        "channel_names": {str(c): ("CT" if units.get(channel) == "HU" else channel) for c, channel in enumerate(channels)},
        "labels": names,
        "numTraining": len(cohort.subjects),
        "file_ending": layout.NNUNET_ENDING,
        "synthspec": {
            "version": __version__, "cohort": plan.cohort_name, "content_hash": cohort.info.get("content_hash"),
            "label_map": layout.SEMANTIC, "labels": labels,
            "cohort_ids": {str(value): cohort_id for cohort_id, value in sorted(mapping.items())},
            "cases": {s.subject_id: {"index": s.index, "positive": bool(s.record.get("positive"))}
                      for s in cohort.subjects},
        },
    }
    was_empty = target.is_dir()
    if was_empty:
        target.rmdir()   # empty (checked above): the staged folder is renamed into its place
    try:
        linked, copied = _write(cohort, target, channels, lut, known, grid, copy, document)
    except BaseException:
        if was_empty:
            target.mkdir(exist_ok=True)
        raise
    size = sum(p.stat().st_size for p in target.rglob("*") if p.is_file())
    return ExportSummary(folder=target, cases=len(cohort.subjects), labels=names, bytes=size,
                         seconds=time.perf_counter() - started, linked=linked, copied=copied)


def _write(cohort, target: Path, channels: list[str], lut: np.ndarray, known: set[int], grid, copy: bool,
           document: dict) -> tuple[int, int]:
    """Build the dataset under a staged name and rename it to `target`; returns (images linked, copied)."""
    from synthspec.cohort.nifti import write_nifti

    linked = copied = 0
    with staged_dir(target) as tmp:
        (tmp / layout.NNUNET_IMAGES).mkdir()
        (tmp / layout.NNUNET_LABELS).mkdir()
        for subject in cohort.subjects:
            case = subject.subject_id
            for c, channel in enumerate(channels):
                source = subject.folder / subject.channel_file(channel)
                subject._verify(subject.channel_file(channel))   # present and as written, else one line
                if link_or_copy(source, tmp / layout.NNUNET_IMAGES / layout.nnunet_image(case, c), copy):
                    linked += 1
                else:
                    copied += 1
            semantic = subject._read(layout.SEMANTIC)   # checked against its recorded SHA-256
            unknown = sorted(set(np.unique(semantic).tolist()) - known)
            if unknown:
                raise ExportError(f"{subject.folder / layout.SEMANTIC} holds id {unknown[0]}, which the cohort's "
                                  f"{layout.LABEL_TABLE} does not list; regenerate the subject")
            write_nifti(tmp / layout.NNUNET_LABELS / layout.nnunet_label(case), lut[semantic], *grid)
        write_text_atomic(tmp / layout.NNUNET_DATASET, json.dumps(document, indent=2) + "\n")
    return linked, copied


def _refuse_existing(out: Path, target: Path, dataset_id: int) -> None:
    if os.path.lexists(target) and (not target.is_dir() or target.is_symlink() or any(target.iterdir())):
        raise ExportError(f"{target} already exists and is not empty; remove it or choose another --out or "
                          "--dataset-id (nothing was changed)")
    prefix = layout.nnunet_folder(dataset_id, "")
    if out.is_dir():
        clash = sorted(p.name for p in out.iterdir() if p.name.startswith(prefix) and p != target)
        if clash:
            raise ExportError(f"{out} already holds {clash[0]}, and nnU-Net needs one dataset per id; choose another "
                              "--dataset-id (nothing was changed)")
