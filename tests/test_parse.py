"""The parser: positions of what it reads, one clear diagnostic for what it cannot.

Columns and lines count from 1.  A syntax error is always exactly one SYN001
diagnostic, placed where the reader has to look, with an "expected ..." hint.
"""

from __future__ import annotations

import pytest

from synthspec.compiler.parse import MAX_NESTING, parse_text
from synthspec.compiler.syntax import Block, Call, Date, Field, Header, Import, Quantity, Range, Ref, Require, String


def parse_ok(text: str):
    module, diagnostics = parse_text(text, "t.synth")
    assert diagnostics == [], [d.message for d in diagnostics]
    assert module is not None
    return module


def parse_error(text: str):
    module, diagnostics = parse_text(text, "t.synth")
    assert module is None
    assert len(diagnostics) == 1, [d.message for d in diagnostics]
    (d,) = diagnostics
    assert d.code == "SYN001"
    assert d.span.file == "t.synth"
    return d


def at(span) -> tuple[int, int, int, int]:
    return span.line, span.column, span.end_line, span.end_column


def only_block(module) -> Block:
    blocks = module.blocks()
    assert len(blocks) == 1
    return blocks[0]


# -- positions --------------------------------------------------------------------------

SPEC = """\
synth 1
import stdlib.scanners
cohort demo {
  subjects: 200
  population {
    age: normal(62 y, 10 y) clipped 50 y .. 80 y
  }
}
"""


def test_header_import_and_block_positions():
    module = parse_ok(SPEC)
    header, imp, cohort = module.items
    assert isinstance(header, Header) and header.version == 1
    assert at(header.span) == (1, 1, 1, 8)
    assert isinstance(imp, Import) and imp.target == "stdlib.scanners" and not imp.is_path
    assert at(imp.span) == (2, 1, 2, 23)
    assert isinstance(cohort, Block) and cohort.kind == "cohort" and cohort.name.name == "demo"
    assert at(cohort.span) == (3, 1, 8, 2)  # from `cohort` to the closing brace
    assert at(cohort.name.span) == (3, 8, 3, 12)


def test_field_key_and_value_positions():
    cohort = only_block(parse_ok(SPEC))
    subjects = cohort.field("subjects")
    assert at(subjects.span) == (4, 3, 4, 16)
    assert at(subjects.key_span) == (4, 3, 4, 11)
    assert at(subjects.value.span) == (4, 13, 4, 16)
    quantity = subjects.value.single
    assert isinstance(quantity, Quantity) and quantity.number == 200 and quantity.unit is None


def test_nested_block_and_call_positions():
    cohort = only_block(parse_ok(SPEC))
    (population,) = cohort.blocks("population")
    assert at(population.span) == (5, 3, 7, 4)
    age = population.field("age")
    call = age.value.single
    assert isinstance(call, Call) and call.name == "normal"
    assert at(call.span) == (6, 10, 6, 49)  # `normal(` to the end of the clip range
    assert [a.source() for a in call.args] == ["62 y", "10 y"]
    assert at(call.args[0].span) == (6, 17, 6, 21)
    assert call.clip.source() == "50 y .. 80 y"
    assert at(call.clip.span) == (6, 37, 6, 49)


def test_positions_count_characters_not_bytes():
    module = parse_ok('synth 1\ncohort d {\n  title: "Röntgen µ"  \n  seed: 4\n}\n')
    cohort = only_block(module)
    title = cohort.field("title")
    assert title.value.single.value == "Röntgen µ"
    assert at(title.value.span) == (3, 10, 3, 21)
    assert at(cohort.field("seed").key_span) == (4, 3, 4, 7)


def test_crlf_line_endings_keep_line_numbers():
    module = parse_ok("synth 1\r\ncohort d {\r\n  seed: 4\r\n}\r\n")
    assert at(only_block(module).field("seed").span)[:2] == (3, 3)


def test_require_parts_and_positions():
    module = parse_ok("synth 1\npathology_kind k {\n  x: 1\n}\ncohort c {\n  pathology p {\n"
                      "    require[0.9] gap: distance_to(pleura) >= 2 mm\n    require size < 30 mm\n  }\n}\n")
    cohort = module.blocks("cohort")[0]
    (pathology,) = cohort.blocks("pathology")
    soft, hard = pathology.requires()
    assert isinstance(soft, Require)
    assert (soft.weight, soft.label, soft.op) == (0.9, "gap", ">=")
    assert isinstance(soft.left, Call) and soft.left.name == "distance_to"
    assert soft.right.source() == "2 mm"
    assert at(soft.span) == (7, 5, 7, 50)
    assert (hard.weight, hard.label, hard.op) == (None, None, "<")
    assert isinstance(hard.left, Ref) and hard.left.name == "size"


# -- syntax errors ----------------------------------------------------------------------

def test_missing_colon():
    d = parse_error("synth 1\ncohort a {\n  subjects 200\n}\n")
    assert (d.span.line, d.span.column) == (3, 12)
    assert "200" in d.message
    assert d.hint.startswith("expected") and "`:`" in d.hint


def test_missing_closing_brace_at_end_of_file():
    d = parse_error("synth 1\ncohort a {\n  subjects: 200\n")
    assert (d.span.line, d.span.column) == (3, 16)  # just after the last thing written
    assert "ends in the middle" in d.message and "`}`" in d.message
    assert d.hint.startswith("expected") and "`}`" in d.hint


def test_end_of_file_in_the_middle_of_a_nested_block():
    d = parse_error("synth 1\ncohort a {\n  population {\n    age: 40 y .. 80 y\n\n\n")
    assert (d.span.line, d.span.column) == (4, 22)
    assert "`}`" in d.hint


def test_end_of_file_after_a_colon():
    d = parse_error("synth 1\ncohort a {\n  subjects:")
    assert (d.span.line, d.span.column) == (3, 12)
    assert d.hint.startswith("expected") and "a number" in d.hint


def test_unterminated_string():
    d = parse_error('synth 1\ncohort a {\n  title: "abc\n}\n')
    assert (d.span.line, d.span.column) == (3, 10)
    assert "unterminated string" in d.message
    assert d.hint.startswith("expected")


def test_stray_character():
    d = parse_error("synth 1\ncohort a {\n  subjects: 200 @\n}\n")
    assert (d.span.line, d.span.column) == (3, 17)
    assert "'@'" in d.message
    assert d.hint.startswith("expected") and "`}`" in d.hint


def test_unexpected_closing_brace():
    d = parse_error("synth 1\ncohort a {\n  subjects: 200\n}\n}\n")
    assert (d.span.line, d.span.column) == (5, 1)
    assert "`}`" in d.message
    assert d.hint.startswith("expected")


def test_value_missing_after_colon_mid_file():
    d = parse_error("synth 1\ncohort a {\n  subjects:\n  seed: 1\n}\n")
    assert d.span.line == 3
    assert "line ends too early" in d.message
    assert d.hint.startswith("expected")


def test_invisible_characters_are_named():
    d = parse_error("synth 1\ncohort a {\u00a0}\n")
    assert "NO-BREAK SPACE" in d.message
    d = parse_error("\ufeffsynth 1\n")
    assert "byte-order mark" in d.message and "without a byte-order mark" in d.hint


def test_keyword_in_the_wrong_place_reads_as_keyword():
    d = parse_error("synth 1 import x\n")
    assert (d.span.line, d.span.column) == (1, 9)
    assert "keyword `import`" in d.message
    assert "a new line" in d.hint


def test_error_message_truncates_huge_tokens():
    d = parse_error('synth 1\ncohort a { x: "a" ' + "y" * 5000 + " }\n")
    assert (d.span.line, d.span.column) == (2, 19)
    assert "unexpected name" in d.message and len(d.message) < 120


def test_header_number_too_long_is_a_diagnostic():
    d = parse_error("synth " + "9" * 5000 + "\n")
    assert d.span.line == 1 and "header" in d.message


def test_nesting_limit_is_one_positioned_diagnostic():
    depth = MAX_NESTING + 1
    text = "synth 1\ncohort a {\n" + "".join("  " * i + "task {\n" for i in range(1, depth)) + "}\n" * depth
    d = parse_error(text)
    assert "nested" in d.message
    assert d.span.line == depth + 1  # the first brace past the limit
    calls = "synth 1\ncohort a { x: " + "f(" * (MAX_NESTING + 5) + ")" * (MAX_NESTING + 5) + " }\n"
    d = parse_error(calls)
    assert "nested" in d.message and d.span.line == 2


def test_nesting_up_to_the_limit_parses():
    depth = 20
    parse_ok("synth 1\n" + "a {\n" * depth + "}\n" * depth)
    parse_ok("synth 1\ncohort a { x: " + "f(" * 20 + ")" * 20 + " }\n")


# -- comments ---------------------------------------------------------------------------

def test_comments_in_every_position():
    text = """\
# leading comment
# another

synth 1  # after the header
# between header and import
import "lib.synth"  # after an import
# before a block
cohort a {  # after an opening brace
  # first in a block
  seed: 4  # after a field
  # between items

  population {  # nested opening
    age: 20 y .. 30 y  # trailing
    # last in a nested block
  }  # after a nested closing brace
  pathology p {
    require gap: distance_to(pleura) >= 2 mm  # after a require
  }
  organ heart { label: 40; tissue: blood }  # after a one-line block
  # last in a block
}  # after a closing brace
# at the end, no newline after it"""
    module = parse_ok(text)
    cohort = only_block(module)
    assert [i.key if isinstance(i, Field) else i.kind for i in cohort.items] == ["seed", "population", "pathology", "organ"]
    assert only_block(module).field("seed").span.line == 10


def test_hash_inside_a_string_is_not_a_comment():
    cohort = only_block(parse_ok('synth 1\ncohort a { title: "# not a comment" }\n'))
    assert cohort.field("title").value.single.value == "# not a comment"


def test_only_comments_and_blank_lines():
    module = parse_ok("\n\n# just a note\n\n   \n# another\n")
    assert module.items == []
    assert parse_ok("").items == []


# -- one-line blocks, values ---------------------------------------------------------

def test_semicolon_separated_one_line_blocks():
    module = parse_ok("synth 1\nanatomy a {\n  organ heart { label: 40; tissue: blood; size: 80 mm }\n"
                      "  organ lung { label: 1; tissue: lung; }\n  organ x {}\n}\n")
    heart, lung, x = only_block(module).blocks("organ")
    assert [f.key for f in heart.fields()] == ["label", "tissue", "size"]
    assert [f.key for f in lung.fields()] == ["label", "tissue"]
    assert x.items == []
    assert at(heart.span) == (3, 3, 3, 56)
    assert at(heart.field("tissue").span) == (3, 28, 3, 41)


def test_semicolons_and_newlines_mix():
    module = parse_ok("synth 1\ncohort a { seed: 1;\n  subjects: 2; title: \"t\"\n}\n")
    assert [f.key for f in only_block(module).fields()] == ["seed", "subjects", "title"]


def test_dates():
    cohort = only_block(parse_ok("synth 1\ncohort a { expires: 2027-12-31 }\n"))
    date = cohort.field("expires").value.single
    assert isinstance(date, Date) and date.value == "2027-12-31"
    assert at(date.span) == (2, 21, 2, 31)


@pytest.mark.parametrize("text, number", [("-40 HU", -40.0), ("+3 mm", 3.0), ("-0.5 %", -0.5), ("1e3 ms", 1000.0),
                                          ("2.5E-2 T", 0.025)])
def test_signed_and_scientific_numbers(text, number):
    quantity = only_block(parse_ok(f"synth 1\ncohort a {{ x: {text} }}\n")).field("x").value.single
    assert isinstance(quantity, Quantity)
    assert quantity.number == number
    assert quantity.text == text.split()[0]


def test_negative_range():
    rng = only_block(parse_ok("synth 1\ntissue t { hu: -100 HU .. -50 HU }\n")).field("hu").value.single
    assert isinstance(rng, Range)
    assert (rng.low.number, rng.high.number) == (-100, -50)


@pytest.mark.parametrize("text", ["4mm..8mm", "4 mm..8 mm", "4mm .. 8mm", "4 mm .. 8 mm"])
def test_ranges_with_and_without_spaces(text):
    rng = only_block(parse_ok(f"synth 1\ncohort a {{ diameter: {text} }}\n")).field("diameter").value.single
    assert isinstance(rng, Range)
    assert (rng.low.number, rng.low.unit, rng.high.number, rng.high.unit) == (4, "mm", 8, "mm")
    assert rng.source() == "4 mm .. 8 mm"


@pytest.mark.parametrize("unit", ["mmol/kg", "kg/m2", "s/mm2", "mm²", "µm", "L/mmol/s", "lp/mm", "%", "mAs", "kVp"])
def test_compound_units(unit):
    quantity = only_block(parse_ok(f"synth 1\ncohort a {{ x: 0.1 {unit} }}\n")).field("x").value.single
    assert isinstance(quantity, Quantity)
    assert quantity.unit == unit


def test_weighted_mix_and_lists():
    value = only_block(parse_ok("synth 1\ncohort a { sex: female 50%, male 50% }\n")).field("sex").value
    assert [(c.atom.name, c.weight.number, c.weight.unit) for c in value.choices] == [("female", 50, "%"), ("male", 50, "%")]
    value = only_block(parse_ok("synth 1\ncohort a { formats: nifti, dicom, masks }\n")).field("formats").value
    assert [c.atom.name for c in value.choices] == ["nifti", "dicom", "masks"]
    assert all(c.weight is None for c in value.choices)


def test_strings_with_escapes_and_paths():
    module = parse_ok('synth 1\nimport "shared/site.synth" as site\ncohort a { title: "a \\"quoted\\" word \\\\ ok" }\n')
    imp = module.imports[0]
    assert (imp.target, imp.is_path, imp.alias) == ("shared/site.synth", True, "site")
    title = only_block(module).field("title").value.single
    assert isinstance(title, String)
    assert title.value == 'a "quoted" word \\ ok'


def test_dotted_names_and_extends():
    module = parse_ok("synth 1\ncohort b extends a { scanners: ct.midrange_64 60%, ct.budget_16 40% }\n")
    cohort = only_block(module)
    assert cohort.extends.name == "a"
    assert [c.atom.name for c in cohort.field("scanners").value.choices] == ["ct.midrange_64", "ct.budget_16"]


def test_calls_without_arguments_and_with_mixed_arguments():
    value = only_block(parse_ok('synth 1\ncohort a { x: f(), g(1 mm, b, "s", 2020-01-01, 1..2) }\n')).field("x").value
    f, g = (c.atom for c in value.choices)
    assert f.args == [] and f.clip is None
    assert [type(a).__name__ for a in g.args] == ["Quantity", "Ref", "String", "Date", "Range"]


def test_keywords_are_ordinary_names_where_a_name_is_expected():
    cohort = only_block(parse_ok("synth 1\ncohort a { import: 3; as: b; require_x: 1 }\n"))
    assert [f.key for f in cohort.fields()] == ["import", "as", "require_x"]


def test_file_name_is_on_every_span():
    module = parse_ok(SPEC)
    assert module.file == "t.synth"
    assert only_block(module).field("subjects").value.single.span.file == "t.synth"


def test_parser_state_does_not_leak_between_parses():
    # a parse that fails deep inside braces must not make the next parse count from there
    parse_error("synth 1\n" + "a {\n" * (MAX_NESTING + 3))
    parse_ok("synth 1\n" + "a {\n" * (MAX_NESTING - 1) + "}\n" * (MAX_NESTING - 1))
    parse_error("synth 1\ncohort a { x: f(f(f( }\n")
    module = parse_ok("synth 1\ncohort a { x: 1 }\n")
    assert module.file == "t.synth"
