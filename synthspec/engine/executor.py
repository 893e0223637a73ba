"""Execute a plan: subjects in batches, each written atomically, resumable at any moment.

Layout of a cohort folder:

    plan.json                 the plan that was run (its hash guards --resume)
    subjects/S000000/         one folder per subject, renamed into place only when complete
        image.nii.gz  labels.nii.gz  lesions.nii.gz  dicom/IM000001.dcm ...  subject.json
    manifest.csv  manifest.json  provenance.json  cohort.json   (written when all subjects exist)

A subject exists iff its folder exists; an interrupted run leaves only `.tmp-*`
folders, which the next run removes.  Subject k depends only on the plan and k,
so a resumed cohort is byte-identical to an uninterrupted one.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from synthspec import __version__
from synthspec.plan.model import Plan
from synthspec.engine.subject import GeneratedSubject, generate, origin_xyz
from synthspec.engine.sample import sample_subject

COHORT_FORMAT = 1


class RunError(Exception):
    """A run that cannot start or continue; the message says what to do."""


@dataclass
class RunSummary:
    out: Path
    generated: int
    skipped: int
    seconds: float
    content_hash: str


def subject_dir(out: Path, index: int) -> Path:
    return out / "subjects" / f"S{index:06d}"


def write_subject(out: Path, plan: Plan, subject: GeneratedSubject) -> dict:
    """Write one subject into a staged folder and rename it into place; returns its record."""
    from synthspec.cohort.atomic import sha256_file, staged_dir, write_text_atomic
    from synthspec.families.modality.ct.dicom import CTSeriesInfo, body_part_for, write_ct_series
    from synthspec.cohort.identity import identity_for
    from synthspec.cohort.nifti import write_nifti

    p = subject.params
    final = subject_dir(out, p.index)
    spacing = tuple(plan.grid.spacing)
    origin = origin_xyz(plan)
    formats = set(next(s for s in plan.stages if s.kind == "write").params.get("formats") or [])
    identity = identity_for(plan.spec_hash, plan.cohort_seed, p.index)
    with staged_dir(final) as tmp:
        files: dict[str, str] = {}
        if "nifti" in formats or not formats:
            write_nifti(tmp / "image.nii.gz", subject.image, spacing, origin)
            files["image"] = "image.nii.gz"
        if "masks" in formats or not formats:
            write_nifti(tmp / "labels.nii.gz", subject.labels, spacing, origin)
            write_nifti(tmp / "lesions.nii.gz", subject.lesion_mask, spacing, origin)
            files["labels"] = "labels.nii.gz"
            files["lesions"] = "lesions.nii.gz"
        if "dicom" in formats:
            info = CTSeriesInfo(identity=identity, age_y=p.age_y, sex=p.sex, scanner=p.scanner, kv=p.kv, mas=p.mas,
                                kernel=p.kernel, slice_thickness_mm=p.slice_thickness_mm, spec_hash=plan.spec_hash,
                                synthspec_version=__version__,
                                series_description=f"SYNTHETIC {plan.cohort_name} {p.subject_id}",
                                body_part=body_part_for(plan.anatomy))
            (tmp / "dicom").mkdir()
            write_ct_series(tmp / "dicom", subject.image, spacing, origin, info)
            files["dicom"] = "dicom/"
        hashes = {}
        for path in sorted(tmp.rglob("*")):
            if path.is_file():
                hashes[path.relative_to(tmp).as_posix()] = sha256_file(path)
        lesions = [{"id": l.id, "kind": l.kind, "subtype": l.subtype, "location": l.location,
                    "diameter_mm": round(l.diameter_mm, 3), "centre_mm": [round(c, 2) for c in l.centre_mm],
                    "bbox_voxels": list(l.bbox), "volume_ml": round(l.volume_ml, 5), "attempts": l.attempts}
                   for l in subject.lesions]
        record = {
            "index": p.index, "subject_id": p.subject_id, "patient_id": identity.patient_id,
            "sex": p.sex, "age_y": p.age_y, "height_mm": p.height_mm, "bmi": p.bmi, "stratum": p.stratum,
            "scanner": p.scanner, "kv": p.kv, "mas": p.mas, "kernel": p.kernel,
            "slice_thickness_mm": p.slice_thickness_mm, "positive": bool(subject.lesions),
            "lesions_requested": len(p.lesions), "lesions": lesions, "rejected": subject.rejected,
            "anatomy_attempts": subject.attempts, "anatomy_failures": subject.anatomy_failures or [],
            "files": {k: f"subjects/{p.subject_id}/{v}" for k, v in files.items()}, "hashes": hashes,
            "series_uid": identity.series_uid, "study_uid": identity.study_uid,
        }
        write_text_atomic(tmp / "subject.json", json.dumps(record, indent=2, sort_keys=True))
    return record


def _clean_partial(out: Path) -> int:
    removed = 0
    subjects = out / "subjects"
    if subjects.is_dir():
        for tmp in subjects.glob(".tmp-*"):
            shutil.rmtree(tmp, ignore_errors=True)
            removed += 1
    return removed


def _prepare(out: Path, plan: Plan, resume: bool) -> None:
    from synthspec.cohort.atomic import write_text_atomic

    plan_file = out / "plan.json"
    if plan_file.exists():
        try:
            previous = Plan.model_validate_json(plan_file.read_text(encoding="utf-8"))
        except Exception as error:  # noqa: BLE001 - a foreign or damaged folder
            raise RunError(f"{plan_file} is not a synthspec plan ({type(error).__name__}); choose another --out") from None
        if not resume:
            raise RunError(f"{out} already holds a cohort; use --resume to complete it or choose another --out "
                           "(nothing was changed)")
        if previous.synthspec_version != plan.synthspec_version:
            raise RunError(f"{out} was written by synthspec {previous.synthspec_version}, this is {plan.synthspec_version}; "
                           "resume it with that version or generate into a new --out")
        if previous.hash() != plan.hash():
            raise RunError(f"{out} was started from a different plan (spec, seed, size or device changed); "
                           "resume with the same spec and options, or choose another --out")
        return
    if out.exists() and any(out.iterdir()):
        if not resume:
            raise RunError(f"{out} exists and is not empty; choose an empty or new --out (nothing was changed)")
        raise RunError(f"{out} holds no plan.json, so there is nothing to resume; choose an empty or new --out")
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(plan_file, json.dumps(plan.model_dump(mode="json"), indent=2, sort_keys=True))


def content_hash(records: list[dict]) -> str:
    h = hashlib.sha256()
    for r in sorted(records, key=lambda r: r["index"]):
        h.update(r["subject_id"].encode())
        for name, digest in sorted(r["hashes"].items()):
            h.update(f"{name}:{digest}".encode())
    return h.hexdigest()


def _finish(out: Path, plan: Plan) -> str:
    from synthspec.cohort.atomic import write_text_atomic
    from synthspec.cohort.manifest import package_versions, write_manifest, write_provenance

    records = [json.loads((subject_dir(out, k) / "subject.json").read_text(encoding="utf-8")) for k in range(plan.subjects)]
    rows = []
    for r in records:
        row = {k: r[k] for k in ("index", "subject_id", "patient_id", "sex", "age_y", "height_mm", "bmi", "scanner", "kv",
                                 "mas", "kernel", "slice_thickness_mm", "positive")}
        row["stratum"] = r["stratum"]
        row["n_lesions"] = len(r["lesions"])
        row["lesions"] = r["lesions"]
        row["files"] = r["files"]
        row["hashes"] = r["hashes"]
        rows.append(row)
    write_manifest(out, rows)
    digest = content_hash(records)
    spec_text = Path(plan.spec_file).read_text(encoding="utf-8") if Path(plan.spec_file).is_file() else None
    write_provenance(out, {
        "synthetic": True,
        "cohort": plan.cohort_name, "spec_file": Path(plan.spec_file).name, "spec_hash": plan.spec_hash,
        "spec_text": spec_text, "seed_key": plan.seed_key, "cohort_seed": plan.cohort_seed,
        "seeding": "blake2b(seed_key:cohort_seed:index:stream) -> Philox (numpy) / torch.Generator per stream",
        "streams": ["population", "anatomy", "lesions", "noise"],
        "plan_hash": plan.hash(), "plan": plan.model_dump(mode="json"), "versions": package_versions(),
        "content_hash": digest,
    })
    write_text_atomic(out / "cohort.json", json.dumps({
        "format": COHORT_FORMAT, "synthspec_version": __version__, "synthetic": True, "cohort": plan.cohort_name,
        "subjects": plan.subjects, "spec_hash": plan.spec_hash, "plan_hash": plan.hash(), "content_hash": digest,
        "positives": sum(1 for r in records if r["positive"]),
        "anatomy_resamples": sum(r.get("anatomy_attempts", 1) - 1 for r in records),
        "anatomy_failing_subjects": sum(1 for r in records if r.get("anatomy_failures")),
    }, indent=2, sort_keys=True))
    return digest


def _progress(total: int, initial: int):
    try:
        from tqdm import tqdm
    except ImportError:  # progress is a convenience, never a requirement
        return None
    return tqdm(total=total, initial=initial, unit="subject", desc="generating", file=sys.stderr,
                disable=os.environ.get("SYNTH_NO_PROGRESS") == "1", dynamic_ncols=True)


def run(plan: Plan, out: Path, resume: bool = False, device: str | None = None, stop_after: int | None = None) -> RunSummary:
    """Generate every missing subject of `plan` into `out`; `stop_after` is for tests of interruption."""
    import torch

    torch.set_num_threads(max(1, (os.cpu_count() or 1) // max(1, plan.workers)))
    _prepare(out, plan, resume)
    _clean_partial(out)
    todo = [k for k in range(plan.subjects) if not subject_dir(out, k).is_dir()]
    done_before = plan.subjects - len(todo)
    bar = _progress(plan.subjects, done_before)
    started = time.perf_counter()
    generated = 0
    try:
        for start in range(0, len(todo), plan.batch_size):
            batch = todo[start:start + plan.batch_size]
            for k in batch:
                if stop_after is not None and generated >= stop_after:
                    raise KeyboardInterrupt
                subject = generate(plan, sample_subject(plan, k), device=device)
                write_subject(out, plan, subject)
                generated += 1
                if bar is not None:
                    bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    digest = _finish(out, plan)
    return RunSummary(out=out, generated=generated, skipped=done_before, seconds=time.perf_counter() - started,
                      content_hash=digest)
