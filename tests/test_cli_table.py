"""The command table, the one error hierarchy caught in `main`, argument checks, help, progress and the api.

Exit codes (README): 0 ok, 1 findings / failed run / failed checks, 2 every usage error, 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from synthspec import api, cli
from synthspec.cli import common
from synthspec.errors import (EXIT_USAGE, Failure, InputError, Interrupted, SpecError, SynthError, UsageError,
                              one_line)

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "lung_nodules_ldct.synth"


def one_line_error(err: str, command: str) -> str:
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"synth {command}: error: "), err
    return lines[0]


def parse_error(capsys, *argv: str) -> str:
    """argparse errors exit 2 through SystemExit with one line on stderr."""
    with pytest.raises(SystemExit) as stop:
        cli.main(list(argv))
    assert stop.value.code == EXIT_USAGE
    out, err = capsys.readouterr()
    assert out == ""
    return one_line_error(err, argv[0])


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


# -- the table -----------------------------------------------------------------------------------------

def test_every_command_is_in_the_table_with_its_functions():
    names = [c.name for c in cli.COMMANDS]
    assert len(names) == len(set(names))
    assert set(names) == {"check", "fmt", "explain", "rules", "plan", "run", "verify", "validate", "report",
                          "review-pack", "review-score", "export", "lsp", "transfer"}
    for command in cli.COMMANDS:
        module = importlib.import_module(command.module)
        slug = command.name.replace("-", "_")
        assert callable(getattr(module, f"args_{slug}")) and callable(getattr(module, f"cmd_{slug}")), command
        assert command.help.strip(), command
    lint = {c.name for c in cli.COMMANDS if c.module == "synthspec.cli.lint"}
    assert lint == {"check", "fmt", "explain", "rules"}
    assert set(subparsers(cli.build_parser())) == set(names)


def test_every_argument_and_option_has_help():
    parser = cli.build_parser()
    missing = [f"synth: {a.dest}" for a in parser._actions
               if not isinstance(a, (argparse._HelpAction, argparse._SubParsersAction)) and not (a.help or "").strip()]
    for name, sub in subparsers(parser).items():
        assert (sub.description or "").strip(), f"synth {name} has no description"
        for action in sub._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            if not (action.help or "").strip() or action.help == argparse.SUPPRESS:
                missing.append(f"synth {name}: {action.option_strings or action.dest}")
    assert missing == []


def test_top_level_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(["--help"])
    assert stop.value.code == 0
    out = capsys.readouterr().out
    for command in cli.COMMANDS:
        assert f"    {command.name}" in out
    assert "95%" in out and "%%" not in out


@pytest.mark.parametrize("name", [c.name for c in cli.COMMANDS])
def test_each_command_has_its_own_help(capsys, name):
    with pytest.raises(SystemExit) as stop:
        cli.main([name, "--help"])
    assert stop.value.code == 0
    assert f"usage: synth {name}" in capsys.readouterr().out


def test_building_every_parser_imports_nothing_of_the_generator():
    probe = ("import sys, synthspec.cli as c; c.build_parser(); "
             "print(' '.join(sorted(m for m in sys.modules if m.startswith('synthspec') or m.split('.')[0] in "
             "('torch', 'numpy', 'SimpleITK', 'pydicom', 'monai', 'numba', 'lark', 'pydantic'))))")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    loaded = set(done.stdout.split())
    # the executors table (standard library only) names the choices of `synth run --executor`
    assert loaded == {"synthspec", "synthspec.errors", "synthspec.cli", "synthspec.cli.common", "synthspec.cli.lint",
                      "synthspec.cli.generate", "synthspec.cli.review", "synthspec.cli.export", "synthspec.cli.lsp",
                      "synthspec.cli.transfer", "synthspec.engine", "synthspec.engine.executors"}, loaded


def test_python_dash_m_runs_the_cli():
    done = subprocess.run([sys.executable, "-m", "synthspec.cli", "explain", "PHY001"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.startswith("PHY001 "), done.stderr


# -- did you mean ------------------------------------------------------------------------------------

@pytest.mark.parametrize("word, line", [
    ("chek", "synth: error: no command `chek`; did you mean `check`?"),
    ("reprot", "synth: error: no command `reprot`; did you mean `report` or `export`?"),
    ("xyzzy", "synth: error: no command `xyzzy`; `synth --help` lists them"),
])
def test_a_mistyped_command_suggests_the_right_one(capsys, word, line):
    with pytest.raises(SystemExit) as stop:
        cli.main([word, "examples"])
    assert stop.value.code == 2
    out, err = capsys.readouterr()
    assert out == "" and err.strip() == line


def test_the_command_is_found_after_top_level_options(capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(["--version"])
    assert stop.value.code == 0 and capsys.readouterr().out.startswith("synthspec ")


# -- arguments are checked where they are parsed -------------------------------------------------------

@pytest.mark.parametrize("argv, option", [
    (["run", str(EXAMPLE), "--subjects", "-3"], "--subjects"),
    (["run", str(EXAMPLE), "--subjects", "0"], "--subjects"),
    (["run", str(EXAMPLE), "--subjects", "many"], "--subjects"),
    (["plan", str(EXAMPLE), "--subjects", "-3"], "--subjects"),
    (["plan", "--subjects", "-3"], "--subjects"),
    (["verify", "somewhere", "--sample", "0"], "--sample"),
    (["review-pack", "c", "--out", "o", "--cases", "two"], "--cases"),
    (["review-pack", "c", "--out", "o", "--seed", "x"], "--seed"),
], ids=lambda v: " ".join(v) if isinstance(v, list) else v)
def test_a_bad_count_is_one_line_naming_the_option_and_the_fix(capsys, argv, option):
    line = parse_error(capsys, *argv)
    assert f"argument {option}:" in line
    if option == "--subjects":
        assert "at least 1" in line and "leave --subjects out" in line


@pytest.mark.parametrize("cases", ["0", "-4"])
def test_zero_cases_is_a_usage_error_before_any_work(capsys, monkeypatch, cases):
    monkeypatch.setitem(sys.modules, "synthspec.report.reader_pack", None)  # an import would fail loudly
    code, out, err = run(capsys, "review-pack", "c", "--out", "o", "--cases", cases)
    assert code == 2 and out == ""
    line = one_line_error(err, "review-pack")
    assert "--cases" in line and "at least 1" in line


def test_argparse_errors_are_one_line(capsys):
    line = parse_error(capsys, "check", "--format", "xml", "x.synth")
    assert "invalid choice" in line and "`synth check --help`" in line


# -- one error hierarchy, caught once ---------------------------------------------------------------------

@pytest.mark.parametrize("module, name, base", [
    ("synthspec.plan.lower", "PlanError", Failure),
    ("synthspec.engine.executor", "RunError", Failure),
    ("synthspec.engine.sample", "SamplingError", Failure),
    ("synthspec.report.screenshot", "ScreenshotError", Failure),
    ("synthspec.families.registry", "UnknownFamily", Failure),
    ("synthspec.engine.verify", "VerifyError", InputError),
    ("synthspec.cohort.read", "CohortError", InputError),
    ("synthspec.validate.reference", "ReferenceError", InputError),
    ("synthspec.report.card", "ReportError", InputError),
    ("synthspec.report.reader_pack", "ReaderPackError", InputError),
])
def test_every_room_error_is_a_synth_error(module, name, base):
    error = getattr(importlib.import_module(module), name)
    assert issubclass(error, base), f"{module}.{name} should derive from synthspec.errors.{base.__name__}"
    assert error.exit_code == base.exit_code


def _raising(monkeypatch, error: BaseException) -> None:
    def command(args):
        raise error

    monkeypatch.setattr("synthspec.cli.lint.cmd_rules", command)


@pytest.mark.parametrize("error, code", [
    (Failure("the run stopped; do X"), 1),
    (InputError("no such file: a.synth"), 2),
    (UsageError("give a SPEC"), 2),
    (SpecError("a.synth has 1 error(s)"), 1),
    (InputError("first line\n  second line"), 2),
])
def test_main_prints_a_synth_error_as_one_line_and_returns_its_code(capsys, monkeypatch, error, code):
    _raising(monkeypatch, error)
    got, out, err = run(capsys, "rules")
    assert got == code and out == ""
    assert one_line_error(err, "rules") == f"synth rules: error: {one_line(error)}"


def test_interrupted_says_how_to_continue(capsys, monkeypatch):
    _raising(monkeypatch, Interrupted("interrupted; continue with: synth run x --resume"))
    code, out, err = run(capsys, "rules")
    assert code == 130 and err.strip() == "synth rules: interrupted; continue with: synth run x --resume"


def test_ctrl_c_is_130_and_a_closed_pipe_is_0(capsys, monkeypatch):
    _raising(monkeypatch, KeyboardInterrupt())
    assert run(capsys, "rules")[:2] == (130, "")
    _raising(monkeypatch, BrokenPipeError())
    assert run(capsys, "rules") == (0, "", "")


def test_a_missing_optional_dependency_says_how_to_install_it(capsys, monkeypatch):
    _raising(monkeypatch, ModuleNotFoundError("No module named 'torch'", name="torch"))
    code, out, err = run(capsys, "rules")
    assert code == 2
    assert "torch" in one_line_error(err, "rules") and "pip install 'synthspec[run]'" in err


@pytest.mark.parametrize("error", [
    ModuleNotFoundError("No module named 'synthspec.nowhere'", name="synthspec.nowhere"),  # a real import bug
    ImportError("cannot import name 'x' from 'synthspec.engine'"),
    ValueError("a bug"),
    RuntimeError("another bug"),
], ids=lambda e: type(e).__name__)
def test_any_other_exception_surfaces(monkeypatch, error):
    _raising(monkeypatch, error)
    with pytest.raises(type(error)):
        cli.main(["rules"])


# -- plan --save and run --plan ------------------------------------------------------------------------

class FakePlan:
    def model_dump(self, mode="json"):
        return {"cohort_name": "fake", "subjects": 2}


def test_save_plan_writes_atomically(tmp_path, monkeypatch):
    written = []
    import synthspec.cohort.atomic as atomic

    real = atomic.write_text_atomic
    monkeypatch.setattr(atomic, "write_text_atomic", lambda path, text: (written.append(path), real(path, text)))
    path = api.save_plan(FakePlan(), tmp_path / "plan.json")
    assert written == [path] and json.loads(path.read_text()) == FakePlan().model_dump()


@pytest.mark.parametrize("where", ["folder", "under-a-file"])
def test_save_plan_to_an_unusable_place_is_an_input_error(tmp_path, where):
    (tmp_path / "a_file").write_text("")
    target = tmp_path if where == "folder" else tmp_path / "a_file" / "plan.json"
    with pytest.raises(InputError) as raised:
        api.save_plan(FakePlan(), target)
    assert str(target) in str(raised.value)


def test_plan_save_failure_exits_2_naming_the_file(capsys, monkeypatch, tmp_path):
    monkeypatch.setattr(api, "plan", lambda *a, **k: FakePlan())
    (tmp_path / "a_file").write_text("")
    target = tmp_path / "a_file" / "plan.json"  # a file where its folder should be
    code, out, err = run(capsys, "plan", "spec.synth", "--json", "--save", str(target))
    assert code == 2
    assert str(target) in one_line_error(err, "plan")


@pytest.mark.parametrize("content", [None, "", "{not json", "[1, 2]", '{"cohort_name": "x"}', "folder"])
def test_run_with_a_missing_or_foreign_plan_file_exits_2(capsys, tmp_path, content):
    plan_file = tmp_path / "plan.json"
    if content == "folder":
        plan_file.mkdir()
    elif content is not None:
        plan_file.write_text(content)
    code, out, err = run(capsys, "run", "--plan", str(plan_file), "--out", str(tmp_path / "out"))
    assert code == 2 and out == ""
    line = one_line_error(err, "run")
    assert str(plan_file) in line and "synth plan" in line
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("argv, words", [
    (["run"], "give a SPEC"),
    (["run", "a.synth", "--plan", "p.json"], "not both"),
    (["run", "--plan", "p.json", "--subjects", "3"], "saved plan runs as it is"),
])
def test_run_argument_combinations_are_usage_errors(capsys, argv, words):
    code, out, err = run(capsys, *argv)
    assert code == 2 and words in one_line_error(err, "run")


def test_a_spec_with_errors_is_one_line_naming_the_codes(capsys, tmp_path):
    text = EXAMPLE.read_text(encoding="utf-8")
    assert "    kv: 120 kV\n" in text
    bad = tmp_path / "hot.synth"
    bad.write_text(text.replace("    kv: 120 kV\n", "    kv: 300 kV\n", 1))
    (tmp_path / ".git").mkdir()  # the configuration search stops here
    for command in ("plan", "run"):
        code, out, err = run(capsys, command, str(bad))
        assert code == 1
        line = one_line_error(err, command)
        assert "PHY001" in line and f"synth check {bad}" in line


def test_a_missing_spec_is_an_input_error(capsys, tmp_path):
    code, out, err = run(capsys, "plan", str(tmp_path / "absent.synth"))
    assert code == 2 and "no such spec file" in one_line_error(err, "plan")


# -- the api --------------------------------------------------------------------------------------------

def test_api_compile_raises_spec_error_with_the_diagnostics(tmp_path):
    (tmp_path / ".git").mkdir()
    bad = tmp_path / "hot.synth"
    bad.write_text(EXAMPLE.read_text(encoding="utf-8").replace("    kv: 120 kV\n", "    kv: 300 kV\n", 1))
    with pytest.raises(SpecError) as raised:
        api.compile(bad)
    assert raised.value.diagnostics and {d.code for d in raised.value.diagnostics} >= {"PHY001"}
    assert raised.value.result is not None and "\n" not in str(raised.value)
    assert isinstance(raised.value, SynthError) and raised.value.exit_code == 1


def test_api_compile_of_a_clean_spec_returns_the_result():
    result = api.compile(EXAMPLE)
    assert result.cohort is not None and not [d for d in result.visible if d.severity.value == "error"]


@pytest.mark.parametrize("subjects", [0, -3, 2.5, True, "3"])
def test_api_plan_refuses_a_bad_subject_count_before_compiling(subjects):
    with pytest.raises(UsageError):
        api.plan(ROOT / "nowhere.synth", subjects=subjects)


def test_api_functions_import_nothing_when_the_module_is_imported():
    probe = "import sys, synthspec.api; print(' '.join(sorted(m for m in sys.modules if m.startswith('synthspec'))))"
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert set(done.stdout.split()) == {"synthspec", "synthspec.api", "synthspec.errors"}, done.stderr


def test_api_names_every_step():
    for name in ("compile", "plan", "run", "validate", "report", "verify", "load_plan", "save_plan"):
        assert callable(getattr(api, name)) and name in api.__all__


# -- progress -------------------------------------------------------------------------------------------

class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_draws_on_a_terminal_and_yields_the_same_items(monkeypatch):
    pytest.importorskip("tqdm")
    monkeypatch.delenv("SYNTH_NO_PROGRESS", raising=False)
    screen = Terminal()
    monkeypatch.setattr(sys, "stderr", screen)
    wrap = common.progress("subject")
    assert wrap is not None
    assert list(wrap(range(5), "thumbnails")) == [0, 1, 2, 3, 4]
    assert "thumbnails" in screen.getvalue()


def test_no_progress_when_asked_or_not_on_a_terminal(monkeypatch):
    monkeypatch.setattr(sys, "stderr", Terminal())
    monkeypatch.setenv("SYNTH_NO_PROGRESS", "1")
    assert common.progress("subject") is None
    monkeypatch.delenv("SYNTH_NO_PROGRESS")
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert common.progress("subject") is None


@pytest.mark.parametrize("command, target", [("verify", "verify"), ("report", "report")])
def test_verify_and_report_hand_a_progress_bar_to_the_work(capsys, monkeypatch, command, target):
    pytest.importorskip("tqdm")
    monkeypatch.delenv("SYNTH_NO_PROGRESS", raising=False)
    seen = {}

    def fake(*args, **kwargs):
        seen.update(kwargs)
        raise InputError("stop here")

    monkeypatch.setattr(api, target, fake)
    monkeypatch.setattr(sys, "stderr", Terminal())
    assert cli.main([command, "somewhere"]) == 2
    assert callable(seen["progress"])


def test_the_loops_take_a_progress_hook():
    from synthspec.engine.verify import check
    from synthspec.report.html import render_report, write_report

    for function in (check, render_report, write_report):
        parameter = inspect.signature(function).parameters["progress"]
        assert parameter.default is None, function
    assert inspect.signature(check).parameters["progress"].kind is inspect.Parameter.KEYWORD_ONLY


# -- an interrupted run ---------------------------------------------------------------------------------

class RunnablePlan(FakePlan):
    subjects, cohort_name, device, estimates, modality = 2, "fake", "cpu", {"total_seconds": 60.0}, "ct"
    channels = ["image"]
    writing = argparse.Namespace(formats=["nifti", "dicom", "masks"])


def test_an_interrupted_run_exits_130_with_the_command_that_completes_it(capsys, monkeypatch, tmp_path):
    out = tmp_path / "cohort"

    def interrupted(plan, folder, resume=False, executor="local", address=None):
        folder.mkdir()
        (folder / "plan.json").write_text("{}")
        raise KeyboardInterrupt

    monkeypatch.setattr(api, "plan", lambda *a, **k: RunnablePlan())
    monkeypatch.setattr(api, "run", interrupted)
    code, _, err = run(capsys, "run", "spec.synth", "--subjects", "2", "--out", str(out))
    assert code == 130 and "Traceback" not in err
    assert err.strip().splitlines()[-1] == (f"synth run: interrupted; finished subjects are kept. Continue with: "
                                            f"synth run --plan {out / 'plan.json'} --out {out} --resume")


def test_the_resume_command_keeps_the_arguments_that_shape_the_plan(tmp_path):
    from synthspec.cli.generate import _resume_command

    args = argparse.Namespace(spec="a.synth", plan=None, subjects=3, device="cpu")
    assert _resume_command(args, tmp_path) == f"synth run a.synth --subjects 3 --device cpu --out {tmp_path} --resume"
    args = argparse.Namespace(spec=None, plan="p.json", subjects=None, device="auto")
    assert _resume_command(args, tmp_path) == f"synth run --plan p.json --out {tmp_path} --resume"


def test_a_validation_that_cannot_run_after_a_run_is_a_failure_naming_the_cohort(capsys, monkeypatch, tmp_path):
    from synthspec.engine.executor import RunSummary

    out = tmp_path / "cohort"
    monkeypatch.setattr(api, "plan", lambda *a, **k: RunnablePlan())
    monkeypatch.setattr(api, "run", lambda plan, folder, resume=False, executor="local", address=None: RunSummary(folder, 2, 0, 1.0, "ab" * 32))

    def broken(*a, **k):
        raise InputError(f"{out} is not a synthspec cohort")

    monkeypatch.setattr(api, "validate", broken)
    code, printed, err = run(capsys, "run", "spec.synth", "--out", str(out))
    assert code == 1 and f"cohort: {out}" in printed
    line = one_line_error(err.strip().splitlines()[-1], "run")
    assert "validation could not run" in line and f"synth validate {out}" in line


def test_subjects_beyond_the_spec_cap_are_a_usage_error(capsys):
    from synthspec.cli.generate import MAX_SUBJECTS
    from synthspec.compiler.schema import MAX_SUBJECTS as SPEC_CAP

    assert MAX_SUBJECTS == SPEC_CAP
    line = parse_error(capsys, "plan", "spec.synth", "--subjects", "1000000000000")
    assert "at most 10,000,000" in line
