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
    from ..cli import UsageError, _config_for
    from ..compiler import render
    from ..compiler.check import compile_file

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
    from ..plan.lower import PlanError, lower

    result = _compile(args.spec)
    if result is None:
        return None
    try:
        return lower(result, device=args.device, subjects=args.subjects, workers=getattr(args, "workers", 1))
    except PlanError as error:
        print(f"synth {args.command}: cannot plan {args.spec}: {error}", file=sys.stderr)
        return None


def cmd_plan(args) -> int:
    from ..plan.show import render

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
    from ..plan.model import Plan
    from .executor import RunError, run
    from .sample import SamplingError

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
    print(f"cohort: {out}  (content hash {summary.content_hash[:16]})")
    print(f"  manifest   {out / 'manifest.csv'}")
    print(f"  images     {out / 'subjects' / 'S000000' / 'image.nii.gz'} (NIfTI), {out / 'subjects' / 'S000000' / 'dicom'} (DICOM)")
    print("  look at it with any NIfTI/DICOM viewer (e.g. 3D Slicer, ITK-SNAP with labels.nii.gz / lesions.nii.gz as overlays)")
    return EXIT_OK


def cmd_verify(args) -> int:
    from .executor import RunError
    from .verify import verify

    try:
        results = verify(Path(args.cohort), count=args.sample, device=args.device if args.device != "auto" else None)
    except RunError as error:
        print(f"synth verify: {error}", file=sys.stderr)
        return EXIT_USAGE
    bad = 0
    for k, ok, diffs in results:
        print(f"S{k:06d}: {'identical' if ok else 'DIFFERS: ' + ', '.join(diffs[:5])}")
        bad += not ok
    print(f"{len(results) - bad}/{len(results)} regenerated subjects identical")
    return EXIT_OK if bad == 0 else EXIT_FAIL


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
    p.set_defaults(run=cmd_run)

    p = sub.add_parser("verify", help="regenerate a sample of subjects and compare them with the cohort")
    p.add_argument("cohort", metavar="COHORT")
    p.add_argument("--sample", type=int, default=3, metavar="N", help="how many subjects to regenerate (default 3)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.set_defaults(run=cmd_verify)
