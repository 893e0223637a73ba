"""Typed values of the checked model: distributions and mixes in canonical units."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel


class Dist(BaseModel):
    """A sampled quantity in canonical units (see `units`).

    fixed: `value`; uniform: `low`..`high`; normal / lognormal: `mean`, `sd`
    (lognormal parameters are of the quantity itself, not its log), optionally
    clipped to `low`..`high`; mix: `options` with `weights` summing to 1.
    """

    kind: Literal["fixed", "uniform", "normal", "lognormal", "mix"]
    dimension: str
    value: float | None = None
    low: float | None = None
    high: float | None = None
    mean: float | None = None
    sd: float | None = None
    options: list["Dist"] = []
    weights: list[float] = []

    def support(self) -> tuple[float, float]:
        """The smallest and largest value a sample can take (inf where unbounded)."""
        if self.kind == "fixed":
            return self.value, self.value
        if self.kind == "mix":
            bounds = [o.support() for o in self.options]
            return min(b[0] for b in bounds), max(b[1] for b in bounds)
        low = self.low if self.low is not None else (0.0 if self.kind == "lognormal" else -math.inf)
        high = self.high if self.high is not None else math.inf
        return low, high

    def typical(self) -> tuple[float, float]:
        """A finite central interval (mean +/- 2 sd for unclipped normals)."""
        low, high = self.support()
        if self.kind in ("normal", "lognormal"):
            low = max(low, self.mean - 2 * self.sd)
            high = min(high, self.mean + 2 * self.sd)
        return low, high

    def mean_value(self) -> float:
        if self.kind == "fixed":
            return self.value
        if self.kind == "uniform":
            return (self.low + self.high) / 2
        if self.kind == "mix":
            return sum(w * o.mean_value() for o, w in zip(self.options, self.weights))
        return self.mean


class Mix(BaseModel):
    """A weighted choice of names; `weights` are fractions summing to 1."""

    names: list[str]
    weights: list[float]

    def as_dict(self) -> dict[str, float]:
        return dict(zip(self.names, self.weights))


Dist.model_rebuild()
