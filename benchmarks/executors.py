"""Subjects per second: the local executor and the Ray executor side by side, on the same plan.

    .venv/bin/python benchmarks/executors.py [SPEC] [--subjects 6] [--repeats 3] [--ray-cpus N]

Runs the same plan (default: the lung example, --subjects of it) into fresh folders, --repeats
times per executor, alternating local and Ray, and prints each run's wall time, the median
subjects per second of each, and the ratio Ray / local.  The Ray runs start their own local Ray
with --ray-cpus CPUs (default: all), so Ray's start-up (a few seconds) is in its time, as a user of
`synth run --executor ray` on one machine meets it.  Every run's content hash is printed and
must be the same for both executors (the script exits 1 otherwise).

Also prints the cohort's bytes on disk per subject (first local run) and the seconds per subject per CPU core of the local executor (its wall time times the
cores torch used, over the subjects), the figure the README's capacity section uses.
The machine's CPU count and load average are printed first: other work on the machine skews both.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SYNTH_NO_PROGRESS", "1")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec", nargs="?", default=str(ROOT / "examples" / "lung_nodules_ldct.synth"))
    parser.add_argument("--subjects", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--ray-cpus", type=int, default=None)
    args = parser.parse_args()

    from synthspec import api
    from synthspec.engine import executor, executor_ray

    cpus = os.cpu_count() or 1
    print(f"machine: {cpus} CPUs, load average {os.getloadavg()[0]:.2f} (1 min) before the runs")
    plan = api.plan(args.spec, device="cpu", subjects=args.subjects)
    print(f"plan: {plan.cohort_name}, {plan.subjects} subjects, grid {'x'.join(map(str, plan.grid.shape))}, "
          f"device {plan.device}")
    times: dict[str, list[float]] = {"local": [], "ray": []}
    hashes = set()
    scratch = Path(tempfile.mkdtemp(prefix="synth-executors-"))
    try:
        for r in range(args.repeats):
            for name in ("local", "ray"):
                out = scratch / f"{name}-{r}"
                started = time.perf_counter()
                if name == "local":
                    summary = executor.run(plan, out)
                else:
                    summary = executor_ray.run(plan, out, num_cpus=args.ray_cpus)
                seconds = time.perf_counter() - started
                times[name].append(seconds)
                hashes.add(summary.content_hash)
                print(f"  {name:5s} run {r + 1}: {seconds:6.1f} s  {plan.subjects / seconds:.3f} subjects/s  "
                      f"content hash {summary.content_hash[:16]}")
                if r == 0 and name == "local":
                    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
                    print(f"  cohort on disk: {size / 2**20:.1f} MiB, {size / plan.subjects / 1e6:.1f} MB per subject "
                          f"(the plan estimated {plan.estimates['bytes_on_disk_per_subject'] / 1e6:.1f} MB)")
                shutil.rmtree(out, ignore_errors=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    local, ray = (statistics.median(times[n]) for n in ("local", "ray"))
    print(f"median: local {plan.subjects / local:.3f} subjects/s ({local / plan.subjects:.2f} s/subject), "
          f"ray {plan.subjects / ray:.3f} subjects/s ({ray / plan.subjects:.2f} s/subject)")
    print(f"ratio ray/local (subjects per second): {local / ray:.2f}x")
    import torch

    print(f"local: {local * torch.get_num_threads() / plan.subjects:.1f} CPU-core seconds per subject "
          f"({torch.get_num_threads()} torch threads)")
    if len(hashes) != 1:
        print(f"FAIL: the executors gave different cohorts: {sorted(hashes)}")
        return 1
    print("same content hash for every run of both executors")
    return 0


if __name__ == "__main__":
    sys.exit(main())
