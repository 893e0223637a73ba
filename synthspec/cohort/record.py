"""The subject record: what subject.json says about one subject, built in one place.

`subject_record` is the whole record written beside a subject's files; `checked_record` is the
part the anatomy checks read, available before anything is written (the generator's re-draw
loop judges a subject in memory with the same fields it will later read from disk).
`content_hash` is the cohort's identity over every subject's file hashes.
"""

from __future__ import annotations

import hashlib


def lesion_entries(lesions) -> list[dict]:
    """Inserted lesions as recorded: centre_mm in the grid's LPS mm frame (x, y, z); bbox_voxels
    (z0, y0, x0, z1, y1, x1) half-open voxel indices holding every voxel the lesion changed."""
    return [{"id": l.id, "kind": l.kind, "subtype": l.subtype, "location": l.location,
             "diameter_mm": round(l.diameter_mm, 3), "centre_mm": [round(c, 2) for c in l.centre_mm],
             "bbox_voxels": list(l.bbox), "volume_ml": round(l.volume_ml, 5), "attempts": l.attempts,
             **({"attributes": l.attributes} if getattr(l, "attributes", None) else {})}
            for l in lesions]


def checked_record(params, lesions, lesions_requested: int | None = None) -> dict:
    """The fields the anatomy checks read, from sampled parameters and the lesions actually inserted."""
    return {"subject_id": params.subject_id, "index": params.index, "sex": params.sex, "age_y": params.age_y,
            "height_mm": params.height_mm, "bmi": params.bmi, "positive": bool(lesions),
            "lesions_requested": len(params.lesions) if lesions_requested is None else lesions_requested,
            "lesions": lesion_entries(lesions)}   # rounded as on disk: generation and validate judge the same numbers


def subject_record(subject, identity, files: dict[str, str], hashes: dict[str, str]) -> dict:
    """The subject.json of a generated subject (`engine.GeneratedSubject`)."""
    p = subject.params
    return {
        "index": p.index, "subject_id": p.subject_id, "patient_id": identity.patient_id,
        "sex": p.sex, "age_y": p.age_y, "height_mm": p.height_mm, "bmi": p.bmi, "stratum": p.stratum,
        "scanner": p.scanner, **p.acquisition, "positive": bool(subject.lesions),
        "lesions_requested": len(p.lesions), "lesions": lesion_entries(subject.lesions), "rejected": subject.rejected,
        "anatomy_attempts": subject.attempts, "anatomy_failures": subject.anatomy_failures or [],
        "files": files, "hashes": hashes, "series_uid": identity.series_uid, "study_uid": identity.study_uid,
    }


def content_hash(records: list[dict]) -> str:
    """SHA-256 over every subject's id and file hashes, in index order: the cohort's identity."""
    h = hashlib.sha256()
    for r in sorted(records, key=lambda r: r["index"]):
        h.update(r["subject_id"].encode())
        for name, digest in sorted(r["hashes"].items()):
            h.update(f"{name}:{digest}".encode())
    return h.hexdigest()
