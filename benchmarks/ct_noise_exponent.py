"""How noise falls with dose in delivered chest CT images (python benchmarks/ct_noise_exponent.py).

Quantum noise in CT falls as mAs^-0.5.  A user meets it as the SD inside a region of interest they
place on a homogeneous tissue of a delivered image (stored int16 HU), not as a difference between a
noisy and a noiseless internal reconstruction; fixed patterns (aliasing from too few views, beam
hardening) do not fall with dose and flatten the exponent.  This scans one subject of
examples/lung_nodules_ldct.synth at several tube charges -- same anatomy, grid, scanner and random
streams, only the mAs differs -- and reads the SD of the delivered pixels in 7 x 7 ROIs on soft
tissue (-150..150 HU): the 2000 where the noiseless image of the same subject is flattest, and 2000
anywhere in soft tissue.
It prints the median ROI SD per mAs, the noiseless floor in the same ROIs, and the log-log slope over
all charges and over the low-dose ones (<= 80 mAs), where the anatomy's own texture matters least.

    .venv/bin/python benchmarks/ct_noise_exponent.py [--subject K] [--mas 20 40 80 160 320] [--views 256]

About 10 s per scan on a 2-core CPU at the example's size.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ROI = 7


def local_sd(image: np.ndarray) -> np.ndarray:
    from scipy.ndimage import uniform_filter

    size = (1, ROI, ROI)
    mean = uniform_filter(image, size)
    return np.sqrt(np.maximum(uniform_filter(image * image, size) - mean * mean, 0.0))


def roi_centres(noiseless: np.ndarray, count: int = 2000, flattest: bool = True) -> tuple[np.ndarray, ...]:
    """Centres of `count` soft-tissue ROIs of the noiseless image (-150..150 HU, whole ROI in the slice): the
    flattest ones (where a careful reader puts an ROI to read noise), or a fixed random choice among all
    (where a reader happens to click).  Anatomy is never perfectly flat, and fixed patterns are not either:
    the ROIs' own SD (printed as the floor) adds to the noise in quadrature and flattens the exponent."""
    sd = local_sd(noiseless)
    ok = (noiseless > -150) & (noiseless < 150)
    half = ROI // 2
    ok[:, :half], ok[:, -half:], ok[:, :, :half], ok[:, :, -half:] = False, False, False, False
    idx = np.flatnonzero(ok)
    if flattest:
        idx = idx[np.argsort(sd.ravel()[idx], kind="stable")[:count]]
    elif idx.size > count:
        idx = np.random.default_rng(0).choice(idx, count, replace=False)
    return np.unravel_index(np.sort(idx), noiseless.shape)


def delivered(subject) -> np.ndarray:
    """The image channel as written (generate_subject returns stored int16 HU)."""
    return subject.channels["image"].astype(np.float32)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subject", type=int, default=0)
    ap.add_argument("--mas", type=float, nargs="+", default=[20.0, 40.0, 80.0, 160.0, 320.0])
    ap.add_argument("--views", type=int, default=None,
                    help="scan with this many views instead of the plan's (e.g. 256, the example's old under-sampling)")
    args = ap.parse_args()

    from synthspec import api
    from synthspec.engine.sample import sample_subject
    from synthspec.engine.subject import generate_subject

    plan = api.plan(ROOT / "examples" / "lung_nodules_ldct.synth", device="cpu")
    k = args.subject
    params = sample_subject(plan, k)
    settings = plan.stage("acquire").params.settings
    if args.views:
        settings["views"] = args.views
    print(f"subject {k} of {plan.cohort_name}: {plan.grid.shape} voxels at "
          f"{' x '.join(f'{s:g}' for s in plan.grid.spacing)} mm, {settings.get('views')} views, "
          f"scanner {params.scanner}, kernel {params.acquisition['kernel']}")
    floor = delivered(generate_subject(plan, k, noiseless=True, with_pathology=False, params=params))
    kinds = {"flattest": roi_centres(floor), "any": roi_centres(floor, flattest=False)}
    floor_sd = local_sd(floor)
    for kind, centres in kinds.items():
        print(f"{centres[0].size} ROIs of {ROI} x {ROI} pixels on {kind} soft tissue: "
              f"noiseless SD in them median {np.median(floor_sd[centres]):.2f} HU")
    sds: dict[str, list[float]] = {kind: [] for kind in kinds}
    for mas in args.mas:
        params.acquisition["mas"] = mas
        sd = local_sd(delivered(generate_subject(plan, k, with_pathology=False, params=params)))
        for kind, centres in kinds.items():
            sds[kind].append(float(np.median(sd[centres])))
        print(f"  {mas:6.0f} mAs   median ROI SD  " + "   ".join(f"{kind} {sds[kind][-1]:6.2f} HU" for kind in kinds))
    mas = np.asarray(args.mas)
    low = mas <= 80
    for kind in kinds:
        slope = float(np.polyfit(np.log(mas), np.log(sds[kind]), 1)[0])
        line = f"noise exponent, {kind} ROIs (log-log slope of ROI SD against mAs): {slope:+.3f}"
        if low.sum() >= 2:
            line += f"   at <= 80 mAs: {float(np.polyfit(np.log(mas[low]), np.log(np.asarray(sds[kind])[low]), 1)[0]):+.3f}"
        print(line + "   (quantum limit -0.5)")


if __name__ == "__main__":
    main()
