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
    stages = [s.model_copy(update={"params": {**s.params, "views": n}}) if s.kind == "simulate_physics" else s
              for s in plan.stages]
    return plan.model_copy(update={"grid": grid, "stages": stages})


def measure(n: int, repeats: int, device: str) -> dict[str, float]:
    import numpy as np
    import torch

    from synthspec.engine.executor import write_subject
    from synthspec.engine.subject import GeneratedSubject
    from synthspec.families.grid import Grid
    from synthspec.families.modality.ct.acquisition import CTAcquisition, simulate_ct
    from synthspec.engine.sample import sample_subject
    from synthspec.engine.seeds import numpy_stream, torch_stream
    from synthspec.engine.volume import Anatomy, LesionRequest, build_subject

    plan = plan_for(n, device)
    times: dict[str, list[float]] = {"sample": [], "phantom+pathology": [], "physics": [], "write": []}
    k = next(k for k in range(50) if sample_subject(plan, k).lesions)
    for _ in range(repeats):
        t = time.perf_counter()
        params = sample_subject(plan, k)
        times["sample"].append(time.perf_counter() - t)

        grid = Grid(shape=tuple(plan.grid.shape), spacing=tuple(plan.grid.spacing))
        anatomy = Anatomy(sex=params.sex, age_y=params.age_y, height_mm=params.height_mm, bmi=params.bmi)
        requests = [LesionRequest(kind=l.kind, subtype=l.subtype, diameter_mm=l.diameter_mm, locations=l.locations,
                                  lobulation=l.lobulation, spiculation=l.spiculation, min_pleura_mm=l.min_pleura_mm)
                    for l in params.lesions]
        t = time.perf_counter()
        volume = build_subject(anatomy, grid, {a: tuple(b) for a, b in plan.tissue_hu.items()},
                               {int(a): b for a, b in plan.organ_tissue.items()}, requests,
                               numpy_stream(plan.seed_key, 0, k, "anatomy"), numpy_stream(plan.seed_key, 0, k, "lesions"))
        times["phantom+pathology"].append(time.perf_counter() - t)

        scanner = plan.scanners[params.scanner]
        acq = CTAcquisition(kv=params.kv, mas=params.mas, slice_thickness_mm=plan.grid.spacing[0],
                            pixel_mm=plan.grid.spacing[2], kernel=params.kernel, views=n,
                            noise_factor=scanner.noise_factor, electronic_noise=scanner.electronic_noise,
                            mtf50_lp_mm=scanner.mtf50)
        hu = torch.from_numpy(volume.hu).to(device)
        t = time.perf_counter()
        with torch.no_grad():
            image = simulate_ct(hu, acq, torch_stream(plan.seed_key, 0, k, "noise")).cpu().numpy()
        if device == "cuda":
            torch.cuda.synchronize()
        times["physics"].append(time.perf_counter() - t)

        subject = GeneratedSubject(
            params=params, image=np.clip(np.rint(image), -1024, 3071).astype(np.int16), truth_hu=volume.hu,
            labels=volume.labels, lesion_mask=volume.lesion_mask, lesions=volume.lesions, rejected=[])
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
