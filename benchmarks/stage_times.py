"""Per-stage seconds per subject on this machine at two grid sizes, and how they scale.

    .venv/bin/python benchmarks/stage_times.py [--sizes 128 256] [--repeats 3] [--device cpu|cuda]

Uses the lung-nodule example's physics (120 kV, lung kernel) on cubic grids of
N^3 voxels (N slices of N x N, 450 mm field of view, slice thickness 300/N mm) and
prints the median of `--repeats` runs per stage, then the scaling exponent between
the sizes (seconds ~ voxels^p).  Compare only numbers taken on the same machine.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def plan_for(n: int, device: str):
    from synthspec.compiler.check import compile_file
    from synthspec.plan.lower import lower
    from synthspec.plan.model import GridSpec

    result = compile_file(ROOT / "examples" / "lung_nodules_ldct.synth")
    plan = lower(result, device=device)
    grid = GridSpec(shape=(n, n, n), spacing=(300.0 / n, 450.0 / n, 450.0 / n))
    plan = plan.model_copy(update={"grid": grid}, deep=True)
    acquire = plan.stage("acquire").params.settings
    acquire.update(views=n, slice_thickness_mm=grid.spacing[0], pixel_mm=grid.spacing[2])
    plan.validation.anatomy = False   # time one draw, not the re-draw loop
    return plan


def measure(n: int, repeats: int, device: str) -> dict[str, float]:
    from synthspec.cohort.writer import write_subject
    from synthspec.engine import generate_subject
    from synthspec.engine.sample import sample_subject

    plan = plan_for(n, device)
    times: dict[str, list[float]] = {"sample": [], "anatomy+pathology": [], "acquire": [], "write": []}
    k = next(k for k in range(50) if sample_subject(plan, k).lesions)
    for _ in range(repeats):
        stage_s: dict[str, float] = {}
        subject = generate_subject(plan, k, device=device, timings=stage_s)
        if device == "cuda":
            import torch

            torch.cuda.synchronize()
        times["sample"].append(stage_s["sample_population"])
        times["anatomy+pathology"].append(stage_s["build_anatomy"])
        times["acquire"].append(stage_s["acquire"])
        with tempfile.TemporaryDirectory() as tmp:
            t = time.perf_counter()
            write_subject(Path(tmp), plan, subject)
            times["write"].append(time.perf_counter() - t)
    return {stage: statistics.median(v) for stage, v in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    import torch

    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, device {args.device}")
    results = {n: measure(n, args.repeats, args.device) for n in args.sizes}
    stages = list(next(iter(results.values())))
    print(f"\n{'stage':<20}" + "".join(f"{f'{n}^3 (s)':>14}" for n in args.sizes) +
          ("   scaling p (s ~ voxels^p)" if len(args.sizes) > 1 else ""))
    for stage in stages + ["total"]:
        values = [sum(results[n].values()) if stage == "total" else results[n][stage] for n in args.sizes]
        line = f"{stage:<20}" + "".join(f"{v:>14.3f}" for v in values)
        if len(args.sizes) > 1 and values[0] > 0 and values[-1] > 0:
            p = math.log(values[-1] / values[0]) / math.log((args.sizes[-1] / args.sizes[0]) ** 3)
            line += f"   {p:.2f}"
        print(line)


if __name__ == "__main__":
    main()
