"""The plan behind a dataset: a `Plan`, a `.synth` spec, a saved plan (plan.json) or a cohort folder.

A spec is compiled and planned the way `synth run` plans it (`api.plan`, the spec's own subject count:
the dataset's length is its own business, so asking for a million items never trips the plan's time
or disk budget).  A plan file or a cohort folder's plan.json is read with `api.load_plan`.  Every
refusal is a `SynthError` with a one-line message that names the source and the fix.
"""

from __future__ import annotations

import os
from pathlib import Path

from synthspec.errors import InputError, UsageError

SPEC_SUFFIX = ".synth"
PLAN_SUFFIX = ".json"
PLAN_FILE = "plan.json"   # cohort.layout.PLAN, spelled here so that reading a source stays import-free


def plan_of(source, device: str = "cpu"):
    """The `Plan` of `source` (see the module docstring); `device` is what a spec is planned for."""
    from synthspec import api
    from synthspec.plan.model import Plan

    if isinstance(source, Plan):
        return source
    if not isinstance(source, (str, os.PathLike)):
        raise UsageError(f"a dataset's source is a .synth spec, a plan.json, a cohort folder or a Plan, not "
                         f"{type(source).__name__}; pass a path or api.plan(...)")
    path = Path(source)
    if path.is_dir():
        if not (path / PLAN_FILE).is_file():
            raise InputError(f"{path} is a folder without {PLAN_FILE}; give a cohort folder, a .synth spec or a "
                             "plan saved with `synth plan SPEC --save FILE`")
        return api.load_plan(path / PLAN_FILE)
    if path.suffix == SPEC_SUFFIX:
        return api.plan(path, device="cuda" if str(device).startswith("cuda") else "cpu")
    if path.suffix == PLAN_SUFFIX:
        return api.load_plan(path)
    raise InputError(f"{path} is neither a {SPEC_SUFFIX} spec nor a saved plan ({PLAN_SUFFIX}); give one of those, "
                     "or a cohort folder")
