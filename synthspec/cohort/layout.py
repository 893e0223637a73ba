"""Where everything lives in a cohort folder: the one place file names are spelled.

    plan.json                  the plan that was run (its hash guards --resume)
    subjects/S000000/          one folder per subject, renamed into place only when complete
        <channel>.nii.gz ...   one volume per image channel the modality declares (CT: image.nii.gz)
        labels.nii.gz          anatomy label map (ids in labels.json)
        lesions.nii.gz         lesion instance ids (1..n, as in subject.json's lesions)
        dicom/ ...             the DICOM series of the first channel
        subject.json           the subject record, with the SHA-256 of every file above
    manifest.csv  manifest.json  provenance.json  labels.json  cohort.json   (written when all subjects exist)
    validation.json  cohort_card.md  cohort_card.json  report.html   (validate / report)

Pure names and paths: no file is read or written here.
"""

from __future__ import annotations

from pathlib import Path

PLAN = "plan.json"
COHORT_INFO = "cohort.json"
MANIFEST_CSV = "manifest.csv"
MANIFEST_JSON = "manifest.json"
PROVENANCE = "provenance.json"
VALIDATION = "validation.json"
LABEL_TABLE = "labels.json"
CARD_MD = "cohort_card.md"
CARD_JSON = "cohort_card.json"
REPORT_HTML = "report.html"
SUBJECTS = "subjects"
SUBJECT_RECORD = "subject.json"
LABELS = "labels.nii.gz"
LESIONS = "lesions.nii.gz"
DICOM = "dicom"
STAGING_PREFIX = ".tmp-"


def subject_id(index: int) -> str:
    return f"S{index:06d}"


def subject_dir(cohort: Path, index: int) -> Path:
    return Path(cohort) / SUBJECTS / subject_id(index)


def channel_file(channel: str) -> str:
    """NIfTI file name of an image channel (the first CT channel is `image`)."""
    return f"{channel}.nii.gz"
