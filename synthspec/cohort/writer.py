"""Write a cohort folder: one subject at a time, atomically, then the cohort's closing files.

`write_subject` stages a subject's files in a `.tmp-*` folder and renames it into place only
when complete (a subject exists iff its folder exists); `finish` writes the cohort-level files
(manifests, label tables, MONAI datalist, annotations, provenance, SHA256SUMS) and cohort.json
once every subject is there.  Image channels are NIfTI (one file per channel the modality
declares, named by `layout.channel_file(name, plan)`, with the sidecars a modality writes beside them), masks are NIfTI (anatomy labels, lesion instances and the semantic map of both,
`cohort.interop`), and the modality writes its own series (CT: DICOM), with a DICOM SEG of the masks over
it (`cohort.dicom_seg`, as `output.dicom_seg` asks).  Nothing here writes a
timestamp or a random value: the same subject gives the same bytes, which `synth verify` and
`--resume` rely on.
"""

from __future__ import annotations

import json
from pathlib import Path

from synthspec import __version__
from synthspec.cohort import layout
from synthspec.cohort.atomic import sha256_file, staged_dir, write_text_atomic
from synthspec.cohort.record import content_hash, subject_record

COHORT_FORMAT = 5
"""2: subjects may hold several named image channels; the label table is written with the cohort.
3: cohort.json vouches for the cohort-level files and every subject.json (`cohort.integrity`).
4: semantic.nii.gz per subject; labels.json with finding classes and colours, ITK-SNAP and Slicer tables,
datalist.json, annotations.csv, SHA256SUMS; manifest.csv flat (one column per scalar).
5: seg.dcm, a DICOM SEG beside the DICOM series (`output.dicom_seg`), file kind `dicom_seg`."""
MANIFEST_FIELDS = ("index", "subject_id", "patient_id", "sex", "age_y", "height_mm", "bmi", "scanner")


def write_subject(out: Path, plan, subject) -> dict:
    """Write one generated subject into a staged folder and rename it into place; returns its record."""
    import numpy as np

    from synthspec.identity import identity_for
    from synthspec.cohort.interop import semantic_map
    from synthspec.cohort.nifti import write_nifti
    from synthspec.families import registry

    p = subject.params
    final = layout.subject_dir(out, p.index)
    spacing = tuple(plan.grid.spacing)
    origin = plan.grid.origin_xyz()
    formats = set(plan.writing.formats)
    identity = identity_for(plan.seed_key, plan.cohort_seed, p.index)
    modality = registry.modality(plan.modality)
    with staged_dir(final) as tmp:
        files: dict[str, str] = {}
        if "nifti" in formats or not formats:
            for name, image in subject.channels.items():
                file = layout.channel_file(name, plan)
                write_nifti(tmp / file, image, *modality.channel_geometry(plan, name))
                files[name] = file
            if hasattr(modality, "write_sidecars"):   # MRI: a JSON per channel, .bval/.bvec for diffusion
                files.update(modality.write_sidecars(tmp, subject, plan))
        if "masks" in formats or not formats:
            write_nifti(tmp / layout.LABELS, subject.labels, spacing, origin)
            write_nifti(tmp / layout.LESIONS, subject.lesion_mask, spacing, origin)
            write_nifti(tmp / layout.SEMANTIC, semantic_map(plan, subject.labels, subject.lesion_mask, subject.lesions),
                        spacing, origin)
            files["labels"] = layout.LABELS
            files["lesions"] = layout.LESIONS
            files["semantic"] = layout.SEMANTIC
            for name in pathology_masks(plan):   # a pathology's own masks: every subject has them, zeros without it
                if name not in subject.masks:
                    write_nifti(tmp / layout.channel_file(name), np.zeros(subject.labels.shape, np.uint8), spacing,
                                origin)
                    files[name] = layout.channel_file(name)
            for name, mask in subject.masks.items():   # masks in a radiograph's detector plane, a pathology's masks
                write_nifti(tmp / layout.channel_file(name), mask, *modality.channel_geometry(plan, "image"))
                files[name] = layout.channel_file(name)
        if "png" in formats and hasattr(modality, "write_previews"):
            files.update(modality.write_previews(tmp, subject, plan))
        if "dicom" in formats:
            files["dicom"] = modality.write_series(tmp, subject, plan, identity, __version__)
            if plan.writing.dicom_seg != "none" and getattr(modality, "writes_seg", True):
                from synthspec.cohort.dicom_seg import write_seg

                source = (modality.seg_source(subject) if hasattr(modality, "seg_source")
                          else files["dicom"].rstrip("/"))      # the series the masks lie on
                seg = write_seg(tmp, subject, plan, identity, __version__, source)
                if seg:
                    files["dicom_seg"] = seg
        hashes = {path.relative_to(tmp).as_posix(): sha256_file(path) for path in sorted(tmp.rglob("*")) if path.is_file()}
        record = subject_record(subject, identity, {k: f"{layout.SUBJECTS}/{p.subject_id}/{v}" for k, v in files.items()},
                                hashes)
        write_text_atomic(tmp / layout.SUBJECT_RECORD, json.dumps(record, indent=2, sort_keys=True))
    return record


def pathology_masks(plan) -> list[str]:
    """The extra masks the plan's pathologies deliver (`tumour_compartments`), in name order."""
    from synthspec.families import registry

    kinds = {p.kind for p in plan.stage("sample_population").params.pathologies}
    return sorted({m for kind in kinds for m in getattr(registry.pathology(kind), "masks", ())})


def finish(out: Path, plan) -> str:
    """The cohort-level files and cohort.json of a complete cohort; returns its content hash.

    `plan` must be the folder's own plan.json (the one the cohort was started with), so provenance
    records the plan and sources that shaped the subjects, whatever a resume was started from.
    SHA256SUMS lists every subject file; cohort.json comes last and vouches for everything before
    it (`cohort.integrity`)."""
    from synthspec.cohort import interop
    from synthspec.cohort.integrity import records_hash, vouched
    from synthspec.cohort.manifest import package_versions, write_manifest, write_provenance
    from synthspec.families import registry

    records, digests = [], []
    for k in range(plan.subjects):
        record_file = layout.subject_dir(out, k) / layout.SUBJECT_RECORD
        digests.append((layout.subject_id(k), sha256_file(record_file)))
        records.append(json.loads(record_file.read_text(encoding="utf-8")))
    acquisition = registry.modality(plan.modality).acquisition_fields
    rows, flat = [], []
    for r in records:
        row = {k: r[k] for k in (*MANIFEST_FIELDS, *acquisition, "positive") if k in r}
        row["stratum"] = r["stratum"]
        row["n_lesions"] = len(r["lesions"])
        flat.append(flat_row(r, acquisition, tuple(plan.channels)))
        row["lesions"] = r["lesions"]
        row["files"] = r["files"]
        row["hashes"] = r["hashes"]
        rows.append(row)
    write_manifest(out, rows, flat)
    digest = content_hash(records)
    write_text_atomic(out / layout.LABEL_TABLE, json.dumps(interop.label_table(plan), indent=2, sort_keys=True))
    write_text_atomic(out / layout.LABEL_ITKSNAP, interop.itksnap_labels(plan))
    write_text_atomic(out / layout.LABEL_SLICER, interop.slicer_colour_table(plan))
    write_text_atomic(out / layout.DATALIST, json.dumps(interop.datalist(plan, records), indent=2) + "\n")
    write_text_atomic(out / layout.ANNOTATIONS, interop.annotations_csv(records))
    write_provenance(out, {
        "synthetic": True,
        "cohort": plan.cohort_name, "spec_file": Path(plan.spec_file).name, "spec_hash": plan.spec_hash,
        "spec_text": plan.sources.get(plan.spec_file), "sources": plan.sources,
        "seed_key": plan.seed_key, "cohort_seed": plan.cohort_seed,
        "seeding": "blake2b(seed_key:cohort_seed:index:stream) -> Philox (numpy) / torch.Generator per stream",
        "streams": ["population", "anatomy", "lesions", "noise"],
        "plan_hash": plan.hash(), "plan": plan.model_dump(mode="json"), "versions": package_versions(),
        "content_hash": digest,
    })
    write_text_atomic(out / layout.CHECKSUMS, interop.checksums(records, digests))
    write_text_atomic(out / layout.COHORT_INFO, json.dumps({
        "format": COHORT_FORMAT, "synthspec_version": __version__, "synthetic": True, "cohort": plan.cohort_name,
        "subjects": plan.subjects, "spec_hash": plan.spec_hash, "plan_hash": plan.hash(), "content_hash": digest,
        "channels": plan.channels, "modality": plan.modality, "anatomy": plan.anatomy,
        "positives": sum(1 for r in records if r["positive"]),
        "anatomy_resamples": sum(r.get("anatomy_attempts", 1) - 1 for r in records),
        "anatomy_failing_subjects": sum(1 for r in records if r.get("anatomy_failures")),
        "files": vouched(out), "records_hash": records_hash(digests),
    }, indent=2, sort_keys=True))
    return digest


def flat_row(record: dict, acquisition: tuple[str, ...], channels: tuple[str, ...] = ("image",)) -> dict:
    """A subject's manifest.csv row: one column per scalar, then one `<kind>_path` column per file kind
    (image channels, labels, lesions, semantic, dicom folder, dicom_seg; a subject without one leaves its
    cell empty); the stratum as `key=value;...` ("all" when the cohort is not stratified)."""
    row = {k: record[k] for k in (*MANIFEST_FIELDS, *acquisition) if k in record}
    stratum = record.get("stratum") or {}
    row["stratum"] = ";".join(f"{k}={v}" for k, v in sorted(stratum.items())) or "all"
    row["positive"] = bool(record["positive"])
    row["n_lesions"] = len(record["lesions"])
    row["series_uid"] = record.get("series_uid")
    files = record["files"]
    first = [k for k in (*channels, "labels", "lesions", "semantic") if k in files]
    for kind in (*first, *sorted(k for k in files if k not in first)):
        row[f"{kind}_path"] = files[kind]
    return row
