"""Torch threads on an idle and on a shared machine (python benchmarks/ct_threads_under_load.py).

`synth run` gives torch the machine's CPUs shared among its workers, whatever else runs there.  This
checks that choice on a shared machine: it times one subject of the lung example (generate_subject,
the whole pipeline in memory) with 1 thread and with as many threads as the machine has CPUs, first
on the idle machine and then with --busy processes spinning on the CPU beside it (other users' work),
and prints the median of --repeats runs of each and the ratio.  The same subject is generated every
time, and its bytes are checked equal (the thread count must not change them).

    .venv/bin/python benchmarks/ct_threads_under_load.py [--repeats 3] [--busy 1] [--subject 0]

Run it on a machine otherwise idle: the load average is printed before and after.
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing as mp
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def spin(stop) -> None:
    while not stop.is_set():
        sum(i * i for i in range(10_000))


def timed(plan, k: int, threads: int) -> tuple[float, str]:
    import torch

    from synthspec.engine.subject import generate_subject

    torch.set_num_threads(threads)
    started = time.perf_counter()
    subject = generate_subject(plan, k)
    seconds = time.perf_counter() - started
    return seconds, hashlib.sha256(subject.channels["image"].tobytes()).hexdigest()[:16]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--busy", type=int, default=1, help="CPU-bound processes to run beside it in the loaded case")
    ap.add_argument("--subject", type=int, default=0)
    args = ap.parse_args()

    from synthspec import api

    cpus = os.cpu_count() or 1
    print(f"machine: {cpus} CPUs, load average {os.getloadavg()[0]:.2f} (1 min) before")
    plan = api.plan(ROOT / "examples" / "lung_nodules_ldct.synth", device="cpu")
    timed(plan, args.subject, 1)                      # warm: template tables, imports
    hashes = set()
    for busy in (0, args.busy):
        stop = mp.Event()
        others = [mp.Process(target=spin, args=(stop,), daemon=True) for _ in range(busy)]
        for p in others:
            p.start()
        try:
            medians = {}
            for threads in sorted({1, cpus}):
                runs = []
                for _ in range(args.repeats):
                    seconds, digest = timed(plan, args.subject, threads)
                    runs.append(seconds)
                    hashes.add(digest)
                medians[threads] = statistics.median(runs)
                print(f"  {busy} busy process(es), {threads} thread(s): median {medians[threads]:6.2f} s "
                      f"per subject ({', '.join(f'{r:.2f}' for r in runs)})")
            if len(medians) == 2:
                print(f"  {busy} busy: {cpus} threads take {medians[cpus] / medians[1]:.2f}x the time of 1 thread")
        finally:
            stop.set()
            for p in others:
                p.join()
    print(f"load average {os.getloadavg()[0]:.2f} (1 min) after; image hashes {sorted(hashes)}")
    return 0 if len(hashes) == 1 else 1


if __name__ == "__main__":
    sys.exit(main())
