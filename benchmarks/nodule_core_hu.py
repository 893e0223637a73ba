"""How solid a solid nodule reads in the delivered images (python benchmarks/nodule_core_hu.py).

A solid nodule is soft tissue (about 0-60 HU).  A reader, or a Lung-RADS rule, meets it in the
delivered image: a nodule a few voxels across is averaged with the lung around it by the voxel, the
slice and the reconstruction kernel, and reads lower.  This generates the first subjects of
examples/lung_nodules_ldct.synth that carry a solid nodule (or of --spec), at the spec's matrix or at
--matrix, and prints per solid nodule its requested diameter, the mean and maximum of the delivered
int16 HU inside its lesion mask, and the LIDC-IDRI outline it was drawn from; then the medians.

    .venv/bin/python benchmarks/nodule_core_hu.py [--nodules 8] [--matrix 512] [--spec FILE]

About 8 s per subject at the example's 256 matrix on a 2-core CPU, about 70 s at 512.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def spec_with_matrix(spec: Path, matrix: int | None, folder: Path) -> Path:
    """`spec`, or a copy whose `matrix:` line is `matrix` (views left to the planner: full sampling)."""
    if matrix is None:
        return spec
    text = re.sub(r"(?m)^(\s*)matrix:.*$", rf"\g<1>matrix: {matrix}", spec.read_text(encoding="utf-8"))
    text = re.sub(r"(?m)^\s*views:.*\n", "", text)
    out = folder / spec.name
    out.write_text(text, encoding="utf-8")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spec", type=Path, default=ROOT / "examples" / "lung_nodules_ldct.synth")
    ap.add_argument("--nodules", type=int, default=8, help="stop after this many solid nodules")
    ap.add_argument("--matrix", type=int, default=None, help="reconstruct at this matrix instead of the spec's")
    args = ap.parse_args()

    from synthspec import api
    from synthspec.engine.sample import sample_subject
    from synthspec.engine.subject import generate_subject

    with tempfile.TemporaryDirectory() as tmp:
        plan = api.plan(spec_with_matrix(args.spec, args.matrix, Path(tmp)), device="cpu")
    settings = plan.stage("acquire").params.settings
    print(f"{args.spec.name}: {settings.get('pixel_mm'):.3f} mm pixels, {settings.get('slice_thickness_mm')} mm slices, "
          f"{settings.get('views')} views")
    rows, seconds = [], []
    for k in range(plan.subjects * 4):
        params = sample_subject(plan, k)
        if not any(les.subtype == "solid" for les in params.lesions):
            continue
        started = time.perf_counter()
        subject = generate_subject(plan, k)
        seconds.append(time.perf_counter() - started)
        image = subject.channels["image"].astype(np.float32)
        for les in subject.lesions:
            if les.subtype != "solid":
                continue
            inside = image[subject.lesion_mask == les.id]
            rows.append((k, les.diameter_mm, inside.size, float(inside.mean()), float(inside.max()),
                         les.attributes.get("outline", "-")))
            print(f"subject {k:3d}  {les.diameter_mm:5.1f} mm  {inside.size:4d} voxels  mean {inside.mean():7.1f} HU  "
                  f"max {inside.max():7.1f} HU  {les.attributes.get('outline', '-')}", flush=True)
        if len(rows) >= args.nodules:
            break
    if not rows:
        print("no solid nodule in the subjects looked at")
        return
    means, maxima = np.array([r[3] for r in rows]), np.array([r[4] for r in rows])
    print(f"{len(rows)} solid nodules ({min(r[1] for r in rows):.1f}-{max(r[1] for r in rows):.1f} mm): "
          f"median of the mean {np.median(means):.0f} HU, median of the maximum {np.median(maxima):.0f} HU; "
          f"{np.median(seconds):.1f} s per subject (median of {len(seconds)})")


if __name__ == "__main__":
    main()
