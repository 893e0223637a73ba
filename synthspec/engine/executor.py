"""The local executor: subjects in batches, each written atomically, resumable at any moment.

The cohort folder's layout is cohort/layout.py's; subjects are written by cohort/writer.py.
A subject exists iff its folder exists; an interrupted run leaves only `.tmp-*` folders,
which the next run removes.  Subject k depends only on the plan and k
(`engine.generate_subject`), so a resumed cohort is byte-identical to an uninterrupted one.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from synthspec.cohort import layout
from synthspec.cohort.atomic import read_regular
from synthspec.cohort.writer import finish, write_subject
from synthspec.engine.subject import generate_subject
from synthspec.errors import Failure
from synthspec.plan.model import Plan

class RunError(Failure):
    """A run that cannot start or continue; the message says what to do."""


@dataclass
class RunSummary:
    out: Path
    generated: int
    skipped: int
    seconds: float
    content_hash: str


def _clean_partial(out: Path) -> int:
    """Remove what an interrupted run left: staged subject folders and half-written top-level files."""
    from synthspec.cohort.folder import remove_leftovers

    removed = remove_leftovers(out)
    subjects = out / layout.SUBJECTS
    if subjects.is_dir():
        for tmp in subjects.glob(layout.STAGING_PREFIX + "*"):
            shutil.rmtree(tmp, ignore_errors=True)
            removed += 1
    return removed


def _previous_plan(plan_file: Path, plan: Plan) -> Plan:
    """The plan a cohort folder was started with; another version's folder is refused by name first."""
    try:
        data = json.loads(read_regular(plan_file).decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise RunError(f"{plan_file} is not a synthspec plan ({type(error).__name__}); choose another --out") from None
    version = data.get("synthspec_version") if isinstance(data, dict) else None
    if version is not None and version != plan.synthspec_version:
        raise RunError(f"{plan_file.parent} was written by synthspec {version}, this is {plan.synthspec_version}; "
                       "resume it with that version or generate into a new --out")
    try:
        return Plan.model_validate(data)
    except Exception as error:  # noqa: BLE001 - a foreign or damaged folder
        raise RunError(f"{plan_file} is not a synthspec plan ({type(error).__name__}); choose another --out") from None


def _prepare(out: Path, plan: Plan, resume: bool) -> Plan:
    """Make `out` ready for `plan` (the caller holds its lock); returns the plan the folder holds.

    A folder holding nothing but the temporary files of an interrupted start (killed while
    plan.json was written) counts as empty, so it can be started or resumed."""
    from synthspec.cohort.atomic import write_text_atomic
    from synthspec.cohort.folder import only_leftovers

    plan_file = out / layout.PLAN
    if plan_file.exists():
        previous = _previous_plan(plan_file, plan)
        if not resume:
            raise RunError(f"{out} already holds a cohort; use --resume to complete it or choose another --out "
                           "(nothing was changed)")
        if previous.hash() != plan.hash():
            raise RunError(f"{out} was started from a different plan (spec, seed, size or device changed); "
                           "resume with the same spec and options, or choose another --out")
        return previous
    if any(out.iterdir()) and not only_leftovers(out):
        if not resume:
            raise RunError(f"{out} exists and is not empty; choose an empty or new --out (nothing was changed)")
        raise RunError(f"{out} holds no plan.json, so there is nothing to resume; choose an empty or new --out")
    _clean_partial(out)
    write_text_atomic(plan_file, json.dumps(plan.model_dump(mode="json"), indent=2, sort_keys=True))
    return plan


def _progress(total: int, initial: int):
    try:
        from tqdm import tqdm
    except ImportError:  # progress is a convenience, never a requirement
        return None
    return tqdm(total=total, initial=initial, unit="subject", desc="generating", file=sys.stderr,
                disable=os.environ.get("SYNTH_NO_PROGRESS") == "1", dynamic_ncols=True)


def run(plan: Plan, out: Path, resume: bool = False, device: str | None = None, stop_after: int | None = None) -> RunSummary:
    """Generate every missing subject of `plan` into `out` in this process; `stop_after` is for tests of interruption.

    The folder is locked for the whole run (a concurrent run or resume is refused), and the plan
    that is run and recorded is the folder's own plan.json once it exists."""
    import torch

    from synthspec.plan.estimate import cuda_usable

    if plan.device == "cuda" and not cuda_usable():
        raise RunError("this plan runs on CUDA, but no CUDA GPU is usable here; run it on a GPU machine (or a Ray "
                       "cluster with GPUs: --executor ray), or make a CPU plan with `synth plan SPEC --device cpu`")
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // max(1, plan.workers)))

    def generate_here(plan: Plan, todo: list[int], advance) -> int:
        generated = 0
        for start in range(0, len(todo), plan.batch_size):
            for k in todo[start:start + plan.batch_size]:
                if stop_after is not None and generated >= stop_after:
                    raise KeyboardInterrupt
                write_subject(out, plan, generate_subject(plan, k, device=device))
                generated += 1
                advance()
        return generated

    return run_with(generate_here, plan, out, resume)


def run_with(generate, plan: Plan, out: Path, resume: bool) -> RunSummary:
    """The part every executor shares: check and lock `out`, take the folder's own plan, find the subjects still
    missing, let `generate(plan, todo, advance)` write them (calling `advance()` once per subject written and
    returning how many it wrote), and finish the cohort (manifests, tables, cohort.json).

    `generate` may write subjects in any order and from any process: a subject exists iff its folder was renamed
    into place, and `finish` reads the records from the folders."""
    from synthspec.cohort.folder import check_out, locked, write_failure

    check_out(out)
    resume_command = f"synth run --plan {out / layout.PLAN} --out {out} --resume"
    with write_failure(out, resume_command):
        out.mkdir(parents=True, exist_ok=True)
        with locked(out):
            plan = _prepare(out, plan, resume)
            _clean_partial(out)
            todo = [k for k in range(plan.subjects) if not layout.subject_dir(out, k).is_dir()]
            done_before = plan.subjects - len(todo)
            bar = _progress(plan.subjects, done_before)
            started = time.perf_counter()
            try:
                generated = generate(plan, todo, (lambda: bar.update(1)) if bar is not None else (lambda: None))
            finally:
                if bar is not None:
                    bar.close()
            missing = [k for k in todo if not layout.subject_dir(out, k).is_dir()]
            if missing:
                raise RunError(f"{len(missing)} subject(s) were not written (first: {layout.subject_id(missing[0])}); "
                               f"complete the cohort with `{resume_command}`")
            digest = finish(out, plan)
            return RunSummary(out=out, generated=generated, skipped=done_before,
                              seconds=time.perf_counter() - started, content_hash=digest)
