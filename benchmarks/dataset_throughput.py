"""How many subjects a second does the on-the-fly training dataset deliver through a DataLoader?

    .venv/bin/python benchmarks/dataset_throughput.py [SPEC] [--subjects 4] [--repeats 3] [--workers 0,2]
    .venv/bin/python benchmarks/dataset_throughput.py tests/data/reference_cohort.synth --subjects 16

SPEC defaults to the lung example.  For each worker count, `SubjectDataset(SPEC, subjects=N)` goes
through `DataLoader(batch_size=1, num_workers=W)` (the default collate), items 0 .. N-1 in order, and
the wall time of the whole pass is taken; the median of --repeats passes is reported as subjects per
second, then the ratio of each worker count's rate to 0 workers'.  One item is made in this process
first, so imports and numba's compiled kernels are warm, and forked workers inherit them: the figures
are the steady state of a long training run, not a cold start (which the script prints apart: the
first item in a fresh process).  With 0 workers torch's thread pool runs in this process (the CPU's
threads); DataLoader workers run one torch thread each.  `--device cuda` generates on the GPU and
starts the workers with spawn (CUDA cannot be forked).

Timings on a shared machine wander with what else runs: the script prints the CPU count and the load
average before and after.  Nothing is written to disk.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SPEC = ROOT / "examples" / "lung_nodules_ldct.synth"
COLD = """
import sys, time
started = time.perf_counter()
from synthspec.dataset import SubjectDataset
data = SubjectDataset(sys.argv[1], device=sys.argv[2])
planned = time.perf_counter()
data[0]
print(f"{planned - started:.2f} {time.perf_counter() - planned:.2f}")
"""


def one_pass(data, workers: int, device: str) -> float:
    from torch.utils.data import DataLoader

    context = "spawn" if workers and device.startswith("cuda") else None
    started = time.perf_counter()
    seen = 0
    for batch in DataLoader(data, batch_size=1, num_workers=workers, multiprocessing_context=context):
        seen += len(batch["subject_id"])
    seconds = time.perf_counter() - started
    assert seen == len(data), (seen, len(data))
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("spec", nargs="?", default=str(DEFAULT_SPEC), help="a .synth spec or a plan.json")
    parser.add_argument("--subjects", type=int, default=4, help="items per pass (default 4)")
    parser.add_argument("--repeats", type=int, default=3, help="passes per worker count; the median is reported")
    parser.add_argument("--workers", default="0,2", help="worker counts, comma-separated (default 0,2)")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    parser.add_argument("--no-cold", action="store_true", help="skip the cold-start measurement")
    args = parser.parse_args(argv)
    workers = [int(w) for w in args.workers.split(",")]

    import torch

    from synthspec.dataset import SubjectDataset

    cpus = os.cpu_count()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cpus
    spec = Path(args.spec).resolve()
    print(f"spec        {spec.relative_to(ROOT) if spec.is_relative_to(ROOT) else args.spec}")
    print(f"machine     {cpus} CPUs ({usable} usable), torch {torch.__version__} with {torch.get_num_threads()} threads "
          f"here, device {args.device}; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if not args.no_cold:
        done = subprocess.run([sys.executable, "-c", COLD, args.spec, args.device], cwd=ROOT, capture_output=True,
                              text=True, check=True)
        plan_s, first_s = done.stdout.split()
        print(f"cold start  a fresh process: {plan_s} s to import and plan, {first_s} s for its first item")
    data = SubjectDataset(args.spec, subjects=args.subjects, device=args.device)
    print(f"cohort      {data.plan.cohort_name}: grid {tuple(data.plan.grid.shape)} (z, y, x), "
          f"{args.subjects} items a pass, {args.repeats} passes, batch_size 1")
    started = time.perf_counter()
    data[0]
    print(f"warm-up     one item in this process: {time.perf_counter() - started:.2f} s")
    rates: dict[int, float] = {}
    for w in workers:
        passes = [one_pass(data, w, args.device) for _ in range(args.repeats)]
        rates[w] = args.subjects / statistics.median(passes)
        print(f"workers {w}   {rates[w]:.3f} subjects/s  (median of {', '.join(f'{s:.1f}' for s in passes)} s a pass)")
    base = rates.get(0)
    if base:
        for w in workers:
            if w:
                print(f"ratio       {w} workers / 0 workers = {rates[w] / base:.2f}")
    print(f"load        average now {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
