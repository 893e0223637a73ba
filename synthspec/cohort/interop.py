"""Files that let the field's tools read a cohort without glue: label tables, the semantic map, the MONAI
datalist, LUNA16-style annotations and SHA256SUMS.

Everything here is a pure function of the plan and the subject records (no clock, no randomness), so
the same cohort gives the same bytes.  `writer.write_subject` calls `semantic_map`; `writer.finish`
calls the rest.

Label ids.  The anatomy ids are the family's (labels.nii.gz, `Plan.labels`, only those it writes).
Finding classes, one per pathology kind the plan can insert (prevalence > 0), follow them: the first
id is the next multiple of ten above every anatomy id the family declares (thorax: 60), in the order
the spec names the pathologies.  semantic.nii.gz is labels.nii.gz with every lesion voxel set to its
finding class id (uint8 while every id is below 256, else uint16).  A lesion's subtype stays in
subject.json, manifest.json and annotations.csv; it is not a class of its own.

Colours (RGB 0..255) come from the tissue, so a structure keeps its colour in every body part:
lung blues, air cyan, blood reds, bone ivory, fat yellow, muscle red-brown, other soft tissue tan,
CSF lavender, anything else grey, findings saturated green, orange, magenta, yellow, teal.  Labels of
one tissue take that tissue's shades in id order (cycling when there are more labels than shades).

Coordinate frames (README "Using a cohort with MONAI, nnU-Net and other tools"):
    world      millimetres in the DICOM / ITK LPS patient frame (x to the patient's left, y posterior,
               z superior): what SimpleITK's TransformIndexToPhysicalPoint gives and what LUNA16 uses.
               nibabel and MONAI report the NIfTI affine in RAS (x and y negated).
    boxes      datalist.json `box`: MONAI box mode `cccwhd` in world LPS mm (centre x, y, z, then
               width, height, depth = the lesion's diameter); ConvertBoxToStandardModed(mode="cccwhd") then
               AffineBoxToImageCoordinated(..., affine_lps_to_ras=True) turn them into image coordinates, as in
               MONAI's LUNA16 recipe (the affine transform alone would read cccwhd boxes as corners).
    bbox_voxels  subject.json: (z0, y0, x0, z1, y1, x1) half-open indices into the numpy [z, y, x]
               array SimpleITK returns, covering every voxel the lesion changed (padded, not a box).
"""

from __future__ import annotations

import csv
import io

import numpy as np

from synthspec import __version__
from synthspec.cohort import layout

LABEL_FORMAT = 2
"""1: anatomy ids only.  2: finding classes (kind `finding`), a colour per label, the maps each id is in."""
MAX_FOLDS = 5

TISSUE_SHADES: tuple[tuple[str, tuple[tuple[int, int, int], ...]], ...] = (
    ("lung", ((62, 120, 200), (110, 165, 232), (40, 85, 160), (140, 195, 245), (85, 105, 215), (175, 212, 250))),
    ("air", ((120, 220, 230), (70, 185, 200), (160, 240, 245))),
    ("blood", ((200, 40, 40), (225, 100, 95), (150, 20, 35), (245, 140, 120), (175, 65, 60))),
    ("bone", ((241, 214, 145), (250, 236, 195), (222, 192, 118), (232, 224, 172))),
    ("fat", ((230, 215, 70), (250, 240, 130))),
    ("muscle", ((192, 104, 88), (160, 75, 65))),
    ("soft", ((205, 160, 135), (177, 122, 101))),
    ("csf", ((180, 150, 230), (150, 120, 210))),
)
"""Shades by tissue: the first entry whose key is in the tissue's name (`cancellous_bone` -> bone)."""
OTHER_SHADES = ((160, 160, 160), (125, 125, 125), (195, 195, 195))
FINDING_SHADES = ((0, 220, 0), (255, 150, 0), (255, 0, 255), (255, 255, 0), (0, 210, 190))


# ---- the label table ---------------------------------------------------------------------------------

def finding_kinds(plan) -> list[tuple[str, list[str]]]:
    """(kind, subtypes the spec declares) of every pathology kind the plan can insert, in spec order."""
    out: dict[str, list[str]] = {}
    for p in plan.sampling.pathologies:
        if (p.prevalence or 0.0) <= 0.0 or p.count[1] < 1:
            continue
        subtypes = out.setdefault(p.kind, [])
        if p.subtype is not None:
            subtypes += [n for n, w in zip(p.subtype.names, p.subtype.weights) if w > 0 and n not in subtypes]
    return list(out.items())


def first_finding_id(plan) -> int:
    """The next multiple of ten above every anatomy id the family declares (written or not)."""
    return (max((e.id for e in plan.labels), default=0) // 10 + 1) * 10


def finding_ids(plan) -> dict[str, int]:
    """Finding class id of each pathology kind the plan can insert."""
    first = first_finding_id(plan)
    return {kind: first + k for k, (kind, _subtypes) in enumerate(finding_kinds(plan))}


def _shades(tissue: str | None):
    name = (tissue or "").lower()
    return next((shades for key, shades in TISSUE_SHADES if key in name), OTHER_SHADES)


def label_entries(plan) -> list[dict]:
    """Every id that can occur in labels.nii.gz or semantic.nii.gz, background excluded, in id order."""
    anatomy = sorted((e for e in plan.labels if e.kind == "anatomy" and e.written), key=lambda e: e.id)
    used: dict[tuple, int] = {}
    out = []
    for e in anatomy:
        shades = _shades(e.tissue)
        n = used.get(shades, 0)
        used[shades] = n + 1
        out.append({"id": e.id, "name": e.name, "tissue": e.tissue, "group": e.group, "kind": "anatomy",
                    "colour": list(shades[n % len(shades)]), "maps": [layout.LABELS, layout.SEMANTIC]})
    ids = finding_ids(plan)
    for k, (kind, subtypes) in enumerate(finding_kinds(plan)):
        out.append({"id": ids[kind], "name": kind, "tissue": None, "group": "finding", "kind": "finding",
                    "subtypes": subtypes, "colour": list(FINDING_SHADES[k % len(FINDING_SHADES)]),
                    "maps": [layout.SEMANTIC]})
    return out


def label_table(plan) -> dict:
    """labels.json: every id that can occur, with its name, tissue, kind, colour and the maps it is in."""
    return {"format": LABEL_FORMAT, "background": 0,
            "maps": {layout.LABELS: "anatomy", layout.SEMANTIC: "anatomy, with every lesion voxel set to its finding",
                     layout.LESIONS: "lesion instance ids 1..n (subject.json's lesions), not these ids"},
            "colour": "RGB 0..255, by tissue (lung blues, air cyan, blood reds, bone ivory, fat yellow, muscle "
                      "red-brown, soft tissue tan, CSF lavender, findings green / orange / magenta)",
            "labels": label_entries(plan)}


def itksnap_labels(plan) -> str:
    """labels.itksnap.txt: ITK-SNAP's label description file (Segmentation > Import Label Descriptions)."""
    lines = ["################################################",
             "# ITK-SnAP Label Description File",
             f"# synthspec {__version__}: the ids of labels.nii.gz and semantic.nii.gz (labels.json)",
             "# File format: ",
             "# IDX   -R-  -G-  -B-  -A--  VIS MSH  LABEL",
             "# Fields: ",
             "#    IDX:   Zero-based index ",
             "#    -R-:   Red color component (0..255)",
             "#    -G-:   Green color component (0..255)",
             "#    -B-:   Blue color component (0..255)",
             "#    -A-:   Label transparency (0.00 .. 1.00)",
             "#    VIS:   Label visibility (0 or 1)",
             "#    MSH:   Label mesh visibility (0 or 1)",
             "#  LABEL:   Label description ",
             "################################################",
             f'{0:5d} {0:5d} {0:4d} {0:4d} {0:8g} {0:2d} {0:2d}    "Clear Label"']
    for e in label_entries(plan):
        r, g, b = e["colour"]
        lines.append(f'{e["id"]:5d} {r:5d} {g:4d} {b:4d} {1:8g} {1:2d} {1:2d}    "{e["name"]}"')
    return "\n".join(lines) + "\n"


def slicer_colour_table(plan) -> str:
    """labels.ctbl: a 3D Slicer colour table (`id name R G B A`; load it with the label map)."""
    entries = label_entries(plan)
    lines = [f"# Color table file {layout.LABEL_SLICER}", f"# {len(entries) + 1} values", "0 background 0 0 0 0"]
    lines += [f"{e['id']} {e['name']} {e['colour'][0]} {e['colour'][1]} {e['colour'][2]} 255" for e in entries]
    return "\n".join(lines) + "\n"


# ---- the semantic map ----------------------------------------------------------------------------------

def semantic_map(plan, labels: np.ndarray, lesion_mask: np.ndarray, lesions) -> np.ndarray:
    """labels.nii.gz's anatomy ids with every lesion voxel set to its finding class id."""
    classes = finding_ids(plan)
    top = max([*classes.values(), int(labels.max(initial=0))])
    dtype = np.uint8 if top < 256 else np.uint16
    out = labels.astype(dtype, copy=True)
    if not lesions:
        return out
    lut = np.zeros(int(lesion_mask.max(initial=0)) + 1, dtype=dtype)
    for lesion in lesions:
        if lesion.kind not in classes:
            raise ValueError(f"lesion {lesion.id} is a {lesion.kind}, which the plan's label table has no class for")
        if lesion.id < len(lut):
            lut[lesion.id] = classes[lesion.kind]
    inside = lesion_mask > 0
    classes_inside = lut[lesion_mask[inside]]
    region = out[inside]
    out[inside] = np.where(classes_inside > 0, classes_inside, region)   # an id with no lesion entry keeps its anatomy
    return out


# ---- MONAI datalist and detection annotations ---------------------------------------------------------

def folds(records: list[dict], k: int) -> dict[str, int]:
    """Subject id -> fold 0..k-1: positives in index order deal the folds round robin, negatives carry on
    where they stopped, so fold sizes and positives per fold each differ by at most one."""
    ordered = sorted(records, key=lambda r: (not r["positive"], r["index"]))
    return {r["subject_id"]: n % k for n, r in enumerate(ordered)}


def _box(lesion: dict) -> list[float]:
    d = float(lesion["diameter_mm"])
    return [*(float(c) for c in lesion["centre_mm"]), d, d, d]


DATALIST_DESCRIPTION = (
    "Synthetic cohort written by synthspec {version}; nothing in it comes from a patient. Paths are relative to "
    "this file's folder (MONAI's load_decathlon_datalist resolves them against it). image: the {channels} "
    "volume (a list of paths, one per channel, when there are several); label: semantic.nii.gz, the anatomy label map with every lesion voxel set to its finding class "
    "(ids in `labels`; colours in labels.json). box: one per lesion, MONAI box mode cccwhd (centre x, y, z, then "
    "width, height, depth = the lesion's diameter) in world millimetres of the DICOM/ITK LPS frame (x to the "
    "patient's left, y posterior, z superior), the frame of annotations.csv and LUNA16; nibabel/MONAI affines are "
    "RAS, so convert with ConvertBoxToStandardModed(box_keys='box', mode='cccwhd') and then "
    "AffineBoxToImageCoordinated(box_keys='box', box_ref_image_keys='image', affine_lps_to_ras=True). "
    "box_label: 0-based index into box_classes. fold: 0..{last}, balanced for positives.")


GRADES = ("grade", "thacher_wrist")
"""Lesion attributes the datalist carries as class labels of the subject: the finding's grade (rickets: 1-2 at
the physis it widened) and the Thacher wrist score (0-4; 0 where only hand physes are affected)."""


def datalist(plan, records: list[dict]) -> dict:
    """datalist.json: MONAI's decathlon datalist (`training` items with image, label, fold and boxes)."""
    from synthspec.families import registry

    k = max(1, min(MAX_FOLDS, len(records)))
    fold_of = folds(records, k)
    classes = finding_ids(plan)
    box_classes = list(classes)
    channels = list(plan.channels)
    modality = registry.modality(plan.modality)
    declared = modality.channels_for(plan.stage("acquire").params.settings) if hasattr(modality, "channels_for") \
        else modality.channels
    units = {c.name: c.unit for c in declared}
    projection = registry.is_projection(plan.modality)
    items = []
    for r in sorted(records, key=lambda r: r["index"]):
        files = r["files"]
        item: dict = {"subject_id": r["subject_id"], "fold": fold_of[r["subject_id"]], "positive": int(r["positive"])}
        paths = [files[c] for c in channels if c in files]
        if paths:
            item["image"] = paths[0] if len(paths) == 1 else paths
        if projection:   # a radiograph: its masks in the detector plane, no 3-D boxes
            if "labels_projected" in files:
                item["label"] = files["labels_projected"]
                item["lesion_label"] = files["lesions_projected"]
            for key in GRADES:   # a finding's severity: the subject's class label beside `positive`
                grades = [l["attributes"][key] for l in r["lesions"] if key in (l.get("attributes") or {})]
                if grades:
                    item[key] = max(grades)
        else:
            if "semantic" in files:
                item["label"] = files["semantic"]
            item["box"] = [_box(lesion) for lesion in r["lesions"]]
            item["box_label"] = [box_classes.index(lesion["kind"]) for lesion in r["lesions"]]
            if "tumour_compartments" in files:   # BraTS 2023 labels: 1 necrotic core, 2 oedema, 3 enhancing
                item["tumour_compartments"] = files["tumour_compartments"]
        items.append(item)
    names = {"0": "background", **{str(e["id"]): e["name"] for e in label_entries(plan)}}
    return {
        "name": plan.cohort_name,
        "description": DATALIST_DESCRIPTION.format(version=__version__, last=k - 1,
                                                   channels=", ".join(_channel_title(c, units.get(c)) for c in channels)),
        "reference": f"synthspec {__version__}, synthetic",
        "tensorImageSize": "2D" if projection else "3D",
        "modality": {str(n): (_channel_title(c, units.get(c))) for n, c in enumerate(channels)},
        "labels": names,
        "label_map": layout.SEMANTIC,
        "box_mode": "cccwhd",
        "box_frame": "world LPS mm (DICOM/ITK patient frame; RAS = LPS with x and y negated)",
        "box_classes": box_classes,
        "annotations": layout.ANNOTATIONS,
        "numFolds": k,
        "numTraining": len(items),
        "training": items,
    }


def _channel_title(channel: str, unit: str | None) -> str:
    """The channel as the decathlon (and nnU-Net) name modalities: `CT` for CT numbers in HU."""
    return "CT" if unit == "HU" else channel


ANNOTATION_COLUMNS = ("seriesuid", "coordX", "coordY", "coordZ", "diameter_mm", "subject_id", "lesion_id", "finding",
                      "subtype")


def annotations_csv(records: list[dict]) -> str:
    """annotations.csv: one row per lesion; LUNA16's five columns first (world LPS mm), then ours."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(ANNOTATION_COLUMNS)
    for r in sorted(records, key=lambda r: r["index"]):
        for lesion in r["lesions"]:
            x, y, z = (float(c) for c in lesion["centre_mm"])
            writer.writerow([r.get("series_uid", ""), repr(x), repr(y), repr(z), repr(float(lesion["diameter_mm"])),
                             r["subject_id"], lesion["id"], lesion["kind"], lesion.get("subtype") or ""])
    return buffer.getvalue()


# ---- checksums -------------------------------------------------------------------------------------------

def checksums(records: list[dict], record_digests: list[tuple[str, str]]) -> str:
    """SHA256SUMS as `sha256sum` writes it (`<hex>  <path>`), paths relative to the cohort, sorted: every
    file of every subject, subject.json included.  The cohort-level files are not listed (plan.json and
    provenance.json record how the run was executed; cohort.json vouches for them all, this file too), so
    SHA256SUMS depends on the subjects alone, like the content hash."""
    lines: dict[str, str] = {}
    digest_of = dict(record_digests)
    for r in records:
        prefix = f"{layout.SUBJECTS}/{r['subject_id']}"
        for name, digest in r["hashes"].items():
            lines[f"{prefix}/{name}"] = digest
        lines[f"{prefix}/{layout.SUBJECT_RECORD}"] = digest_of[r["subject_id"]]
    for path in lines:
        if any(ch in path for ch in "\\\n\r"):
            raise ValueError(f"{path!r} cannot be listed in {layout.CHECKSUMS} as it is")
    return "".join(f"{lines[path]}  {path}\n" for path in sorted(lines))
