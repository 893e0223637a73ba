"""Fixtures several test modules share.

`reference_cohort`: the 2-subject cohort of tests/data/reference_cohort.synth (64 x 64 grid), generated once
per session as (plan, folder).  Modules read it and never change it: a test that damages a cohort copies
it first."""

from __future__ import annotations

from pathlib import Path

import pytest

REFERENCE_SPEC = Path(__file__).parent / "data" / "reference_cohort.synth"


@pytest.fixture(scope="session")
def reference_cohort(tmp_path_factory):
    from synthspec import api
    from synthspec.engine.executor import run

    out = tmp_path_factory.mktemp("reference") / "cohort"
    plan = api.plan(REFERENCE_SPEC, device="cpu")
    run(plan, out)
    return plan, out
