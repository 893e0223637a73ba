"""`synth verify`: check a cohort's files on disk against the SHA-256 recorded when they were written, and
regenerate a sample of subjects from the stored plan to check that they come out byte-identical.

Only the standard library is imported at module level; the plan model and the generator load inside
`check`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from synthspec.cohort.atomic import read_regular, sha256_file
from synthspec.errors import InputError
from synthspec.cohort import layout

# the files of a subject folder that `synth run` hashes; anything else there (subject.json, notes) is not checked
CHECKED_FOLDER = layout.DICOM
_SHA256 = re.compile(r"[0-9a-f]{64}")


class VerifyError(InputError):
    """A cohort that cannot be verified at all; the message names the file and the fix (exit 2)."""


@dataclass
class Finding:
    path: Path
    problem: str


@dataclass
class SubjectCheck:
    index: int
    folder: Path
    findings: list[Finding] = field(default_factory=list)
    files: int = 0                      # files hashed on disk
    sampled: bool = False
    regenerated: bool | None = None     # True identical, False differs, None not regenerated
    differs: list[str] = field(default_factory=list)

    @property
    def subject_id(self) -> str:
        return f"S{self.index:06d}"


@dataclass
class Report:
    cohort: Path
    plan_file: Path
    subjects: list[SubjectCheck]
    cohort_findings: list[str] = field(default_factory=list)
    record_digests: dict[str, str] = field(default_factory=dict)
    """SHA-256 of each subject.json read, by subject id (for cohort.json's records_hash)."""

    @property
    def sampled(self) -> list[SubjectCheck]:
        return [s for s in self.subjects if s.sampled]

    @property
    def damaged(self) -> list[SubjectCheck]:
        return [s for s in self.subjects if s.findings]

    @property
    def ok(self) -> bool:
        return not self.cohort_findings and not self.damaged and all(s.regenerated for s in self.sampled)

    def fix(self, folder: Path) -> str:
        """How to regenerate one subject folder byte-identically."""
        command = f"`synth run --plan {self.plan_file} --out {self.cohort} --resume`"
        if folder.exists():
            return f"move {folder} aside and run {command} to regenerate it byte-identically"
        return f"run {command} to regenerate it byte-identically"


def choose_indices(plan, count: int) -> list[int]:
    from synthspec.seeds import analysis_rng

    rng = analysis_rng("verify", plan.seed_key)
    count = min(count, plan.subjects)
    return sorted(int(k) for k in rng.choice(plan.subjects, size=count, replace=False))


def _load_plan(cohort: Path):
    from synthspec import __version__
    from synthspec.plan.model import Plan

    if not cohort.is_dir():
        raise VerifyError(f"{cohort} is not a folder; give the --out folder of `synth run`")
    plan_file = cohort / layout.PLAN
    if not plan_file.is_file():
        raise VerifyError(f"{cohort} has no plan.json; is it a synthspec cohort folder?")
    try:
        data = json.loads(read_regular(plan_file).decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise VerifyError(f"{plan_file} cannot be read as a plan ({type(error).__name__}); "
                          "it is damaged, or the folder is not a synthspec cohort") from None
    version = data.get("synthspec_version") if isinstance(data, dict) else None
    if version is not None and version != __version__:
        raise VerifyError(f"{cohort} was written by synthspec {version}, this is {__version__}; "
                          "verify it with that version")
    try:
        return Plan.model_validate(data)
    except Exception as error:  # noqa: BLE001 - a damaged or foreign file
        raise VerifyError(f"{plan_file} cannot be read as a plan ({type(error).__name__}); "
                          "it is damaged, or the folder is not a synthspec cohort") from None


def _hashes_problem(record) -> str | None:
    if not isinstance(record, dict):
        return f"is not a subject record (a JSON {type(record).__name__}, not an object)"
    hashes = record.get("hashes")
    if "hashes" not in record:
        return 'has no "hashes" entry'
    if not isinstance(hashes, dict) or not hashes:
        return 'has an empty or malformed "hashes" entry'
    for name, digest in hashes.items():
        parts = PurePosixPath(name).parts if isinstance(name, str) else ()
        if (not parts or PurePosixPath(name).is_absolute() or ".." in parts or "\\" in name
                or not isinstance(digest, str) or not _SHA256.fullmatch(digest)):
            return f'has a malformed "hashes" entry ({str(name)[:60]!r})'
    return None


def _read_record(report: Report, folder: Path) -> dict | None:
    """The subject.json of `folder`, None when it is missing; a garbled one is a VerifyError."""
    record_file = folder / layout.SUBJECT_RECORD
    if not os.path.lexists(record_file):
        return None
    try:
        raw = read_regular(record_file)
        record = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        problem = "is not valid JSON"
    except OSError as error:
        problem = f"cannot be read ({error.strerror or type(error).__name__})"
    else:
        problem = _hashes_problem(record)
        report.record_digests[folder.name] = hashlib.sha256(raw).hexdigest()
    if problem:
        raise VerifyError(f"{record_file} {problem} (damaged or edited), so its files cannot be checked; "
                          f"{report.fix(folder)}")
    return record


def _check_files(subject: SubjectCheck, hashes: dict[str, str]) -> None:
    """Hash every recorded file as it is on disk; note missing, damaged and unexpected files."""
    folder = subject.folder
    for name, expected in sorted(hashes.items(), key=lambda item: ("/" in item[0], item[0])):  # NIfTI before DICOM
        path = folder / name
        if not os.path.lexists(path):
            subject.findings.append(Finding(path, "missing"))
            continue
        try:
            actual = sha256_file(path)
        except OSError as error:
            subject.findings.append(Finding(path, f"cannot be read ({error.strerror or type(error).__name__})"))
            continue
        subject.files += 1
        if actual != expected:
            subject.findings.append(Finding(path, "damaged (its SHA-256 differs from the one recorded when it was written)"))
    present = [p for p in sorted(folder.glob("*.nii.gz")) if p.exists()]
    dicom = folder / CHECKED_FOLDER
    if dicom.is_dir():
        present += sorted(p for p in dicom.rglob("*") if not p.is_dir())
    elif dicom.exists():
        present.append(dicom)
    for path in present:
        if path.relative_to(folder).as_posix() not in hashes:
            subject.findings.append(Finding(path, "unexpected (not written by `synth run` for this subject)"))


def _check_content_hash(report: Report, records: dict[int, dict]) -> None:
    """cohort.json vouches for the cohort-level files and every subject.json, and its content hash
    covers every subject's file hashes: a deleted manifest or an edited subject.json shows here."""
    from synthspec.cohort import integrity
    from synthspec.cohort.record import content_hash

    info_file = report.cohort / layout.COHORT_INFO
    resume = f"synth run --plan {report.plan_file} --out {report.cohort} --resume"
    if not os.path.lexists(info_file):
        report.cohort_findings.append(f"{info_file} is missing (the run did not finish); complete the cohort with "
                                      f"`{resume}`")
        return
    try:
        info = json.loads(read_regular(info_file).decode("utf-8"))
        recorded = info["content_hash"]
    except Exception as error:  # noqa: BLE001 - damaged file
        report.cohort_findings.append(f"{info_file} cannot be read ({type(error).__name__}); rewrite it with `{resume}`")
        return
    complete = len(records) == len(report.subjects)
    listed = [(s.subject_id, report.record_digests.get(s.subject_id, ""), records.get(s.index, {}))
              for s in report.subjects]
    problems = integrity.findings(report.cohort, info, listed if complete else None, resume)
    manifest_vouched = not any(p.startswith(str(report.cohort / layout.MANIFEST_JSON)) or
                               p.startswith(f"{info_file} records no") for p in problems)
    foreign = set(integrity.foreign_subjects(report.cohort, listed)) if complete and problems and manifest_vouched \
        else set()
    for subject in report.subjects:   # a subject from another cohort is that subject's finding, with its fix
        if subject.subject_id in foreign:
            subject.findings.append(Finding(subject.folder, "not this cohort's subject (its file hashes differ from "
                                                            f"its row in {layout.MANIFEST_JSON}: copied in or replaced)"))
    report.cohort_findings.extend(p for p in problems if not any(f"/{sid} is not this cohort" in p for sid in foreign))
    if not complete:
        return  # missing subjects are already findings; the hashes are checked once they are back
    actual = content_hash([{"index": k, "subject_id": str(r.get("subject_id", f"S{k:06d}")), "hashes": r["hashes"]}
                           for k, r in records.items()])
    if actual != recorded and not foreign:   # a foreign subject is named above, with its fix
        report.cohort_findings.append(
            f"{info_file}: its content hash does not match the hashes in the subjects' subject.json "
            "(a subject.json was edited or replaced); regenerate the cohort into a new folder with "
            f"`synth run --plan {report.plan_file} --out NEW_FOLDER`")


def check(cohort: Path, count: int = 3, device: str | None = None, *, progress=None) -> Report:
    """Hash the files of every subject on disk and regenerate `count` subjects chosen from the plan's seed.

    `progress(items, desc)`, when given, wraps each loop (a progress bar) and yields the same items."""
    progress = progress or (lambda items, desc: items)
    if count < 1:
        raise VerifyError(f"--sample must be at least 1, not {count}")
    from synthspec.cohort.layout import subject_dir

    cohort = Path(cohort)
    plan = _load_plan(cohort)
    report = Report(cohort=cohort, plan_file=cohort / layout.PLAN,
                    subjects=[SubjectCheck(k, subject_dir(cohort, k)) for k in range(plan.subjects)])
    if not any(s.folder.is_dir() for s in report.subjects):
        raise VerifyError(f"{cohort} holds no subjects; generate them with "
                          f"`synth run --plan {report.plan_file} --out {cohort} --resume`")
    records: dict[int, dict] = {}
    for subject in progress(report.subjects, "hashing"):
        record = _read_record(report, subject.folder)
        if record is None:
            subject.findings.append(Finding(subject.folder if not subject.folder.exists() else subject.folder / layout.SUBJECT_RECORD,
                                            "missing"))
            continue
        records[subject.index] = record
        _check_files(subject, record["hashes"])
    _check_content_hash(report, records)

    from synthspec.cohort.writer import write_subject
    from synthspec.engine.subject import generate_subject

    with tempfile.TemporaryDirectory(prefix="synth-verify-") as tmp:
        for k in progress(choose_indices(plan, count), "regenerating"):
            subject = report.subjects[k]
            subject.sampled = True
            if k not in records:
                subject.differs = ["subject missing from the cohort"]
                continue
            expected = records[k]["hashes"]
            got = write_subject(Path(tmp), plan, generate_subject(plan, k, device=device))["hashes"]
            subject.differs = sorted(name for name in set(expected) | set(got) if expected.get(name) != got.get(name))
            subject.regenerated = not subject.differs
    return report


def verify(cohort: Path, count: int = 3, device: str | None = None) -> list[tuple[int, bool, list[str]]]:
    """(index, ok, problems) for each regenerated subject: ok when it regenerates byte-identically and its files
    on disk match their recorded hashes."""
    report = check(cohort, count, device)
    return [(s.index, bool(s.regenerated) and not s.findings,
             s.differs + [f"{f.path.relative_to(s.folder).as_posix() if f.path != s.folder else s.subject_id}: {f.problem}"
                          for f in s.findings])
            for s in report.sampled]
