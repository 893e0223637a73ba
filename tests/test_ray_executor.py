"""`synth run --executor ray` on a real local Ray (2 CPUs, started by the test): the cohort is byte-identical to
the local executor's, a resume by Ray completes a cohort the local executor started, a subject that cannot be
written stops the run with one line naming it after Ray's retries (the others are kept), and a task asks for the
share of a GPU its subject's memory needs."""

from __future__ import annotations

import filecmp
import os
from pathlib import Path

import pytest

from synthspec import api
from synthspec.cli import main
from synthspec.cohort import layout
from synthspec.engine import executor as local
from synthspec.engine.executor import RunError

ray = pytest.importorskip("ray", reason="the Ray executor's tests need Ray (pip install 'synthspec[ray]')")
from synthspec.engine import executor_ray  # noqa: E402

SPEC = Path(__file__).parent / "data" / "reference_cohort.synth"


@pytest.fixture(scope="module")
def local_ray():
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def plan():
    return api.plan(SPEC, device="cpu", subjects=3)


@pytest.fixture(scope="module")
def by_local(plan, tmp_path_factory):
    out = tmp_path_factory.mktemp("local") / "cohort"
    local.run(plan, out)
    return out


def _same_tree(a: Path, b: Path) -> None:
    files_a = sorted(p.relative_to(a).as_posix() for p in a.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(b).as_posix() for p in b.rglob("*") if p.is_file())
    assert files_a == files_b
    _, mismatch, errors = filecmp.cmpfiles(a, b, files_a, shallow=False)
    assert (mismatch, errors) == ([], [])


def test_the_ray_cohort_is_byte_identical_to_the_local_one(local_ray, plan, by_local, tmp_path):
    summary = executor_ray.run(plan, tmp_path / "cohort")
    assert summary.generated == plan.subjects
    _same_tree(by_local, tmp_path / "cohort")


def test_ray_resumes_a_cohort_the_local_executor_started(local_ray, plan, by_local, tmp_path):
    out = tmp_path / "cohort"
    with pytest.raises(KeyboardInterrupt):
        local.run(plan, out, stop_after=1)
    summary = executor_ray.run(plan, out, resume=True)
    assert (summary.skipped, summary.generated) == (1, plan.subjects - 1)
    _same_tree(by_local, out)


def test_a_subject_that_cannot_be_written_stops_the_run_by_name(local_ray, plan, tmp_path):
    out = tmp_path / "cohort"
    with pytest.raises(KeyboardInterrupt):
        local.run(plan, out, stop_after=0)   # the folder is started: plan.json, no subject yet
    (out / layout.SUBJECTS).mkdir(exist_ok=True)
    blocker = layout.subject_dir(out, 1)
    blocker.write_text("not a folder")   # the subject's folder cannot be renamed into place
    with pytest.raises(RunError) as raised:
        executor_ray.run(plan, out, resume=True, max_retries=1)
    message = str(raised.value)
    assert "S000001" in message and "--resume" in message and "\n" not in message
    assert layout.subject_dir(out, 0).is_dir() and layout.subject_dir(out, 2).is_dir()   # the others are kept
    assert not (out / layout.COHORT_INFO).exists()


def test_a_task_asks_for_the_gpu_share_its_subject_needs(plan):
    assert executor_ray.gpu_share(plan) == 0.0
    on_gpu = plan.model_copy(update={"device": "cuda", "memory": {**plan.memory, "per_subject_bytes": 3 * 2**30,
                                                                   "device_bytes": 80 * 2**30}})
    assert executor_ray.gpu_share(on_gpu) == pytest.approx(0.05)   # 3 GiB of the 64 GiB a plan may use, rounded up
    whole = on_gpu.model_copy(update={"memory": {**plan.memory, "per_subject_bytes": 90 * 2**30,
                                                  "device_bytes": 80 * 2**30}})
    assert executor_ray.gpu_share(whole) == 1.0


def test_a_cuda_plan_on_a_cluster_without_gpus_is_refused_in_one_line(local_ray, plan, tmp_path):
    on_gpu = plan.model_copy(update={"device": "cuda", "memory": {**plan.memory, "per_subject_bytes": 2**30,
                                                                   "device_bytes": 80 * 2**30}})
    with pytest.raises(RunError, match="no GPU"):
        executor_ray.run(on_gpu, tmp_path / "cohort")
    assert not (tmp_path / "cohort" / layout.COHORT_INFO).exists()


def test_address_needs_the_ray_executor(tmp_path, capsys):
    code = main(["run", str(SPEC), "--out", str(tmp_path / "c"), "--address", "auto", "--no-validate"])
    assert code == 2
    assert "--executor ray" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()
