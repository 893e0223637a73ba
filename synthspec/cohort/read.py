"""Read a cohort folder written by `synth run`, refusing anything that is not one.

Every volume is checked against the SHA-256 recorded when it was written before it is read;
a subject holds the image channels its plan declares (`SubjectFiles.channel(name)`; `image()`
is the first).  Validation, reports and the reader pack read cohorts only through here.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from synthspec import __version__
from synthspec.errors import InputError
from synthspec.plan.model import Plan
from synthspec.cohort import layout
from synthspec.cohort import integrity
from synthspec.cohort.atomic import read_regular, sha256_file


class CohortError(InputError):
    """A folder that cannot be validated; the message names the folder and the fix."""


@dataclass
class SubjectFiles:
    index: int
    subject_id: str
    folder: Path
    record: dict
    shape: tuple | None = None       # the plan's grid (z, y, x): every volume must have it
    verified: set = field(default_factory=set)
    channels: tuple[str, ...] = ("image",)
    channel_shapes: dict = field(default_factory=dict)
    """Shape of each channel's volume where it is not the grid's (a radiograph is one image, not a volume)."""
    channel_files: dict = field(default_factory=dict)
    """File name of each image channel in the subject folder (`layout.channel_file(name, plan)`); a channel not
    listed is `<name>.nii.gz`."""

    def channel_file(self, name: str) -> str:
        """The file name (in the subject folder) of image channel `name`."""
        if name not in self.channels:
            raise CohortError(f"{self.folder} has no image channel {name!r} (its channels: {', '.join(self.channels)})")
        return self.channel_files.get(name) or layout.channel_file(name)

    def channel(self, name: str) -> np.ndarray:
        return self._read(self.channel_file(name), self.channel_shapes.get(name))

    def detector_mask(self, name: str) -> np.ndarray:
        """A mask in a radiograph's detector plane (`labels_projected`, `lesions_projected`), on the image's shape."""
        files = self.record.get("files") or {}
        if name not in files:
            raise CohortError(f"{self.folder} has no {name} mask (a radiograph cohort written with `masks` has one)")
        return self._read(layout.channel_file(name), self.channel_shapes.get(self.channels[0]))

    def image(self) -> np.ndarray:
        """The first image channel (the CT volume)."""
        return self.channel(self.channels[0])

    def labels(self) -> np.ndarray:
        return self._read(layout.LABELS)

    def lesions(self) -> np.ndarray:
        return self._read(layout.LESIONS)

    def mask(self, name: str) -> np.ndarray:
        """A pathology's own mask on the grid (`tumour_compartments`: BraTS labels), as the record lists it."""
        files = self.record.get("files") or {}
        if name not in files:
            raise CohortError(f"{self.folder} has no {name} mask (a cohort written with `masks` whose pathology "
                              "delivers one has it)")
        return self._read(layout.channel_file(name))

    def extra_masks(self) -> list[str]:
        """Names of the pathology masks this subject's record lists (beyond labels, lesions and semantic)."""
        files = self.record.get("files") or {}
        skip = {"labels", "lesions", "semantic", "labels_projected", "lesions_projected", *self.channels}
        return sorted(k for k, v in files.items() if k not in skip and str(v).endswith(".nii.gz"))

    def check_files(self) -> None:
        """Check every file the subject's record lists against its recorded SHA-256 (a gate such as
        `synth validate` passes a subject only when all of its files are the ones written)."""
        for name in sorted(self.record.get("hashes") or {}):
            self._verify(name)

    def _verify(self, name: str) -> None:
        """Check one file against the SHA-256 that `synth run` recorded (once per file); a recorded file that is
        gone is an error too."""
        path = self.folder / name
        expected = (self.record.get("hashes") or {}).get(name)
        if expected and not os.path.lexists(path):
            raise CohortError(f"{path} is missing; move {self.folder} aside and regenerate the subject "
                              "with `synth run ... --resume`")
        if name not in self.verified and os.path.lexists(path):
            if not expected:
                raise CohortError(f"{self.folder / 'subject.json'} records no hash for {name}, so the file cannot be "
                                  "trusted; regenerate the subject (move the folder aside, `synth run --plan ... "
                                  "--resume`)")
            try:
                actual = sha256_file(path)
            except OSError as error:
                raise CohortError(f"{path} cannot be read ({error.strerror or error}); move {self.folder} aside and "
                                  "regenerate the subject with `synth run ... --resume`") from None
            if actual != expected:
                cohort = self.folder.parent.parent
                raise CohortError(
                    f"{path} does not match the SHA-256 recorded when it was written (damaged or edited); "
                    f"move {self.folder} aside and run `synth run --plan {cohort / 'plan.json'} --out {cohort} "
                    "--resume` to regenerate that subject exactly")
            self.verified.add(name)

    def _read(self, name: str, shape: tuple | None = None) -> np.ndarray:
        """Check the file against the SHA-256 that `synth run` recorded, then read it.

        ITK reads a truncated .nii.gz without complaint (the missing voxels come back as 0), so
        a damaged file would otherwise be validated as if it were the cohort."""
        path = self.folder / name
        self._verify(name)
        volume = _read(path)
        expected_shape = shape or self.shape
        if expected_shape is not None and tuple(volume.shape) != tuple(expected_shape):
            what = "the plan's grid is" if shape is None else "the plan's channel is"
            raise CohortError(f"{path} holds a {'x'.join(map(str, volume.shape))} volume, but {what} "
                              f"{'x'.join(map(str, expected_shape))} (z x y x x); regenerate the subject")
        return volume


def _read(path: Path) -> np.ndarray:
    import SimpleITK as sitk

    if not path.is_file():
        raise CohortError(f"{path} is missing; regenerate the subject with `synth run ... --resume`")
    try:
        return sitk.GetArrayFromImage(sitk.ReadImage(str(path)))
    except RuntimeError as error:
        raise CohortError(f"{path} cannot be read as NIfTI ({str(error).strip().splitlines()[-1][:120]})") from None


@dataclass
class Cohort:
    folder: Path
    plan: Plan
    info: dict
    subjects: list[SubjectFiles]

    @property
    def spacing(self) -> tuple[float, float, float]:
        return tuple(self.plan.grid.spacing)


def load(folder: Path) -> Cohort:
    folder = Path(folder)
    if not folder.is_dir():
        raise CohortError(f"{folder} is not a folder; give the --out folder of `synth run`")
    info_file, plan_file = folder / layout.COHORT_INFO, folder / layout.PLAN
    if not plan_file.is_file():
        raise CohortError(f"{folder} has no plan.json; it is not a synthspec cohort")
    if not info_file.is_file():
        raise CohortError(f"{folder} is incomplete (no cohort.json); finish it with `synth run SPEC --out {folder} --resume`")
    info = _json_object(info_file, "regenerate the cohort, or restore the file from a copy")
    if info.get("synthspec_version") != __version__:
        raise CohortError(f"{folder} was written by synthspec {info.get('synthspec_version')}; "
                          f"this is {__version__}: validate it with that version or regenerate it")
    try:
        plan = Plan.model_validate_json(read_regular(plan_file))
    except Exception as error:  # noqa: BLE001 - damaged or foreign files
        raise CohortError(f"{plan_file} is damaged ({type(error).__name__}); restore it from a copy "
                          "(the cohort's provenance.json holds the plan that was run)") from None
    if info.get("plan_hash") and plan.hash() != info["plan_hash"]:
        raise CohortError(f"{plan_file} is not the plan this cohort was generated from (its hash differs from "
                          f"plan_hash in cohort.json); restore it from provenance.json or a copy")
    outputs = {t.name: tuple(t.shape) for s in plan.stages if s.kind == "acquire" for t in s.outputs}
    channel_shapes = {name: outputs[name] for name in plan.channels if name in outputs}
    try:
        channel_files = {name: layout.channel_file(name, plan) for name in plan.channels}
    except (KeyError, ValueError) as error:
        raise CohortError(f"{plan_file} names image channels its modality cannot place ({error}); regenerate the "
                          "cohort with this version of synthspec") from None
    resume = f"synth run --plan {plan_file} --out {folder} --resume"
    subjects, records = [], []
    for k in range(plan.subjects):
        sub = layout.subject_dir(folder, k)
        record_file = sub / layout.SUBJECT_RECORD
        if not os.path.lexists(record_file):
            raise CohortError(f"{sub} is missing; complete the cohort with `{resume}`")
        record, digest = _json_object(record_file, f"move {sub} aside and run `{resume}` to regenerate it",
                                      digest=True)
        records.append((layout.subject_id(k), digest, record))
        if not isinstance(record.get("hashes"), dict):
            raise CohortError(f"{record_file} records no file hashes, so its files cannot be trusted; move {sub} aside "
                              f"and run `synth run --plan {plan_file} --out {folder} --resume` to regenerate it")
        subjects.append(SubjectFiles(k, layout.subject_id(k), sub, record, shape=tuple(plan.grid.shape),
                                     channels=tuple(plan.channels), channel_shapes=channel_shapes,
                                     channel_files=channel_files))
    if not subjects:
        raise CohortError(f"{folder} holds no subjects (its plan asks for 0); generate a cohort with subjects >= 1")
    problems = integrity.findings(folder, info, records, resume)
    if problems:
        more = f" (and {len(problems) - 1} more: `synth verify {folder}` lists them)" if len(problems) > 1 else ""
        raise CohortError(problems[0] + more)
    return Cohort(folder=folder, plan=plan, info=info, subjects=subjects)


def _json_object(path: Path, fix: str, digest: bool = False):
    """A JSON object read from a regular file (links and special files refused); with `digest`,
    also the SHA-256 of the bytes read."""
    try:
        raw = read_regular(path)
        data = json.loads(raw.decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else type(error).__name__
        raise CohortError(f"{path} is damaged or unreadable ({reason}); {fix}") from None
    if not isinstance(data, dict):
        raise CohortError(f"{path} is damaged (a JSON {type(data).__name__}, not an object); {fix}")
    return (data, hashlib.sha256(raw).hexdigest()) if digest else data
