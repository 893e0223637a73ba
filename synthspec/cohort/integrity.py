"""What cohort.json vouches for, and the check that a folder still holds exactly that.

cohort.json is written last, when every subject exists; it records the SHA-256 of each
cohort-level file (plan, manifests, label tables, datalist, annotations, provenance, SHA256SUMS)
and one hash over every subject's subject.json (`records_hash`), besides the content hash over
the subjects' files.  Every reader calls `findings` (through `cohort.read.load`, or `synth verify` for the full
list), so a deleted manifest, a truncated label table or a subject copied in from another
cohort is named with its fix instead of being read as if it were the cohort.

Hashing only: this module neither repairs nor regenerates anything.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from synthspec.cohort import layout
from synthspec.cohort.atomic import sha256_file

VOUCHED_FILES = (layout.PLAN, layout.MANIFEST_CSV, layout.MANIFEST_JSON, layout.LABEL_TABLE, layout.LABEL_ITKSNAP,
                 layout.LABEL_SLICER, layout.DATALIST, layout.ANNOTATIONS, layout.PROVENANCE, layout.CHECKSUMS)
"""The cohort-level files cohort.json records the SHA-256 of (written before it, never after)."""


def records_hash(record_digests: list[tuple[str, str]]) -> str:
    """One hash over (subject id, SHA-256 of its subject.json), in index order."""
    h = hashlib.sha256()
    for subject_id, digest in record_digests:
        h.update(f"{subject_id}:{digest}\n".encode())
    return h.hexdigest()


def vouched(folder: Path) -> dict[str, str]:
    """The SHA-256 of each cohort-level file as it is now (for cohort.json, when a cohort is finished)."""
    return {name: sha256_file(Path(folder) / name) for name in VOUCHED_FILES}


def findings(folder: Path, info: dict, records: list[tuple[str, str, dict]] | None, resume: str) -> list[str]:
    """Every way `folder` differs from what its cohort.json (`info`) vouches for; [] when intact.

    `records` are (subject id, SHA-256 of subject.json, the record) of every subject in index
    order, or None when some are missing (the caller reports those).  `resume` is the command
    that rewrites the cohort-level files from the subjects."""
    folder = Path(folder)
    out = []
    files = info.get("files")
    if not isinstance(files, dict) or not files:
        return [f"{folder / layout.COHORT_INFO} records no hashes of the cohort's files, so they cannot be trusted; "
                f"rewrite them with `{resume}`"]
    intact = set()
    for name in VOUCHED_FILES:
        path = folder / name
        fix = ("restore it from a copy (provenance.json holds the plan that was run)" if name == layout.PLAN
               else f"rewrite it with `{resume}`")
        expected = files.get(name)
        if not expected:
            out.append(f"{folder / layout.COHORT_INFO} records no hash for {name}; {fix}")
            continue
        try:
            actual = sha256_file(path)
        except FileNotFoundError:
            out.append(f"{path} is missing; {fix}")
            continue
        except OSError as error:
            out.append(f"{path} cannot be read ({error}); {fix}")
            continue
        if actual != expected:
            out.append(f"{path} is not the file this cohort was finished with (damaged or edited: its SHA-256 "
                       f"differs from the one in {layout.COHORT_INFO}); {fix}")
        else:
            intact.add(name)
    if records is not None and info.get("records_hash") != records_hash([(sid, digest) for sid, digest, _ in records]):
        foreign = foreign_subjects(folder, records) if layout.MANIFEST_JSON in intact else []
        for subject_id in foreign:
            out.append(f"{layout.SUBJECTS}/{subject_id} is not this cohort's subject (its file hashes differ from "
                       f"its row in {layout.MANIFEST_JSON}: copied in from another cohort or replaced); move the "
                       f"folder aside and run `{resume}` to regenerate it")
        if not foreign:
            out.append(f"a subject.json was edited or replaced (records_hash in {layout.COHORT_INFO} differs); "
                       f"run `synth verify {folder}` to check every subject's files")
    return out


def foreign_subjects(folder: Path, records: list[tuple[str, str, dict]]) -> list[str]:
    """Ids of the subjects whose recorded file hashes are not the ones in manifest.json (call it once
    manifest.json is known to be the vouched one)."""
    import json

    try:
        rows = json.loads((folder / layout.MANIFEST_JSON).read_text(encoding="utf-8"))["rows"]
        by_id = {row["subject_id"]: row.get("hashes") for row in rows}
    except (OSError, ValueError, KeyError, TypeError):
        return []
    return [sid for sid, _digest, record in records if by_id.get(sid) != record.get("hashes")]
