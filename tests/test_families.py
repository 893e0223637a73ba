"""The house every modality lives in: the registry, tissues rendered by a modality, the plan as the
only interface, and the cohort folder as one contract."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from synthspec.cohort.read import CohortError, load
from synthspec.compiler.check import compile_file
from synthspec.engine import STAGES, generate_subject
from synthspec.engine.executor import run
from synthspec.families import registry
from synthspec.plan.lower import PlanError, lower
from synthspec.plan.model import FamilyParams, Plan, SampleParams, WriteParams
from test_run import tiny_plan

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def plan(tmp_path_factory):
    p = tiny_plan(tmp_path_factory.mktemp("families"), subjects=2)
    p.validation.anatomy = False   # one draw per subject: these tests are about the plumbing
    return p


def test_a_miss_in_the_registry_names_the_choices():
    with pytest.raises(registry.UnknownFamily) as error:
        registry.anatomy("thorax")
    assert "thorax_adult" in str(error.value)
    assert ("ct", "thorax_adult") in registry.supported_pairs()
    assert registry.modality("ct").name == "ct" and registry.pathology("lung_nodule").name == "lung_nodule"


def test_an_unsupported_pair_is_refused_with_the_pairs_the_registry_has(tmp_path):
    spec = tmp_path / "mri_chest.synth"   # no family images the chest with MRI
    spec.write_text((ROOT / "examples" / "stroke_mri_territory.synth").read_text(encoding="utf-8")
                    .replace("anatomy: head_adult", "anatomy: thorax_adult"), encoding="utf-8")
    with pytest.raises(PlanError) as error:
        lower(compile_file(spec), device="cpu")
    message = str(error.value)
    assert "mri of thorax_adult is not implemented" in message
    assert "ct of thorax_adult" in message and "mri of head_adult" in message


def test_the_registry_and_the_family_descriptors_import_no_numpy():
    code = ("import sys, synthspec.families.registry as r; r.anatomy('thorax_adult'); r.modality('ct');"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('numpy', 'torch', 'scipy', 'numba')))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_plan_is_typed_data_without_a_model_dump(plan):
    assert "cohort" not in Plan.model_fields and "tissue_hu" not in Plan.model_fields
    kinds = [s.kind for s in plan.stages]
    assert kinds == list(STAGES)
    assert isinstance(plan.stage("sample_population").params, SampleParams)
    assert isinstance(plan.stage("acquire").params, FamilyParams) and plan.stage("acquire").params.family == "ct"
    assert isinstance(plan.stage("write").params, WriteParams) and plan.channels == ["image"]
    settings = registry.modality("ct").settings(plan.stage("acquire").params.settings)
    assert settings.kernel == "standard" and settings.slice_thickness_mm == plan.grid.spacing[0]
    again = Plan.model_validate_json(json.dumps(plan.model_dump(mode="json")))
    assert again == plan and again.hash() == plan.hash()
    assert {e.name for e in plan.labels if not e.written} == {"pleura"}
    assert "performance_claim" in plan.summary.vocabulary["claims_need_real_confirmation"]   # the card reads it here


def test_a_saved_plan_replays_exactly_and_the_stages_are_the_plans(plan):
    timings: dict[str, float] = {}
    first = generate_subject(plan, 1, timings=timings)
    assert set(timings) == {s.kind for s in plan.stages if STAGES[s.kind] is not None}
    saved = Plan.model_validate_json(json.dumps(plan.model_dump(mode="json")))
    again = generate_subject(saved, 1)
    assert np.array_equal(first.image, again.image) and np.array_equal(first.labels, again.labels)
    assert first.params == again.params
    # a stage this engine does not know is refused, not skipped
    unknown = plan.stages[:2] + [plan.stages[2].model_copy(update={"kind": "teleport"})]
    with pytest.raises(ValueError, match="teleport"):
        generate_subject(plan.model_copy(update={"stages": unknown}), 0)


def test_the_modality_renders_tissues_from_its_own_table(plan):
    """The same anatomy rendered with a darker lung in the tissue table: only lung voxels move."""
    subject = generate_subject(plan, 0, noiseless=True, with_pathology=False)
    darker = plan.model_copy(deep=True)
    table = darker.stage("acquire").params.settings["tissue_hu"]
    low, high, *typical = table["lung"]
    table["lung"] = [low - 50.0, high - 50.0] + [t - 50.0 for t in typical]
    dark = generate_subject(darker, 0, noiseless=True, with_pathology=False)
    assert np.array_equal(subject.labels, dark.labels)
    lung = np.isin(subject.labels, [e.id for e in plan.labels if e.tissue == "lung"])
    shift = subject.truth[lung] - dark.truth[lung]
    assert 40.0 < float(np.median(shift)) < 60.0
    others = subject.labels >= 40   # heart, aorta, spine, ribs: no lung share in these voxels
    assert np.allclose(subject.truth[others], dark.truth[others], atol=1e-3)


def test_the_cohort_folder_carries_its_label_table_and_channels(plan, tmp_path):
    out = tmp_path / "cohort"
    run(plan, out)
    table = json.loads((out / "labels.json").read_text())
    ids = {entry["id"] for entry in table["labels"]}
    assert 15 not in ids and {10, 11, 12, 13, 14} <= ids            # the pleura is never written
    cohort = load(out)
    written = np.unique(cohort.subjects[0].labels())
    assert set(int(v) for v in written) - {0} <= ids                  # every id that occurs is in the table
    subject = cohort.subjects[0]
    assert np.array_equal(subject.channel("image"), subject.image())
    with pytest.raises(CohortError) as error:
        subject.channel("flair")
    assert "image" in str(error.value)
    info = json.loads((out / "cohort.json").read_text())
    assert info["channels"] == ["image"] and info["modality"] == "ct"


def test_a_body_wider_than_the_field_of_view_is_one_line_not_a_traceback(tmp_path, capsys):
    from synthspec.cli import main
    from test_run import tiny_spec

    spec = tiny_spec(tmp_path)
    text = spec.read_text(encoding="utf-8").replace("field_of_view: 450 mm", "field_of_view: 250 mm  # synth: ignore[ANA002] probe")
    spec.write_text(text, encoding="utf-8")
    code = main(["run", str(spec), "--out", str(tmp_path / "out"), "--no-validate"])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    assert "does not fit" in err and "synth run: error:" in err


def test_a_stage_whose_parameters_belong_to_another_stage_is_refused(plan):
    data = plan.model_dump(mode="json")
    data["stages"][1]["params"], data["stages"][3]["params"] = data["stages"][3]["params"], data["stages"][1]["params"]
    with pytest.raises(ValueError, match="carries"):
        Plan.model_validate(data)
    data = plan.model_dump(mode="json") | {"plan_version": 1}
    with pytest.raises(ValueError, match="plan version"):
        Plan.model_validate(data)
