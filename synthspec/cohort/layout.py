"""Where everything lives in a cohort folder: the one place file names are spelled.

    plan.json                  the plan that was run (its hash guards --resume)
    subjects/S000000/          one folder per subject, renamed into place only when complete
        <channel>.nii.gz ...   one volume per image channel the modality declares (CT: image.nii.gz; MRI names its
                               own: acq-<sequence>_<suffix>.nii.gz with .json sidecars, .bval/.bvec for diffusion)
        labels.nii.gz          anatomy label map (ids in labels.json, kind anatomy)
        lesions.nii.gz         lesion instance ids (1..n, as in subject.json's lesions)
        semantic.nii.gz        anatomy labels with every lesion voxel set to its finding class (labels.json)
        dicom/ ...             the DICOM series of the first channel (MRI: dicom/<channel>/, one series per channel)
        seg.dcm                DICOM SEG of the masks over that series (`output.dicom_seg`: lesions, or all
                               with the anatomy; absent with `lesions` for a subject without lesions)
        subject.json           the subject record, with the SHA-256 of every file above
    manifest.csv               one flat row per subject: scalars and one path column per file kind
    manifest.json              the same subjects with every nested detail (lesions, files, hashes)
    labels.json                the label table: id -> name, tissue, kind (anatomy / finding), colour
    labels.itksnap.txt         the same table as an ITK-SNAP label description file
    labels.ctbl                the same table as a 3D Slicer colour table
    datalist.json              MONAI datalist (load_decathlon_datalist): image, label, folds, boxes
    annotations.csv            one row per lesion, LUNA16 style (world LPS mm)
    provenance.json            the spec, plan and package versions that made the cohort
    SHA256SUMS                 `sha256sum -c` list of every subject file (subject.json included)
    cohort.json                written last; vouches for all of the above (cohort.integrity)
    validation.json  cohort_card.md  cohort_card.json  report.html   (validate / report)
    transfer.json              the transfer test's result (`synth transfer`; not vouched, like validation.json)

Every file above cohort.json is written by `writer.finish` when all subjects exist.

Pure names and paths: no file is read or written here (a modality that names its channels is asked, given the plan).
"""

from __future__ import annotations

from pathlib import Path

PLAN = "plan.json"
COHORT_INFO = "cohort.json"
MANIFEST_CSV = "manifest.csv"
MANIFEST_JSON = "manifest.json"
PROVENANCE = "provenance.json"
VALIDATION = "validation.json"
TRANSFER = "transfer.json"
LABEL_TABLE = "labels.json"
LABEL_ITKSNAP = "labels.itksnap.txt"
LABEL_SLICER = "labels.ctbl"
DATALIST = "datalist.json"
ANNOTATIONS = "annotations.csv"
CHECKSUMS = "SHA256SUMS"
CARD_MD = "cohort_card.md"
CARD_JSON = "cohort_card.json"
REPORT_HTML = "report.html"
SUBJECTS = "subjects"
SUBJECT_RECORD = "subject.json"
LABELS = "labels.nii.gz"
LESIONS = "lesions.nii.gz"
SEMANTIC = "semantic.nii.gz"
DICOM = "dicom"
SEG = "seg.dcm"
STAGING_PREFIX = ".tmp-"

# `synth export nnunet` (nnU-Net v2's raw dataset layout, names as nnU-Net spells them)
NNUNET_IMAGES = "imagesTr"
NNUNET_LABELS = "labelsTr"
NNUNET_DATASET = "dataset.json"
NNUNET_ENDING = ".nii.gz"


def subject_id(index: int) -> str:
    return f"S{index:06d}"


def subject_dir(cohort: Path, index: int) -> Path:
    return Path(cohort) / SUBJECTS / subject_id(index)


def nnunet_folder(dataset_id: int, name: str) -> str:
    """nnU-Net's dataset folder name: Dataset + three-digit id + _ + name."""
    return f"Dataset{dataset_id:03d}_{name}"


def nnunet_image(case: str, channel_index: int) -> str:
    """nnU-Net's image file of one channel of a case: {case}_{XXXX}.nii.gz."""
    return f"{case}_{channel_index:04d}{NNUNET_ENDING}"


def nnunet_label(case: str) -> str:
    return f"{case}{NNUNET_ENDING}"


def channel_file(channel: str, plan=None) -> str:
    """NIfTI file name of an image channel (the first CT channel is `image`): `<channel>.nii.gz`, or, given the
    plan, the name its modality gives the channel when it names its own (`modality.channel_file(channel, plan)`;
    MRI: BIDS-style names such as `acq-t1_T1w.nii.gz`).  Masks and CT/radiograph channels keep `<channel>.nii.gz`."""
    if plan is not None:
        from synthspec.families import registry

        named = getattr(registry.modality(plan.modality), "channel_file", None)
        if named is not None:
            return named(channel, plan)
    return f"{channel}.nii.gz"
