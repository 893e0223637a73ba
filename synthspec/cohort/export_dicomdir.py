"""`synth export dicomdir`: a cohort's DICOM as a PS3.10 file-set (DICOMDIR), for PACS import and media.

    OUT/DICOMDIR                         the directory: PATIENT -> STUDY -> SERIES -> IMAGE / SEGMENTATION
    OUT/PT000000/ST000000/SE000000/IM000000 ...   one file per instance, named as PS3.10 requires

A DICOMDIR names its files by File IDs of at most eight components of up to eight upper-case
letters, digits and `_`; the cohort's own names (`subjects/S000000/dicom/IM000001.dcm`) are not
File IDs, so the file-set is a second tree beside the cohort rather than a file inside it.  pydicom's
`FileSet` builds the records and the File IDs; the instances placed under them are the cohort's own
bytes, hard-linked where the filesystem allows it (else copied; `copy=True` always copies), each
checked against the SHA-256 recorded when it was written.  The file-set UID is derived from the
cohort's content hash, so the same cohort gives the same DICOMDIR.

What this does not do: convert or recompress anything (the spec's `output.dicom_compression`
decides the transfer syntax), or export NIfTI (that is `synth export nnunet`).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from synthspec.cohort.atomic import link_or_copy, staged_dir
from synthspec.errors import InputError
from synthspec.identity import derived_uid

FILESET_ID = "SYNTHSPEC"
"""File-set ID (CS, at most 16 characters) of every exported file-set."""


class DicomdirError(InputError):
    """A file-set that cannot be made (exit 2); nothing was written."""


@dataclass
class DicomdirSummary:
    folder: Path
    subjects: int
    instances: int
    bytes: int
    seconds: float
    linked: int
    copied: int


def dicom_files(subject) -> list[str]:
    """The subject's DICOM instances as names inside its folder (series slices, then its SEG), in record order."""
    return sorted(name for name in (subject.record.get("hashes") or {}) if name.endswith(".dcm"))


def export_dicomdir(cohort_folder: Path, out: Path, copy: bool = False) -> DicomdirSummary:
    """Write the DICOM of the cohort at `cohort_folder` as a file-set rooted at `out`; returns what was written."""
    from pydicom import dcmread
    from pydicom.fileset import FileSet

    from synthspec.cohort.folder import check_out
    from synthspec.cohort.read import load

    started = time.perf_counter()
    out = Path(out)
    check_out(out)
    if os.path.lexists(out) and (out.is_symlink() or not out.is_dir() or any(out.iterdir())):
        raise DicomdirError(f"--out {out} already exists and is not empty; a file-set needs a folder of its own "
                            "(choose a new or empty one; nothing was changed)")
    cohort = load(Path(cohort_folder))
    sources = [(subject, name) for subject in cohort.subjects for name in dicom_files(subject)]
    if not sources:
        raise DicomdirError(f"{cohort_folder} holds no DICOM (the spec's `output.formats` leaves out `dicom`); "
                            "regenerate it with `formats: nifti, dicom, masks` to export a DICOMDIR")
    fileset = FileSet()
    fileset.ID = FILESET_ID
    fileset.UID = derived_uid("fileset", cohort.info.get("content_hash"))
    originals = {}
    for subject, name in sources:
        path = subject.folder / name
        subject._verify(name)   # present and the bytes written by `synth run`, or a clear error naming the subject
        header = dcmread(path, stop_before_pixels=True)   # the records need the header only
        originals[header.SOPInstanceUID] = path
        fileset.add(header)
    was_empty = out.is_dir()
    if was_empty:
        out.rmdir()   # empty (checked above): the staged tree is renamed into its place
    linked = copied = 0
    try:
        with staged_dir(out) as tmp:
            fileset.write(tmp)
            for instance in fileset:
                placed = tmp / instance.FileID
                placed.unlink()   # pydicom's header-only copy: the cohort's own file takes its File ID
                if link_or_copy(originals[instance.SOPInstanceUID], placed, copy):
                    linked += 1
                else:
                    copied += 1
    except BaseException:
        if was_empty:
            out.mkdir(exist_ok=True)
        raise
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    return DicomdirSummary(folder=out, subjects=len(cohort.subjects), instances=len(sources), bytes=size,
                           seconds=time.perf_counter() - started, linked=linked, copied=copied)
