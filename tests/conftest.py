"""Fixtures several test modules share.

`reference_cohort`: the 2-subject cohort of tests/data/reference_cohort.synth (64 x 64 grid), generated once
per session as (plan, folder).  Modules read it and never change it: a test that damages a cohort copies
it first.

`brain_head`: one real head_adult tissue scene (96 x 96 grid, 5 mm slices), built once per session, with an
`insert(kind, seed, subtype, **lesion)` that places one lesion on a twin-style copy (as the engine does) and
returns (scene, lesion, its mask); for the brain lesion families' tests.  Skips where the head templates
cannot be fetched."""

from __future__ import annotations

import copy
from pathlib import Path
from types import SimpleNamespace

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


@pytest.fixture(scope="session")
def brain_head():
    import numpy as np

    from synthspec.engine.scene import stdlib_tables
    from synthspec.families import registry
    from synthspec.families.anatomy.head.template import load_template
    from synthspec.families.base import Demographics, LesionParams
    from synthspec.families.grid import Grid
    from synthspec.validate.reference.model import ReferenceError

    try:
        load_template()
    except ReferenceError as error:
        pytest.skip(f"the head templates could not be fetched: {error}")
    grid = Grid((36, 96, 96), (5.0, 2.5, 2.5))
    labels = stdlib_tables("head_adult")[0]
    family = registry.anatomy("head_adult")
    settings = family.lower(sorted({e.tissue for e in labels}), labels)
    clean = family.build(settings, Demographics("female", 60.0, 1680.0, 25.0), grid, np.random.default_rng(5))

    def insert(kind, seed=1, subtype="acute", **kw):
        scene = copy.copy(clean)
        scene.layers = list(clean.layers)
        scene.lesion_mask = clean.lesion_mask.copy()
        scene.lesions, scene.rejected = [], []
        kw.setdefault("diameter_mm", 20.0)
        kw.setdefault("locations", [registry.pathology(kind).default_location])
        req = LesionParams(pathology="p", kind=kind, subtype=subtype, **kw)
        registry.pathology(kind).insert(scene, grid, [req], np.random.default_rng(seed), labels, max_attempts=10)
        assert not scene.rejected, scene.rejected
        assert len(scene.lesions) == 1
        return scene, scene.lesions[0], scene.lesion_mask == scene.lesions[0].id

    return SimpleNamespace(scene=clean, labels=labels, grid=grid, ids={e.name: e.id for e in labels}, insert=insert)
