"""`synth lsp` and the editor files: a real LSP exchange over stdio, the compiler's findings in it,
position encodings, hover, completion, formatting, what the server imports, and the TextMate grammar.

The server runs as `python -m synthspec.cli lsp`, driven by `synthspec.lsp.client` (JSON-RPC with
Content-Length framing, every wait with a timeout).  Expected findings come from the compiler itself
(`compile_file`), so a test checks that the editor shows what `synth check` reports.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("pygls")

from synthspec.compiler.check import compile_file, compile_text  # noqa: E402
from synthspec.compiler.diagnostics import Span  # noqa: E402
from synthspec.compiler.fmt import format_text  # noqa: E402
from synthspec.compiler.parse import parse_text  # noqa: E402
from synthspec.compiler.schema import SCHEMAS  # noqa: E402
from synthspec.compiler.suppress import comment_start  # noqa: E402
from synthspec.compiler.syntax import Block, Quantity, String  # noqa: E402
from synthspec.lsp import positions as P  # noqa: E402
from synthspec.lsp.client import Client  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.synth"))
BROKEN = ROOT / "examples" / "broken"
UNKNOWN_SCANNER = BROKEN / "nam003_unknown_scanner.synth"
SUPPRESSED = BROKEN / "suppressed_phy001_keeps_phy008.synth"
GRAMMAR = ROOT / "editors" / "textmate" / "synth.tmLanguage.json"
TIMEOUT = 15.0


def server(**popen) -> Client:
    return Client.spawn([sys.executable, "-m", "synthspec.cli", "lsp", "--stdio"], cwd=popen.pop("cwd", ROOT), **popen)


def open_doc(client: Client, path: Path, text: str, version: int = 1) -> dict:
    client.notify("textDocument/didOpen", {"textDocument": {"uri": path.as_uri(), "languageId": "synth",
                                                            "version": version, "text": text}})
    return diagnostics(client, path, version)


def change(client: Client, path: Path, text: str, version: int) -> None:
    client.notify("textDocument/didChange", {"textDocument": {"uri": path.as_uri(), "version": version},
                                             "contentChanges": [{"text": text}]})


def diagnostics(client: Client, path: Path, version: int | None) -> dict:
    return client.wait("textDocument/publishDiagnostics",
                       lambda p: p["uri"] == path.as_uri() and (version is None or p.get("version") == version),
                       timeout=TIMEOUT).params


def at(path: Path, line: int, character: int) -> dict:
    return {"textDocument": {"uri": path.as_uri()}, "position": {"line": line, "character": character}}


def lsp_range(span: Span) -> dict:
    """The LSP range of an ASCII line's span: 0-based, end exclusive."""
    return {"start": {"line": span.line - 1, "character": span.column - 1},
            "end": {"line": span.end_line - 1, "character": span.end_column - 1}}


@pytest.fixture(scope="module")
def client():
    c = server()
    result = c.initialize(ROOT.as_uri(), timeout=60)
    caps = result["capabilities"]
    assert caps["hoverProvider"] and caps["documentFormattingProvider"] and caps["completionProvider"]
    assert caps["textDocumentSync"]["change"] == 1 and caps["positionEncoding"] == "utf-16"
    yield c
    c.close()


# ---- the exchange --------------------------------------------------------------------------------

def test_diagnostics_on_open_are_those_of_synth_check_and_clear_when_fixed(client):
    text = UNKNOWN_SCANNER.read_text(encoding="utf-8")
    (expected,) = compile_file(UNKNOWN_SCANNER).visible
    published = open_doc(client, UNKNOWN_SCANNER, text)
    (found,) = published["diagnostics"]
    assert found["code"] == "NAM003" == expected.code and found["source"] == "synth" and found["severity"] == 1
    assert found["range"] == lsp_range(expected.span)
    assert found["range"]["start"] == {"line": 8, "character": 2}
    assert "ct.wide_detektor_256" in found["message"] and "hint: did you mean `ct.wide_detector_256`" in found["message"]
    change(client, UNKNOWN_SCANNER, text.replace("detektor", "detector"), 2)
    assert diagnostics(client, UNKNOWN_SCANNER, 2)["diagnostics"] == []
    client.notify("textDocument/didClose", {"textDocument": {"uri": UNKNOWN_SCANNER.as_uri()}})
    assert diagnostics(client, UNKNOWN_SCANNER, None)["diagnostics"] == []


def test_every_version_is_published_in_order_and_the_last_one_wins(client):
    path = BROKEN / "unsaved_versions.synth"  # never written: the buffer alone is compiled
    good = UNKNOWN_SCANNER.read_text(encoding="utf-8").replace("detektor", "detector")
    bad = good.replace("kv: 120 kV", "kv: 120")
    open_doc(client, path, good)
    for version in range(2, 22):
        change(client, path, bad if version % 2 else good, version)
    last = diagnostics(client, path, 21)
    assert [d["code"] for d in last["diagnostics"]] == [d.code for d in compile_text(bad, path).visible] == ["UNI001"]
    seen = [n.params.get("version") for n in client.notes("textDocument/publishDiagnostics")
            if n.params["uri"] == path.as_uri()]
    assert seen == sorted(seen) and all(v < 21 for v in seen)  # never an older version after a newer one
    client.notify("textDocument/didClose", {"textDocument": {"uri": path.as_uri()}})


def test_hover_shows_stdlib_definitions_and_rule_explanations(client):
    text = SUPPRESSED.read_text(encoding="utf-8")
    open_doc(client, SUPPRESSED, text)
    lines = text.split("\n")
    row = next(i for i, line in enumerate(lines) if line.strip().startswith("scanners:"))
    hover = client.request("textDocument/hover", at(SUPPRESSED, row, lines[row].index("ct.midrange_64") + 4), TIMEOUT)
    value = hover["contents"]["value"]
    assert hover["contents"]["kind"] == "markdown"
    assert "**scanner** `ct.midrange_64`" in value and "64-row multi-slice CT class" in value
    assert "stdlib/scanners.synth" in value and "scanner ct.midrange_64 {" in value
    start = lines[row].index("ct.midrange_64")
    assert hover["range"] == {"start": {"line": row, "character": start}, "end": {"line": row, "character": start + 14}}

    row = next(i for i, line in enumerate(lines) if "ignore[PHY001]" in line)
    hover = client.request("textDocument/hover", at(SUPPRESSED, row, lines[row].index("PHY001") + 2), TIMEOUT)
    explain = subprocess.run([sys.executable, "-m", "synthspec.cli", "explain", "PHY001"], cwd=ROOT, capture_output=True,
                             text=True, timeout=60).stdout
    assert explain.strip() and explain.strip() in hover["contents"]["value"]

    row = next(i for i, line in enumerate(lines) if line.strip().startswith("kv:"))
    hover = client.request("textDocument/hover", at(SUPPRESSED, row, lines[row].index("kv") + 1), TIMEOUT)
    assert "**field** `kv` of `ct`" in hover["contents"]["value"] and "kV" in hover["contents"]["value"]
    assert client.request("textDocument/hover", at(SUPPRESSED, row, 0), TIMEOUT) is None  # on blanks: nothing
    client.notify("textDocument/didClose", {"textDocument": {"uri": SUPPRESSED.as_uri()}})


def _labels(result) -> list[str]:
    items = result["items"] if isinstance(result, dict) else result
    return [i["label"] for i in items]


def test_completion_offers_names_of_the_kind_the_field_refers_to(client):
    path = BROKEN / "unsaved_completion.synth"
    text = UNKNOWN_SCANNER.read_text(encoding="utf-8").replace(
        "scanners: ct.wide_detektor_256 40%, ct.midrange_64 40%, ct.budget_16 20%", "scanners: ct.")
    open_doc(client, path, text)  # it does not parse: completion still knows it is in the cohort block
    lines = text.split("\n")
    row = next(i for i, line in enumerate(lines) if "scanners: ct." in line)
    result = client.request("textDocument/completion", at(path, row, len(lines[row])), TIMEOUT)
    labels = _labels(result)
    assert {"ct.midrange_64", "ct.wide_detector_256", "mr.research_3t"} <= set(labels)
    assert "thorax_adult" not in labels and "gadobutrol" not in labels
    item = next(i for i in result["items"] if i["label"] == "ct.midrange_64")
    start = lines[row].index("ct.")
    assert item["textEdit"]["range"]["start"] == {"line": row, "character": start}  # replaces `ct.` whole
    assert item["textEdit"]["newText"] == "ct.midrange_64" and "stdlib/scanners.synth" in item["detail"]

    row = next(i for i, line in enumerate(lines) if line.strip().startswith("finding:"))
    assert set(_labels(client.request("textDocument/completion", at(path, row, len(lines[row])), TIMEOUT))) >= {
        "lung_nodule", "glioblastoma"}
    row = next(i for i, line in enumerate(lines) if line.strip().startswith("location:"))
    labels = _labels(client.request("textDocument/completion", at(path, row, len(lines[row])), TIMEOUT))
    assert "right_upper_lobe" in labels and "white_matter" not in labels  # the cohort's anatomy: thorax_adult
    row = next(i for i, line in enumerate(lines) if line.strip().startswith("kv:"))
    assert _labels(client.request("textDocument/completion", at(path, row, lines[row].index("kV")), TIMEOUT)) == [
        "kV", "kVp"]
    client.notify("textDocument/didClose", {"textDocument": {"uri": path.as_uri()}})


def test_formatting_is_synth_fmt_as_one_edit(client):
    path = BROKEN / "unsaved_formatting.synth"
    clean = (ROOT / "examples" / "lung_nodules_ldct.synth").read_text(encoding="utf-8")
    messy = clean.replace("  kv: 120 kV", "      kv:120kV").replace("  seed: 42", "  seed:   42   ")
    open_doc(client, path, messy)
    options = {"tabSize": 2, "insertSpaces": True}
    (edit,) = client.request("textDocument/formatting", {"textDocument": {"uri": path.as_uri()}, "options": options},
                             TIMEOUT)
    assert edit["newText"] == format_text(messy, str(path))[0] == clean
    last = len(messy.split("\n")) - 1
    assert edit["range"] == {"start": {"line": 0, "character": 0}, "end": {"line": last, "character": 0}}
    change(client, path, clean, 2)
    diagnostics(client, path, 2)
    assert client.request("textDocument/formatting", {"textDocument": {"uri": path.as_uri()}, "options": options},
                          TIMEOUT) == []
    change(client, path, clean.replace("kv: 120 kV", "kv 120 kV"), 3)  # does not parse: no edit, no error
    assert diagnostics(client, path, 3)["diagnostics"][0]["code"] == "SYN001"
    assert client.request("textDocument/formatting", {"textDocument": {"uri": path.as_uri()}, "options": options},
                          TIMEOUT) == []
    client.notify("textDocument/didClose", {"textDocument": {"uri": path.as_uri()}})


def test_imports_resolve_from_the_document_and_open_buffers_stand_in_for_files(client, tmp_path):
    shared = tmp_path / "shared.synth"
    shared.write_text('synth 1\n\nscanner ct.house_64 {\n  modality: ct\n  kv: 120 kV\n  note: "in-house class"\n}\n',
                      encoding="utf-8")
    spec = tmp_path / "specs" / "main.synth"  # not on disk; imports resolve from its folder
    spec.parent.mkdir()
    (tmp_path / "synth.toml").write_text('roots = ["."]\n', encoding="utf-8")  # found as `synth check` finds it
    text = (UNKNOWN_SCANNER.read_text(encoding="utf-8")
            .replace("synth 1\n", 'synth 1\nimport "../shared.synth"\n')
            .replace("scanners: ct.wide_detektor_256 40%, ct.midrange_64 40%, ct.budget_16 20%", "scanners: ct.house_64"))
    assert open_doc(client, spec, text)["diagnostics"] == []
    # the imported file open with unsaved changes: the spec is checked against the buffer, and the
    # buffer's own finding is shown on the import that brings it in
    open_doc(client, shared, shared.read_text(encoding="utf-8").replace("ct.house_64", "ct.house_128").replace(
        "kv: 120 kV", "kv: 120 kV\n  kv: 140 kV"))
    change(client, spec, text, 2)
    found = diagnostics(client, spec, 2)["diagnostics"]
    assert {d["code"] for d in found} == {"NAM003", "SYN009"}, found
    elsewhere = next(d for d in found if d["code"] == "SYN009")
    assert elsewhere["range"]["start"]["line"] == 3 and "shared.synth:6:3" in elsewhere["message"]
    assert elsewhere["relatedInformation"][0]["location"]["uri"] == shared.as_uri()
    for path in (spec, shared):
        client.notify("textDocument/didClose", {"textDocument": {"uri": path.as_uri()}})


def _emoji_spec(tmp_path: Path) -> tuple[Path, str, Span]:
    """A spec with a SYN015 finding after an emoji on the same line, and that finding from the compiler."""
    path = tmp_path / "emoji.synth"
    text = UNKNOWN_SCANNER.read_text(encoding="utf-8").replace("detektor", "detector").replace(
        '"Imaging AI governance board"', '"\U0001F600 \u00e9 board \u202e"')
    (finding,) = [d for d in compile_text(text, path).visible if d.code == "SYN015"]
    return path, text, finding.span


@pytest.mark.parametrize("encoding", ["utf-16", "utf-8"])
def test_non_ascii_text_is_counted_in_the_clients_units(client, tmp_path, encoding):
    """A finding after an emoji (one code point, two UTF-16 units, four UTF-8 bytes) lands on the right character,
    in the encoding the client negotiated (UTF-16 unless it offers another)."""
    path, text, span = _emoji_spec(tmp_path)
    before = text.split("\n")[span.line - 1][:span.column - 1]
    expected = len(before.encode("utf-16-le")) // 2 if encoding == "utf-16" else len(before.encode())
    assert expected > len(before)  # the encodings really differ from code points on this line
    c = client if encoding == "utf-16" else server(cwd=tmp_path)
    try:
        if c is not client:
            result = c.initialize(tmp_path.as_uri(), {"general": {"positionEncodings": [encoding]}}, timeout=60)
            assert result["capabilities"]["positionEncoding"] == encoding
        (found,) = [d for d in open_doc(c, path, text)["diagnostics"] if d["code"] == "SYN015"]
        assert found["range"]["start"] == {"line": span.line - 1, "character": expected}
        assert found["range"]["end"]["character"] == expected + P.units("\u202e", encoding)
        row = next(i for i, line in enumerate(text.split("\n")) if "approved_by" in line)
        hover = c.request("textDocument/hover", at(path, row, 4), TIMEOUT)
        assert "**field** `approved_by`" in hover["contents"]["value"]
    finally:
        if c is not client:
            c.close()
        else:
            c.notify("textDocument/didClose", {"textDocument": {"uri": path.as_uri()}})


def test_shutdown_then_exit_ends_the_process_with_0(client):
    assert client.shutdown() == 0


# ---- positions, compile_text, lightness, the missing extra ---------------------------------------

def test_positions_count_code_points_utf16_units_and_bytes():
    lines = P.lines_of('a: "\U0001F600x"\r\nb\rc')
    assert lines == ['a: "\U0001F600x"', "b", "c"]
    span = Span(file="f", line=1, column=6, end_line=1, end_column=7)  # the `x` after the emoji
    assert P.span_range(lines, span) == ((0, 6), (0, 7))
    assert P.span_range(lines, span, P.UTF8) == ((0, 8), (0, 9))
    assert P.span_range(lines, span, P.UTF32) == ((0, 5), (0, 6))
    assert P.span_range(lines, Span(file="f")) == ((0, 0), (0, 8))  # no end: the rest of the line
    assert P.from_client(lines, 0, 6) == (0, 5) and P.from_client(lines, 0, 5) == (0, 5)  # inside the pair
    assert P.from_client(lines, 9, 99) == (2, 1) and P.end_of("a\nb\n") == (2, 0)


def test_compile_text_is_synth_check_on_a_buffer():
    on_disk = compile_file(UNKNOWN_SCANNER)
    buffer = compile_text(UNKNOWN_SCANNER.read_text(encoding="utf-8"), UNKNOWN_SCANNER)
    assert [d.model_dump() for d in buffer.diagnostics] == [d.model_dump() for d in on_disk.diagnostics]
    assert compile_text("synth 1\ncohort x {\n", UNKNOWN_SCANNER).visible[0].code == "SYN001"
    assert compile_text("\ud800", UNKNOWN_SCANNER).visible[0].code == "SYN005"  # as undecodable bytes on disk


LIGHT_PROBE = """
import os, sys, threading
from pathlib import Path
from synthspec.lsp.client import Client
from synthspec.lsp.server import build
to_server, from_client = os.pipe()
to_client, from_server = os.pipe()
thread = threading.Thread(target=build().start_io, args=(os.fdopen(to_server, "rb"), os.fdopen(from_server, "wb")),
                          daemon=True)
thread.start()
c = Client(os.fdopen(to_client, "rb"), os.fdopen(from_client, "wb"))
c.initialize(Path.cwd().as_uri())
p = Path("examples/brain_tumour_mri_contrast.synth").resolve()
doc = {"uri": p.as_uri()}
c.notify("textDocument/didOpen", {"textDocument": {**doc, "languageId": "synth", "version": 1, "text": p.read_text()}})
c.wait("textDocument/publishDiagnostics", timeout=30)
c.notify("textDocument/didSave", {"textDocument": doc})
c.wait("textDocument/publishDiagnostics", timeout=30)
line = next(i for i, text in enumerate(p.read_text().splitlines()) if text.strip().startswith("anatomy: head_adult"))
assert c.request("textDocument/hover", {"textDocument": doc, "position": {"line": line, "character": 14}})
assert c.request("textDocument/completion", {"textDocument": doc, "position": {"line": line, "character": 14}})["items"]
c.request("textDocument/formatting", {"textDocument": doc, "options": {"tabSize": 2, "insertSpaces": True}})
c.request("shutdown")
c.notify("exit")
thread.join(10)
refused = ("synthspec.engine", "synthspec.families", "synthspec.cohort", "synthspec.validate", "synthspec.report",
           "synthspec.plan", "synthspec.dataset", "synthspec.api", "torch", "numpy", "monai", "SimpleITK")
print(sorted(m for m in sys.modules if any(m == r or m.startswith(r + ".") for r in refused)))
"""


def test_the_server_imports_nothing_of_the_generator():
    done = subprocess.run([sys.executable, "-c", LIGHT_PROBE], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"


MISSING_PROBE = """
import contextlib, io, json, sys
import synthspec.cli as c
out = {}
for missing in ("pygls", "lsprotocol"):
    saved = {m: sys.modules.pop(m) for m in list(sys.modules) if m == missing or m.startswith(missing + ".")}
    sys.modules.pop("synthspec.lsp.server", None)
    sys.modules[missing] = None  # `import missing` now fails as if it were not installed
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = c.main(["lsp"])
    del sys.modules[missing]
    sys.modules.update(saved)
    out[missing] = [code, err.getvalue()]
print(json.dumps(out))
"""


def test_without_the_lsp_extra_synth_lsp_says_how_to_install_it():
    done = subprocess.run([sys.executable, "-c", MISSING_PROBE], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-3000:]
    for missing, (code, err) in json.loads(done.stdout.strip().splitlines()[-1]).items():
        assert code == 2 and "Traceback" not in err
        (line,) = err.strip().splitlines()
        assert line.startswith(f"synth lsp: error: needs {missing}") and "pip install 'synthspec[lsp]'" in line


# ---- the TextMate grammar ------------------------------------------------------------------------

def _grammar() -> dict:
    return json.loads(GRAMMAR.read_text(encoding="utf-8"))


def _rules(grammar: dict, patterns: list[dict]):
    """The match and begin/end rules of `patterns` in order, includes and groups expanded."""
    for p in patterns:
        if "include" in p:
            yield from _rules(grammar, [grammar["repository"][p["include"].lstrip("#")]])
        elif "match" in p or "begin" in p:
            yield p
        else:
            yield from _rules(grammar, p.get("patterns", []))


class Tokenizer:
    """A tiny line-by-line TextMate matcher: the earliest match wins, ties go to the first rule, and a
    begin/end rule's end is tried before its inner patterns (no rule of this grammar spans lines)."""

    def __init__(self, grammar: dict) -> None:
        self.grammar = grammar
        self.top = self._compiled(grammar["patterns"])
        self.inner: dict[int, list] = {}

    def _compiled(self, patterns: list[dict]) -> list:
        return [(rule, re.compile(rule.get("match") or rule["begin"])) for rule in _rules(self.grammar, patterns)]

    @staticmethod
    def _scope(out, start: int, end: int, name: str | None) -> None:
        for i in range(start, min(end, len(out))):
            if name:
                out[i].append(name)

    def _captures(self, out, match, captures: dict | None) -> None:
        for group, capture in (captures or {}).items():
            if match.group(int(group)) is not None:
                self._scope(out, match.start(int(group)), match.end(int(group)), capture.get("name"))

    def line(self, line: str) -> list[list[str]]:
        """The scopes of each character of one line."""
        out: list[list[str]] = [[] for _ in line]
        pos, region = 0, None
        while pos <= len(line):
            if region:
                rules = self.inner.setdefault(id(region[0]), self._compiled(region[0].get("patterns", [])))
            else:
                rules = self.top
            best = None
            if region:
                end = re.compile(region[0]["end"]).search(line, pos)
                if end is not None:
                    best = (end.start(), None, end)
            for rule, pattern in rules:
                m = pattern.search(line, pos)
                if m is not None and (best is None or m.start() < best[0]):
                    best = (m.start(), rule, m)
            if best is None:
                break
            _, rule, m = best
            if rule is None:  # the region ends
                self._captures(out, m, region[0].get("endCaptures"))
                self._scope(out, region[1], m.end(), region[0].get("name"))
                region = None
            elif "match" in rule:
                self._scope(out, m.start(), m.end(), rule.get("name"))
                self._captures(out, m, rule.get("captures"))
            else:
                self._captures(out, m, rule.get("beginCaptures"))
                region = (rule, m.start())
            pos = m.end() if m.end() > m.start() else m.end() + 1
        if region:
            self._scope(out, region[1], len(line), region[0].get("name"))
        return out


def tokenize(grammar: dict, line: str) -> list[list[str]]:
    return Tokenizer(grammar).line(line)


def _has(scopes: list[str], prefix: str) -> bool:
    return any(s.startswith(prefix) for s in scopes)


def test_the_grammar_is_json_and_every_pattern_compiles():
    grammar = _grammar()
    assert grammar["scopeName"] == "source.synth" and grammar["fileTypes"] == ["synth"]
    patterns = list(_rules(grammar, grammar["patterns"]))
    for rule in patterns + [r for p in patterns for r in _rules(grammar, p.get("patterns", []))]:
        for key in ("match", "begin", "end"):
            if key in rule:
                re.compile(rule[key])
    assert len(patterns) >= 15


def test_the_grammar_knows_the_compilers_blocks_and_functions():
    from synthspec.compiler.elaborate import DISTRIBUTIONS
    from synthspec.compiler.rules.names import CONSTRAINT_FUNCTIONS

    repository = _grammar()["repository"]
    kinds = re.search(r"\(\?<!\[\\w\.\]\)\(([a-z_|]+)\)", repository["block"]["match"]).group(1).split("|")
    assert sorted(kinds) == sorted(SCHEMAS)
    calls = " ".join(p["match"] for p in repository["call"]["patterns"])
    assert all(name in calls for name in (*DISTRIBUTIONS, *CONSTRAINT_FUNCTIONS))


def test_the_grammar_marks_known_lines():
    grammar = _grammar()

    def scopes(line: str, word: str, nth: int = 0) -> list[str]:
        index = -1
        for _ in range(nth + 1):
            index = line.index(word, index + 1)
        return tokenize(grammar, line)[index]

    assert _has(scopes("synth 1", "synth"), "keyword.other.header") and _has(scopes("synth 1", "1"), "constant.numeric")
    line = "cohort lung_nodules_ldct extends base {"
    assert _has(scopes(line, "cohort"), "keyword.other.block") and _has(scopes(line, "lung"), "entity.name.section")
    assert _has(scopes(line, "extends"), "keyword.other.extends") and _has(scopes(line, "base"), "entity.other")
    line = "    kv: 160 kV  # synth: ignore[PHY001] phantom study at 160 kV"
    assert _has(scopes(line, "kv"), "variable.other.property") and _has(scopes(line, "160"), "constant.numeric")
    assert _has(scopes(line, "kV"), "keyword.other.unit") and _has(scopes(line, "#"), "comment.line")
    assert _has(scopes(line, "ignore"), "keyword.other.suppression") and _has(scopes(line, "PHY001"), "constant.other.rule")
    assert not _has(scopes(line, "160", 1), "constant.numeric")  # in the comment
    line = '  title: "a # not a comment \\" still the string"'
    assert all(_has(s, "string.quoted") for s in tokenize(grammar, line)[line.index('"'):])
    line = "    require pleura_gap: distance_to(pleura) >= 2 mm"
    assert _has(scopes(line, "require"), "keyword.control.require") and _has(scopes(line, "pleura_gap"), "entity.name.label")
    assert _has(scopes(line, "distance_to"), "support.function") and _has(scopes(line, ">="), "keyword.operator")
    line = "  scanners: ct.wide_detector_256 40%, ct.budget_16 20%"
    assert _has(scopes(line, "ct.wide"), "variable.other.reference") and _has(scopes(line, "%"), "keyword.other.unit")
    assert not _has(scopes(line, "16"), "constant.numeric")  # part of the name ct.budget_16
    line = "    age: normal(63 y, 12 y) clipped 25 y .. 90 y"
    assert _has(scopes(line, "normal"), "support.function.distribution") and _has(scopes(line, ".."), "keyword.operator")
    assert _has(scopes(line, "clipped"), "keyword.operator") and _has(scopes(line, "y"), "keyword.other.unit")
    line = '    expires: 2027-09-30'
    assert _has(scopes(line, "2027"), "constant.other.date")
    line = 'import "../shared.synth" as shared'
    assert _has(scopes(line, "import"), "keyword.control.import") and _has(scopes(line, "../"), "string.quoted")
    line = "  subjects: \u0661\u0666"  # Arabic-Indic digits: never a number to the compiler (SYN016)
    assert _has(scopes(line, "\u0661"), "invalid.illegal") and not _has(scopes(line, "\u0661"), "constant.numeric")


@pytest.mark.parametrize("path", EXAMPLES + sorted(BROKEN.glob("*.synth")), ids=lambda p: p.name)
def test_the_grammar_agrees_with_the_compilers_parse_of_the_examples(path):
    """Every comment, string, number, key and block kind the compiler reads is scoped as such; in a file
    the compiler parses, no character is left without a scope or marked invalid."""
    grammar = _grammar()
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        pytest.skip("not UTF-8 (SYN005): no editor shows it as text")
    lines = text.split("\n")
    tokenizer = Tokenizer(grammar)
    scoped = [tokenizer.line(line) for line in lines]
    module, _ = parse_text(text, str(path))
    for number, line in enumerate(lines):
        hash_at = comment_start(line)
        for column, char in enumerate(line):
            here = scoped[number][column]
            if 0 <= hash_at <= column:
                assert _has(here, "comment.line"), (number + 1, line)
            elif not char.isspace():
                assert here, f"{path.name}:{number + 1}:{column + 1}: {char!r} has no scope in {line!r}"
                if module is not None:
                    assert not _has(here, "invalid"), f"{path.name}:{number + 1}:{column + 1}: {char!r} in {line!r}"
    if module is None:
        return

    def walk(node):
        if isinstance(node, Block) and node.kind in SCHEMAS:  # an unknown kind (NAM002) is left plain
            yield "keyword.other.block", node.span
        if hasattr(node, "key_span"):
            yield "variable.other.property", node.key_span
        if isinstance(node, Quantity):
            yield "constant.numeric", node.span
        if isinstance(node, String):
            yield "string.quoted", node.span
        for value in vars(node).values():
            for child in value if isinstance(value, list) else [value]:
                if hasattr(child, "span") and not isinstance(child, Span):
                    yield from walk(child)

    checked = 0
    for scope, span in walk(module):
        assert _has(scoped[span.line - 1][span.column - 1], scope), (path.name, span, scope, lines[span.line - 1])
        checked += 1
    assert checked or not module.blocks()
