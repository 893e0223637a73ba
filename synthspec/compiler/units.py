"""Units and dimensions: every quantity is converted to a canonical unit here, and only here.

Canonical units: length mm, volume mL, time ms, age years, CT number HU, tube
voltage kV, tube current-time product mAs, field strength T, angle deg,
fraction (percent / 100), contrast dose mmol/kg, mass kg, BMI kg/m2,
diffusion weighting s/mm2, diffusivity mm2/s (as 10^-3 mm2/s), dose mGy,
relaxivity L/mmol/s, count (dimensionless).
"""

from __future__ import annotations

from typing import NamedTuple


class Unit(NamedTuple):
    dimension: str
    factor: float  # multiply a value in this unit by factor to get the canonical unit


UNITS: dict[str, Unit] = {
    # length (mm)
    "um": Unit("length", 1e-3), "µm": Unit("length", 1e-3), "mm": Unit("length", 1.0),
    "cm": Unit("length", 10.0), "m": Unit("length", 1000.0),
    # volume (mL)
    "uL": Unit("volume", 1e-3), "mL": Unit("volume", 1.0), "ml": Unit("volume", 1.0), "cc": Unit("volume", 1.0),
    "L": Unit("volume", 1000.0), "mm3": Unit("volume", 1e-3), "cm3": Unit("volume", 1.0),
    # time (ms); hours and minutes for time since onset
    "us": Unit("time", 1e-3), "ms": Unit("time", 1.0), "s": Unit("time", 1000.0),
    "min": Unit("time", 60_000.0), "h": Unit("time", 3_600_000.0), "d": Unit("time", 86_400_000.0),
    # age (years)
    "y": Unit("age", 1.0), "yr": Unit("age", 1.0), "mo": Unit("age", 1 / 12), "wk": Unit("age", 7 / 365.25),
    # CT number
    "HU": Unit("ct_number", 1.0),
    # tube
    "kV": Unit("voltage", 1.0), "kVp": Unit("voltage", 1.0), "mAs": Unit("charge", 1.0), "mA": Unit("current", 1.0),
    # MR
    "T": Unit("field", 1.0), "mT": Unit("field", 1e-3),
    "deg": Unit("angle", 1.0), "rad": Unit("angle", 57.29577951308232),
    "s/mm2": Unit("b_value", 1.0), "mm2/s": Unit("diffusivity", 1000.0), "um2/ms": Unit("diffusivity", 1.0),
    "L/mmol/s": Unit("relaxivity", 1.0),
    # population and dosing
    "%": Unit("fraction", 0.01), "kg": Unit("mass", 1.0), "g": Unit("mass", 1e-3),
    "kg/m2": Unit("bmi", 1.0), "mmol/kg": Unit("contrast_dose", 1.0), "mL/kg": Unit("volume_per_mass", 1.0),
    "mGy": Unit("dose", 1.0), "Gy": Unit("dose", 1000.0),
    "keV": Unit("energy", 1.0), "lp/mm": Unit("spatial_frequency", 1.0), "1/cm": Unit("attenuation", 1.0),
    "g/cm3": Unit("density", 1.0),
}

CANONICAL = {
    "length": "mm", "volume": "mL", "time": "ms", "age": "y", "ct_number": "HU", "voltage": "kV",
    "charge": "mAs", "current": "mA", "field": "T", "angle": "deg", "b_value": "s/mm2",
    "diffusivity": "um2/ms", "relaxivity": "L/mmol/s", "fraction": "%", "mass": "kg", "bmi": "kg/m2",
    "contrast_dose": "mmol/kg", "volume_per_mass": "mL/kg", "dose": "mGy", "energy": "keV",
    "spatial_frequency": "lp/mm", "attenuation": "1/cm", "density": "g/cm3", "count": "",
}

# Units a user may write for each dimension, for hints.
EXAMPLES = {dim: sorted(u for u, spec in UNITS.items() if spec.dimension == dim) for dim in CANONICAL}


def lookup(unit: str | None) -> Unit | None:
    if unit is None:
        return Unit("count", 1.0)
    return UNITS.get(unit)


def to_canonical(number: float, unit: str | None) -> float:
    spec = lookup(unit)
    if spec is None:
        raise KeyError(unit)
    value = number * spec.factor
    return value


def describe(dimension: str) -> str:
    names = EXAMPLES.get(dimension) or []
    return ", ".join(names[:4]) if names else "no unit"


def format_canonical(value: float, dimension: str) -> str:
    unit = CANONICAL.get(dimension, "")
    if dimension == "fraction":
        return f"{value * 100:g}%"
    return f"{value:g} {unit}".strip()
