"""DICOM Segmentation (SEG) of a subject's ground truth, through highdicom: seg.dcm beside the CT series.

Role.  `write_seg` turns the masks the generator drew (lesions.nii.gz's lesion instances, and with
`output.dicom_seg: all` labels.nii.gz's anatomy) into one Segmentation Storage instance that a PACS,
OHIF, 3D Slicer (QuantitativeReporting) or highdicom shows over the subject's CT series.  It reads the
series the modality has just written into the staged subject folder (headers only) and references its
slices, so the SEG lives in the images' study, frame of reference and patient.

What the file says (and why):

* One BINARY segment per class, numbered in the label table's order (labels.json): first every finding
  class the plan can insert (`lesions` and `all`: the lung nodules, not one segment per nodule; a
  lesion's instance id and subtype stay in lesions.nii.gz and subject.json), then with `all` every
  anatomy label the family writes.  The numbering is a function of the plan alone, so segment n is the
  same structure in every subject of a cohort.  SegmentLabel is the label table's name,
  RecommendedDisplayCIELabValue its colour, the algorithm AUTOMATIC ("synthspec", its version): the
  masks are the generator's own truth, not a model's guess.
* Coded descriptions (SNOMED CT, from CID 7150 / 7151 and the per-category CIDs 7191 / 7192 / 7194):
  findings "Morphologically Abnormal Structure" (49755003), a lung nodule type "Nodule" (27925004)
  with anatomic region "Lung" (39607008); anatomy "Anatomical Structure" (91723000) or "Tissue"
  (85756007) with a type per structure (`ANATOMY_CODES`; lobes of one side carry a Right / Left
  modifier, CID 244).  A structure without a code of its own is coded by its tissue (`TISSUE_CODES`),
  and failing that as the plain "Tissue" type; an unknown finding kind as "Lesion" (52988006).
* Frames: only frames that hold voxels of a segment (highdicom's omit_empty_frames), one bit per pixel,
  each referencing its CT slice (Derivation Image / Source Image Sequence) and carrying the slice's
  ImagePositionPatient, so readers place it by UID or by position.  A segment with no voxels in this
  subject (a finding class of a negative subject under `all`) is described and has no frames.
* Empty ground truth: with `lesions`, a subject with no lesion voxel (a negative) gets no SEG at all
  (`write_seg` returns None and subject.json lists no `dicom_seg` file): an all-empty SEG would
  carry every slice as a blank frame, and the absence says the same thing.
* Identity and marking as the CT series (`families.modality.synthetic_dicom`): the images' patient, study and
  frame of reference; SeriesInstanceUID and SOPInstanceUID derived from the series UID (`derived_uid`),
  as is the Dimension Organization UID highdicom would otherwise draw at random; SeriesNumber 2;
  Manufacturer "synthspec (synthetic)", PatientIdentityRemoved YES, the same DeidentificationMethod,
  SeriesDate / ContentDate the fixed SYNTHETIC_DATE and SeriesTime / ContentTime SYNTHETIC_TIME;
  InstanceCreationDate / Time and the ContributionDateTime of highdicom's Contributing Equipment item
  (it sets them from the clock) removed, as in the series; the same private block; our own
  Implementation Class UID.  The same subject gives the same bytes with the same highdicom and pydicom
  (highdicom names its version in that item; provenance.json records both).
* Transfer syntax Explicit VR Little Endian whatever `output.dicom_compression` says: BINARY frames are
  bit-packed already (highdicom encapsulates only FRACTIONAL frames).
* Memory: the segments are built as one [Z, Y, X, segments] uint8 array (highdicom's stacked form; the
  lesions overlap the lobes, so one label map cannot hold them): 1 byte per voxel with `lesions`,
  19 with `all` on the thorax (150 MB at 120 x 256 x 256, 600 MB at 120 x 512 x 512).

What it does not do: no FRACTIONAL (partial-volume) or LABELMAP segmentations, no segment per lesion
instance, no DICOM SR measurements, no RT Structure Set, no SEG for modalities without a DICOM
series.  The caller stages the folder (`writer.write_subject`, `staged_dir`); the file is written
there with a plain open and renamed into place with the folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

import numpy as np

from synthspec.cohort import layout

SEG_SERIES_NUMBER = 2
"""The CT series is 1."""
DEVICE_SERIAL_NUMBER = "SYNTHETIC"
"""Enhanced General Equipment asks for one (type 1); software has no serial number."""

# SNOMED CT code values and meanings, as pydicom's code dictionary (`pydicom.sr.codedict.codes.SCT`) and
# DICOM PS3.16 spell them.  Written as literals so this table is readable without pydicom.
SCT = "SCT"
MORPHOLOGICALLY_ABNORMAL = ("49755003", "Morphologically Abnormal Structure")
ANATOMICAL_STRUCTURE = ("91723000", "Anatomical Structure")
TISSUE = ("85756007", "Tissue")
RIGHT = ("24028007", "Right")
LEFT = ("7771000", "Left")
LUNG = ("39607008", "Lung")

FINDING_CODES: dict[str, tuple[tuple[str, str], tuple[str, str], tuple[str, str] | None]] = {
    # kind: (category CID 7150, type CID 7194, anatomic region or None)
    "lung_nodule": (MORPHOLOGICALLY_ABNORMAL, ("27925004", "Nodule"), LUNG),
}
FINDING_FALLBACK = (MORPHOLOGICALLY_ABNORMAL, ("52988006", "Lesion"), None)
"""A finding kind `FINDING_CODES` does not know: a lesion (CID 7194), no region."""

ANATOMY_CODES: dict[str, tuple[tuple[str, str], tuple[str, str], tuple[str, str] | None]] = {
    # name: (category CID 7150, type CID 7191 (Tissue) / 7192 (Anatomical Structure), laterality modifier or None)
    # body_wall is the body's soft tissue outside every named structure; "Chest wall" (78904004) is not in
    # CID 7151, so it is coded as the tissue it is.
    "body_wall": (TISSUE, ("87784001", "Soft tissue"), None),
    "subcutaneous_fat": (TISSUE, ("71966008", "Subcutaneous tissue"), None),
    # the skeletal muscles of the chest wall; "Skeletal muscle" (127954009) is not in CID 7151
    "muscle": (TISSUE, ("91727004", "Muscle"), None),
    "right_upper_lobe": (ANATOMICAL_STRUCTURE, ("45653009", "Upper lobe of lung"), RIGHT),
    "right_middle_lobe": (ANATOMICAL_STRUCTURE, ("72481006", "Middle lobe of right lung"), None),
    "right_lower_lobe": (ANATOMICAL_STRUCTURE, ("90572001", "Lower lobe of lung"), RIGHT),
    "left_upper_lobe": (ANATOMICAL_STRUCTURE, ("45653009", "Upper lobe of lung"), LEFT),
    "left_lower_lobe": (ANATOMICAL_STRUCTURE, ("90572001", "Lower lobe of lung"), LEFT),
    "pleura": (ANATOMICAL_STRUCTURE, ("3120008", "Pleura"), None),
    "trachea": (ANATOMICAL_STRUCTURE, ("44567001", "Trachea"), None),
    "bronchi": (ANATOMICAL_STRUCTURE, ("955009", "Bronchus"), None),
    "pulmonary_arteries": (ANATOMICAL_STRUCTURE, ("81040000", "Pulmonary artery"), None),
    "pulmonary_veins": (ANATOMICAL_STRUCTURE, ("122972007", "Pulmonary vein"), None),
    "heart": (ANATOMICAL_STRUCTURE, ("80891009", "Heart"), None),
    "aorta": (ANATOMICAL_STRUCTURE, ("15825003", "Aorta"), None),
    "vertebrae": (ANATOMICAL_STRUCTURE, ("51282000", "Vertebra"), None),
    # the CSF-filled canal; "Vertebral canal" (61853006) is not in CID 7151, its content is (CID 7192)
    "spinal_canal": (ANATOMICAL_STRUCTURE, ("280401006", "Spinal cerebrospinal fluid pathway"), None),
    "ribs": (ANATOMICAL_STRUCTURE, ("113197003", "Rib"), None),
    "sternum": (ANATOMICAL_STRUCTURE, ("56873002", "Sternum"), None),
}

TISSUE_CODES: tuple[tuple[str, tuple[tuple[str, str], tuple[str, str]]], ...] = (
    # fallback for a structure ANATOMY_CODES does not name: the first key found in its tissue's name
    ("lung", (ANATOMICAL_STRUCTURE, LUNG)),
    ("blood", (TISSUE, ("87612001", "Blood"))),
    ("bone", (TISSUE, ("3138006", "Bone"))),
    ("fat", (TISSUE, ("55603005", "Fat"))),
    ("muscle", (TISSUE, ("91727004", "Muscle"))),
    ("csf", (ANATOMICAL_STRUCTURE, ("65216001", "Cerebrospinal Fluid"))),
    ("soft", (TISSUE, ("87784001", "Soft tissue"))),
)
"""Air has no code in CID 7151 ("Air" 15158005 is not in it): an airway outside ANATOMY_CODES is plain Tissue."""
TISSUE_FALLBACK = (TISSUE, TISSUE)


@dataclass(frozen=True)
class SegmentClass:
    """One segment of a cohort's SEGs: which voxels it holds and how it is described."""

    number: int
    label: str
    kind: str
    """"finding" (voxels: lesions of this pathology kind) or "anatomy" (voxels: labels == label_id)."""
    label_id: int
    colour: tuple[int, int, int]
    category: tuple[str, str]
    type: tuple[str, str]
    modifier: tuple[str, str] | None = None
    region: tuple[str, str] | None = None


def _codes_for(entry: dict):
    """(category, type, modifier, region) of a label-table entry (see ANATOMY_CODES for the fallbacks)."""
    if entry["kind"] == "finding":
        category, kind, region = FINDING_CODES.get(entry["name"], FINDING_FALLBACK)
        return category, kind, None, region
    if entry["name"] in ANATOMY_CODES:
        category, kind, modifier = ANATOMY_CODES[entry["name"]]
        return category, kind, modifier, None
    tissue = (entry.get("tissue") or "").lower()
    category, kind = next((codes for key, codes in TISSUE_CODES if key in tissue), TISSUE_FALLBACK)
    return category, kind, None, None


def segment_classes(plan, mode: str | None = None) -> list[SegmentClass]:
    """The segments every SEG of this plan describes, numbered 1.. (a function of the plan alone):
    the finding classes, then with `all` the anatomy labels, each in the label table's id order."""
    from synthspec.cohort.interop import label_entries

    mode = plan.writing.dicom_seg if mode is None else mode
    if mode == "none":
        return []
    entries = label_entries(plan)
    chosen = [e for e in entries if e["kind"] == "finding"]
    if mode == "all":
        chosen += [e for e in entries if e["kind"] == "anatomy"]
    out = []
    for number, e in enumerate(chosen, start=1):
        category, kind, modifier, region = _codes_for(e)
        out.append(SegmentClass(number=number, label=e["name"], kind=e["kind"], label_id=int(e["id"]),
                                colour=tuple(int(c) for c in e["colour"]), category=category, type=kind,
                                modifier=modifier, region=region))
    return out


def segment_masks(segments: list[SegmentClass], labels: np.ndarray, lesion_mask: np.ndarray,
                  lesions) -> np.ndarray:
    """[Z, Y, X, S] uint8 0/1: segment s+1's voxels (findings: every lesion of that kind; anatomy: its label)."""
    stack = np.zeros((*labels.shape, len(segments)), dtype=np.uint8)
    kind_of = {int(l.id): l.kind for l in lesions}
    for s, seg in enumerate(segments):
        if seg.kind == "finding":
            ids = [i for i, kind in kind_of.items() if kind == seg.label]
            if ids:
                stack[..., s] = np.isin(lesion_mask, ids)
        else:
            stack[..., s] = labels == seg.label_id
    return stack


def read_sources(series_dir: Path, n_slices: int) -> list:
    """The written CT slices' headers (no pixels), in slice order (InstanceNumber), one per array slice."""
    import pydicom

    sources = [pydicom.dcmread(path, stop_before_pixels=True) for path in sorted(Path(series_dir).glob("*.dcm"))]
    sources.sort(key=lambda ds: int(ds.InstanceNumber))
    if len(sources) != n_slices:
        raise ValueError(f"{series_dir} holds {len(sources)} slices, the masks {n_slices}: cannot reference them")
    return sources


def _code(pair: tuple[str, str]):
    from highdicom.sr import CodedConcept

    return CodedConcept(value=pair[0], scheme_designator=SCT, meaning=pair[1])


def segment_descriptions(segments: list[SegmentClass], version: str) -> list:
    """highdicom SegmentDescriptions of `segments` (AUTOMATIC, algorithm synthspec `version`)."""
    import highdicom as hd
    from pydicom.sr.codedict import codes

    algorithm = hd.AlgorithmIdentificationSequence(
        name="synthspec", version=str(version)[:64], source="synthspec (synthetic ground truth)",
        # CID 7162 has no code for a generator's own truth: the anatomy and lesions are parametric shape
        # models drawn per subject and the masks those shapes rasterised, so its "Deformable Models"
        family=codes.DCM.DeformableModels)
    out = []
    for seg in segments:
        description = hd.seg.SegmentDescription(
            segment_number=seg.number, segment_label=seg.label[:64],
            segmented_property_category=_code(seg.category), segmented_property_type=_code(seg.type),
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC, algorithm_identification=algorithm,
            anatomic_regions=[_code(seg.region)] if seg.region else None,
            display_color=hd.color.CIELabColor.from_rgb(*seg.colour))
        if seg.modifier:
            description.SegmentedPropertyTypeCodeSequence[0].SegmentedPropertyTypeModifierCodeSequence = [
                _code(seg.modifier)]
        out.append(description)
    return out


def build_seg(sources: list, stack: np.ndarray, segments: list[SegmentClass], identity, version: str,
              series_description: str, model_key: str):
    """The Segmentation dataset of `stack` ([Z, Y, X, S], slice k on sources[k]), made deterministic."""
    import highdicom as hd
    from pydicom.uid import ExplicitVRLittleEndian

    from synthspec.families.modality.synthetic_dicom import (
        DEIDENTIFICATION_METHOD, MANUFACTURER, SYNTHETIC_DATE, SYNTHETIC_TIME, add_provenance)
    from synthspec.identity import IMPLEMENTATION_CLASS_UID, derived_uid

    series_uid = derived_uid(identity.series_uid, "seg", "series")
    kinds = {s.kind for s in segments}
    seg = hd.seg.Segmentation(
        source_images=sources, pixel_array=stack, segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=segment_descriptions(segments, version), series_instance_uid=series_uid,
        series_number=SEG_SERIES_NUMBER, sop_instance_uid=derived_uid(identity.series_uid, "seg", "instance", 1),
        instance_number=1, manufacturer=MANUFACTURER, manufacturer_model_name="synthspec",
        software_versions=f"synthspec {version}"[:64], device_serial_number=DEVICE_SERIAL_NUMBER,
        content_label="LESIONS" if kinds == {"finding"} else "LESIONS_ANATOMY",
        content_description="SYNTHETIC ground truth: " + ("lesions" if kinds == {"finding"} else "lesions and anatomy"),
        series_description=series_description[:64],
        transfer_syntax_uid=ExplicitVRLittleEndian, omit_empty_frames=True,
        content_date=SYNTHETIC_DATE, content_time=SYNTHETIC_TIME, series_date=SYNTHETIC_DATE,
        series_time=SYNTHETIC_TIME)
    # what highdicom takes from the clock or a random source
    for keyword in ("InstanceCreationDate", "InstanceCreationTime"):
        if keyword in seg:
            delattr(seg, keyword)
    for item in seg.get("ContributingEquipmentSequence", []):   # highdicom's own entry: when it ran (type 3)
        if "ContributionDateTime" in item:
            del item.ContributionDateTime
    organisation = derived_uid(identity.series_uid, "seg", "dimension_organization")
    for item in seg.DimensionOrganizationSequence:
        item.DimensionOrganizationUID = organisation
    for item in seg.get("DimensionIndexSequence", []):
        item.DimensionOrganizationUID = organisation
    # marked synthetic, as the series
    seg.PatientIdentityRemoved = "YES"
    seg.DeidentificationMethod = DEIDENTIFICATION_METHOD
    seg.BurnedInAnnotation = "NO"
    seg.ImageComments = "SYNTHETIC SEGMENTATION"
    for keyword in ("PatientAge", "BodyPartExamined"):
        if keyword in sources[0] and keyword not in seg:
            setattr(seg, keyword, sources[0].data_element(keyword).value)
    add_provenance(seg, model_key, version)
    seg.file_meta.ImplementationClassUID = IMPLEMENTATION_CLASS_UID
    seg.file_meta.ImplementationVersionName = f"SYNTHSPEC_{version}"[:16]
    return seg


def write_seg(folder: Path, subject, plan, identity, version: str, series: str = layout.DICOM) -> str | None:
    """seg.dcm of `subject` in the staged subject `folder`, referencing the CT series in `folder/series`;
    returns its name (layout.SEG), or None when the plan asks for none or the subject has nothing to show
    (`lesions` and no lesion voxel)."""
    from pydicom import dcmwrite

    segments = segment_classes(plan)
    if not segments:
        return None
    stack = segment_masks(segments, subject.labels, subject.lesion_mask, subject.lesions)
    if not stack.any():
        return None
    sources = read_sources(Path(folder) / series, stack.shape[0])
    description = f"SYNTHETIC SEG {plan.cohort_name} {subject.params.subject_id}"
    seg = build_seg(sources, stack, segments, identity, version, description, plan.seed_key)
    buffer = BytesIO()
    dcmwrite(buffer, seg, enforce_file_format=True)
    with open(Path(folder) / layout.SEG, "wb") as handle:
        handle.write(buffer.getvalue())
    return layout.SEG
