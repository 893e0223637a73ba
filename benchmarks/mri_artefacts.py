"""MRI artefacts: the MR modality's k-space motion / ghosting and coil bias field against TorchIO's
RandomMotion, RandomGhosting and RandomBiasField on the same volume, side by side.

    python benchmarks/mri_artefacts.py                 # 24 x 256 x 256 brain phantom, 5 repeats
    python benchmarks/mri_artefacts.py --shape 16 128 128 --repeats 3

The volume is a noiseless PD-weighted brain phantom (ellipsoidal scalp, CSF, grey and white matter
with PHYSICS.md relative PD and T1/T2 at 1.5 T, spin echo TR 2300 / TE 22 ms).  Each artefact runs
`--repeats` times (seeds 0..n-1) after one warm-up; the table gives median seconds per volume for
ours and TorchIO's, their ratio (ours / TorchIO), and what the artefact did, measured the same way for
both: ghost level = mean |artefacted - clean| outside the head (% of the white-matter signal), in-head
change = mean |artefacted - clean| / clean inside the head (%), and for the bias field its max/min
over the head.  The machine's load average is printed with the results, since a shared CPU slows
both sides.  Ours is `synthspec.families.modality.mri.kspace` (bias_field, draw_motion,
acquire_magnitude: rigid in-plane translation and a turn about z of up to motion / 50 mm rad during a block
of phase-encode lines, ghosts along phase only); TorchIO's motion, given the same largest turn, simulates rotations and translations in k-space across all axes and
its ghosting removes / scales every n-th k-space plane.  This script judges nothing; it prints.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import time

import numpy as np
import torch


def phantom(shape) -> tuple[np.ndarray, np.ndarray]:
    """(signal, head mask): a PD-weighted brain phantom [Z, Y, X], white matter = 1."""
    z, y, x = np.indices(shape, dtype=np.float32)
    cz, cy, cx = (s / 2.0 for s in shape)
    r = np.sqrt(((z - cz) / (0.6 * shape[0])) ** 2 + ((y - cy) / (0.40 * shape[1])) ** 2
                + ((x - cx) / (0.33 * shape[2])) ** 2)
    tr, te = 2300.0, 22.0

    def se(t1, t2, pd):
        return pd * (1 - math.exp(-tr / t1)) * math.exp(-te / t2)
    wm = se(850, 75, 0.70)
    values = [(1.00, se(280, 85, 0.90)), (0.90, se(4100, 2000, 1.0)), (0.85, se(1150, 97, 0.80)),
              (0.62, se(850, 75, 0.70))]   # scalp fat, CSF, GM, WM (PHYSICS.md, 1.5 T)
    out = np.zeros(shape, np.float32)
    for radius, value in values:
        out[r < radius] = value / wm
    ventricles = (np.abs(y - cy) < 0.12 * shape[1]) & (np.abs(x - cx) < 0.04 * shape[2]) & (r < 0.5)
    out[ventricles] = se(4100, 2000, 1.0) / wm
    return out, r < 1.0


def timed(fn, repeats: int):
    fn(0)   # warm-up
    times, outs = [], []
    for k in range(repeats):
        t = time.perf_counter()
        outs.append(fn(k))
        times.append(time.perf_counter() - t)
    return statistics.median(times), outs


def effect(out, clean, head):
    out = np.asarray(out, np.float32)
    ghost = float(np.abs(out - clean)[~head].mean()) * 100.0
    inside = float((np.abs(out - clean)[head] / np.maximum(clean[head], 1e-3)).mean()) * 100.0
    return ghost, inside


def main(argv=None) -> None:
    import torchio as tio

    from synthspec.families.modality.mri import kspace

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shape", type=int, nargs=3, default=(24, 256, 256))
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--motion-mm", type=float, default=2.0)
    ap.add_argument("--pixel-mm", type=float, default=0.9)
    ap.add_argument("--coil-bias", type=float, default=0.3)
    args = ap.parse_args(argv)
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    shape = tuple(args.shape)
    clean, head = phantom(shape)
    signal = torch.from_numpy(clean)
    lines = shape[2]   # phase encoding along x (LR), as the modality's default axis 2

    def ours_motion(seed):
        g = torch.Generator().manual_seed(seed)
        motion = kspace.draw_motion(g, args.motion_mm, lines, args.pixel_mm)
        return kspace.acquire_magnitude(signal, sigma=0.0, phase_axis=2, motion=motion, generator=g).numpy()

    def ours_bias(seed):
        g = torch.Generator().manual_seed(seed)
        return (signal * kspace.bias_field(shape, args.coil_bias, g)).numpy()

    subject = tio.ScalarImage(tensor=signal[None])

    def tio_run(transform):
        def run(seed):
            torch.manual_seed(seed)
            return transform(subject).data[0].numpy()
        return run

    cases = [
        ("motion (ours: shift + turn during a block of PE lines)", ours_motion,
         tio.RandomMotion(degrees=math.degrees(args.motion_mm / kspace.HEAD_RADIUS_MM), translation=args.motion_mm,
                          num_transforms=1)),
        ("ghosting (ours: the same motion path; TorchIO RandomGhosting)", ours_motion,
         tio.RandomGhosting(num_ghosts=(4, 10), axes=(2,), intensity=(0.5, 1.0))),
        ("bias field (ours: cosine field order 2; TorchIO order 3)", ours_bias,
         tio.RandomBiasField(coefficients=args.coil_bias, order=3)),
    ]
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    print(f"volume {shape[0]}x{shape[1]}x{shape[2]}, {args.repeats} repeats (median), torch threads "
          f"{torch.get_num_threads()}, torchio {tio.__version__}; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"{'artefact':<62} {'ours s':>8} {'tio s':>8} {'ratio':>6}  {'ghost% ours/tio':>16}  {'in-head% ours/tio':>18}")
    for name, ours, theirs in cases:
        t_ours, o_ours = timed(ours, args.repeats)
        t_tio, o_tio = timed(tio_run(theirs), args.repeats)
        g_o, i_o = (statistics.median(v) for v in zip(*(effect(o, clean, head) for o in o_ours)))
        g_t, i_t = (statistics.median(v) for v in zip(*(effect(o, clean, head) for o in o_tio)))
        print(f"{name:<62} {t_ours:8.3f} {t_tio:8.3f} {t_ours / t_tio:6.2f}  {g_o:7.2f}/{g_t:<8.2f}  {i_o:8.2f}/{i_t:<9.2f}")
        if "bias" in name:
            spread = lambda outs: statistics.median(float((o[head] / clean[head]).max() / (o[head] / clean[head]).min())
                                                    for o in outs)
            print(f"{'':<62} bias max/min over the head: ours {spread(o_ours):.2f}, torchio {spread(o_tio):.2f}")
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    print(f"load average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
