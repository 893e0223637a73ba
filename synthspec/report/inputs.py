"""What the report reads from the rest of synthspec, each through one small function.

- `spec_summary(plan)`: the words of the spec the card shows (`plan.summary`:
  title, task, governance, transfer), the planned scanner mix and prevalence
  (`plan.sampling`) and the spec's `validate` block (`plan.validation`);
- `display_windows(plan)` / `lung_window(plan)`: the modality's display windows
  (from the families registry);
- `lung_labels(plan)`: the lung label ids, from the plan's label table;
- `subject_image(subject)`: the one place that reads a subject's image (a
  subject may later hold several named channels);
- `validation_families()` / `requested_families(cohort)`: the validation families
  and those the spec's `validate` block asks for, as `synth validate` decides.

It reads; it never generates (no `synthspec.engine` import) and never writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any



@dataclass(frozen=True)
class DisplayWindow:
    """A named grey-level window in the modality's units (CT: HU): level - width/2 is black."""

    name: str
    width: float
    level: float


def display_windows(plan) -> tuple[DisplayWindow, ...]:
    """The windows the report shows every thumbnail in: the modality's, in its order."""
    from synthspec.families.registry import modality

    out = []
    for w in modality(plan.modality).windows:
        name, width, level = w.name, w.width, w.level
        if float(width) <= 0:
            raise ValueError(f"the {plan.modality} window {name!r} has width {width}; a window width is positive")
        out.append(DisplayWindow(str(name), float(width), float(level)))
    return tuple(out)


def lung_window(plan) -> DisplayWindow:
    """The window named `lung` (the reader pack reads in it); the modality's first window if none is."""
    windows = display_windows(plan)
    return next((w for w in windows if w.name == "lung"), windows[0])


def lung_labels(plan) -> tuple[int, ...]:
    from synthspec.cohort.labels import lung_ids

    return lung_ids(plan)


def subject_image(subject):
    """The subject's image volume [Z, Y, X] (later: `subject.channel(name)`)."""
    return subject.image()


def spec_summary(plan) -> dict[str, Any]:
    """The parts of the spec the card and report show, as plain JSON-ready data."""
    words = plan.summary.model_dump(mode="json")
    sampling = plan.sampling
    scanners = sampling.scanners.model_dump(mode="json") if sampling.scanners is not None else {}
    return {
        "title": words.get("title"), "description": words.get("description"),
        "task": words.get("task") or {}, "governance": words.get("governance") or {},
        "transfer": words.get("transfer") or {},
        "scanners": {"names": list(scanners.get("names") or []), "weights": list(scanners.get("weights") or [])},
        "pathologies": [{"name": p.name, "prevalence": p.prevalence} for p in sampling.pathologies],
        "validate": plan.validation.model_dump(mode="json"),
    }


def validation_families() -> tuple[str, ...]:
    """The families `synth validate` knows, in its order."""
    from synthspec.validate.run import FAMILIES

    return tuple(FAMILIES)


def requested_families(cohort) -> tuple[str, ...]:
    """The families the spec's `validate` block asks for, decided by `synth validate` itself.

    If that cannot be decided (a plan the validator cannot read), every family counts as
    asked for: the report then shows no overall pass unless every family ran and passed."""
    try:
        from synthspec.validate.run import wanted_families

        return tuple(wanted_families(cohort, None))
    except Exception:  # noqa: BLE001 - err on the side of "not validated"
        return validation_families()
