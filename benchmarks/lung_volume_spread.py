"""How much do lungs differ between people of one sex and height?  (python benchmarks/lung_volume_spread.py)

Draws the thorax's shape for `--draws` subjects of each sex at fixed height, age and BMI (175 cm men,
163 cm women, 60 y, BMI 26), classifies it on a coarse grid (4 x 3 x 3 mm; the lung region before
vessels and airways are carved) and prints the mean and SD of the lung volume next to the ERS/ECCS
1993 predicted TLC and its residual SD (0.70 L men, 0.60 L women): the spread real people of that
sex and height show.  A CT lung volume is a breath-hold below TLC, so compare the coefficients of
variation more than the litres.  About 1 s per draw on one core.

    .venv/bin/python benchmarks/lung_volume_spread.py [--draws 40] [--family thorax_adult_real]

`--family thorax_adult_real` builds the real-prior thorax of the lung example instead (lobes and lung vessels
on a 2.5 x 3.5 x 3.5 mm grid, about 2 s a draw; the template is derived once first).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--draws", type=int, default=40, help="subjects per sex (default 40)")
    parser.add_argument("--family", default="thorax_adult", choices=("thorax_adult", "thorax_adult_real"),
                        help="the procedural thorax (default) or the real-prior one of the lung example")
    args = parser.parse_args(argv)
    if args.family == "thorax_adult_real":
        return real_prior(args.draws)

    from synthspec.families.anatomy.thorax.classify import _classify
    from synthspec.families.anatomy.thorax.shape import R_LUNG, sample_shape
    from synthspec.families.base import Demographics
    from synthspec.families.grid import Grid, run_slabs

    grid = Grid((80, 150, 150), (4.0, 3.0, 3.0))
    zc, yc, xc = grid.centres_mm()
    for sex, height in (("male", 1750.0), ("female", 1630.0)):
        person = Demographics(sex=sex, age_y=60.0, height_mm=height, bmi=26.0)
        volumes, cut = [], 0
        for k in range(args.draws):
            shape, arrays = sample_shape(person, np.random.default_rng(1000 + k))
            labels = np.empty(grid.shape, np.uint8)
            region = np.empty(grid.shape, np.uint8)
            fissures = np.empty(grid.shape, np.float32)
            run_slabs(_classify, grid.shape[0], zc, yc, xc, shape, arrays["heart_c"], arrays["heart_M"],
                      arrays["heart_Md"], arrays["rib_jit"], np.asarray(grid.spacing, float), labels, region, fissures)
            lung = region == R_LUNG
            cut += bool(lung[0].any() or lung[-1].any())
            volumes.append(float(lung.sum()) * float(np.prod(grid.spacing)) / 1e6)
        _report("", sex, height, volumes, cut)
    return 0


def _report(prefix: str, sex: str, height: float, volumes: list[float], cut: int) -> None:
    from synthspec.families.anatomy.thorax.references import predicted_tlc_ml

    v = np.array(volumes)
    pred, rsd = predicted_tlc_ml(sex, height)
    print(f"{prefix}{sex:6s} {height / 10:.0f} cm, BMI 26, 60 y: {len(v)} draws, lung volume mean {v.mean():.2f} L, "
          f"SD {v.std(ddof=1):.2f} L (CV {v.std(ddof=1) / v.mean():.1%}), range {v.min():.2f}-{v.max():.2f} L; "
          f"ERS TLC {pred / 1000:.2f} L, residual SD {rsd / 1000:.2f} L (CV {rsd / pred:.1%}); "
          f"lungs cut by the volume's ends: {cut}")


def real_prior(draws: int) -> int:
    from synthspec import api
    from synthspec.families import registry
    from synthspec.families.anatomy.thorax_real.codes import CODES, LOBES
    from synthspec.families.base import Demographics
    from synthspec.families.grid import Grid

    plan = api.plan(Path(__file__).resolve().parent.parent / "examples" / "lung_nodules_ldct.synth", device="cpu")
    stage = next(s for s in plan.stages if s.kind == "build_anatomy")
    family = registry.anatomy(stage.params.family)
    grid = Grid((132, 128, 128), (2.5, 450.0 / 128, 450.0 / 128))
    lungs = [CODES[n] for n in LOBES] + [CODES["lung_vessels"]]
    for sex, height in (("male", 1750.0), ("female", 1630.0)):
        person = Demographics(sex=sex, age_y=60.0, height_mm=height, bmi=26.0)
        volumes, cut = [], 0
        for k in range(draws):
            scene = family.build(stage.params.settings, person, grid, np.random.default_rng(1000 + k))
            lung = np.isin(scene.labels, lungs)
            cut += bool(lung[0].any() or lung[-1].any())
            volumes.append(float(lung.sum()) * grid.voxel_mm3 / 1e6)
        _report(f"{stage.params.family} ", sex, height, volumes, cut)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
