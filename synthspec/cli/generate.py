"""`synth plan`, `synth run` and `synth verify`: the commands that lower and execute plans.

Only the standard library and `synthspec.cli.common` / `synthspec.errors` are imported here, so
building these parsers costs nothing; the work goes through `synthspec.api`, imported inside the
command functions (and with it the plan, engine, torch and the writers).
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from pathlib import Path

from synthspec.cli.common import DEVICE_HELP, DEVICES, count, progress
from synthspec.engine.executors import EXECUTORS
from synthspec.engine.executors import NAMES as EXECUTOR_NAMES
from synthspec.errors import EXIT_FAIL, EXIT_OK, Failure, Interrupted, SynthError, UsageError

MAX_SUBJECTS = 10_000_000
"""The spec's own cap (compiler.schema.MAX_SUBJECTS, kept equal by a test; not imported so the parser stays light)."""
SUBJECTS = count("subjects", "leave --subjects out to use the spec's `subjects:`", maximum=MAX_SUBJECTS)


def _subjects_option(p) -> None:
    p.add_argument("--subjects", type=SUBJECTS, metavar="N", help="generate N subjects instead of the spec's `subjects:`")


def _device_option(p) -> None:
    p.add_argument("--device", choices=DEVICES, default="auto", help=DEVICE_HELP)


DEFAULT_MAX_HOURS = 168
DEFAULT_MAX_STORAGE = "10TB"
"""The planner's budgets, for the help (plan.lower's DEFAULT_MAX_HOURS and DEFAULT_MAX_STORAGE_BYTES; a test
keeps them equal; not imported so the parser stays light)."""
STORAGE_UNITS = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12, "pb": 10**15,
                 "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40, "pib": 2**50}


def _hours(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (0 < value < math.inf):
        raise argparse.ArgumentTypeError(f"must be a number of hours above 0, not {text!r}; "
                                         f"leave --max-hours out for {DEFAULT_MAX_HOURS} h")
    return value


def _storage(text: str) -> int:
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*([a-z]+)\s*", text.lower())
    value = float(match.group(1)) * STORAGE_UNITS[match.group(2)] if match and match.group(2) in STORAGE_UNITS else 0
    if not (1 <= value < 1e30):
        raise argparse.ArgumentTypeError(f"must be a size with its unit, such as 500GB, 2TB or 1.5TiB, not {text!r}; "
                                         f"leave --max-storage out for {DEFAULT_MAX_STORAGE}")
    return int(value)


def _budget_options(p) -> None:
    p.add_argument("--max-hours", type=_hours, metavar="H",
                   help=f"refuse a plan whose estimated compute is over H hours (default {DEFAULT_MAX_HOURS}, a week)")
    p.add_argument("--max-storage", type=_storage, metavar="SIZE",
                   help=f"refuse a plan whose estimated files take more than SIZE on disk, e.g. 2TB or 500GiB "
                        f"(default {DEFAULT_MAX_STORAGE})")


def _budgets(args) -> dict:
    """The budget options as `api.plan` keywords."""
    return {"max_hours": args.max_hours, "max_storage_bytes": args.max_storage}


# ---- plan ----------------------------------------------------------------------------------------

def args_plan(p) -> None:
    p.description = ("Compile a spec and print the plan `synth run` would execute: stages, shapes, device, batch size, "
                     "memory, time and storage. Exit 1 when the spec has errors or cannot be planned (also when it is "
                     "over the time or storage budget).")
    p.add_argument("spec", metavar="SPEC", help="the .synth spec to plan")
    p.add_argument("--json", action="store_true", help="print the plan as JSON instead of the summary")
    p.add_argument("--save", metavar="FILE", help="also save the plan (JSON) for `synth run --plan FILE`")
    p.add_argument("--gpu-memory", type=_storage, metavar="SIZE",
                   help="with --device cuda: plan for a GPU with SIZE of memory (e.g. 80GiB) instead of the GPU here; "
                        "no GPU is needed to plan, the saved plan then runs on such a machine")
    _device_option(p)
    _subjects_option(p)
    _budget_options(p)


def cmd_plan(args) -> int:
    from synthspec import api
    from synthspec.plan.show import render

    plan = api.plan(args.spec, device=args.device, subjects=args.subjects, gpu_memory=args.gpu_memory, **_budgets(args))
    saved = api.save_plan(plan, args.save) if args.save else None   # a bad --save fails before anything is shown
    if args.json:
        print(json.dumps(plan.model_dump(mode="json"), indent=2, sort_keys=True))
    else:
        sys.stdout.write(render(plan))
    if saved is not None:
        print(f"saved the plan to {saved}; run exactly it with `synth run --plan {saved}`", file=sys.stderr)
    return EXIT_OK


# ---- run -----------------------------------------------------------------------------------------

def args_run(p) -> None:
    p.description = ("Compile, plan and generate a cohort (or run a plan saved with `synth plan --save`), then validate "
                     "its anatomy. Interrupt at any time; --resume completes it byte-identically. Exit 1 when the run "
                     "or a validation check fails, 2 on bad input.")
    p.add_argument("spec", metavar="SPEC", nargs="?", help="the .synth spec to generate (or give --plan FILE instead)")
    p.add_argument("--plan", metavar="FILE", help="run a plan saved with `synth plan --save` instead of a spec")
    p.add_argument("--out", metavar="DIR", help="cohort folder (default: cohorts/COHORT_NAME)")
    _subjects_option(p)
    _device_option(p)
    _budget_options(p)
    p.add_argument("--resume", action="store_true", help="complete an interrupted cohort in --out")
    p.add_argument("--executor", choices=EXECUTOR_NAMES, default="local",
                   help="where subjects are generated: " + "; ".join(f"{n}: {d}" for n, _, d in EXECUTORS))
    p.add_argument("--address", metavar="ADDR",
                   help="with --executor ray: the cluster to join (auto, or ray://HOST:10001); default: a local Ray")
    p.add_argument("--no-validate", action="store_true",
                   help="skip the validation that follows generation (anatomy always, realism/shortcuts when the spec asks)")


def _where(out: Path, plan, content_hash: str) -> None:
    from synthspec.cohort import layout

    first = layout.subject_dir(out, 0)
    written = [f"{first / layout.channel_file(c, plan)} (NIfTI)" for c in plan.channels if "nifti" in plan.writing.formats]
    if "dicom" in plan.writing.formats:
        written.append(f"{first / layout.DICOM} (DICOM)")
    print(f"cohort: {out}  (content hash {content_hash[:16]})")
    print(f"  manifest   {out / layout.MANIFEST_CSV}   labels {out / layout.LABEL_TABLE}")
    if written:
        print(f"  images     {', '.join(written)}")
    print("  look at it with any NIfTI/DICOM viewer (e.g. 3D Slicer, ITK-SNAP with labels.nii.gz / lesions.nii.gz as overlays),")
    print(f"  or write the card and HTML report: synth report {out}")


def _resume_command(args, out: Path) -> str:
    """The command that completes an interrupted run: the plan the run saved in `out`, else the same arguments."""
    from synthspec.cohort import layout

    executor, address = getattr(args, "executor", "local"), getattr(args, "address", None)
    where = (f" --executor {executor}" if executor != "local" else "") + (f" --address {address}" if address else "")
    if (out / layout.PLAN).is_file():
        return f"synth run --plan {out / layout.PLAN} --out {out} --resume{where}"
    if args.plan:
        return f"synth run --plan {args.plan} --out {out} --resume{where}"
    extra = (f" --subjects {args.subjects}" if args.subjects is not None else "") + \
            (f" --device {args.device}" if args.device != "auto" else "")
    return f"synth run {args.spec}{extra} --out {out} --resume{where}"


def cmd_run(args) -> int:
    from synthspec import api

    if args.plan:
        if args.spec:
            raise UsageError(f"give a SPEC or --plan FILE, not both ({args.spec} and --plan {args.plan})")
        if args.subjects is not None or args.device != "auto" or args.max_hours is not None \
                or args.max_storage is not None:
            raise UsageError("--subjects, --device, --max-hours and --max-storage shape a new plan; a saved plan "
                             "runs as it is (make another with `synth plan SPEC --subjects N --device D --save FILE`)")
        plan = api.load_plan(args.plan)
    elif not args.spec:
        raise UsageError("give a SPEC file to generate, or --plan FILE saved by `synth plan --save`")
    else:
        plan = api.plan(args.spec, device=args.device, subjects=args.subjects, **_budgets(args))
    out = Path(args.out or Path("cohorts") / plan.cohort_name)
    print(f"synth run: {plan.subjects} subjects of {plan.cohort_name} on {plan.device} "
          f"(~{plan.estimates['total_seconds'] / 60:.1f} min estimated) -> {out}", file=sys.stderr)
    try:
        summary = api.run(plan, out, resume=args.resume, executor=args.executor, address=args.address)
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted; finished subjects are kept. Continue with: {_resume_command(args, out)}") from None
    print(f"done: {summary.generated} generated, {summary.skipped} already there, {summary.seconds:.1f} s")
    status = EXIT_OK
    if not args.no_validate:
        try:
            report = api.validate(out, log=lambda m: print(m, file=sys.stderr))
        except SynthError as error:
            _where(out, plan, summary.content_hash)
            raise Failure(f"validation could not run: {error} (the cohort is complete; run `synth validate {out}` "
                          "when fixed)") from None
        failed = [c for c in report.checks if not c.passed]
        print(f"validation: {len(report.checks) - len(failed)}/{len(report.checks)} checks passed"
              + "".join(f"\n  FAIL {c.family} {c.name}: {c.reason}" for c in failed))
        status = EXIT_FAIL if failed else EXIT_OK
    _where(out, plan, summary.content_hash)
    return status


# ---- verify --------------------------------------------------------------------------------------

def args_verify(p) -> None:
    p.description = ("Hash the files of every subject against the SHA-256 recorded when they were written (missing, "
                     "damaged and unexpected files are findings), and regenerate --sample subjects from plan.json to "
                     "check they come out byte-identical. Exit 1 on findings, 2 when the folder is not a cohort.")
    p.add_argument("cohort", metavar="COHORT", help="the cohort folder (the --out of `synth run`)")
    p.add_argument("--sample", type=count("subjects to regenerate", "the files of every subject are checked anyway"),
                   default=3, metavar="N", help="how many subjects to regenerate, at least 1 (default 3); "
                                                "the files of all are checked")
    _device_option(p)


def cmd_verify(args) -> int:
    from synthspec import api

    shown = 10  # file lines per damaged subject; the fix covers the rest
    report = api.verify(Path(args.cohort), sample=args.sample, device=args.device if args.device != "auto" else None,
                        progress=progress("subject"))
    files = sum(s.files for s in report.subjects)
    print(f"checked the files of all {len(report.subjects)} subjects on disk ({files} files hashed against the SHA-256 "
          f"recorded when they were written); regenerated {len(report.sampled)} of them from the plan")
    for line in report.cohort_findings:
        print(line)
    for s in report.damaged:
        print(f"{s.subject_id}: {len(s.findings)} file(s) damaged, missing or unexpected; {report.fix(s.folder)}")
        for f in s.findings[:shown]:
            print(f"  {f.path}: {f.problem}")
        if len(s.findings) > shown:
            print(f"  ... and {len(s.findings) - shown} more in {s.folder}")
    for s in report.sampled:
        if s.regenerated:
            print(f"{s.subject_id}: regenerated identical to its record"
                  + (" (so the fix above restores it exactly)" if s.findings else ""))
        elif s.regenerated is None:
            print(f"{s.subject_id}: not regenerated (its subject.json is missing); {report.fix(s.folder)}")
        else:
            print(f"{s.subject_id}: regenerated DIFFERS from its record: {', '.join(s.differs[:5])}"
                  + (f" and {len(s.differs) - 5} more" if len(s.differs) > 5 else "")
                  + "; this machine does not reproduce the cohort (compare synthspec, library versions and device "
                    f"with {report.cohort / 'provenance.json'})")
    intact = len(report.subjects) - len(report.damaged)
    identical = sum(1 for s in report.sampled if s.regenerated)
    print(f"{intact}/{len(report.subjects)} subjects intact on disk; "
          f"{identical}/{len(report.sampled)} regenerated subjects identical")
    return EXIT_OK if report.ok else EXIT_FAIL
