"""How fast and how close is our CT projection + FBP next to scikit-image's radon / iradon?

    .venv/bin/python benchmarks/ct_vs_skimage.py [--sizes 128 256 512] [--runs 5] [--batches 32 64]
    .venv/bin/python benchmarks/ct_vs_skimage.py --views       # view-count trade-off behind default_views
    .venv/bin/python benchmarks/ct_vs_skimage.py --calibrate   # the photon constant PHOTONS_PER_MM2_MAS
    .venv/bin/python benchmarks/ct_vs_skimage.py --volume      # one (100, 256, 256) volume, noisy

Comparison (default).  Same 2-D geometry on both sides: an n x n Shepp-Logan-like
HU phantom (scikit-image's modified Shepp-Logan, intensities mapped to HU: skull
+1000, brain +40, air outside the head), n views over 180 degrees, parallel
beam, detector pitch = pixel, Shepp-Logan filter (our `standard` kernel has the
same window).  Ours: noiseless `simulate_ct` (HU -> mu -> distance-driven
projection -> ramp filter -> adjoint back-projection -> HU), torch on the CPU,
one slice per call ("1 slice, cold": tap tables built in the call, as for any
n >= 256 volume; "1 slice, warm": tables kept from the previous call, which at
n = 512 holds 6.7 GB, skipped above WARM_LIMIT_BYTES) and
batches of 32 / 64 slices (per-slice time = batch time / batch).  scikit-image:
`radon(circle=True)` + `iradon(filter_name="shepp-logan", circle=True)` of the
same mu image, one slice at a time (it has no batch mode).  Median of --runs
runs each.  Image differences are RMSE in HU inside the central disc (radius
0.45 n): ours vs scikit-image, and each vs the ground-truth phantom.

Timings on a shared 2-core CPU wander by +-20 % when it is quiet and by several
times when other jobs compete for the cores (torch's thread pool suffers most:
`--threads 1` is steadier and is the per-core comparison, as scikit-image uses
one core); the script prints the load average before and after.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from synthspec.families.modality.ct import acquisition as ct_module  # noqa: E402
from synthspec.families.modality.ct import geometry as ct_geometry  # noqa: E402
from synthspec.families.modality.ct.acquisition import CTAcquisition, mu_water_per_mm, simulate_ct  # noqa: E402


WARM_LIMIT_BYTES = 8 * 2**30


def shepp_logan_hu(n: int) -> np.ndarray:
    """Modified Shepp-Logan (scikit-image) at n x n, intensities mapped to HU, air outside the skull."""
    from skimage.data import shepp_logan_phantom
    from skimage.transform import resize

    phantom = resize(shepp_logan_phantom(), (n, n), order=1, anti_aliasing=True)
    hu = 40.0 + (phantom - 0.2) * 1200.0            # 0.2 (brain) -> 40 HU, 1.0 (skull) -> 1000 HU
    c = (n - 1) / 2
    yy, xx = np.mgrid[0:n, 0:n]
    head = ((xx - c) / (0.69 * n / 2)) ** 2 + ((yy - c) / (0.92 * n / 2)) ** 2 <= 1.0
    return np.where(head, hu, -1000.0).astype(np.float32)


def body_hu(n: int) -> np.ndarray:
    """A body-like slice: water ellipse over 85 % of the field, two lungs (-850), a spine (+700), a liver (+60)."""
    c = (n - 1) / 2
    yy, xx = (np.mgrid[0:n, 0:n] - c) / (n / 2)
    img = np.full((n, n), -1000.0, np.float32)
    img[(xx / 0.85) ** 2 + (yy / 0.62) ** 2 <= 1] = 0.0
    for sx in (-1, 1):
        img[((xx - sx * 0.38) / 0.28) ** 2 + ((yy + 0.05) / 0.4) ** 2 <= 1] = -850.0
    img[((xx - 0.0) / 0.09) ** 2 + ((yy - 0.42) / 0.09) ** 2 <= 1] = 700.0
    img[((xx + 0.05) / 0.2) ** 2 + ((yy - 0.05) / 0.15) ** 2 <= 1] = 60.0
    return img


def central(n: int, fraction: float = 0.45) -> np.ndarray:
    c = (n - 1) / 2
    yy, xx = np.mgrid[0:n, 0:n]
    return (xx - c) ** 2 + (yy - c) ** 2 <= (fraction * n) ** 2


def rmse(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    return float(np.sqrt(np.mean((a[mask] - b[mask]) ** 2)))


def median_time(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def acquisition(n: int, views: int | None = None, kernel: str = "standard", **changes) -> CTAcquisition:
    return CTAcquisition(kv=120.0, mas=100.0, slice_thickness_mm=1.25, pixel_mm=1.0, kernel=kernel,
                         views=views if views is not None else n, **changes)


def flat(truth: np.ndarray) -> np.ndarray:
    """Pixels whose 7 x 7 neighbourhood of the truth is uniform: CT numbers away from edges."""
    from scipy.ndimage import maximum_filter, minimum_filter

    return (maximum_filter(truth, 7) - minimum_filter(truth, 7)) < 1.0


def compare(sizes: list[int], runs: int, batches: list[int]) -> None:
    from skimage.transform import iradon, radon

    torch.set_grad_enabled(False)
    mu_w = mu_water_per_mm(120.0)
    modes = ["1 slice cold", "1 slice warm"] + [f"batch {b}" for b in batches]
    times, ratios, errors = [], [], []
    for n in sizes:
        truth = shepp_logan_hu(n)
        acq = acquisition(n)
        theta = np.arange(n) * 180.0 / n
        mu = (1.0 + truth / 1000.0) * mu_w                 # per mm; pixel = 1 mm on both sides

        def skimage_once():
            return iradon(radon(mu, theta, circle=True), theta, filter_name="shepp-logan", circle=True)

        sk_hu = skimage_once() * 1000.0 / mu_w - 1000.0
        t_sk = median_time(skimage_once, runs)

        one = torch.from_numpy(truth)[None]
        ct_geometry.clear_cache()
        saved = ct_geometry.CACHE_BYTES
        ct_geometry.CACHE_BYTES = 0                       # cold: build the tap tables in every call
        ours = [median_time(lambda: simulate_ct(one, acq, None), max(3, runs // 2))]
        ours_hu = simulate_ct(one, acq, None)[0].numpy()
        ours.append(float("nan"))
        if ct_geometry.ParallelBeam(n, n).table_bytes() <= WARM_LIMIT_BYTES:
            ct_geometry.CACHE_BYTES = WARM_LIMIT_BYTES    # warm: keep them (n = 512 needs 6.7 GB)
            simulate_ct(one, acq, None)
            ours[-1] = median_time(lambda: simulate_ct(one, acq, None), runs)
        ct_geometry.CACHE_BYTES = saved
        ct_geometry.clear_cache()
        for b in batches:
            vol = one.repeat(b, 1, 1)
            ours.append(median_time(lambda: simulate_ct(vol, acq, None), max(3, runs // 2)) / b)

        times.append([n, n, t_sk, *ours])
        ratios.append([n, *[f"{t / t_sk:.3g} / {t_sk / t:.3g}" for t in ours]])
        inside, level = central(n), central(n) & flat(truth)
        errors.append([n, rmse(ours_hu, sk_hu, inside), rmse(ours_hu, truth, inside), rmse(sk_hu, truth, inside),
                       rmse(ours_hu, sk_hu, level), rmse(ours_hu, truth, level), rmse(sk_hu, truth, level)])
        print(f"  n={n} done", file=sys.stderr)
    print("seconds per slice (median of runs; batch: batch time / batch size)")
    print_table(["n", "views", "skimage"] + [f"ours {m}" for m in modes], times)
    print("\nratio ours/skimage / skimage/ours")
    print_table(["n"] + modes, ratios)
    print("\nRMSE in HU, central disc (r < 0.45 n) / flat part of it (7x7 uniform truth)")
    print_table(["n", "ours-sk", "ours-truth", "sk-truth", "ours-sk flat", "ours-truth flat", "sk-truth flat"], errors)


def print_table(head: list[str], rows: list[list]) -> None:
    cells = [[f"{v:.4g}" if isinstance(v, float) else str(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(head)]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(head, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in cells:
        print("| " + " | ".join(c.rjust(w) for c, w in zip(r, widths)) + " |")


def views_study(n: int, runs: int) -> None:
    """Noiseless error vs truth and time for several view counts: the basis of default_views."""
    torch.set_grad_enabled(False)
    rows = []
    for name, truth in (("shepp-logan", shepp_logan_hu(n)), ("body", body_hu(n))):
        vol = torch.from_numpy(truth)[None].repeat(16, 1, 1)
        inside = central(n)
        dense = simulate_ct(vol[:1], acquisition(n, views=4 * n), None)[0].numpy()
        for views in (n // 2, n, math.ceil(math.pi / 2 * n), 2 * n):
            rec = simulate_ct(vol[:1], acquisition(n, views=views), None)[0].numpy()
            seconds = median_time(lambda: simulate_ct(vol, acquisition(n, views=views), None), runs) / 16
            # view aliasing alone: the difference from a 4n-view reconstruction (edge blur cancels)
            rows.append([name, n, views, rmse(rec, truth, inside), rmse(rec, dense, inside),
                         float(np.abs(rec - dense)[inside].max()), seconds])
    print_table(["phantom", "n", "views", "RMSE vs truth HU", "RMSE vs 4n views HU", "max |vs 4n views| HU",
                 "s / slice @16"], rows)


def calibrate(seeds: int = 4) -> None:
    """Noise at the reference point and the photon constant that would give 12 HU there."""
    n, pixel = 256, 400.0 / 256
    c = (n - 1) / 2
    yy, xx = (np.mgrid[0:n, 0:n] - c) * pixel
    r = np.hypot(xx, yy)
    truth = np.where(r <= 150.0, 0.0, -1000.0).astype(np.float32)
    vol = torch.from_numpy(truth)[None].repeat(seeds, 1, 1)
    acq = CTAcquisition(kv=120.0, mas=100.0, slice_thickness_mm=1.25, pixel_mm=pixel, kernel="standard")
    clean = simulate_ct(vol[:1], acq, None)[0]
    noisy = simulate_ct(vol, acq, torch.Generator().manual_seed(0))
    sigma = float((noisy - clean)[:, torch.from_numpy(r < 40.0)].std(dim=1).mean())
    k = ct_module.PHOTONS_PER_MM2_MAS
    print(f"PHOTONS_PER_MM2_MAS = {k:.3g}: sigma = {sigma:.2f} HU in the central 40 mm "
          f"(300 mm water, 120 kV, 100 mAs, 1.25 mm, standard, 1.5625 mm pixels, {n} views)")
    print(f"for 12.0 HU: PHOTONS_PER_MM2_MAS = {k * (sigma / 12.0) ** 2:.3g}")
    n0 = ct_module.photons_per_view(acq, n)
    print(f"N0 = {n0:.3g} photons per detector element per view; behind 300 mm of water "
          f"{n0 * math.exp(-mu_water_per_mm(120) * 300):.3g}")


def volume(runs: int) -> None:
    torch.set_grad_enabled(False)
    hu = torch.from_numpy(body_hu(256))[None].repeat(100, 1, 1).contiguous()
    for views in (256, math.ceil(math.pi / 2 * 256)):
        acq = CTAcquisition(kv=120.0, mas=100.0, slice_thickness_mm=1.25, pixel_mm=400 / 256, kernel="standard",
                            views=views)
        simulate_ct(hu[:2], acq, torch.Generator().manual_seed(0))
        seconds = median_time(lambda: simulate_ct(hu, acq, torch.Generator().manual_seed(0)), runs)
        print(f"(100, 256, 256), {views} views, noisy, CPU x{torch.get_num_threads()} threads: "
              f"{seconds:.2f} s per volume")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[128, 256, 512])
    ap.add_argument("--batches", type=int, nargs="+", default=[32, 64])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice; skimage uses one)")
    ap.add_argument("--views", action="store_true", help="view-count trade-off (256 px)")
    ap.add_argument("--calibrate", action="store_true", help="noise at the calibration point")
    ap.add_argument("--volume", action="store_true", help="time one (100, 256, 256) volume")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, load average before: "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.views:
        views_study(256, args.runs)
    elif args.calibrate:
        calibrate()
    elif args.volume:
        volume(args.runs)
    else:
        compare(args.sizes, args.runs, args.batches)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
