"""Check results: one pass/fail per check with the measured value, the threshold and a reason.

The record every validation family returns and `validation.json` holds; it runs no check and reads
no cohort (writing goes through `synthspec.cohort.atomic`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from synthspec.cohort import layout


class CheckResult(BaseModel):
    family: str                   # "anatomy" | "realism" | "shortcut"
    name: str                     # e.g. "lung_volume_in_range", "wasserstein_lung"
    passed: bool
    value: float | None = None
    threshold: float | None = None
    reason: str = ""              # one line a person can act on
    details: dict[str, Any] = {}


class ValidationReport(BaseModel):
    cohort: str
    synthspec_version: str
    content_hash: str
    checks: list[CheckResult] = []
    seconds: float = 0.0
    kept_families: list[str] = []   # families not run this time whose earlier results validation.json keeps

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    def write(self, folder: Path) -> Path:
        from synthspec.cohort.atomic import write_text_atomic

        path = folder / layout.VALIDATION
        data = self.model_dump(mode="json")
        data["passed"] = self.passed
        write_text_atomic(path, json.dumps(data, indent=2, sort_keys=True))
        return path
