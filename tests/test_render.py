"""The output formats of `synth check`: SARIF 2.1.0 (validated against the official OASIS schema),
GitHub workflow commands, JSON and text.

The SARIF schema in tests/data/ is the OASIS one (Errata 01); tests/data/README.md says where it
came from.  It declares JSON Schema draft-04, and the validator is chosen from that declaration.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import unquote, urlparse
from urllib.request import url2pathname

import jsonschema
import pytest

from synthspec import cli
from synthspec.compiler import render
from synthspec.compiler.diagnostics import Diagnostic, Severity, Span
from synthspec.compiler.rules import all_rules

ROOT = Path(__file__).resolve().parent.parent
CLEAN = (ROOT / "examples" / "lung_nodules_ldct.synth").read_text(encoding="utf-8")
SCHEMA_PATH = Path(__file__).resolve().parent / "data" / "sarif-schema-2.1.0.json"
ANSI = re.compile(r"\x1b\[")


def _edit(text: str, old: str, new: str) -> str:
    assert old in text, f"the clean example no longer holds {old!r}"
    return text.replace(old, new, 1)


# Several findings in one spec: an implausible tube voltage (PHY001, plus PHY008 for each of the three
# scanners on one line), a bare number (UNI001), an unknown field (NAM001), and an unused suppression
# (SYN011, a warning).
BROKEN = CLEAN
BROKEN = _edit(BROKEN, "    kv: 120 kV\n", "    kv: 300 kV\n")
BROKEN = _edit(BROKEN, "    slice_thickness: 2.5 mm\n", "    slice_thickness: 2.5\n    frobnicate: 3\n")
BROKEN = _edit(BROKEN, "    matrix: 512\n", "    matrix: 512  # synth: ignore[GOV001] left over from an old draft\n")
# The same spec with PHY001 suppressed in source, with a reason.
SUPPRESSED = _edit(BROKEN, "    kv: 300 kV\n", "    kv: 300 kV  # synth: ignore[PHY001] phantom study, approved by medical physics\n")
SYNTAX_ERROR = "synth 1\ncohort broken {\n  title \"no colon\"\n}\n"


@pytest.fixture(autouse=True)
def _pinned(monkeypatch):
    monkeypatch.setenv("SYNTH_TODAY", "2026-11-25")  # governance expiry is judged against this date
    monkeypatch.delenv("NO_COLOR", raising=False)


@pytest.fixture
def project(tmp_path: Path, monkeypatch) -> Path:
    """A repository in tmp_path: a synth.toml at its root (the SARIF SRCROOT) and specs under specs/."""
    (tmp_path / "synth.toml").write_text('[severity]\nNAM001 = "info"\n', encoding="utf-8")
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "broken.synth").write_text(BROKEN, encoding="utf-8")
    (specs / "syntax.synth").write_text(SYNTAX_ERROR, encoding="utf-8")
    (specs / "suppressed.synth").write_text(SUPPRESSED, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def sarif_of(capsys, *paths: str) -> dict:
    code, out, err = run(capsys, "check", "--format", "sarif", *paths)
    assert code == 1, err
    return json.loads(out)


def diagnostics_of(capsys, *paths: str) -> list[dict]:
    code, out, err = run(capsys, "check", "--format", "json", *paths)
    return json.loads(out)["diagnostics"]


# -- SARIF ------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def test_schema_is_the_official_oasis_one(schema):
    assert schema.get("id", schema.get("$id")) == \
        "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
    assert schema["properties"]["version"]["enum"] == ["2.1.0"]
    validator = jsonschema.validators.validator_for(schema)
    validator.check_schema(schema)


def _validate(log: dict, schema: dict) -> None:
    validator_class = jsonschema.validators.validator_for(schema)  # the draft the schema declares (draft-04)
    validator = validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(log), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:10])


def test_sarif_validates_against_the_official_schema(project, capsys, schema):
    log = sarif_of(capsys, "specs")
    _validate(log, schema)
    assert log["version"] == "2.1.0"
    assert len(log["runs"]) == 1
    codes = {r["ruleId"] for r in log["runs"][0]["results"]}
    assert {"PHY001", "PHY008", "UNI001", "NAM001", "SYN011", "SYN001"} <= codes


def test_sarif_of_a_clean_spec_validates_and_has_no_results(tmp_path, monkeypatch, capsys, schema):
    (tmp_path / "clean.synth").write_text(CLEAN, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "check", "--format", "sarif", "clean.synth")
    assert code == 0, out + err
    log = json.loads(out)
    _validate(log, schema)
    assert log["runs"][0]["results"] == []
    assert len(log["runs"][0]["tool"]["driver"]["rules"]) == len(all_rules())


def test_sarif_rules_have_stable_ids_and_rule_index_points_at_them(project, capsys):
    log = sarif_of(capsys, "specs")
    rules = log["runs"][0]["tool"]["driver"]["rules"]
    ids = [r["id"] for r in rules]
    assert ids == [r.code for r in all_rules()], "rules are listed by code, in a stable order"
    assert len(set(ids)) == len(ids)
    for rule in rules:
        assert re.fullmatch(r"[A-Z]{3}\d{3}", rule["id"])
        assert rule["name"] and rule["shortDescription"]["text"] and rule["fullDescription"]["text"]
        assert "{" not in rule["shortDescription"]["text"], "no template placeholders in the short description"
        assert re.search(r"[A-Za-z]{3}", rule["shortDescription"]["text"]), rule["shortDescription"]
        assert rule["help"]["text"] and rule["help"]["markdown"]
        assert rule["defaultConfiguration"]["level"] in ("error", "warning", "note")
    results = log["runs"][0]["results"]
    assert results
    for result in results:
        assert result["ruleId"] in ids
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
    # the ids do not depend on what was found: a second run over other files lists the same rules
    other = sarif_of(capsys, "specs/syntax.synth")
    assert [r["id"] for r in other["runs"][0]["tool"]["driver"]["rules"]] == ids


def test_sarif_fingerprints_are_present_stable_and_distinct(project, capsys):
    first = sarif_of(capsys, "specs")["runs"][0]["results"]
    second = sarif_of(capsys, "specs")["runs"][0]["results"]
    prints = [r["partialFingerprints"]["primaryLocationLineHash"] for r in first]
    assert all(prints)
    assert prints == [r["partialFingerprints"]["primaryLocationLineHash"] for r in second]
    # the three PHY008 findings on the one `scanners:` line must stay three alerts
    assert len(set(prints)) == len(prints)


def test_sarif_fingerprint_survives_adding_a_suppression(project, capsys):
    """Suppressing a finding in source keeps its fingerprint, so code scanning shows the same alert as suppressed."""
    results = sarif_of(capsys, "specs")["runs"][0]["results"]

    def phy001(file: str) -> dict:
        [found] = [r for r in results if r["ruleId"] == "PHY001"
                   and r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == file]
        return found

    plain, suppressed = phy001("specs/broken.synth"), phy001("specs/suppressed.synth")
    # the files differ, so the hashes differ; hash the same file name to compare like with like
    (project / "specs" / "broken.synth").write_text(SUPPRESSED, encoding="utf-8")
    again = [r for r in sarif_of(capsys, "specs/broken.synth")["runs"][0]["results"] if r["ruleId"] == "PHY001"]
    assert again[0]["partialFingerprints"] == plain["partialFingerprints"]
    assert "suppressions" in again[0] and "suppressions" not in plain
    assert "suppressions" in suppressed


def test_sarif_uris_are_relative_to_srcroot(project, capsys):
    log = sarif_of(capsys, "specs")
    run_ = log["runs"][0]
    base = run_["originalUriBaseIds"]["SRCROOT"]["uri"]
    assert base.startswith("file://") and base.endswith("/")
    assert Path(url2pathname(urlparse(base).path)).resolve() == project.resolve()
    for result in run_["results"]:
        location = result["locations"][0]["physicalLocation"]
        artifact = location["artifactLocation"]
        assert artifact["uriBaseId"] == "SRCROOT"
        assert not artifact["uri"].startswith(("/", "file:")), artifact["uri"]
        assert (project / unquote(artifact["uri"])).is_file()
        region = location["region"]
        assert region["startLine"] >= 1 and region["startColumn"] >= 1


def test_sarif_uris_are_percent_encoded(tmp_path, monkeypatch, capsys, schema):
    odd = "odd name,v:1 50%.synth"
    (tmp_path / odd).write_text(BROKEN, encoding="utf-8")
    (tmp_path / "synth.toml").write_text("", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    log = sarif_of(capsys, odd)
    _validate(log, schema)
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in log["runs"][0]["results"]}
    assert uris == {"odd%20name%2Cv%3A1%2050%25.synth"}
    assert unquote(uris.pop()) == odd


def test_sarif_file_outside_srcroot_gets_an_absolute_uri(tmp_path, monkeypatch, capsys, schema):
    repo, elsewhere = tmp_path / "repo", tmp_path / "elsewhere"
    repo.mkdir()
    elsewhere.mkdir()
    (elsewhere / "broken.synth").write_text(BROKEN, encoding="utf-8")
    (repo / "synth.toml").write_text("", encoding="utf-8")
    monkeypatch.chdir(elsewhere)
    log = sarif_of(capsys, "--config", str(repo / "synth.toml"), "broken.synth")
    _validate(log, schema)
    for result in log["runs"][0]["results"]:
        artifact = result["locations"][0]["physicalLocation"]["artifactLocation"]
        assert "uriBaseId" not in artifact
        assert artifact["uri"] == (elsewhere / "broken.synth").resolve().as_uri()


def test_sarif_levels_map_error_warning_note(project, capsys):
    log = sarif_of(capsys, "specs")
    severities = {(d["code"], d["span"]["file"], d["span"]["line"]): d["severity"] for d in diagnostics_of(capsys, "specs")}
    want = {"error": "error", "warning": "warning", "info": "note"}
    levels = set()
    for result in log["runs"][0]["results"]:
        location = result["locations"][0]["physicalLocation"]
        key = (result["ruleId"], unquote(location["artifactLocation"]["uri"]), location["region"]["startLine"])
        assert result["level"] == want[severities[key]], key
        levels.add(result["level"])
    assert levels == {"error", "warning", "note"}  # NAM001 is regraded to info by synth.toml
    by_code = {r["ruleId"]: r["level"] for r in log["runs"][0]["results"]}
    assert by_code["PHY001"] == "error" and by_code["SYN011"] == "warning" and by_code["NAM001"] == "note"
    # the rule's default stays in the rule table; the regrade shows on the result
    rules = {r["id"]: r for r in log["runs"][0]["tool"]["driver"]["rules"]}
    assert rules["NAM001"]["defaultConfiguration"]["level"] == "error"
    assert rules["SYN011"]["defaultConfiguration"]["level"] == "warning"


def test_sarif_keeps_suppressed_findings_with_a_suppression(project, capsys):
    results = sarif_of(capsys, "specs/suppressed.synth")["runs"][0]["results"]
    [phy001] = [r for r in results if r["ruleId"] == "PHY001"]
    [suppression] = phy001["suppressions"]
    assert suppression["kind"] == "inSource"
    assert suppression["justification"] == "phantom study, approved by medical physics"
    unsuppressed = [r for r in results if r["ruleId"] != "PHY001"]
    assert unsuppressed and all("suppressions" not in r for r in unsuppressed)
    # the suppression hides it from people, and does not make the check pass on its own
    code, out, _ = run(capsys, "check", "specs/suppressed.synth")
    assert "PHY001" not in out and "1 suppressed" in out


def test_sarif_syntax_error_has_a_region(project, capsys, schema):
    log = sarif_of(capsys, "specs/syntax.synth")
    _validate(log, schema)
    [result] = [r for r in log["runs"][0]["results"] if r["ruleId"] == "SYN001"]
    region = result["locations"][0]["physicalLocation"]["region"]
    assert region["startLine"] == 3 and region["startColumn"] == SYNTAX_ERROR.splitlines()[2].index('"') + 1


# -- GitHub workflow commands ----------------------------------------------------------------------

_COMMAND = re.compile(r"^::(error|warning|notice) (?P<props>[^:]*)::(?P<message>.*)$")


def test_github_format_prints_one_command_per_visible_finding(project, capsys):
    code, out, err = run(capsys, "check", "--format", "github", "specs/suppressed.synth")
    assert code == 1
    lines = out.splitlines()
    visible = [d for d in diagnostics_of(capsys, "specs/suppressed.synth") if not d["suppressed"]]
    assert len(lines) == len(visible)
    for line, d in zip(lines, visible):
        match = _COMMAND.match(line)
        assert match, line
        props = dict(p.split("=", 1) for p in match["props"].split(","))
        assert props["file"] == "specs/suppressed.synth"
        assert props["line"] == str(d["span"]["line"]) and props["col"] == str(d["span"]["column"])
        assert props["title"].startswith(d["code"] + " ")
        assert match[1] == {"error": "error", "warning": "warning", "info": "notice"}[d["severity"]]
    assert not any("PHY001" in line for line in lines), "a suppressed finding is no annotation"
    assert any(line.startswith("::error file=specs/suppressed.synth,line=") and ",col=" in line for line in lines)
    assert any(line.startswith("::warning ") for line in lines)
    assert any(line.startswith("::notice ") for line in lines)


def test_github_format_escapes_data_and_properties():
    d = Diagnostic(code="PHY001", name="odd:name,here", severity=Severity.ERROR,
                   message="100% sure,\nsecond line: done\r", span=Span(file="dir,x/a:b%.synth", line=3, column=7,
                                                                        end_line=3, end_column=9),
                   hint="50% less")
    [line] = render.github([d]).splitlines()
    assert line == ("::error file=dir%2Cx/a%3Ab%25.synth,line=3,col=7,endLine=3,endColumn=9,"
                    "title=PHY001 odd%3Aname%2Chere::100%25 sure,%0Asecond line: done%0D (hint: 50%25 less)")
    info = d.model_copy(update={"severity": Severity.INFO, "span": Span(file="a.synth", line=1, column=1)})
    assert render.github([info]).startswith("::notice file=a.synth,line=1,col=1,title=")


def test_github_format_prints_nothing_when_clean(tmp_path, monkeypatch, capsys):
    (tmp_path / "clean.synth").write_text(CLEAN, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert run(capsys, "check", "--format", "github", "clean.synth") == (0, "", "")


# -- JSON ------------------------------------------------------------------------------------------

def test_json_format_is_valid_json_with_counts(project, capsys):
    code, out, err = run(capsys, "check", "--format", "json", "specs")
    assert code == 1
    data = json.loads(out)
    assert data["files"] == 3
    items = data["diagnostics"]
    for severity in ("error", "warning", "info"):
        assert data["counts"][severity] == sum(1 for d in items if d["severity"] == severity and not d["suppressed"])
    assert data["counts"]["error"] >= 4 and data["counts"]["warning"] >= 1 and data["counts"]["info"] >= 1
    assert data["suppressed"] == 1
    [suppressed] = [d for d in items if d["suppressed"]]
    assert suppressed["code"] == "PHY001" and suppressed["suppression_reason"].startswith("phantom study")
    for d in items:
        assert set(d) >= {"code", "name", "severity", "message", "span", "hint", "suppressed"}
        assert {"file", "line", "column", "end_line", "end_column"} <= set(d["span"])


# -- text ------------------------------------------------------------------------------------------

def _excerpt(out: str, code: str) -> tuple[str, str, str]:
    """The heading, source line and caret line printed for the first finding of `code`."""
    lines = out.splitlines()
    i = next(i for i, line in enumerate(lines) if f"[{code}]" in line)
    return lines[i], lines[i + 2], lines[i + 3]


def test_text_shows_the_source_line_and_a_caret_under_the_column(project, capsys):
    code, out, err = run(capsys, "check", "specs/broken.synth")
    assert code == 1
    assert not ANSI.search(out + err), "no colour codes when stdout is not a terminal"
    head, source, caret = _excerpt(out, "UNI001")
    line_no = BROKEN.splitlines().index("    slice_thickness: 2.5") + 1
    column = "    slice_thickness: 2.5".index("2.5") + 1
    assert head.startswith(f"specs/broken.synth:{line_no}:{column}: error[UNI001] ")
    assert source.endswith("|     slice_thickness: 2.5") and source.startswith(f"{line_no} |")
    assert caret.index("^") == source.index("2.5")
    assert caret.strip(" |") == "^^^"
    head, source, caret = _excerpt(out, "NAM001")
    assert source.endswith("frobnicate: 3")
    assert caret.index("^") == source.index("frobnicate") and caret.count("^") == len("frobnicate")
    assert "= hint:" in out
    assert out.rstrip().splitlines()[-1].startswith("checked 1 file(s): ")


def test_text_colour_only_when_asked():
    d = Diagnostic(code="UNI001", name="bare-number", severity=Severity.ERROR, message="m",
                   span=Span(file="x.synth", line=1, column=3, end_line=1, end_column=5))
    texts = {"x.synth": "a 12 b\n"}
    assert not ANSI.search(render.text([d], texts))
    assert ANSI.search(render.text([d], texts, colour=True))


class _Stream:
    def __init__(self, tty: bool):
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def test_colour_follows_the_terminal_and_no_color(monkeypatch):
    monkeypatch.setenv("TERM", "xterm")
    assert cli._colour(_Stream(True)) is True
    assert cli._colour(_Stream(False)) is False
    monkeypatch.setenv("NO_COLOR", "1")
    assert cli._colour(_Stream(True)) is False
    monkeypatch.delenv("NO_COLOR")
    monkeypatch.setenv("TERM", "dumb")
    assert cli._colour(_Stream(True)) is False


def test_text_caret_lines_up_after_tabs():
    source = "\tkv:\t300 kV"
    column = source.index("300") + 1
    d = Diagnostic(code="PHY001", name="implausible-tube-voltage", severity=Severity.ERROR, message="m",
                   span=Span(file="t.synth", line=1, column=column, end_line=1, end_column=column + 6))
    lines = render.text([d], {"t.synth": source + "\n"}).splitlines()
    excerpt, caret = lines[2], lines[3]
    assert excerpt.endswith(source)
    under = caret.split("| ", 1)[1]
    assert under == "\t   \t^^^^^^", "tabs are kept so the caret sits under `300` at any tab width"
    assert excerpt.split("| ", 1)[1].index("300") == under.index("^")


def test_text_counts_lines_at_newlines_only():
    """A form feed inside a line (allowed in a comment) must not shift the excerpt by a line."""
    text = "synth 1\n# page\x0cbreak\ncohort x {\n  kv: 1\n}\n"
    d = Diagnostic(code="UNI001", name="bare-number", severity=Severity.ERROR, message="m",
                   span=Span(file="f.synth", line=4, column=7, end_line=4, end_column=8))
    lines = render.text([d], {"f.synth": text}).splitlines()
    assert lines[2].endswith("|   kv: 1")
    crlf = {"c.synth": "synth 1\r\ncohort x {\r\n"}
    d2 = d.model_copy(update={"span": Span(file="c.synth", line=2, column=1)})
    assert render.text([d2], crlf).splitlines()[2].endswith("| cohort x {")


def test_text_without_a_readable_source_still_reports(tmp_path):
    d = Diagnostic(code="SYN005", name="not-utf8", severity=Severity.ERROR, message="not UTF-8",
                   span=Span(file=str(tmp_path / "missing.synth"), line=1, column=1))
    out = render.text([d], {})
    assert "error[SYN005] not UTF-8" in out and "|" not in out
