"""Fuzzing `synth check`: whatever the bytes, `compile_file` returns diagnostics and never raises.

Two sources of input:

* the example specs, mutated: characters and tokens deleted, inserted and
  replaced, the text cut off at a random point, lines duplicated and swapped;
  these stay close enough to the grammar to reach the elaborator and the rules;
* random byte strings and random unicode text, for the reader and the lexer.

Every input is written to a file first, because reading (size, encoding) is
part of what is checked.  A rule that raises is caught by `compile_file` and
turned into an "internal error" diagnostic; that counts as a crash here too.

`synth fmt` is fuzzed on the mutated examples as well: it never raises, it is
idempotent (`fmt(fmt(x)) == fmt(x)`), and it never changes what the spec means
to `synth check` (the checked model without positions, the codes of the visible
findings and of the suppressed ones).

The example budget keeps the whole file under about 30 s on a two-core
machine; `SYNTH_FUZZ_EXAMPLES` raises it for a longer local run (every test
then runs that many).  How many examples ran, and what fmt made of them, is
counted and checked by the last test of this file.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synthspec.compiler.check import FileResult, compile_file
from synthspec.compiler.config import Config
from synthspec.plan.lower import cohort_data   # the checked model without positions, as the planner keys it
from synthspec.compiler.diagnostics import Sink
from synthspec.compiler.fmt import format_text
from synthspec.compiler.text import decode

ROOT = Path(__file__).resolve().parent.parent


def _seeds() -> list[str]:
    texts = []
    for path in sorted((ROOT / "examples").glob("*.synth")):
        texts.append(path.read_text(encoding="utf-8"))
    for path in sorted((ROOT / "examples" / "broken").glob("*.synth"))[:20]:
        try:
            texts.append(path.read_text(encoding="utf-8"))
        except UnicodeDecodeError:
            continue
    return texts


SEEDS = _seeds()
TOKENS = sorted(set(re.findall(r"[A-Za-z_][A-Za-z0-9_.]*|\d+(?:\.\d+)?|\.\.|>=|<=|==|!=|\S", "\n".join(SEEDS))))
TOKENS += ["{", "}", "(", ")", "[", "]", ":", ";", ",", "..", '"', "#", "\n", "\r\n", "\t", "\f", "\x00",
           "\ufeff", "\u00a0", "\u2028", "1e999", "-0", "2027-02-30", "9" * 400, "import", "require", "extends",
           "clipped", "synth", "stdlib.x", '"../x.synth"', '"/etc/passwd"', "normal(", "%", "mmol/kg",
           "\r", "\u202e", "\u2066", "\u0661\u0666", "\uff11\uff12\uff10", "; ", "  # synth: ignore[NAM001] fuzz",
           "  # synth: ignore[PHY001,SYN009] fuzz", "# synth: ignore-file[NAM002] fuzz"]

MAX_EXAMPLES = int(os.environ.get("SYNTH_FUZZ_EXAMPLES", "0")) or None
RAN: dict[str, int] = {}
FMT_OUTCOMES: dict[str, int] = {}
FAST = settings(deadline=None, derandomize=False, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])


def budget(n: int) -> settings:
    return settings(FAST, max_examples=MAX_EXAMPLES or n)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("fuzz")
    # a neighbour for imports that mutations may point at
    (folder / "lib.synth").write_text("synth 1\nscanner ct.fuzz { modality: ct; note: \"n\" }\n", encoding="utf-8")
    return folder


def compile_bytes(workdir: Path, data: bytes, name: str) -> FileResult:
    path = workdir / name
    path.write_bytes(data)
    result = compile_file(path, config=Config(), roots=[workdir])
    assert isinstance(result, FileResult)
    assert isinstance(result.diagnostics, list)
    for d in result.diagnostics:
        assert d.code and d.message and d.span.line >= 1, d
        assert "internal error" not in d.message, d.message
    return result


# -- mutations of real specs ----------------------------------------------------------

@st.composite
def mutation(draw, text: str) -> str:
    kind = draw(st.sampled_from(["delete", "insert_char", "insert_token", "replace_char", "replace_token",
                                 "truncate", "duplicate_line", "swap_lines", "delete_line"]))
    n = len(text)
    pos = draw(st.integers(0, n))
    if kind == "delete":
        return text[:pos] + text[pos + draw(st.integers(1, 40)):]
    if kind == "insert_char":
        return text[:pos] + draw(st.characters(codec="utf-8")) + text[pos:]
    if kind == "insert_token":
        return text[:pos] + draw(st.sampled_from(["", " "])) + draw(st.sampled_from(TOKENS)) + text[pos:]
    if kind == "replace_char":
        return text[:pos] + draw(st.characters(codec="utf-8")) + text[pos + 1:]
    if kind == "replace_token":
        spans = [m.span() for m in re.finditer(r"\w+|[^\w\s]+", text)]
        if not spans:
            return text
        start, end = spans[draw(st.integers(0, len(spans) - 1))]
        return text[:start] + draw(st.sampled_from(TOKENS)) + text[end:]
    if kind == "truncate":
        return text[:pos]
    lines = text.split("\n")
    i = draw(st.integers(0, len(lines) - 1))
    if kind == "duplicate_line":
        lines.insert(i, lines[i])
    elif kind == "swap_lines":
        j = draw(st.integers(0, len(lines) - 1))
        lines[i], lines[j] = lines[j], lines[i]
    else:
        del lines[i]
    return "\n".join(lines)


@st.composite
def mutated_spec(draw) -> str:
    text = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(1, 6))):
        text = draw(mutation(text))
    return text


@given(text=mutated_spec())
@budget(700)
def test_mutated_examples_never_raise(workdir, text):
    RAN["mutated examples"] = RAN.get("mutated examples", 0) + 1
    compile_bytes(workdir, text.encode("utf-8", "surrogatepass"), "mutated.synth")


def meaning(result: FileResult):
    """What a spec means to `synth check`: the model without positions and the codes it raises."""
    model = cohort_data(result.cohort) if result.cohort is not None else None
    return (model, sorted({d.code for d in result.visible}), sorted({d.code for d in result.diagnostics if d.suppressed}))


LAYOUT = ["; ", ";", "\n", "\r\n", "\r", " ", "\t", "{", "}", "# c", "  # synth: ignore[NAM001] fuzz",
          "  # synth: ignore[PHY001] fuzz", "  # synth: ignore[NAM002,SYN009] fuzz", "\u202e", "\f"]


@st.composite
def lightly_mutated_spec(draw) -> str:
    """An example with one to three small edits, half of them to its layout (`;`, line breaks,
    suppressions, braces): most still parse, so fmt has something to format."""
    text = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(1, 3))):
        if draw(st.booleans()):
            ends = [m.end() for m in re.finditer(r"[^\n]\n|[\w)%\]] ", text)] or [len(text)]
            pos = draw(st.sampled_from(ends)) - 1
            text = text[:pos] + draw(st.sampled_from(LAYOUT)) + text[pos:]
        else:
            text = draw(mutation(text))
    return text


@given(text=lightly_mutated_spec())
@budget(250)
def test_fmt_of_mutated_examples_is_idempotent_and_keeps_meaning(workdir, text):
    RAN["fmt of mutated examples"] = RAN.get("fmt of mutated examples", 0) + 1
    data = text.encode("utf-8", "surrogatepass")
    before = compile_bytes(workdir, data, "fmt.synth")
    source = decode(data, "fmt.synth", Sink())
    if source is None:
        FMT_OUTCOMES["not UTF-8"] = FMT_OUTCOMES.get("not UTF-8", 0) + 1
        return
    formatted, problems = format_text(source, str(workdir / "fmt.synth"))
    if formatted is None:
        assert problems and all("internal error" not in d.message for d in problems), [d.message for d in problems]
        FMT_OUTCOMES["not parsable"] = FMT_OUTCOMES.get("not parsable", 0) + 1
        return
    again, _ = format_text(formatted, str(workdir / "fmt.synth"))
    assert again == formatted, "fmt is not idempotent"
    after = compile_bytes(workdir, formatted.encode("utf-8", "surrogatepass"), "fmt.synth")
    assert meaning(after) == meaning(before), formatted
    key = "unchanged" if formatted.encode("utf-8", "surrogatepass") == data else "reformatted"
    FMT_OUTCOMES[key] = FMT_OUTCOMES.get(key, 0) + 1


@st.composite
def value_swap(draw) -> str:
    """Keep the shape of an example and put a random value into random fields: reaches the rules."""
    lines = draw(st.sampled_from(SEEDS)).split("\n")
    fields = [i for i, line in enumerate(lines) if re.match(r"\s*\w+:\s*\S", line) and "require" not in line]
    atoms = st.one_of(
        st.sampled_from(TOKENS),
        st.builds(lambda n, u: f"{n} {u}", st.sampled_from(["0", "-1", "1e308", "0.5", "200", "1e-9", "3"]),
                  st.sampled_from(["mm", "cm", "y", "%", "kV", "mAs", "T", "ms", "s/mm2", "mmol/kg", "HU", "deg", "kg/m2"])),
        st.sampled_from(["normal(1 y, 0 y)", "uniform(9 mm, 1 mm)", "lognormal(-1 mm, 1 mm) clipped 1 mm .. 2 mm",
                         "4 mm .. 8 mm", "8 mm .. 4 mm", "a 50%, b 60%", "x, x", '"text"', "2020-02-30", "true", "none"]))
    for _ in range(draw(st.integers(1, 4))):
        if not fields:
            break
        i = draw(st.sampled_from(fields))
        key = lines[i].split(":", 1)[0]
        value = ", ".join(draw(st.lists(atoms, min_size=1, max_size=3)))
        lines[i] = f"{key}: {value}"
    return "\n".join(lines)


@given(text=value_swap())
@budget(400)
def test_examples_with_random_values_never_raise(workdir, text):
    RAN["random values"] = RAN.get("random values", 0) + 1
    compile_bytes(workdir, text.encode("utf-8", "surrogatepass"), "values.synth")


# -- random input ------------------------------------------------------------------------

@given(data=st.binary(max_size=2000))
@budget(400)
def test_random_bytes_never_raise(workdir, data):
    RAN["random bytes"] = RAN.get("random bytes", 0) + 1
    compile_bytes(workdir, data, "bytes.synth")


@given(data=st.binary(max_size=300))
@budget(200)
def test_random_bytes_after_a_valid_header_never_raise(workdir, data):
    RAN["bytes after header"] = RAN.get("bytes after header", 0) + 1
    compile_bytes(workdir, b"synth 1\ncohort c {\n" + data, "header_bytes.synth")


@given(text=st.text(max_size=1000))
@budget(400)
def test_random_unicode_never_raises(workdir, text):
    RAN["random unicode"] = RAN.get("random unicode", 0) + 1
    compile_bytes(workdir, text.encode("utf-8", "surrogatepass"), "unicode.synth")


@given(text=st.lists(st.sampled_from(TOKENS), max_size=80).map(" ".join))
@budget(400)
def test_random_token_soup_never_raises(workdir, text):
    RAN["token soup"] = RAN.get("token soup", 0) + 1
    compile_bytes(workdir, ("synth 1\n" + text).encode("utf-8", "surrogatepass"), "soup.synth")


def test_examples_ran():
    """Runs last: every fuzz test above really ran examples (and says how many)."""
    expected = {"mutated examples", "random values", "random bytes", "bytes after header", "random unicode", "token soup",
                "fmt of mutated examples"}
    if not expected <= set(RAN):
        pytest.skip("only part of this file was selected")
    print("\nfuzz examples run: " + ", ".join(f"{k} {v}" for k, v in RAN.items()) + f"; total {sum(RAN.values())}")
    print("fmt outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(FMT_OUTCOMES.items())))
    assert all(RAN[k] > 0 for k in expected)
    assert sum(RAN.values()) >= 100
    assert sum(FMT_OUTCOMES.values()) == RAN["fmt of mutated examples"]
    assert FMT_OUTCOMES.get("reformatted", 0) + FMT_OUTCOMES.get("unchanged", 0) > 0  # fmt really ran on some
