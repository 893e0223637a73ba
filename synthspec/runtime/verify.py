"""`synth verify`: regenerate a sample of subjects from the stored plan and compare file hashes."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np

from ..plan.model import Plan
from .executor import RunError, subject_dir, write_subject
from .generate import generate
from .sample import sample_subject


def choose_indices(plan: Plan, count: int) -> list[int]:
    rng = np.random.default_rng(int(plan.seed_key[:8], 16))
    count = min(count, plan.subjects)
    return sorted(int(k) for k in rng.choice(plan.subjects, size=count, replace=False))


def verify(cohort: Path, count: int = 3, device: str | None = None) -> list[tuple[int, bool, list[str]]]:
    plan_file = cohort / "plan.json"
    if not plan_file.is_file():
        raise RunError(f"{cohort} has no plan.json; is it a synthspec cohort folder?")
    try:
        plan = Plan.model_validate_json(plan_file.read_text(encoding="utf-8"))
    except Exception as error:  # noqa: BLE001
        raise RunError(f"{plan_file} cannot be read as a plan ({type(error).__name__})") from None
    from .. import __version__

    if plan.synthspec_version != __version__:
        raise RunError(f"{cohort} was written by synthspec {plan.synthspec_version}; verify it with that version")
    results = []
    with tempfile.TemporaryDirectory(prefix="synth-verify-") as tmp:
        for k in choose_indices(plan, count):
            stored = subject_dir(cohort, k) / "subject.json"
            if not stored.is_file():
                results.append((k, False, ["subject missing from the cohort"]))
                continue
            expected = json.loads(stored.read_text(encoding="utf-8"))["hashes"]
            record = write_subject(Path(tmp), plan, generate(plan, sample_subject(plan, k), device=device))
            diffs = sorted(name for name in set(expected) | set(record["hashes"])
                           if expected.get(name) != record["hashes"].get(name))
            results.append((k, not diffs, diffs))
    return results
