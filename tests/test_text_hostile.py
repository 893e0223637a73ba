"""Hostile text (issue 16): Trojan-source controls, non-ASCII digits, lone carriage returns, CRLF,
`;`-joined lines with a suppression, huge files for `synth fmt`, and findings by the thousand.

Every case goes through `compile_file` and the `synth` command line; none of them times anything:
linear work is checked by counting (lines split, suppressions consulted), and the speed itself is
measured by `benchmarks/check_speed.py --only linearity`.
"""

from __future__ import annotations

import io
import json
import os
import re
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from synthspec.cli import main
from synthspec.compiler import render
from synthspec.plan.lower import cohort_data   # the checked model without positions, as the planner keys it
from synthspec.compiler import suppress as sup
from synthspec.compiler.check import FileResult, compile_file
from synthspec.compiler.config import Config
from synthspec.compiler.diagnostics import Diagnostic, Severity, Span
from synthspec.compiler.fmt import format_text
from synthspec.compiler.parse import parse_text
from synthspec.compiler.resolve import read_bytes
from synthspec.compiler.syntax import Quantity
from synthspec.compiler.text import BIDI_CONTROLS, decode

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "lung_nodules_ldct.synth"
CLEAN = EXAMPLE.read_text(encoding="utf-8")


def edit(text: str, old: str, new: str) -> str:
    assert old in text, f"the example no longer holds {old!r}"
    return text.replace(old, new, 1)


def write(folder: Path, name: str, data: str | bytes) -> Path:
    path = folder / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return path


def check(path: Path, **kw) -> FileResult:
    result = compile_file(path, config=kw.pop("config", Config()), roots=[path.parent], **kw)
    for d in result.diagnostics:
        assert "internal error" not in d.message, d.message
    return result


def synth(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def meaning(result: FileResult):
    """What a spec means to `synth check`: its model without positions, its visible codes, how many suppressed."""
    model = cohort_data(result.cohort) if result.cohort is not None else None
    return (model, sorted(d.code for d in result.visible), sum(d.suppressed for d in result.diagnostics))


def fmt_in_place(path: Path) -> tuple[int, str]:
    code, _, err = synth("fmt", str(path))
    return code, err


@pytest.fixture
def repo(tmp_path: Path, monkeypatch) -> Path:
    (tmp_path / ".git").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


# -- 4. Trojan source: bidirectional controls -------------------------------------------------

@pytest.mark.parametrize("char", sorted(BIDI_CONTROLS), ids=lambda c: f"U+{ord(c):04X}")
def test_each_bidi_control_in_a_string_or_comment_is_syn015_by_code_point(tmp_path, char):
    text = edit(CLEAN, 'approved_by: "Imaging AI governance board"', f'approved_by: "Imaging {char}AI board"')
    text = edit(text, "# low dose", f"# low {char}dose")
    result = check(write(tmp_path, "s.synth", text))
    found = [d for d in result.visible if d.code == "SYN015"]
    assert len(found) == 2 and {d.code for d in result.visible} == {"SYN015"}
    lines = text.split("\n")
    for d in found:
        assert lines[d.span.line - 1][d.span.column - 1] == char       # points at the character itself
        assert f"U+{ord(char):04X}" in d.message
        assert not set(d.message + (d.hint or "")) & BIDI_CONTROLS    # never the character itself
    assert {d.message.rsplit(" in ", 1)[1] for d in found} == {"a string", "a comment"}


def test_bidi_control_in_code_is_one_finding_and_never_printed(repo):
    text = edit(CLEAN, "  seed: 42\n", "  seed: 42 \u202e\n")
    spec = write(repo, "s.synth", text)
    result = check(spec)
    assert [d.code for d in result.visible] == ["SYN015"]
    assert result.visible[0].message.endswith("in code")
    for argv in (["check", str(spec)], ["check", "--format", "github", str(spec)],
                 ["check", "--format", "json", str(spec)], ["check", "--format", "sarif", str(spec)]):
        code, out, err = synth(*argv)
        assert code == 1, err
        assert not set(out + err) & BIDI_CONTROLS, argv   # the excerpt shows U+FFFD instead
    code, out, _ = synth("check", str(spec))
    assert "seed: 42 \ufffd" in out and "Traceback" not in out


def test_many_bidi_controls_on_one_long_line_are_all_found(tmp_path):
    text = "synth 1\n# " + "ab\u2067" * 5000 + "\ncohort c {}\n"
    found = [d for d in parse_text(text, "t")[1] if d.code == "SYN015"]
    assert len(found) == 5000 and found[-1].span.column == 2 + 3 * 5000


# -- 4. non-ASCII digits -------------------------------------------------------------------

@pytest.mark.parametrize("old, new, column", [
    ("  subjects: 4\n", "  subjects: \u0664\n", 13),                # Arabic-Indic
    ("    kv: 120 kV\n", "    kv: \uff11\uff12\uff10 kV\n", 9),       # full-width
    ("    kv: 120 kV\n", "    kv: 12\u0660 kV\n", 11),               # ASCII digits, then one that is not
    ("  seed: 42\n", "  seed: \u096a\u0968\n", 9),                    # Devanagari
    ("    expires: 2027-12-31\n", "    expires: \uff12027-12-31\n", 14),
    ("synth 1\n", "synth \u0661\n", 7),
])
def test_non_ascii_digits_are_syn016_and_never_numbers(tmp_path, old, new, column):
    text = edit(CLEAN, old, new)
    result = check(write(tmp_path, "s.synth", text))
    assert [d.code for d in result.visible] == ["SYN016"], [(d.code, d.message) for d in result.visible]
    d = result.visible[0]
    assert (d.span.line, d.span.column) == (text[:text.index(new)].count("\n") + 1 + new[:-1].count("\n"), column)
    assert re.search(r"U\+[0-9A-F]{4} \(", d.message)
    assert result.cohort is None   # nothing was read as a number


def test_non_ascii_digits_in_strings_and_comments_are_text(tmp_path):
    text = edit(CLEAN, 'title: "Small solid', 'title: "\u0661\u0666 small solid')
    text = edit(text, "# low dose", "# low dose \uff11\uff12\uff10")
    result = check(write(tmp_path, "s.synth", text))
    assert result.visible == []
    assert result.cohort.title.startswith("\u0661\u0666")


def test_the_parser_reads_ascii_digits_only():
    module, problems = parse_text("synth 1\ncohort c { subjects: 16; kv: 1\u0660 }\n", "t")
    assert module is None and [d.code for d in problems] == ["SYN016"]
    module, _ = parse_text("synth 1\ncohort c { subjects: 16; kv: 1.5e3 kV }\n", "t")

    def quantities(node):
        if isinstance(node, Quantity):
            yield node
        elif hasattr(node, "__dict__"):
            for value in vars(node).values():
                for item in value if isinstance(value, list) else [value]:
                    yield from quantities(item)

    assert [q.text for q in quantities(module)] == ["16", "1.5e3"]
    assert all(q.text.isascii() for q in quantities(module))


@pytest.mark.parametrize("code", ["SYN015", "SYN016"])
def test_explain_the_new_rules(code):
    status, out, err = synth("explain", code)
    assert status == 0 and out.startswith(f"{code} ") and "\nExample\n" in out and "\nUse instead\n" in out
    assert not set(out) & BIDI_CONTROLS
    status, out, _ = synth("rules")
    assert code in out


# -- 6. a lone carriage return ---------------------------------------------------------------

LONE_CR = edit(CLEAN, "    slice_thickness: 2.5 mm\n", "    # low dose\r    slice_thickness: 10 mm\n")


def test_a_lone_cr_is_a_line_break_to_check_fmt_and_the_decoder(repo):
    assert decode(b"a\rb\r\nc\n", "f", None) == "a\nb\nc\n"
    spec = write(repo, "cr.synth", LONE_CR)
    before = check(spec)
    assert before.cohort.protocol.slice_thickness == 10.0   # a live field, not part of the comment
    assert synth("fmt", "--check", str(spec))[0] == 1      # the line ending is a change
    code, err = fmt_in_place(spec)
    assert code == 0, err
    formatted = spec.read_bytes()
    assert b"\r" not in formatted and b"    # low dose\n    slice_thickness: 10 mm\n" in formatted
    assert meaning(check(spec)) == meaning(before)
    assert synth("fmt", "--check", str(spec))[0] == 0


def test_not_utf8_position_counts_lone_cr_lines(tmp_path):
    spec = write(tmp_path, "bad.synth", b"synth 1\r# one\rcohort c { title: \"\xff\" }\n")
    [d] = check(spec).visible
    assert d.code == "SYN005" and (d.span.line, d.span.column) == (3, 20)


def count_reads(monkeypatch, target: Path) -> list:
    """Record the size of every `read` of `target` through `Path.open` (how the reader opens a spec)."""
    reads: list = []
    real_open = Path.open

    def counting_open(self, *args, **kwargs):
        stream = real_open(self, *args, **kwargs)
        if Path(self).name == target.name:
            original = stream.read
            stream.read = lambda n=-1: reads.append(n) or original(n)
        return stream

    monkeypatch.setattr(Path, "open", counting_open)
    return reads


# -- 8. CRLF and size ------------------------------------------------------------------------------

def test_fmt_reports_and_rewrites_crlf(repo):
    spec = write(repo, "crlf.synth", CLEAN.replace("\n", "\r\n"))
    before = check(spec)
    code, out, err = synth("fmt", "--check", str(spec))
    assert code == 1 and f"would reformat {spec}" in out
    code, out, _ = synth("fmt", "--diff", str(spec))
    assert code == 1 and "only the line endings change" in out
    assert fmt_in_place(spec)[0] == 0
    assert spec.read_bytes() == CLEAN.encode("utf-8")
    assert meaning(check(spec)) == meaning(before)


def test_fmt_refuses_a_file_over_the_size_limit_without_reading_it(repo, monkeypatch):
    spec = repo / "huge.synth"
    with open(spec, "wb") as stream:   # 50 MB, sparse: cheap to make, and never read
        stream.write(CLEAN.encode("utf-8"))
        stream.truncate(50_000_000)
    reads = count_reads(monkeypatch, spec)
    for argv in (["fmt", str(spec)], ["fmt", "--check", str(spec)], ["fmt", "--diff", str(spec)]):
        code, out, err = synth(*argv)
        assert code == 1 and out == ""
        [line] = [x for x in err.splitlines() if "not formatted" in x]
        assert "50000000 bytes, over the 1000000-byte limit" in line and "Traceback" not in err
    assert reads == []                                  # refused from its size alone
    assert os.path.getsize(spec) == 50_000_000          # untouched
    (repo / "synth.toml").write_text("max-file-bytes = 100\n", encoding="utf-8")
    small = write(repo, "small.synth", CLEAN)
    code, _, err = synth("fmt", "--check", str(small))
    assert code == 1 and "over the 100-byte limit" in err


def test_read_bytes_never_reads_past_the_limit(tmp_path, monkeypatch):
    spec = write(tmp_path, "s.synth", CLEAN)
    reads = count_reads(monkeypatch, spec)
    assert read_bytes(spec, sink=None, limit=len(CLEAN) + 5) == CLEAN.encode("utf-8")
    assert reads == [len(CLEAN) + 6]


# -- 7. a `;`-joined line with a trailing suppression ----------------------------------------------

SUPPRESSED_JOINED = edit(edit(CLEAN, "    kv: 120 kV\n", "    kv: 160 kV; slice_thickness: 2.5 mm  # synth: ignore[PHY001] phantom study\n"),
                         "    slice_thickness: 2.5 mm\n", "")


@pytest.mark.parametrize("text", [
    SUPPRESSED_JOINED,
    edit(CLEAN, "  ct {\n    kv: 120 kV\n", "  ct { kv: 160 kV  # synth: ignore[PHY001] phantom study\n"),
    edit(CLEAN, "    kernel: standard  # soft-tissue reconstruction, as in the real reference scan\n  }\n",
         "    kernel: standard; x_extra: 1 }  # synth: ignore[NAM001] kept for the old pipeline\n"),
    edit(CLEAN, "  seed: 42\n", "  seed: 42\n  organ_note { label: 1; require a > 1 mm }  # synth: ignore[NAM002] draft\n"),
], ids=["two-fields", "open-brace", "close-brace", "one-line-block"])
def test_fmt_keeps_a_suppressed_line_whole(repo, text):
    spec = write(repo, "s.synth", text)
    before = check(spec)
    assert before.visible == [] or "SYN011" not in {d.code for d in before.visible}
    assert sum(d.suppressed for d in before.diagnostics) >= 1
    assert fmt_in_place(spec)[0] == 0
    after = check(spec)
    assert meaning(after) == meaning(before), (spec.read_text(encoding="utf-8"))
    again, _ = format_text(spec.read_text(encoding="utf-8"))
    assert again == spec.read_text(encoding="utf-8")


def test_fmt_still_splits_joined_lines_without_a_suppression():
    out, _ = format_text("synth 1\ncohort c {\n  a: 1; b: 2  # note\n}\n")
    assert out == "synth 1\n\ncohort c {\n  a: 1\n  b: 2  # note\n}\n"
    out, _ = format_text("synth 1\ncohort c {\n  a: 1; b: 2  # synth: ignore[NAM001] draft\n}\n")
    assert out == "synth 1\n\ncohort c {\n  a: 1; b: 2  # synth: ignore[NAM001] draft\n}\n"


# -- 5. findings by the thousand: a cap on what is printed, linear work ------------------------------

def many_findings(n: int) -> str:
    return edit(CLEAN, "  seed: 42\n", "  seed: 42\n" + "".join(f"  x_{i}: 1\n" for i in range(n)))


def test_text_and_github_print_at_most_200_findings_per_file(repo):
    spec = write(repo, "many.synth", many_findings(250))
    code, out, _ = synth("check", str(spec))
    assert code == 1
    assert len(re.findall(r"^\S+:\d+:\d+: error\[", out, re.M)) == 200
    assert f"... and 50 more finding(s) in {spec}; see --format json for all" in out
    assert out.rstrip().endswith("checked 1 file(s): 250 error(s), 0 warning(s)")   # the count stays exact
    code, out, _ = synth("check", "--format", "github", str(spec))
    assert len(re.findall(r"^::error ", out, re.M)) == 200
    assert out.rstrip().splitlines()[-1].startswith(f"::notice file={spec},title=synthspec::... and 50 more")
    code, out, _ = synth("check", "--format", "json", str(spec))
    assert len(json.loads(out)["diagnostics"]) == 250
    code, out, _ = synth("check", "--max-findings", "0", str(spec))
    assert len(re.findall(r"^\S+:\d+:\d+: error\[", out, re.M)) == 250 and "more finding(s)" not in out
    with pytest.raises(SystemExit) as stopped:
        synth("check", "--max-findings", "-1", str(spec))
    assert stopped.value.code == 2


def test_rendering_splits_each_file_once(monkeypatch):
    calls = []
    real = render.split_lines
    monkeypatch.setattr(render, "split_lines", lambda text: calls.append(1) or real(text))
    texts = {"a.synth": "x: 1\n" * 3000, "b.synth": "y: 2\n" * 3000}
    findings = [Diagnostic(code="NAM001", name="unknown-field", severity=Severity.ERROR, message="m",
                           span=Span(file=file, line=line, column=1, end_line=line, end_column=2))
                for file in texts for line in range(1, 3001)]
    render.text(findings, texts, limit=None)
    assert len(calls) == 2
    calls.clear()
    render.sarif(findings, Path.cwd(), texts)
    assert len(calls) == 2


def test_a_finding_on_a_huge_line_prints_a_short_excerpt(repo):
    names = ", ".join(f"ct.nope{i}" for i in range(3000))
    spec = write(repo, "long.synth", edit(CLEAN, "  scanners: ct.wide_detector_256 40%, ct.midrange_64 40%, ct.budget_16 20%",
                                          f"  scanners: {names}"))
    code, out, _ = synth("check", str(spec))
    assert code == 1 and max(len(line) for line in out.splitlines()) < 400
    shown, column, width = render.excerpt("a" * 1000 + "XYZ" + "b" * 1000, 1001, 3)
    assert shown[column - 1:column - 1 + width] == "XYZ" and len(shown) <= render.MAX_EXCERPT + 2


class _Counted(list):
    """A suppression's code list that counts how often it is searched."""

    looked = 0

    def __contains__(self, item):
        _Counted.looked += 1
        return super().__contains__(item)

    def __iter__(self):
        _Counted.looked += 1
        return super().__iter__()


def test_applying_suppressions_consults_each_once():
    n = 3000
    found = [sup.Suppression(line=i, column=5, whole_file=False, codes=_Counted(["NAM001"]), reason="r") for i in range(1, n + 1)]
    found.append(sup.Suppression(line=n + 1, column=1, whole_file=True, codes=_Counted(["PHY001"]), reason="r"))
    diagnostics = [Diagnostic(code="NAM001", name="unknown-field", severity=Severity.ERROR, message="m",
                              span=Span(file="f", line=i, column=1, end_line=i, end_column=2)) for i in range(1, n + 1)]
    _Counted.looked = 0
    out = sup.apply(diagnostics, {"f": found})
    assert all(d.suppressed for d in diagnostics)
    assert [d.code for d in out[n:]] == ["SYN011"]           # only the file-wide PHY001 is unused
    assert _Counted.looked <= 3 * (n + 1)                  # not once per (finding, suppression) pair


def test_only_the_first_cohorts_of_a_many_cohort_file_are_checked_in_full(tmp_path):
    text = "synth 1\n" + "cohort c0 {}\n" + "".join(f"cohort c{i} extends c{i - 1} {{ seed: {i} }}\n" for i in range(1, 400))
    result = check(write(tmp_path, "many.synth", text))
    [many] = [d for d in result.visible if d.code == "SYN013"]
    assert "400 cohort blocks" in many.message and "only the first 8" in many.hint
    assert sum(d.code == "NAM005" for d in result.visible) < 8 * 20


# ---- a planted configuration cannot turn a broken or hostile spec green ------------------------------

def test_an_unknown_code_in_the_configuration_is_a_config_error(tmp_path, capsys):
    from synthspec.cli import main

    (tmp_path / ".git").mkdir()
    (tmp_path / "synth.toml").write_text('[tool.synth]\nselect = ["XYZ999"]\n')
    spec = tmp_path / "broken.synth"
    spec.write_text("synth 1\ncohort x {\n  subjects: 1 2 3 {{\n")
    assert main(["check", str(spec)]) == 2
    assert "XYZ999" in capsys.readouterr().err


def test_unreadable_and_unparsable_files_are_always_reported(tmp_path, capsys):
    from synthspec.cli import main

    (tmp_path / ".git").mkdir()
    (tmp_path / "synth.toml").write_text('[tool.synth]\nselect = ["GOV"]\nignore = ["SYN"]\n'
                                         '[tool.synth.severity]\nSYN001 = "info"\n')
    spec = tmp_path / "broken.synth"
    spec.write_text("synth 1\ncohort x {\n  subjects: 1 2 3 {{  # synth: ignore[SYN001] planted\n")
    assert main(["check", str(spec)]) == 1
    out = capsys.readouterr().out
    assert "error[SYN001]" in out and "1 error(s)" in out


def test_control_characters_in_strings_are_syn017_and_never_printed(tmp_path, capsys):
    from synthspec.cli import main

    spec = tmp_path / "esc.synth"
    spec.write_text('synth 1\n# a bell \x07 here\ncohort x {\n  title: "a\x1b[2Jb"\n}\n', encoding="utf-8")
    assert main(["check", str(spec)]) == 1
    out = capsys.readouterr().out
    assert out.count("SYN017") == 2 and "U+001B (ESCAPE) in a string" in out and "U+0007 (BELL) in a comment" in out
    assert "\x1b" not in out and "\x07" not in out
