"""Faults while writing a cohort: a bad --out, a full disk, a concurrent run, a kill while the plan is
written.  Each is one line with the documented exit code, nothing is lost, and --resume works after."""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
from pathlib import Path

import pytest

from synthspec import api
from synthspec.cli import main

SPEC = Path(__file__).parent / "data" / "reference_cohort.synth"


def _run(capsys, *argv) -> tuple[int, str]:
    code = main(["run", str(SPEC), "--no-validate", "--device", "cpu", *argv])
    captured = capsys.readouterr()
    return code, captured.err


def _files(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("out", ["/proc/synth-cohort", "/sys/synth-cohort", "/dev/null", "FILE"])
def test_an_unusable_out_is_one_line_exit_2(tmp_path, capsys, out):
    if out == "FILE":
        out = tmp_path / "notes.txt"
        out.write_text("keep me\n")
    code, err = _run(capsys, "--out", str(out))
    assert code == 2
    assert "Traceback" not in err and len(err.strip().splitlines()) <= 2, err   # the start line and the error
    assert f"--out {out}" in err and "choose" in err
    if out == tmp_path / "notes.txt":
        assert out.read_text() == "keep me\n"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder_is_one_line_exit_2(tmp_path, capsys):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        code, err = _run(capsys, "--out", str(folder / "cohort"))
    finally:
        folder.chmod(0o755)
    assert code == 2 and "not writable" in err and "Traceback" not in err


def test_a_full_disk_keeps_finished_subjects_and_resume_completes(tmp_path, capsys, monkeypatch):
    reference = tmp_path / "reference"
    assert _run(capsys, "--out", str(reference))[0] == 0
    from synthspec.cohort import nifti

    real = nifti.write_nifti
    calls = {"n": 0}

    def full_after_some(path, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 4:   # the first subject's volumes fit; the disk fills during the second
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(nifti, "write_nifti", full_after_some)
    out = tmp_path / "cohort"
    code, err = _run(capsys, "--out", str(out))
    assert code == 1 and "Traceback" not in err
    assert "disk holding" in err and "full" in err and f"--out {out} --resume" in err
    assert (out / "subjects" / "S000000" / "subject.json").is_file()
    assert not list((out / "subjects").glob(".tmp-*")) and not (out / "cohort.json").exists()
    monkeypatch.setattr(nifti, "write_nifti", real)
    assert _run(capsys, "--out", str(out), "--resume")[0] == 0
    assert _files(out) == _files(reference)


def test_a_concurrent_run_is_refused_while_the_folder_is_locked(tmp_path, capsys):
    out = tmp_path / "cohort"
    out.mkdir()
    fd = os.open(out, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)     # what a running `synth run` holds
        code, err = _run(capsys, "--out", str(out), "--resume")
        assert code == 1 and "another synth run is writing" in err and "Traceback" not in err
        assert list(out.iterdir()) == []                    # nothing written
    finally:
        os.close(fd)
    assert _run(capsys, "--out", str(out), "--resume")[0] == 0   # and once it is released, resume works


@pytest.mark.parametrize("resume", [False, True])
def test_a_kill_while_the_plan_was_written_can_be_started_again(tmp_path, capsys, resume):
    out = tmp_path / "cohort"
    out.mkdir()
    (out / ".tmp-plan.json.4242.deadbeef").write_text('{"plan_version": 3, "synthspec_ver')   # cut off mid-write
    code, err = _run(capsys, "--out", str(out), *(["--resume"] if resume else []))
    assert code == 0, err
    assert not list(out.glob(".tmp-*")) and (out / "cohort.json").is_file()


def test_the_api_refuses_a_system_out_with_an_input_error(tmp_path):
    from synthspec.errors import InputError

    plan = api.plan(SPEC, device="cpu")
    with pytest.raises(InputError, match="system tree"):
        api.run(plan, "/proc/self/cohort")


def test_nothing_is_ever_written_into_a_system_tree(tmp_path, capsys):
    import stat

    for target in ("/dev/null", "/proc/self/plan.json", "/sys/plan.json"):
        assert main(["plan", str(SPEC), "--save", target]) == 2
        assert "system tree" in capsys.readouterr().err
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)          # still the device, not a saved plan
    from synthspec.report.card import ReportError
    from synthspec.report.html import report_path

    with pytest.raises(ReportError, match="system tree"):
        report_path(tmp_path, Path("/dev/report.html"))


@pytest.mark.parametrize("kind", ["fifo", "link"])
def test_an_atomic_write_never_replaces_anything_but_a_regular_file(tmp_path, kind):
    from synthspec.cohort.atomic import NotRegularFile, write_text_atomic

    target = tmp_path / "plan.json"
    if kind == "fifo":
        os.mkfifo(target)
    else:
        (tmp_path / "elsewhere.txt").write_text("kept")
        target.symlink_to(tmp_path / "elsewhere.txt")
    with pytest.raises(NotRegularFile):
        write_text_atomic(target, "{}")
    assert (target.is_fifo() if kind == "fifo" else target.is_symlink())
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".tmp-")] == []
