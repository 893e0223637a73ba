"""Lowering, plans and population sampling: pure data, stable hashes, seeds independent of size."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from synthspec.cli import main
from synthspec.compiler.check import compile_file
from synthspec.plan.lower import PlanError, lower
from synthspec.plan.model import Plan
from synthspec.engine.sample import carries, sample_subject, strata
from synthspec.seeds import numpy_stream, stream_seed

EXAMPLE = Path(__file__).parent.parent / "examples" / "lung_nodules_ldct.synth"


@pytest.fixture(scope="module")
def result():
    r = compile_file(EXAMPLE)
    assert not [d for d in r.visible if d.severity.value == "error"]
    return r


def test_plan_round_trips_through_json_with_the_same_hash(result):
    plan = lower(result, device="cpu")
    again = Plan.model_validate_json(json.dumps(plan.model_dump(mode="json")))
    assert again.hash() == plan.hash()
    assert lower(result, device="cpu").hash() == plan.hash()


def test_plan_has_the_stage_dag_with_shapes(result):
    plan = lower(result, device="cpu")
    kinds = [s.kind for s in plan.stages]
    assert kinds == ["sample_population", "build_anatomy", "insert_pathology", "acquire", "write"]
    ids = {s.id for s in plan.stages}
    assert all(set(s.after) <= ids for s in plan.stages)
    phantom = plan.stage("build_anatomy")
    assert phantom.outputs[0].shape == list(plan.grid.shape)
    assert plan.batch_size >= 1 and plan.memory["per_subject_bytes"] > 0


def plan_bytes(plan: Plan) -> str:
    return json.dumps(plan.model_dump(mode="json"), sort_keys=True)


def test_the_free_memory_at_planning_time_does_not_reach_the_plan(result, monkeypatch):
    """Two plans of the same spec and options on one machine are the same bytes, whatever is free at the moment."""
    from synthspec.plan import estimate

    monkeypatch.setattr(estimate, "available_memory", lambda device: 1 * 2**30)
    busy = lower(result, device="cpu")
    monkeypatch.setattr(estimate, "available_memory", lambda device: 200 * 2**30)
    idle = lower(result, device="cpu")
    assert plan_bytes(busy) == plan_bytes(idle) and busy.hash() == idle.hash()
    assert "available" not in plan_bytes(busy)
    assert busy.memory["device_bytes"] == estimate.device_memory("cpu")


def test_the_batch_follows_the_device_memory_and_never_the_hash(result, monkeypatch):
    from synthspec.plan import estimate

    monkeypatch.setattr(estimate, "device_memory", lambda device: 8 * 2**30)
    small = lower(result, device="cpu")
    monkeypatch.setattr(estimate, "device_memory", lambda device: 512 * 2**30)
    large = lower(result, device="cpu")
    assert small.memory["budget_bytes"] == int(8 * 2**30 * estimate.MEMORY_FRACTION["cpu"])
    assert small.batch_size == small.memory["budget_bytes"] // small.memory["per_subject_bytes"] < large.batch_size
    assert small.hash() == large.hash()  # memory, batch and estimates are execution-only
    assert lower(result, device="cpu", memory_budget=small.memory["budget_bytes"]).batch_size == small.batch_size


def test_device_memory_is_the_physical_ram_capped_by_the_container(monkeypatch):
    from synthspec.plan import estimate

    monkeypatch.setattr(estimate, "_meminfo", lambda field: {"MemTotal": 64 * 2**30, "MemAvailable": 3 * 2**30}[field])
    monkeypatch.setattr(estimate, "_cgroup_limit", lambda: None)
    assert estimate.device_memory("cpu") == 64 * 2**30 and estimate.available_memory("cpu") == 3 * 2**30
    monkeypatch.setattr(estimate, "_cgroup_limit", lambda: 16 * 2**30)
    assert estimate.device_memory("cpu") == 16 * 2**30


def test_on_cuda_the_budget_is_a_share_of_the_gpu_total_not_of_what_is_free(monkeypatch):
    import sys
    from types import SimpleNamespace

    from synthspec.plan import estimate

    total = 80 * 2**30
    cuda = SimpleNamespace(current_device=lambda: 0, mem_get_info=lambda: (3 * 2**30, total),
                           get_device_properties=lambda index: SimpleNamespace(total_memory=total))
    monkeypatch.setitem(sys.modules, "torch", SimpleNamespace(cuda=cuda))
    assert estimate.device_memory("cuda") == total and estimate.available_memory("cuda") == 3 * 2**30
    assert estimate.memory_budget("cuda") == int(total * estimate.MEMORY_FRACTION["cuda"])


def test_an_impossible_request_is_refused_with_the_estimate_and_the_knob(result):
    with pytest.raises(PlanError) as error:
        lower(result, device="cpu", memory_budget=10 * 2**20)
    assert "GiB" in str(error.value) and ("matrix" in str(error.value) or "slice_thickness" in str(error.value))


def test_subject_k_does_not_depend_on_the_subject_count(result):
    small, large = lower(result, device="cpu", subjects=4), lower(result, device="cpu", subjects=400)
    assert small.seed_key == large.seed_key
    for k in range(4):
        assert sample_subject(small, k) == sample_subject(large, k)


def test_formatting_does_not_change_the_seed_key(tmp_path, result):
    text = EXAMPLE.read_text(encoding="utf-8")
    reformatted = tmp_path / "x.synth"
    reformatted.write_text("# a new comment\n" + text.replace("  seed: 42", "  seed:    42  # same"), encoding="utf-8")
    other = compile_file(reformatted)
    assert lower(other, device="cpu").seed_key == lower(result, device="cpu").seed_key
    assert lower(other, device="cpu").spec_hash != lower(result, device="cpu").spec_hash


def test_streams_are_distinct_and_reproducible():
    assert stream_seed("k", 1, 0, "anatomy") != stream_seed("k", 1, 0, "noise")
    assert stream_seed("k", 1, 0, "anatomy") != stream_seed("k", 1, 1, "anatomy")
    assert numpy_stream("k", 1, 5, "lesions").random() == numpy_stream("k", 1, 5, "lesions").random()
    with pytest.raises(ValueError):
        stream_seed("k", 1, 0, "nope")


def test_stratified_sampling_balances_by_index(result):
    plan = lower(result, device="cpu", subjects=40)
    cells = strata(plan)
    assert len(cells) == 2
    sexes = [sample_subject(plan, k).sex for k in range(40)]
    assert sexes.count("female") == sexes.count("male") == 20


def test_sampled_values_respect_the_spec(result):
    plan = lower(result, device="cpu", subjects=60)
    subjects = [sample_subject(plan, k) for k in range(60)]
    assert all(50 <= s.age_y <= 80 for s in subjects)
    assert all(20 <= s.acquisition["mas"] <= 60 for s in subjects)
    lesions = [l for s in subjects for l in s.lesions]
    assert lesions and all(4 <= l.diameter_mm <= 8 for l in lesions)
    assert all(l.min_pleura_mm == 2.0 for l in lesions)
    positives = sum(s.positive for s in subjects)
    assert abs(positives - 0.6 * 60) <= 2  # prevalence 60 %


def test_prevalence_holds_in_every_prefix_and_stratum(result):
    """Not a coin flip per subject: 16 subjects at 60 % must not come out 14 positive and 2 negative."""
    plan = lower(result, device="cpu", subjects=200)
    subjects = [sample_subject(plan, k) for k in range(200)]
    for n in range(4, 201):   # each stratum within 2.5 of its share; the cohort adds two strata's deviations
        positives = sum(s.positive for s in subjects[:n])
        assert abs(positives - 0.6 * n) <= 3.0, n
        for sex in ("female", "male"):
            cell = [s for s in subjects[:n] if s.sex == sex]
            assert abs(sum(s.positive for s in cell) - 0.6 * len(cell)) <= 2.5, (n, sex)


def test_prevalence_holds_in_each_of_six_strata(result):
    plan = lower(result, device="cpu", subjects=240)
    six = plan.model_copy(deep=True)
    six.sampling.population.stratify = ["sex", "scanner"]
    assert len(strata(six)) == 6
    subjects = [sample_subject(six, k) for k in range(240)]
    for cell in strata(six):
        members = [s for s in subjects if s.stratum == cell]
        assert len(members) == 40
        for n in range(4, 41):
            assert abs(sum(s.positive for s in members[:n]) - 0.6 * n) <= 2.5, (cell, n)


def test_two_pathologies_are_balanced_jointly(result):
    plan = lower(result, device="cpu", subjects=400)
    two = plan.model_copy(deep=True)
    first = two.sampling.pathologies[0].model_copy(update={"prevalence": 0.5})
    second = first.model_copy(update={"name": "second", "prevalence": 0.3})
    two.sampling.pathologies = [first, second]
    flags = np.array([carries(two, k) for k in range(400)])
    assert abs(flags[:, 0].mean() - 0.5) < 0.01 and abs(flags[:, 1].mean() - 0.3) < 0.01
    assert abs((flags[:, 0] & flags[:, 1]).mean() - 0.15) < 0.02  # independent-looking, not nested


def test_plan_command_prints_a_summary_and_saves(tmp_path, capsys):
    saved = tmp_path / "plan.json"
    assert main(["plan", str(EXAMPLE), "--device", "cpu", "--subjects", "3", "--save", str(saved)]) == 0
    out = capsys.readouterr().out
    assert "Plan: 3 subjects to generate" in out and "acquire" in out
    assert Plan.model_validate_json(saved.read_text()).subjects == 3


def test_plan_of_a_broken_spec_exits_1_without_traceback(tmp_path, capsys):
    bad = tmp_path / "bad.synth"
    bad.write_text(EXAMPLE.read_text().replace("kv: 120 kV", "kv: 120"), encoding="utf-8")
    assert main(["plan", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "UNI001" in err and "Traceback" not in err
