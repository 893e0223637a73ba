"""DICOM SEG per subject: bytes, frames, seconds to build and write, and what dciodvfy says.

    .venv/bin/python benchmarks/seg_write.py SPEC [--subjects N] [--cohort DIR] [--repeats 3]

Generates SPEC's cohort (N subjects, CPU) into a temporary folder, or reads the cohort already in
`--cohort`, then writes each subject's SEG again from its masks (labels.nii.gz, lesions.nii.gz,
subject.json) and its DICOM series, once per `dicom_seg` mode (lesions, all), in a scratch copy of
the subject folder.  Prints per subject and mode: the file's bytes, its frames and segments, the
median seconds of `--repeats` writes (reading the series headers, building the dataset with
highdicom, encoding, writing), and dciodvfy's error and warning counts when dciodvfy is installed.
Compare only numbers taken on the same machine.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _subject(folder: Path):
    """The parts of a generated subject write_seg reads, from its written files."""
    import SimpleITK as sitk

    from synthspec.cohort import layout

    record = json.loads((folder / layout.SUBJECT_RECORD).read_text(encoding="utf-8"))
    read = lambda name: sitk.GetArrayFromImage(sitk.ReadImage(str(folder / name)))  # noqa: E731
    lesions = [SimpleNamespace(id=int(l["id"]), kind=l["kind"]) for l in record["lesions"]]
    return record, SimpleNamespace(labels=read(layout.LABELS), lesion_mask=read(layout.LESIONS), lesions=lesions,
                                   params=SimpleNamespace(subject_id=record["subject_id"]))


def _dciodvfy(path: Path) -> tuple[int, int] | None:
    if shutil.which("dciodvfy") is None:
        return None
    result = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=120)
    lines = (result.stdout + result.stderr).splitlines()
    return (sum(1 for line in lines if line.startswith("Error")), sum(1 for line in lines if "Warning" in line))


def main(argv=None) -> int:
    import pydicom

    from synthspec import __version__, api
    from synthspec.cohort import layout
    from synthspec.cohort.dicom_seg import write_seg
    from synthspec.engine.executor import run
    from synthspec.identity import identity_for
    from synthspec.plan.model import Plan

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec", type=Path, nargs="?")
    parser.add_argument("--subjects", type=int, default=2)
    parser.add_argument("--cohort", type=Path, help="a cohort already written (skips generation)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        cohort = args.cohort
        if cohort is None:
            if args.spec is None:
                parser.error("give a spec or --cohort")
            cohort = scratch / "cohort"
            run(api.plan(args.spec, device="cpu", subjects=args.subjects), cohort)
        plan = Plan.model_validate_json((cohort / layout.PLAN).read_text(encoding="utf-8"))
        print(f"grid {tuple(plan.grid.shape)} (z, y, x), spacing {tuple(plan.grid.spacing)} mm; synthspec {__version__}")
        print(f"{'subject':<9} {'mode':<8} {'lesions':>7} {'segments':>8} {'frames':>6} {'bytes':>10} {'seconds':>8}"
              f"  dciodvfy errors / warnings")
        for folder in sorted((cohort / layout.SUBJECTS).iterdir()):
            record, subject = _subject(folder)
            identity = identity_for(plan.seed_key, plan.cohort_seed, record["index"])
            for mode in ("lesions", "all"):
                variant = plan.model_copy(deep=True)
                variant.writing.dicom_seg = mode
                work = scratch / f"{folder.name}-{mode}"
                shutil.rmtree(work, ignore_errors=True)
                work.mkdir()
                shutil.copytree(folder / layout.DICOM, work / layout.DICOM)
                seconds, name = [], None
                for _ in range(max(1, args.repeats)):
                    (work / layout.SEG).unlink(missing_ok=True)
                    started = time.perf_counter()
                    name = write_seg(work, subject, variant, identity, __version__)
                    seconds.append(time.perf_counter() - started)
                if name is None:
                    print(f"{folder.name:<9} {mode:<8} {len(subject.lesions):>7}   (no SEG: nothing to show)")
                    continue
                path = work / name
                ds = pydicom.dcmread(path, stop_before_pixels=True)
                checked = _dciodvfy(path)
                verdict = "not installed" if checked is None else f"{checked[0]} / {checked[1]}"
                print(f"{folder.name:<9} {mode:<8} {len(subject.lesions):>7} {len(ds.SegmentSequence):>8} "
                      f"{int(ds.NumberOfFrames):>6} {path.stat().st_size:>10,} {statistics.median(seconds):>8.2f}"
                      f"  {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
