"""Read a cohort folder written by `synth run`, refusing anything that is not one."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import __version__
from ..plan.model import Plan


class CohortError(Exception):
    """A folder that cannot be validated; the message names the folder and the fix."""


@dataclass
class SubjectFiles:
    index: int
    subject_id: str
    folder: Path
    record: dict
    verified: set = field(default_factory=set)

    def image(self) -> np.ndarray:
        return self._read("image.nii.gz")

    def labels(self) -> np.ndarray:
        return self._read("labels.nii.gz")

    def lesions(self) -> np.ndarray:
        return self._read("lesions.nii.gz")

    def _read(self, name: str) -> np.ndarray:
        """Check the file against the SHA-256 that `synth run` recorded, then read it.

        ITK reads a truncated .nii.gz without complaint (the missing voxels come back as 0), so
        a damaged file would otherwise be validated as if it were the cohort."""
        path = self.folder / name
        expected = (self.record.get("hashes") or {}).get(name)
        if expected and name not in self.verified and path.is_file():
            if _sha256(path) != expected:
                cohort = self.folder.parent.parent
                raise CohortError(
                    f"{path} does not match the SHA-256 recorded when it was written (damaged or edited); "
                    f"move {self.folder} aside and run `synth run --plan {cohort / 'plan.json'} --out {cohort} "
                    "--resume` to regenerate that subject exactly")
            self.verified.add(name)
        return _read(path)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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
    info_file, plan_file = folder / "cohort.json", folder / "plan.json"
    if not plan_file.is_file():
        raise CohortError(f"{folder} has no plan.json; it is not a synthspec cohort")
    if not info_file.is_file():
        raise CohortError(f"{folder} is incomplete (no cohort.json); finish it with `synth run SPEC --out {folder} --resume`")
    try:
        info = json.loads(info_file.read_text(encoding="utf-8"))
        plan = Plan.model_validate_json(plan_file.read_text(encoding="utf-8"))
    except Exception as error:  # noqa: BLE001 - damaged or foreign files
        raise CohortError(f"{folder}: cohort.json or plan.json is damaged ({type(error).__name__})") from None
    if info.get("synthspec_version") != __version__:
        raise CohortError(f"{folder} was written by synthspec {info.get('synthspec_version')}; "
                          f"this is {__version__}: validate it with that version or regenerate it")
    subjects = []
    for k in range(plan.subjects):
        sub = folder / "subjects" / f"S{k:06d}"
        record_file = sub / "subject.json"
        if not record_file.is_file():
            raise CohortError(f"{sub} is missing; complete the cohort with `synth run --resume`")
        subjects.append(SubjectFiles(k, f"S{k:06d}", sub, json.loads(record_file.read_text(encoding="utf-8"))))
    if not subjects:
        raise CohortError(f"{folder} holds no subjects")
    return Cohort(folder=folder, plan=plan, info=info, subjects=subjects)
