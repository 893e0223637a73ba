"""`synth fmt`: canonical layout, comments kept, idempotent, same tree, safe writes, CLI modes."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from synthspec.cli import main
from synthspec.compiler.fmt import format_text, write_atomic
from synthspec.compiler.parse import parse_text
from synthspec.compiler.suppress import comment_start

ROOT = Path(__file__).resolve().parents[1]
SPEC_FILES = sorted([*(ROOT / "examples").rglob("*.synth"), *(ROOT / "synthspec" / "stdlib").glob("*.synth")])


def shape(node):
    """A syntax node without positions, so two parses of different layouts compare equal."""
    if isinstance(node, BaseModel):
        return (type(node).__name__, tuple((k, shape(getattr(node, k))) for k in type(node).model_fields
                                           if k not in ("span", "key_span", "file")))
    if isinstance(node, list):
        return tuple(shape(x) for x in node)
    return node


def comments(text: str) -> list[str]:
    found = []
    for line in text.replace("\r\n", "\n").split("\n"):
        start = comment_start(line)
        if start >= 0:
            found.append(line[start:].rstrip())
    return found


def assert_formats_well(text: str) -> str:
    before, problems = parse_text(text, "t.synth")
    assert before is not None, problems
    out, problems = format_text(text, "t.synth")
    assert out is not None, problems
    assert problems == []
    after, problems = parse_text(out, "t.synth")
    assert after is not None, (problems, out)
    assert shape(after) == shape(before), out
    assert comments(out) == comments(text), out
    again, _ = format_text(out, "t.synth")
    assert again == out, (out, again)
    assert out == "" or (out.endswith("\n") and not out.endswith("\n\n"))
    assert "\r" not in out
    for line in out.split("\n"):
        assert line == line.rstrip(), repr(line)
    return out


# -- the shipped specs ------------------------------------------------------


def test_spec_files_found():
    assert any(p.parent.name == "stdlib" for p in SPEC_FILES)
    assert any(p.parent.name == "examples" for p in SPEC_FILES)


@pytest.mark.parametrize("path", SPEC_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_shipped_specs_idempotent_and_same_tree(path: Path):
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        pytest.skip("a broken example that is not UTF-8")
    if parse_text(text, str(path))[0] is None:
        pytest.skip("a broken example that does not parse")
    assert_formats_well(text)


def test_stdlib_is_already_canonical():
    for path in (ROOT / "synthspec" / "stdlib").glob("*.synth"):
        text = path.read_text(encoding="utf-8")
        assert format_text(text, str(path))[0] == text, path


# -- exact layout -------------------------------------------------------------

MESSY = """\
# file comment


synth   1   # version
import   "lib/a #1.synth"   as  lib  # lib
import std.scanners
k:1
cohort   lung  extends base.x{   # open


     title :"a # not comment"   # t
  size:4mm..8 mm;  share: solid 70 %,gg 30%   # joined
  \t

  # about organs
\t# second line

  organ heart {label:40;tissue: blood}  # heart
  organ lung { label: 41 ; require x >= 2 mm }
  require[0.90]   gap :distance_to( pleura )>=2mm
  require[0.1234567] a < b
  empty {
  }
  empty2 {   # why
  }
  nested { inner { a: 1 } ; b : 2 } # n
  age: normal(62 y,10 y) clipped 50 y..80 y;when:2027-12-31
  task {
    # only a comment
  }

  # end of block


}   # close
other{x: 1 }
# eof


"""

EXPECTED = """\
# file comment

synth 1  # version

import "lib/a #1.synth" as lib  # lib
import std.scanners

k: 1

cohort lung extends base.x {  # open
  title: "a # not comment"  # t
  size: 4 mm .. 8 mm
  share: solid 70%, gg 30%  # joined

  # about organs
  # second line

  organ heart { label: 40; tissue: blood }  # heart
  organ lung {
    label: 41
    require x >= 2 mm
  }
  require[0.9] gap: distance_to(pleura) >= 2 mm
  require[0.1234567] a < b
  empty {}
  empty2 {  # why
  }
  nested {
    inner { a: 1 }
    b: 2
  }  # n
  age: normal(62 y, 10 y) clipped 50 y .. 80 y
  when: 2027-12-31
  task {
    # only a comment
  }

  # end of block
}  # close

other { x: 1 }
# eof
"""


def test_messy_input_formats_exactly():
    assert assert_formats_well(MESSY) == EXPECTED


def test_crlf_becomes_lf():
    out = assert_formats_well(MESSY.replace("\n", "\r\n"))
    assert out == EXPECTED


def test_comments_all_kept():
    out, _ = format_text(MESSY, "m.synth")
    assert len(comments(out)) == len(comments(MESSY)) == 15


def test_blank_line_enforced_between_top_level_items():
    text = "synth 1\n# about a\ncohort a {\n  x: 1\n}\ncohort b {\n  x: 2\n}\n"
    assert assert_formats_well(text) == "synth 1\n\n# about a\ncohort a {\n  x: 1\n}\n\ncohort b {\n  x: 2\n}\n"


def test_imports_keep_their_grouping():
    text = "synth 1\nimport a\nimport b\n\n\nimport c\ncohort x {}\n"
    assert assert_formats_well(text) == "synth 1\n\nimport a\nimport b\n\nimport c\n\ncohort x {}\n"


def test_one_line_block_with_a_require_is_split():
    assert assert_formats_well("a { require x > 1; y: 2 }") == "a {\n  require x > 1\n  y: 2\n}\n"


def test_multi_line_block_of_fields_stays_multi_line():
    assert assert_formats_well("organ a {\n  label: 1; tissue: fat\n}\n") == "organ a {\n  label: 1\n  tissue: fat\n}\n"


def test_require_weight_never_rounded():
    out = assert_formats_well("a {\n  require[0.123456789] x >= 2\n  require[1.50] y < 3\n}\n")
    assert "require[0.123456789] x >= 2" in out and "require[1.5] y < 3" in out


def test_empty_and_comment_only_files():
    assert assert_formats_well("") == ""
    assert assert_formats_well("\n\n  \n") == ""
    assert assert_formats_well("\n# only\n\n\n# comments   \n\n") == "# only\n\n# comments\n"


def test_unparsable_text_gives_syntax_diagnostic():
    out, problems = format_text("synth 1\ncohort a {\n  diameter 4 mm\n}\n", "bad.synth")
    assert out is None
    assert len(problems) == 1 and problems[0].code == "SYN001"
    assert problems[0].span.file == "bad.synth" and problems[0].span.line == 3


def test_stray_semicolon_line_and_its_comment():
    assert assert_formats_well("a {\n ; # c\n}\n") == "a {\n  # c\n}\n"


def test_formatter_bug_never_returns_text(monkeypatch):
    from synthspec.compiler import fmt

    monkeypatch.setattr(fmt._Printer, "render", lambda self: "cohort changed {}\n")
    out, problems = format_text("cohort a {}\n", "a.synth")
    assert out is None and problems[0].code == "SYN001" and "internal error" in problems[0].message
    monkeypatch.setattr(fmt._Printer, "render", lambda self: "cohort a {}\n")
    out, problems = format_text("cohort a {}  # kept\n", "a.synth")
    assert out is None and "comment" in problems[0].message


def test_deep_nesting_gives_a_diagnostic_not_a_crash():
    text = "a {\n" * 300 + "x: 1\n" + "}\n" * 300
    out, problems = format_text(text, "deep.synth")
    assert out is None and problems[0].code == "SYN001"


# -- writing ------------------------------------------------------------------


def test_write_atomic_replaces_and_leaves_no_temp(tmp_path: Path):
    target = tmp_path / "spec.synth"
    target.write_text("old\n", encoding="utf-8")
    os.chmod(target, 0o640)
    write_atomic(target, "new\ncontent\n")
    assert target.read_bytes() == b"new\ncontent\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["spec.synth"]


def test_write_atomic_cleans_up_on_failure(tmp_path: Path, monkeypatch):
    target = tmp_path / "spec.synth"
    target.write_text("old\n", encoding="utf-8")

    def refuse(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError):
        write_atomic(target, "new\n")
    assert target.read_text(encoding="utf-8") == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["spec.synth"]


def test_write_atomic_follows_symlink(tmp_path: Path):
    real = tmp_path / "real.synth"
    real.write_text("old\n", encoding="utf-8")
    link = tmp_path / "link.synth"
    link.symlink_to(real)
    write_atomic(link, "new\n")
    assert link.is_symlink() and real.read_text(encoding="utf-8") == "new\n"


# -- command line -------------------------------------------------------------

UNFORMATTED = "synth 1\ncohort a{\n    x:1\n}\n"
FORMATTED = "synth 1\n\ncohort a {\n  x: 1\n}\n"


def test_cli_check(tmp_path: Path, capsys):
    bad, good = tmp_path / "bad.synth", tmp_path / "good.synth"
    bad.write_text(UNFORMATTED, encoding="utf-8")
    good.write_text(FORMATTED, encoding="utf-8")
    assert main(["fmt", "--check", str(good)]) == 0
    assert main(["fmt", "--check", str(bad)]) == 1
    assert "would reformat" in capsys.readouterr().out
    assert bad.read_text(encoding="utf-8") == UNFORMATTED


def test_cli_diff(tmp_path: Path, capsys):
    bad = tmp_path / "bad.synth"
    bad.write_text(UNFORMATTED, encoding="utf-8")
    assert main(["fmt", "--diff", str(bad)]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"--- a/{bad}\n+++ b/{bad}\n@@")
    assert "-cohort a{\n" in out and "+cohort a {\n" in out and "+  x: 1\n" in out
    assert bad.read_text(encoding="utf-8") == UNFORMATTED


def test_cli_rewrites(tmp_path: Path, capsys):
    bad, good = tmp_path / "bad.synth", tmp_path / "good.synth"
    bad.write_text(UNFORMATTED, encoding="utf-8")
    good.write_text(FORMATTED, encoding="utf-8")
    before = good.stat().st_mtime_ns
    assert main(["fmt", str(tmp_path)]) == 0
    assert bad.read_text(encoding="utf-8") == FORMATTED
    assert good.stat().st_mtime_ns == before
    assert "reformatted" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.synth", "good.synth"]
    assert main(["fmt", "--check", str(tmp_path)]) == 0


def test_cli_unparsable_file_fails_untouched(tmp_path: Path, capsys):
    broken = tmp_path / "broken.synth"
    broken.write_text("cohort a {\n", encoding="utf-8")
    assert main(["fmt", str(broken)]) == 1
    assert "SYN001" in capsys.readouterr().err
    assert broken.read_text(encoding="utf-8") == "cohort a {\n"


# -- property: random messy specs -------------------------------------------

NAMES = ["alpha", "beta", "kv", "mas", "size", "label", "tissue", "x1", "_y", "lung", "solid"]
UNITS = ["mm", "cm", "kV", "mAs", "y", "HU", "kg/m2", "mL", "lp/mm", "%"]
NUMBERS = ["0", "1", "42", "-3", "+2", "0.5", "1.25", "0.40", "3e2", "2.5E-1", "007"]
COMMENTS = ["# note", "#x", "# synth: ignore[PHY001] reason", '# has "quotes" and # hashes', "##", "# trailing   "]

space = st.sampled_from([" ", "  ", "\t", " \t "])
maybe_space = st.sampled_from(["", " ", "  ", "\t"])
names = st.sampled_from(NAMES)


@st.composite
def dotted(draw):
    return ".".join(draw(st.lists(names, min_size=1, max_size=3)))


@st.composite
def quantity(draw, unit=True):
    number = draw(st.sampled_from(NUMBERS))
    if unit and draw(st.booleans()):
        return number + draw(maybe_space) + draw(st.sampled_from(UNITS))
    return number


@st.composite
def string(draw):
    body = draw(st.lists(st.sampled_from(["a", " ", "#", ";", "{", "}", '\\"', "\\\\", "é", ":"]), max_size=6))
    return '"' + "".join(body) + '"'


@st.composite
def scalar(draw, depth=0):
    kind = draw(st.sampled_from(["quantity", "ref", "string", "date", "call"] if depth < 1 else ["quantity", "ref", "string", "date"]))
    if kind == "quantity":
        return draw(quantity())
    if kind == "ref":
        return draw(dotted())
    if kind == "string":
        return draw(string())
    if kind == "date":
        return "2027-12-31"
    args = draw(st.lists(atom(depth + 1), max_size=3))
    text = draw(names) + "(" + draw(maybe_space) + ("," + draw(maybe_space)).join(args) + ")"
    if draw(st.booleans()):
        text += draw(space) + "clipped" + draw(space) + draw(quantity()) + draw(maybe_space) + ".." + draw(maybe_space) + draw(quantity())
    return text


@st.composite
def atom(draw, depth=0):
    if draw(st.integers(0, 3)) == 0:
        return draw(scalar(depth)) + draw(maybe_space) + ".." + draw(maybe_space) + draw(scalar(depth))
    return draw(scalar(depth))


@st.composite
def value(draw):
    choices = []
    for _ in range(draw(st.integers(1, 3))):
        text = draw(atom())
        if draw(st.booleans()):
            text += draw(space) + draw(st.sampled_from(["70", "30", "5.5"])) + draw(maybe_space) + "%"
        choices.append(text)
    return ("," + draw(maybe_space)).join(choices)


@st.composite
def leaf(draw):
    if draw(st.integers(0, 4)) == 0:
        text = "require"
        if draw(st.booleans()):
            text += "[" + draw(st.sampled_from(["0.9", "0.90", "1", "0.123456789", "2e-3"])) + "]"
        text += draw(space)
        if draw(st.booleans()):
            text += draw(names) + draw(maybe_space) + ":" + draw(maybe_space)
        operand = st.one_of(quantity(), dotted())
        return text + draw(operand) + draw(maybe_space) + draw(st.sampled_from([">=", "<=", "==", "!=", ">", "<"])) + draw(maybe_space) + draw(operand)
    return draw(names) + draw(maybe_space) + ":" + draw(maybe_space) + draw(value())


def comment_line(draw, indent):
    return indent + draw(st.sampled_from(COMMENTS))


def newlines(draw, indent):
    """A line break, maybe with blank lines (some holding only whitespace) and full-line comments."""
    parts = ["\n"]
    for _ in range(draw(st.integers(0, 2))):
        kind = draw(st.sampled_from(["blank", "spaces", "comment"]))
        if kind == "blank":
            parts.append("\n")
        elif kind == "spaces":
            parts.append(draw(space) + "\n")
        else:
            parts.append(comment_line(draw, indent + draw(maybe_space)) + "\n")
    return "".join(parts)


def trailing(draw):
    return draw(maybe_space) + draw(st.sampled_from(COMMENTS)) if draw(st.integers(0, 3)) == 0 else ""


@st.composite
def block(draw, depth=0):
    indent = "  " * depth
    head = draw(names)
    if draw(st.booleans()):
        head += draw(space) + draw(dotted())
    if draw(st.integers(0, 3)) == 0:
        head += draw(space) + "extends" + draw(space) + draw(dotted())
    head += draw(maybe_space) + "{"
    if draw(st.integers(0, 3)) == 0:  # one line, fields only
        fields = draw(st.lists(st.builds(lambda n, v: f"{n}: {v}", names, value()), max_size=3))
        return head + draw(maybe_space) + (draw(maybe_space) + ";" + draw(maybe_space)).join(fields) + draw(maybe_space) + "}"
    kinds = draw(st.lists(st.integers(0, 4), max_size=4))
    body = ""
    after_open = trailing(draw)
    body += after_open + (newlines(draw, indent + "  ") if after_open or draw(st.booleans()) else draw(maybe_space))
    for position, kind in enumerate(kinds):
        item = draw(block(depth + 1)) if (kind == 0 and depth < 2) else draw(leaf())
        body += draw(maybe_space) + item
        last = position == len(kinds) - 1
        comment = trailing(draw)
        if comment:
            body += draw(st.sampled_from(["", ";", " ; "])) + comment + newlines(draw, indent + "  ")
        elif last:
            body += draw(st.sampled_from(["", ";", "\n", ";\n"]))
            if body.endswith("\n"):
                body += newlines(draw, indent + "  ")[1:]
        else:
            body += draw(st.sampled_from([";", "; ", ";\n"])) if draw(st.booleans()) else newlines(draw, indent + "  ")
    return head + body + indent + draw(maybe_space) + "}"


@st.composite
def spec(draw):
    parts = []
    if draw(st.integers(0, 4)):
        parts.append("synth" + draw(space) + "1")
    for _ in range(draw(st.integers(0, 2))):
        target = draw(dotted()) if draw(st.booleans()) else '"lib/' + draw(names) + '.synth"'
        alias = (draw(space) + "as" + draw(space) + draw(names)) if draw(st.booleans()) else ""
        parts.append("import" + draw(space) + target + alias)
    for _ in range(draw(st.integers(0, 1))):
        parts.append(draw(names) + ":" + draw(maybe_space) + draw(value()))
    for _ in range(draw(st.integers(1, 3))):
        parts.append(draw(block()))
    text = draw(st.sampled_from(["", "\n", "# lead\n", "\n# lead\n\n"]))
    for part in parts:
        text += part + trailing(draw) + newlines(draw, "")
    if draw(st.booleans()):
        text += "# end of file"
    return text.replace("\n", "\r\n") if draw(st.integers(0, 5)) == 0 else text


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec())
def test_random_specs_format_idempotently_to_the_same_tree(text):
    assert_formats_well(text)
