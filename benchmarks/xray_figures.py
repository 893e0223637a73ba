"""Figures of the radiography families, printed as tables: what the closing notes and README quote.

    .venv/bin/python benchmarks/xray_figures.py            # all tables, about a minute on one CPU core
    .venv/bin/python benchmarks/xray_figures.py --only growth

Tables (each from the code the cohorts run, with fixed seeds):
    growth     ossified carpals and open physes by age and sex (the hand family's shape draws, 200 per cell),
               third-metacarpal length against its reference
    scatter    scatter-to-primary ratio behind water at 55 and 120 kV, without and with 8, 10 and 12:1 grids,
               from the model and from a full render of a uniform slab
    beam       half-value layers (RQA5, RQR5-like beams), the heel effect over a 43 cm field, beam hardening
    fields     the phantom field the largest hand needs by age (what `FIELD_BY_AGE` of the hand family holds)
"""

from __future__ import annotations

import argparse

import numpy as np


def growth(draws: int = 200) -> None:
    from synthspec.families.anatomy.hand import references as R
    from synthspec.families.anatomy.hand.shape import sample_shape
    from synthspec.families.base import Demographics
    from synthspec.engine.sample import child_height_mm

    ages = (1, 3, 5, 7, 10, 12, 14, 15, 16, 17, 18)
    print("ossified carpals (mean of", draws, "draws) / physes open (% of radius, ulna, hand physes) / MC3 mm")
    print(f"{'age':>4} | {'girls carpals':>13} {'open r/u/h %':>14} {'MC3':>6} | {'boys carpals':>12} "
          f"{'open r/u/h %':>14} {'MC3':>6} {'ref':>6}")
    for age in ages:
        cells = []
        for sex in ("female", "male"):
            rng = np.random.default_rng(1000 + age)
            carpals, open_, mc3 = [], {"radius": 0, "ulna": 0, "hand": 0}, []
            for _ in range(draws):
                d = Demographics(sex=sex, age_y=float(age), height_mm=child_height_mm(sex, age), bmi=17.0)
                shape = sample_shape(d, rng)
                carpals.append(sum(1 for c in shape.carpals if c.nucleus > 0))
                mc3.append(shape.m3)
                for bone in shape.bones:
                    group = "radius" if bone.name == "radius" else "ulna" if bone.name == "ulna" else "hand"
                    if bone.epi_side and bone.open:
                        open_[group] += 1
            counts = {"radius": 1, "ulna": 1, "hand": max(1, sum(1 for b in shape.bones if b.epi_side) - 2)}
            pct = "/".join(f"{100 * open_[g] / (draws * counts[g]):.0f}" for g in ("radius", "ulna", "hand"))
            cells.append((np.mean(carpals), pct, np.mean(mc3)))
        ref = R.mc3_length_mm(float(age), "male")
        print(f"{age:>4} | {cells[0][0]:>13.1f} {cells[0][1]:>14} {cells[0][2]:>6.1f} | {cells[1][0]:>12.1f} "
              f"{cells[1][1]:>14} {cells[1][2]:>6.1f} {ref:>6.1f}")


def scatter() -> None:
    import torch

    from synthspec.families.modality.xray.detector import DetectorModel, render_radiograph, scatter_to_primary
    from synthspec.families.modality.xray.spectrum import tungsten_spectrum

    print("scatter-to-primary ratio behind water (model | full render of a 120 x 120 mm slab, 1 mm pixels)")
    print(f"{'kV':>4} {'water mm':>8} | {'no grid':>14} {'8:1':>14} {'10:1':>14} {'12:1':>14}")
    for kv, filtration in ((55.0, (("Al", 2.5),)), (120.0, (("Al", 2.5), ("Cu", 0.1)))):
        spectrum = tungsten_spectrum(kv, filtration)
        for water in (30.0, 100.0, 200.0):
            row = []
            for grid in (0, 8, 10, 12):
                areal = torch.full((1, 120, 120), water / 10.0, dtype=torch.float32)
                out = render_radiograph(areal, ["water"], spectrum, mas=2.0, sid_mm=1000.0, sod_mm=900.0, kvp=kv,
                                        grid_ratio=grid, generator=torch.Generator().manual_seed(0),
                                        detector=DetectorModel(pixel_mm=1.0))
                model = float(scatter_to_primary(water, kv, grid))
                row.append(f"{model:5.3f} | {out['spr_mean']:5.3f}")
            print(f"{kv:>4.0f} {water:>8.0f} | " + " ".join(f"{c:>14}" for c in row))


def beam() -> None:
    from synthspec.families.modality.xray.spectrum import half_value_layer_mm_al, heel_profile, tungsten_spectrum

    rqa5 = tungsten_spectrum(70.0, (("Al", 2.5), ("Al", 21.0)))
    print(f"RQA5 (70 kV, 21 mm Al added): HVL {half_value_layer_mm_al(rqa5):.2f} mm Al (IEC 61267: 7.1 at the adjusted kV)")
    for kv in (55.0, 70.0, 120.0):
        s = tungsten_spectrum(kv, (("Al", 2.5),))
        print(f"{kv:.0f} kV, 2.5 mm Al: HVL {half_value_layer_mm_al(s):.2f} mm Al, mean energy {s.mean_energy_kev:.1f} keV")
    positions = np.array([-200.0, -100.0, 0.0, 100.0, 200.0])
    heel = heel_profile(80.0, (("Al", 2.5),), 12.0, 1000.0, positions)
    print("heel effect at 80 kV, 12 deg anode, 100 cm SID (mm from centre, anode side negative): "
          + ", ".join(f"{p:+.0f}: {h:.2f}" for p, h in zip(positions, heel)))


def fields(draws: int = 400) -> None:
    from synthspec.engine.sample import CHILD_HEIGHT_CV, child_height_mm
    from synthspec.families.anatomy.hand.shape import MARGIN_MM, sample_shape
    from synthspec.families.base import Demographics

    print("field (z, y, x mm) the largest hand needs: height 2.5 SD above the median for age,", draws, "draws per sex")
    for age in (4, 6, 8, 10, 12, 14, 18):
        need = np.zeros(3)
        for sex in ("female", "male"):
            rng = np.random.default_rng(age)
            height = child_height_mm(sex, age) * (1 + 2.5 * CHILD_HEIGHT_CV)
            for _ in range(draws):
                lo, hi = sample_shape(Demographics(sex=sex, age_y=float(age), height_mm=height, bmi=20.0), rng).extent
                need = np.maximum(need, hi - lo + 2 * MARGIN_MM)
        print(f"{age:>3} y: " + " x ".join(f"{v:.0f}" for v in need))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=("growth", "scatter", "beam", "fields"))
    args = parser.parse_args()
    for name, table in (("growth", growth), ("scatter", scatter), ("beam", beam), ("fields", fields)):
        if args.only in (None, name):
            table()
            print()


if __name__ == "__main__":
    main()
