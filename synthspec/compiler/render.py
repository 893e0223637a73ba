"""Render diagnostics: text with a source excerpt, JSON, SARIF 2.1.0, GitHub workflow commands.

Text and GitHub output print at most `MAX_FINDINGS_PER_FILE` findings per file and then one line with
how many more (JSON and SARIF keep all); every file is split into lines once per rendering, a long
line is shown as a window around the finding, and bidirectional controls are shown as U+FFFD (JSON
and SARIF escape them), so what is printed reads as it is stored."""

from __future__ import annotations

import hashlib
import json
import string
from pathlib import Path
from urllib.parse import quote

from synthspec import __version__
from synthspec.compiler.diagnostics import Diagnostic, Severity

_COLOURS = {Severity.ERROR: "\033[1;31m", Severity.WARNING: "\033[1;33m", Severity.INFO: "\033[1;36m"}
_BOLD, _BLUE, _RESET = "\033[1m", "\033[1;34m", "\033[0m"


MAX_FINDINGS_PER_FILE = 200
"""Findings `text` and `github` print per file (then one line says how many more); JSON and SARIF
keep every finding, and the summary counts all of them."""
MAX_EXCERPT = 160
"""Characters of a source line shown under a finding; a longer line is cut around the finding."""


def split_lines(text: str) -> list[str]:
    """A text's lines, counted at `\\n` only, as the parser counts them: `str.splitlines` would also
    split at form feeds, U+2028 and friends and show the wrong line under a finding."""
    return text.split("\n")


class _Lines:
    """The lines of the files the compiler read, each file split once per rendering (so rendering
    stays linear in the files' size however many findings they have)."""

    def __init__(self, texts: dict[str, str]) -> None:
        self.texts = texts
        self.split: dict[str, list[str]] = {}

    def line(self, file: str, number: int) -> str | None:
        """Line `number` of a file the compiler read; never read from disk here, so a file the
        loader refused (a link to /proc/self/environ) is never shown."""
        lines = self.split.get(file)
        if lines is None:
            text = self.texts.get(file)
            if text is None:
                return None
            lines = self.split[file] = split_lines(text)
        return lines[number - 1].removesuffix("\r") if 0 < number <= len(lines) else None


def _pad(source: str, column: int) -> str:
    """Blanks that reach `column` (1-based) under `source`, keeping its tabs so the caret lines up."""
    return "".join("\t" if ch == "\t" else " " for ch in source[:column - 1]).ljust(column - 1)


def excerpt(source: str, column: int, width: int) -> tuple[str, int, int]:
    """The part of a source line to show, the finding's column in it and the caret's width.

    A line up to `MAX_EXCERPT` characters is shown whole; a longer one is cut to a window around the
    finding, marked with `…` where it was cut, so a finding on a 1 MB line prints a short line."""
    source = source.rstrip()
    if len(source) <= MAX_EXCERPT:
        return source, column, width
    start = max(0, min(column - 1 - MAX_EXCERPT // 4, len(source) - MAX_EXCERPT))
    end = start + MAX_EXCERPT
    shown = ("…" if start else "") + source[start:end] + ("…" if end < len(source) else "")
    column = column - start + (1 if start else 0)
    width = max(1, min(width, MAX_EXCERPT - (column - (2 if start else 1))))
    return shown, column, width


def _more(file: str, count: int) -> str:
    return f"... and {count} more finding(s) in {file}; see --format json for all"


def text(diagnostics: list[Diagnostic], texts: dict[str, str], colour: bool = False,
         limit: int | None = MAX_FINDINGS_PER_FILE) -> str:
    """Findings for people: each with its source line and a caret; at most `limit` per file (None: all)."""
    from synthspec.compiler.text import shown as safe

    out = []
    lines = _Lines(texts)
    printed: dict[str, int] = {}
    held: dict[str, int] = {}  # findings left out, per file, not yet announced
    current = None

    def announce(file) -> None:
        if held.get(file):
            out.append(_more(file, held.pop(file)))
            out.append("")

    c = (lambda s, code: f"{code}{s}{_RESET}") if colour else (lambda s, code: s)
    for d in diagnostics:
        file = d.span.file
        if file != current:
            announce(current)
            current = file
        if limit is not None and printed.get(file, 0) >= limit:
            held[file] = held.get(file, 0) + 1
            continue
        printed[file] = printed.get(file, 0) + 1
        head = f"{c(str(d.span), _BOLD)}: {c(f'{d.severity.value}[{d.code}]', _COLOURS[d.severity])} {safe(d.message)}"
        out.append(head)
        source = lines.line(file, d.span.line)
        if source is not None:
            gutter = " " * len(str(d.span.line))
            if d.span.end_line == d.span.line and d.span.end_column > d.span.column:
                width = d.span.end_column - d.span.column
            else:
                width = max(1, len(source.rstrip()) - d.span.column + 1)
            shown, column, width = excerpt(source, d.span.column, width)
            shown = safe(shown)
            out.append(f"{gutter} {c('|', _BLUE)}")
            out.append(f"{c(str(d.span.line), _BLUE)} {c('|', _BLUE)} {shown}")
            out.append(f"{gutter} {c('|', _BLUE)} {_pad(shown, column)}{c('^' * width, _COLOURS[d.severity])}")
        if d.hint:
            out.append(f"  = hint: {safe(d.hint)}")
        out.append("")
    announce(current)
    for file in list(held):
        announce(file)
    return "\n".join(out)


def summary(diagnostics: list[Diagnostic], files: int) -> str:
    counts = {s: sum(1 for d in diagnostics if d.severity is s and not d.suppressed) for s in Severity}
    suppressed = sum(1 for d in diagnostics if d.suppressed)
    parts = [f"{counts[Severity.ERROR]} error(s)", f"{counts[Severity.WARNING]} warning(s)"]
    if counts[Severity.INFO]:
        parts.append(f"{counts[Severity.INFO]} note(s)")
    return f"checked {files} file(s): " + ", ".join(parts) + ("" if not suppressed else f", {suppressed} suppressed")


def as_json(diagnostics: list[Diagnostic], files: int) -> str:
    items = [d.model_dump(mode="json") for d in diagnostics]
    counts = {s.value: sum(1 for d in diagnostics if d.severity is s and not d.suppressed) for s in Severity}
    suppressed = sum(1 for d in diagnostics if d.suppressed)
    return json.dumps({"version": __version__, "files": files, "counts": counts, "suppressed": suppressed,
                       "diagnostics": items}, indent=2)


def _escape_data(s: str) -> str:
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(s: str) -> str:
    return _escape_data(s).replace(":", "%3A").replace(",", "%2C")


def github(diagnostics: list[Diagnostic], limit: int | None = MAX_FINDINGS_PER_FILE) -> str:
    """GitHub workflow commands, one a finding; at most `limit` per file (None: all), then one notice."""
    from synthspec.compiler.text import shown as safe

    level = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}
    lines = []
    printed: dict[str, int] = {}
    held: dict[str, int] = {}
    for d in diagnostics:
        if limit is not None and printed.get(d.span.file, 0) >= limit:
            held[d.span.file] = held.get(d.span.file, 0) + 1
            continue
        printed[d.span.file] = printed.get(d.span.file, 0) + 1
        props = [f"file={_escape_property(d.span.file)}", f"line={d.span.line}", f"col={d.span.column}"]
        if d.span.end_line >= d.span.line:
            props.append(f"endLine={d.span.end_line}")
            if d.span.end_column > 0:
                props.append(f"endColumn={d.span.end_column}")
        props.append(f"title={_escape_property(f'{d.code} {d.name}')}")
        message = d.message + (f" (hint: {d.hint})" if d.hint else "")
        lines.append(f"::{level[d.severity]} {','.join(props)}::{_escape_data(safe(message))}")
    for file, count in held.items():
        lines.append(f"::notice file={_escape_property(file)},title=synthspec::{_escape_data(_more(file, count))}")
    return "\n".join(lines)


def _artifact_location(file: str, root: Path) -> dict:
    """A SARIF artifactLocation: a percent-encoded URI relative to SRCROOT, or an absolute file URI outside it."""
    p = Path(file)
    try:
        resolved = p.resolve()
    except (OSError, RuntimeError):
        resolved = p
    try:
        relative = resolved.relative_to(root)
    except ValueError:
        if resolved.is_absolute():
            return {"uri": resolved.as_uri()}
        return {"uri": quote(p.as_posix(), safe="/")}
    # `quote` keeps `/` and encodes `:`, `%`, spaces and the rest, so a name like `a:b %.synth`
    # stays a relative reference instead of reading as a scheme or a broken escape.
    return {"uri": quote(relative.as_posix(), safe="/"), "uriBaseId": "SRCROOT"}


def _readable(template: str) -> str:
    """A message template for people: `{value:g} kV` reads `<value> kV`; `{{` reads `{`."""
    try:
        parts = string.Formatter().parse(template)
        return "".join(literal + (f"<{name}>" if name is not None else "") for literal, name, _, _ in parts)
    except ValueError:  # not a valid template: show it as written
        return template


def _title(name: str) -> str:
    words = name.replace("-", " ").replace("_", " ")
    return words[:1].upper() + words[1:]


def _fingerprint_text(source: str) -> str:
    """The part of a source line a fingerprint hashes: code only, whitespace collapsed.

    The trailing comment is left out so that adding `# synth: ignore[...]` to a line keeps
    the finding's fingerprint (code scanning then shows the same alert as suppressed), and
    `synth fmt` re-indenting a line does not turn its findings into new alerts.
    """
    from synthspec.compiler.suppress import comment_start

    cut = comment_start(source)
    return " ".join((source[:cut] if cut >= 0 else source).split())


def _rule_descriptor(r, level: dict) -> dict:
    what = _readable(r.message)
    fix = _readable(r.fix) if r.fix else None
    text = [f"{r.code} {r.name}: {what}", "", " ".join(r.why.split()), "", "Example:", r.bad.strip(), "",
            "Use instead:", r.good.strip()]
    markdown = [f"**{r.code} {r.name}**: {what}", "", r.why.strip(), "", "Example:", "```", r.bad.strip(), "```",
                "Use instead:", "```", r.good.strip(), "```"]
    if fix:
        text += ["", f"Fix: {fix}"]
        markdown += ["", f"Fix: {fix}"]
    return {
        "id": r.code,
        "name": r.name,
        "shortDescription": {"text": _title(r.name)},
        "fullDescription": {"text": " ".join(r.why.split())},
        "help": {"text": "\n".join(text), "markdown": "\n".join(markdown)},
        "defaultConfiguration": {"level": level[r.severity]},
        "properties": {"family": r.family, "fixable": r.fix is not None, "tags": [r.family]},
    }


def sarif(diagnostics: list[Diagnostic], root: Path, texts: dict[str, str]) -> str:
    from synthspec.compiler.rules import all_rules

    level = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}
    rules = all_rules()
    index = {r.code: i for i, r in enumerate(rules)}
    driver_rules = [_rule_descriptor(r, level) for r in rules]
    root = root.resolve()
    root_uri = root.as_uri().rstrip("/") + "/"
    results = []
    seen: dict[str, int] = {}
    lines = _Lines(texts)
    locations: dict[str, dict] = {}
    code_of_line: dict[tuple[str, int], str] = {}  # each line's fingerprint text, made once however many findings
    for d in diagnostics:
        location = locations.get(d.span.file)
        if location is None:
            location = locations[d.span.file] = _artifact_location(d.span.file, root)
        key = (d.span.file, d.span.line)
        code_text = code_of_line.get(key)
        if code_text is None:
            code_text = code_of_line[key] = _fingerprint_text(lines.line(d.span.file, d.span.line) or "")
        digest = hashlib.sha256(f"{d.code}\0{location['uri']}\0{code_text}".encode()).hexdigest()[:32]
        # Findings of one rule on identical lines would share a hash; the occurrence count keeps
        # them apart (the `hash:n` form code scanning itself uses), in source order, so it is stable.
        seen[digest] = seen.get(digest, 0) + 1
        fingerprint = f"{digest}:{seen[digest]}"
        region = {"startLine": max(1, d.span.line), "startColumn": max(1, d.span.column)}
        if d.span.end_line >= region["startLine"]:
            region["endLine"] = d.span.end_line
            if d.span.end_column > 0 and (d.span.end_line > region["startLine"] or d.span.end_column >= region["startColumn"]):
                region["endColumn"] = d.span.end_column
        result = {
            "ruleId": d.code,
            "level": level[d.severity],
            "message": {"text": d.message + (f" Hint: {d.hint}" if d.hint else "")},
            "locations": [{"physicalLocation": {"artifactLocation": location, "region": region}}],
            "partialFingerprints": {"primaryLocationLineHash": fingerprint},
        }
        if d.code in index:
            result["ruleIndex"] = index[d.code]
        if d.suppressed:
            result["suppressions"] = [{"kind": "inSource", "status": "accepted",
                                       "justification": d.suppression_reason or ""}]
        results.append(result)
    log = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "synthspec", "version": __version__, "semanticVersion": __version__,
                                "informationUri": "https://github.com/synthspec/synthspec", "rules": driver_rules}},
            "invocations": [{"executionSuccessful": True}],
            "originalUriBaseIds": {"SRCROOT": {"uri": root_uri}},
            "results": results,
            "columnKind": "unicodeCodePoints",
        }],
    }
    return json.dumps(log, indent=2)
