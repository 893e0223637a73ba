"""Time and storage budgets: a plan over either is refused with the estimate and the knob, before anything is
written."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from synthspec import api
from synthspec.cli import main
from synthspec.cli import generate
from synthspec.compiler.check import compile_file
from synthspec.errors import UsageError
from synthspec.families.modality.ct.estimate import bytes_on_disk_per_subject
from synthspec.plan import lower as lowering
from synthspec.plan.lower import DEFAULT_MAX_HOURS, DEFAULT_MAX_STORAGE_BYTES, PlanError, lower
from synthspec.plan.show import disk_bytes, render

EXAMPLE = Path(__file__).parent.parent / "examples" / "lung_nodules_ldct.synth"


@pytest.fixture(scope="module")
def result():
    return compile_file(EXAMPLE)


@pytest.fixture(scope="module")
def one(result):
    """The example's estimates for one subject on the CPU."""
    return lower(result, device="cpu", subjects=1).estimates


def one_line(text: str) -> str:
    assert "\n" not in text.strip() and "Traceback" not in text
    return text.strip()


def over_time(one) -> int:
    """Subjects that need about twice the default time budget on one CPU worker."""
    return math.ceil(2 * DEFAULT_MAX_HOURS * 3600 / one["seconds_per_subject"])


def test_a_plan_over_the_time_budget_is_refused_with_the_estimate_and_the_knob(result, one):
    n = over_time(one)
    with pytest.raises(PlanError) as error:
        lower(result, device="cpu", subjects=n)
    message = one_line(str(error.value))
    hours = n * one["seconds_per_subject"] / 3600
    assert message.startswith(f"{n:,} subjects need about {hours:,.0f} h of compute on cpu")
    assert f"(estimated {one['seconds_per_subject']:.1f} s/subject)" in message
    assert f"over the time budget of {DEFAULT_MAX_HOURS:g} h" in message
    assert "--subjects" in message and "--max-hours" in message


def test_workers_share_the_time_budget(result, one):
    n = over_time(one)
    plan = lower(result, device="cpu", subjects=n, workers=4)
    assert plan.estimates["total_seconds"] == pytest.approx(n * one["seconds_per_subject"] / 4)


def test_a_raised_time_budget_allows_the_plan_and_is_recorded(result, one):
    n = over_time(one)
    plan = lower(result, device="cpu", subjects=n, max_hours=3 * DEFAULT_MAX_HOURS)
    assert plan.subjects == n and plan.estimates["total_seconds"] > DEFAULT_MAX_HOURS * 3600
    assert plan.estimates["max_seconds"] == 3 * DEFAULT_MAX_HOURS * 3600


def test_a_plan_over_the_storage_budget_is_refused_with_the_estimate_and_the_knob(result, one):
    per_subject = one["bytes_on_disk_per_subject"]
    budget = 10**12
    n = math.ceil(2.5 * budget / per_subject)
    with pytest.raises(PlanError) as error:
        lower(result, device="cpu", subjects=n, max_hours=1e9, max_storage_bytes=budget)
    message = one_line(str(error.value))
    assert message.startswith(f"{n:,} subjects need about {disk_bytes(per_subject * n)} on disk")
    assert f"(estimated {disk_bytes(per_subject)}/subject)" in message and "over the storage budget of 1 TB" in message
    assert "--subjects" in message and "`dicom`" in message and "--max-storage" in message


def test_the_default_storage_budget_is_10_tb(result, one):
    n = math.ceil(1.5 * DEFAULT_MAX_STORAGE_BYTES / one["bytes_on_disk_per_subject"])
    with pytest.raises(PlanError, match="over the storage budget of 10 TB"):
        lower(result, device="cpu", subjects=n, max_hours=1e9)
    plan = lower(result, device="cpu", subjects=n, max_hours=1e9, max_storage_bytes=2 * DEFAULT_MAX_STORAGE_BYTES)
    assert plan.estimates["bytes_on_disk"] == pytest.approx(n * one["bytes_on_disk_per_subject"])
    assert plan.estimates["bytes_on_disk"] > DEFAULT_MAX_STORAGE_BYTES


def test_the_storage_estimate_is_near_a_written_subject_of_the_example(result, one):
    """A subject of the example (132 x 512 x 512, NIfTI + DICOM + masks + SEG) measured 104.6-106.5 MB on disk
    (6 subjects, `du -sb`); the estimate rounds its ratios up."""
    assert 104.6e6 < one["bytes_on_disk_per_subject"] < 117e6
    parts = {k: v for k, v in one.items() if k.startswith("disk_")}
    assert sum(parts.values()) == one["bytes_on_disk_per_subject"]
    assert parts["disk_dicom_bytes"] == 132 * (512 * 512 * 2 + 1_800)
    lighter = bytes_on_disk_per_subject((120, 256, 256), ["nifti", "masks"])
    assert lighter["dicom"] == 0 and 9e6 < sum(lighter.values()) < 10e6
    assert bytes_on_disk_per_subject((120, 256, 256), []) == lighter  # no formats writes NIfTI and masks


def test_plan_shows_storage_and_budgets(result):
    text = render(lower(result, device="cpu", subjects=10))
    assert "Storage: ~112 MB per subject (" in text and "dicom 69.4 MB" in text and "~1.12 GB in all" in text
    assert "seg 563 kB" in text                                     # the lesion SEG (dicom_seg: lesions, the default)
    assert "Budgets: 168 h of compute (--max-hours), 10 TB on disk (--max-storage)" in text
    assert text.rstrip().endswith("~1.12 GB on disk.")


# ---- the command line --------------------------------------------------------------------------------

def test_plan_over_budget_exits_1_with_one_line(capsys):
    assert main(["plan", str(EXAMPLE), "--device", "cpu", "--subjects", "1000000"]) == 1
    out, err = capsys.readouterr()
    line = one_line(err)
    assert out == "" and line.startswith("synth plan: error: 1,000,000 subjects need about")
    assert "h of compute on cpu" in line and "--max-hours" in line


def test_run_over_budget_refuses_before_writing_anything(tmp_path, capsys):
    out = tmp_path / "cohort"
    assert main(["run", str(EXAMPLE), "--device", "cpu", "--subjects", "1000000", "--out", str(out)]) == 1
    assert "--max-hours" in one_line(capsys.readouterr().err)
    assert not out.exists()
    # more hours, and the storage is what stops it
    assert main(["run", str(EXAMPLE), "--device", "cpu", "--subjects", "1000000", "--max-hours", "1e6",
                 "--out", str(out)]) == 1
    line = one_line(capsys.readouterr().err)
    assert "TB on disk" in line and "over the storage budget of 10 TB" in line and "--max-storage" in line
    assert not out.exists()


def test_raised_budgets_on_the_command_line_allow_the_plan(tmp_path, capsys):
    saved = tmp_path / "plan.json"
    assert main(["plan", str(EXAMPLE), "--device", "cpu", "--subjects", "1000000", "--max-hours", "1e5",
                 "--max-storage", "200TB", "--save", str(saved)]) == 0
    assert "Plan: 1000000 subjects to generate" in capsys.readouterr().out
    plan = api.load_plan(saved)
    assert plan.estimates["max_seconds"] == 1e5 * 3600 and plan.estimates["max_bytes_on_disk"] == 200e12


@pytest.mark.parametrize("command", ["plan", "run"])
@pytest.mark.parametrize("option, value", [("--subjects", "0"), ("--subjects", "-3"), ("--max-hours", "0"),
                                           ("--max-hours", "-1"), ("--max-hours", "nan"), ("--max-hours", "a week"),
                                           ("--max-storage", "30"), ("--max-storage", "2XB"),
                                           ("--max-storage", "0TB")])
def test_a_bad_count_or_budget_is_a_usage_error(capsys, tmp_path, command, option, value):
    out = tmp_path / "cohort"
    argv = [command, str(EXAMPLE), option, value] + (["--out", str(out)] if command == "run" else [])
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    line = one_line(capsys.readouterr().err)
    assert f"argument {option}:" in line
    assert not out.exists()


@pytest.mark.parametrize("text, size", [("2TB", 2 * 10**12), ("500GiB", 500 * 2**30), ("1.5 tb", 15 * 10**11),
                                        ("10TB", DEFAULT_MAX_STORAGE_BYTES), ("750 MB", 750 * 10**6)])
def test_storage_sizes_read_decimal_and_binary_units(text, size):
    assert generate._storage(text) == size


def test_the_help_states_the_planner_defaults():
    assert generate.DEFAULT_MAX_HOURS == DEFAULT_MAX_HOURS
    assert generate._storage(generate.DEFAULT_MAX_STORAGE) == DEFAULT_MAX_STORAGE_BYTES


@pytest.mark.parametrize("keyword, value", [("max_hours", 0), ("max_hours", -2.0), ("max_hours", True),
                                            ("max_hours", float("inf")), ("max_storage_bytes", 0),
                                            ("max_storage_bytes", "2TB")])
def test_api_plan_refuses_a_bad_budget_before_compiling(keyword, value):
    with pytest.raises(UsageError, match=keyword):
        api.plan(EXAMPLE.parent / "nowhere.synth", **{keyword: value})


def test_the_budgets_are_checked_after_the_subject_cap(result):
    with pytest.raises(PlanError, match="over the cap"):
        lowering.lower(result, device="cpu", subjects=lowering.MAX_SUBJECTS + 1)
