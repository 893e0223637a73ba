"""The `synth` command line: exit codes, `explain`, `rules`, repository configuration and suppressions.

Exit codes: 0 clean, 1 findings at or above --fail-on, 2 usage errors (missing paths, bad options,
unknown rules, unusable configuration).  A usage error is one line on stderr, never a traceback.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from synthspec import cli
from synthspec.compiler.rules import all_rules

ROOT = Path(__file__).resolve().parent.parent
CLEAN_PATH = ROOT / "examples" / "lung_nodules_ldct.synth"
CLEAN = CLEAN_PATH.read_text(encoding="utf-8")
TODAY = "2026-11-25"


def _edit(text: str, old: str, new: str) -> str:
    assert old in text, f"the clean example no longer holds {old!r}"
    return text.replace(old, new, 1)


HOT_KV = _edit(CLEAN, "    kv: 120 kV\n", "    kv: 300 kV\n")  # PHY001 and PHY008 (x3), all errors
# Only a warning: an unused suppression (SYN011).
WARNING_ONLY = _edit(CLEAN, "    matrix: 512\n", "    matrix: 512  # synth: ignore[PHY002] kept from an old draft\n")


@pytest.fixture(autouse=True)
def _pinned(monkeypatch):
    monkeypatch.setenv("SYNTH_TODAY", TODAY)


@pytest.fixture
def repo(tmp_path: Path, monkeypatch) -> Path:
    """An empty repository root (a `.git` folder stops the configuration search here)."""
    (tmp_path / ".git").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def codes(capsys, *argv: str) -> tuple[int, dict[str, str]]:
    """Exit code and {code: severity} of the visible findings, from --format json."""
    code, out, err = run(capsys, "check", "--format", "json", *argv)
    assert out, err
    return code, {d["code"]: d["severity"] for d in json.loads(out)["diagnostics"] if not d["suppressed"]}


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def assert_one_line_usage_error(err: str, command: str = "check") -> None:
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"synth {command}: error: ")


# -- exit codes -------------------------------------------------------------------------------------

def test_clean_spec_exits_0(capsys):
    code, out, err = run(capsys, "check", str(CLEAN_PATH))
    assert code == 0, out
    assert out.strip() == "checked 1 file(s): 0 error(s), 0 warning(s)"


def test_quiet_clean_spec_prints_nothing(capsys):
    assert run(capsys, "check", "-q", str(CLEAN_PATH)) == (0, "", "")


def test_clean_examples_folder_exits_0(capsys):
    code, out, err = run(capsys, "check", "-q", str(ROOT / "examples" / "lung_nodules_ldct.synth"),
                         str(ROOT / "examples" / "head_ct_haemorrhage.synth"))
    assert code == 0, out


def test_findings_exit_1(repo, capsys):
    write(repo, "hot.synth", HOT_KV)
    code, out, err = run(capsys, "check", "hot.synth")
    assert code == 1
    assert "error[PHY001]" in out and "hot.synth:" in out


def test_missing_path_exits_2(repo, capsys):
    code, out, err = run(capsys, "check", "nowhere.synth")
    assert code == 2 and out == ""
    assert_one_line_usage_error(err)
    assert "nowhere.synth" in err


def test_folder_without_specs_exits_2(repo, capsys):
    (repo / "empty").mkdir()
    code, out, err = run(capsys, "check", "empty")
    assert code == 2
    assert_one_line_usage_error(err)


@pytest.mark.parametrize("argv", [
    ["check", "--format", "xml", "x.synth"],
    ["check", "--fail-on", "fatal", "x.synth"],
    ["check"],
    ["check", "--no-such-option", "x.synth"],
    ["rules", "--format", "yaml"],
    ["explain"],
    ["no-such-command"],
], ids=lambda a: " ".join(a))
def test_bad_options_exit_2(repo, capsys, argv):
    with pytest.raises(SystemExit) as stop:
        cli.main(argv)
    assert stop.value.code == 2
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "error:" in err


def test_no_command_prints_help_and_exits_2(capsys):
    code, out, err = run(capsys)
    assert code == 2 and "synth check" in out


def test_fail_on_warning_fails_a_warning_only_spec(repo, capsys):
    write(repo, "warn.synth", WARNING_ONLY)
    code, found = codes(capsys, "warn.synth")
    assert found == {"SYN011": "warning"}
    assert code == 0, "warnings do not fail the check by default"
    assert run(capsys, "check", "--fail-on", "warning", "warn.synth")[0] == 1
    assert run(capsys, "check", "--fail-on", "error", "warn.synth")[0] == 0
    code, out, err = run(capsys, "check", "warn.synth")
    assert "warning[SYN011]" in out and "0 error(s), 1 warning(s)" in out


def test_fail_on_from_configuration(repo, capsys):
    write(repo, "warn.synth", WARNING_ONLY)
    write(repo, "synth.toml", 'fail-on = "warning"\n')
    assert run(capsys, "check", "warn.synth")[0] == 1
    # the command line wins over the file
    assert run(capsys, "check", "--fail-on", "error", "warn.synth")[0] == 0


# -- explain and rules ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["PHY001", "phy001", "implausible-tube-voltage"])
def test_explain_prints_what_why_example_and_fix(capsys, name):
    code, out, err = run(capsys, "explain", name)
    assert code == 0 and err == ""
    assert out.startswith("PHY001 implausible-tube-voltage (error, physics)")
    for heading in ("What it does", "Why it matters", "Example", "Use instead", "Fix"):
        assert f"\n{heading}\n" in out, heading
    assert "kv: 300 kV" in out and "kv: 120 kV" in out


def test_explain_every_rule(capsys):
    for rule in all_rules():
        code, out, err = run(capsys, "explain", rule.code)
        assert code == 0 and out.startswith(f"{rule.code} {rule.name} ")
        assert "\nExample\n" in out and "\nUse instead\n" in out


@pytest.mark.parametrize("name, hint", [
    ("PHY999", None),
    ("nope", "`synth rules`"),
    ("implausible-tube-voltag", "`implausible-tube-voltage`"),
    ("PHY01", "`PHY01"),
])
def test_explain_unknown_rule_exits_2(capsys, name, hint):
    code, out, err = run(capsys, "explain", name)
    assert code == 2 and out == ""
    assert_one_line_usage_error(err, "explain")
    if hint:
        assert hint in err


def test_rules_lists_every_rule(capsys):
    code, out, err = run(capsys, "rules")
    assert code == 0
    lines = out.strip().splitlines()
    assert len(lines) >= 25 and len(lines) == len(all_rules())
    assert any(line.startswith("PHY001  implausible-tube-voltage") for line in lines)
    assert err.strip() == f"{len(lines)} rules"
    code, out, err = run(capsys, "rules", "--format", "json")
    table = json.loads(out)
    assert len(table) >= 25
    assert len({r["code"] for r in table}) == len(table)
    assert {"code", "name", "severity", "family", "message", "fixable"} <= set(table[0])


# -- repository configuration -----------------------------------------------------------------------

def test_ignore_in_synth_toml_silences_a_code(repo, capsys):
    write(repo, "hot.synth", HOT_KV)
    assert "PHY001" in codes(capsys, "hot.synth")[1]
    write(repo, "synth.toml", 'ignore = ["PHY001"]\n')
    code, found = codes(capsys, "hot.synth")
    assert "PHY001" not in found and "PHY008" in found and code == 1


def test_ignore_by_prefix_and_tool_synth_table(repo, capsys):
    write(repo, "hot.synth", HOT_KV)
    write(repo, "synth.toml", '[tool.synth]\nignore = ["PHY"]\n')
    assert codes(capsys, "hot.synth") == (0, {})


def test_pyproject_tool_synth_is_read(repo, capsys):
    write(repo, "hot.synth", HOT_KV)
    write(repo, "pyproject.toml", '[project]\nname = "x"\n\n[tool.synth]\nignore = ["PHY001", "PHY008"]\n')
    assert codes(capsys, "hot.synth") == (0, {})


def test_config_is_found_from_a_subfolder(repo, capsys):
    (repo / "specs" / "ct").mkdir(parents=True)
    write(repo / "specs" / "ct", "hot.synth", HOT_KV)
    write(repo, "synth.toml", 'ignore = ["PHY001", "PHY008"]\n')
    assert codes(capsys, "specs")[0] == 0


def test_explicit_config_wins(repo, capsys):
    write(repo, "hot.synth", HOT_KV)
    write(repo, "synth.toml", 'ignore = ["PHY001", "PHY008"]\n')
    other = write(repo, "strict.toml", "")
    assert codes(capsys, "hot.synth")[0] == 0
    assert codes(capsys, "--config", str(other), "hot.synth")[0] == 1


def test_severity_table_regrades(repo, capsys):
    write(repo, "hot.synth", HOT_KV)
    write(repo, "synth.toml", 'ignore = ["PHY008"]\n\n[severity]\nPHY001 = "warning"\n')
    code, found = codes(capsys, "hot.synth")
    assert found == {"PHY001": "warning"} and code == 0
    assert run(capsys, "check", "--fail-on", "warning", "hot.synth")[0] == 1
    code, out, err = run(capsys, "check", "hot.synth")
    assert "warning[PHY001]" in out



def test_severity_table_can_raise_a_warning_to_error(repo, capsys):
    write(repo, "warn.synth", WARNING_ONLY)
    write(repo, "synth.toml", '[tool.synth.severity]\nSYN011 = "error"\n')
    code, found = codes(capsys, "warn.synth")
    assert found == {"SYN011": "error"} and code == 1


@pytest.mark.parametrize("text", [
    'ignore = ["PHY001"\n',                      # TOML syntax error
    'ignroe = ["PHY001"]\n',                     # unknown setting
    '[severity]\nPHY001 = "fatal"\n',            # unknown severity
    '[severity]\nPHY001 = 3\n',                  # not a string
    'severity = "warning"\n',                    # not a table
    'ignore = [1, 2]\n',                         # not strings
    'fail-on = "never"\n',                       # unknown severity
    'max-file-bytes = -5\n',                     # not positive
    'max-file-bytes = true\n',                   # not a number
    '[tool]\nsynth = 3\n',                       # [tool.synth] not a table
    'tool = 3\n',                                # tool not a table
    "\udcff",                                    # not UTF-8 (written as a lone 0xff byte)
], ids=["syntax", "unknown-key", "bad-severity", "severity-number", "severity-not-table", "ignore-numbers",
        "bad-fail-on", "negative-size", "bool-size", "tool-synth-number", "tool-number", "not-utf8"])
def test_invalid_config_is_a_one_line_usage_error(repo, capsys, text):
    write(repo, "hot.synth", HOT_KV)
    (repo / "synth.toml").write_bytes(text.encode("utf-8", "surrogateescape"))
    code, out, err = run(capsys, "check", "hot.synth")
    assert code == 2 and out == ""
    assert_one_line_usage_error(err)
    assert "synth.toml" in err


def test_missing_or_folder_config_is_a_usage_error(repo, capsys):
    write(repo, "hot.synth", HOT_KV)
    code, out, err = run(capsys, "check", "--config", "nope.toml", "hot.synth")
    assert code == 2
    assert_one_line_usage_error(err)
    assert "does not exist" in err
    (repo / "conf").mkdir()
    code, out, err = run(capsys, "check", "--config", "conf", "hot.synth")
    assert code == 2
    assert_one_line_usage_error(err)
    assert "not a file" in err


# -- suppressions -----------------------------------------------------------------------------------

def test_suppression_with_code_and_reason_hides_the_finding(repo, capsys):
    write(repo, "s.synth", _edit(HOT_KV, "    kv: 300 kV\n", "    kv: 300 kV  # synth: ignore[PHY001] phantom study\n"))
    code, found = codes(capsys, "s.synth")
    assert "PHY001" not in found and "SYN011" not in found and "SYN010" not in found
    assert "PHY008" in found and code == 1


def test_unused_suppression_is_syn011(repo, capsys):
    write(repo, "s.synth", WARNING_ONLY)
    code, out, err = run(capsys, "check", "s.synth")
    assert "warning[SYN011] suppression of PHY002 matches no finding" in out


@pytest.mark.parametrize("comment, problem", [
    ("# synth: ignore[PHY001]", "gives no reason"),
    ("# synth: ignore phantom study", "names no rule code"),
    ("# synth: ignore[] phantom study", "names no rule code"),
])
def test_suppression_without_code_or_reason_is_syn010(repo, capsys, comment, problem):
    write(repo, "s.synth", _edit(HOT_KV, "    kv: 300 kV\n", f"    kv: 300 kV  {comment}\n"))
    code, out, err = run(capsys, "check", "s.synth")
    assert code == 1
    assert "error[SYN010]" in out and problem in out
    assert "error[PHY001]" in out, "a bad suppression suppresses nothing"


def test_ignore_config_also_silences_suppression_findings(repo, capsys):
    write(repo, "s.synth", WARNING_ONLY)
    write(repo, "synth.toml", 'ignore = ["SYN011"]\n')
    assert codes(capsys, "--fail-on", "warning", "s.synth") == (0, {})


def test_severity_table_regrades_syn010(repo, capsys):
    write(repo, "s.synth", _edit(CLEAN, "    kv: 120 kV\n", "    kv: 120 kV  # synth: ignore[PHY001]\n"))
    write(repo, "synth.toml", '[severity]\nSYN010 = "warning"\n')
    code, found = codes(capsys, "s.synth")
    assert found["SYN010"] == "warning"


# -- the installed console script -------------------------------------------------------------------

def _console_script() -> str | None:
    beside = Path(sys.executable).with_name("synth")
    return str(beside) if beside.is_file() else shutil.which("synth")


def test_console_script_on_garbage_binary(tmp_path):
    script = _console_script()
    if script is None:
        pytest.skip("the `synth` console script is not installed (pip install -e .)")
    garbage = tmp_path / "garbage.synth"
    garbage.write_bytes(bytes(range(256)) * 8 + b"\x00\xff\xfe" * 100)
    env = {**os.environ, "SYNTH_TODAY": TODAY, "NO_COLOR": "1"}
    done = subprocess.run([script, "check", str(garbage)], capture_output=True, text=True, timeout=60,
                          cwd=tmp_path, env=env)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert "error[SYN005]" in done.stdout and "not valid UTF-8" in done.stdout
    done = subprocess.run([script, "check", "--format", "sarif", str(garbage)], capture_output=True, text=True,
                          timeout=60, cwd=tmp_path, env=env)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert [r["ruleId"] for r in json.loads(done.stdout)["runs"][0]["results"]] == ["SYN005"]
    done = subprocess.run([script, "check", str(tmp_path / "absent.synth")], capture_output=True, text=True,
                          timeout=60, cwd=tmp_path, env=env)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.startswith("synth check: error: no such file or folder")
