"""Beam-hardening figures of the CT modality (python benchmarks/ct_cupping.py).

A 20 cm water cylinder at 120 kV, noiseless, 256 matrix on a 300 mm field: centre (r < 10 mm) minus a ring
at 80-90 % of the radius, and cupping % = (edge - centre) / (edge + 1000) * 100 (edge and centre in HU,
i.e. relative to the edge's mu): monochromatic, polychromatic without and with the water correction.
Then two petrous-like cortical-bone rods (15 mm, 1800 HU) 50 mm apart inside a 160 mm water disc: the
streak depth = mean HU on the segment between the rods minus the mean of water well away from it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from synthspec.families.modality.ct.acquisition import CTAcquisition, simulate_ct  # noqa: E402


def disc(n: int, pixel: float, radius_mm: float, cx: float = 0.0, cy: float = 0.0) -> torch.Tensor:
    c = (torch.arange(n, dtype=torch.float32) - (n - 1) / 2) * pixel
    yy, xx = torch.meshgrid(c, c, indexing="ij")
    return ((xx - cx) ** 2 + (yy - cy) ** 2) <= radius_mm**2


def radius_map(n: int, pixel: float) -> torch.Tensor:
    c = (torch.arange(n, dtype=torch.float32) - (n - 1) / 2) * pixel
    yy, xx = torch.meshgrid(c, c, indexing="ij")
    return torch.sqrt(xx**2 + yy**2)


def scan(hu: torch.Tensor, pixel: float, **beam) -> torch.Tensor:
    acq = CTAcquisition(kv=120.0, mas=100.0, slice_thickness_mm=2.5, pixel_mm=pixel, kernel="standard", **beam)
    return simulate_ct(hu[None], acq, None)[0]


def cupping(image: torch.Tensor, pixel: float, radius: float) -> tuple[float, float, float]:
    r = radius_map(image.shape[0], pixel)
    centre = float(image[r < 10.0].mean())
    edge = float(image[(r > 0.8 * radius) & (r < 0.9 * radius)].mean())
    return centre, edge, 100.0 * (edge - centre) / (edge + 1000.0)


def water_cylinder(n: int, pixel: float, radius: float = 100.0) -> torch.Tensor:
    hu = torch.full((n, n), -1000.0)
    hu[disc(n, pixel, radius)] = 0.0
    return hu


def bone_rods(n: int, pixel: float, gap_mm: float = 50.0) -> torch.Tensor:
    hu = torch.full((n, n), -1000.0)
    hu[disc(n, pixel, 80.0)] = 0.0
    for cx in (-gap_mm / 2, gap_mm / 2):
        hu[disc(n, pixel, 7.5, cx=cx)] = 1800.0
    return hu


def streak_depth(image: torch.Tensor, pixel: float, gap_mm: float = 50.0) -> float:
    n = image.shape[0]
    c = (torch.arange(n, dtype=torch.float32) - (n - 1) / 2) * pixel
    yy, xx = torch.meshgrid(c, c, indexing="ij")
    between = (xx.abs() < gap_mm / 2 - 12.0) & (yy.abs() < 2.0)
    reference = (yy.abs() > 25.0) & (yy.abs() < 45.0) & (xx.abs() < 30.0)
    return float(image[between].mean() - image[reference].mean())


def main() -> None:
    n, pixel = 256, 300.0 / 256
    water = water_cylinder(n, pixel)
    print("20 cm water cylinder, 120 kV, noiseless (centre HU, ring 80-90 % HU, cupping %)")
    for label, beam in (("monochromatic", {}),
                        ("polychromatic, no water correction", {"beam": "polychromatic", "water_correction": False}),
                        ("polychromatic, water correction", {"beam": "polychromatic"})):
        centre, edge, pct = cupping(scan(water, pixel, **beam), pixel, 100.0)
        print(f"  {label:38s} centre {centre:8.1f}  edge {edge:8.1f}  centre-edge {centre - edge:7.1f} HU"
              f"  cupping {pct:5.2f} %")
    rods = bone_rods(n, pixel)
    print("two 15 mm cortical-bone rods (1800 HU) 50 mm apart in 160 mm water: streak depth between them (HU)")
    for label, beam in (("monochromatic", {}),
                        ("polychromatic, water correction only", {"beam": "polychromatic"}),
                        ("polychromatic, water + bone correction 0.7", {"beam": "polychromatic",
                                                                        "bone_correction": 0.7}),
                        ("polychromatic, water + bone correction 1.0", {"beam": "polychromatic",
                                                                        "bone_correction": 1.0})):
        print(f"  {label:44s} {streak_depth(scan(rods, pixel, **beam), pixel):7.1f}")


if __name__ == "__main__":
    main()
