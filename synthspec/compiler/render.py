"""Render diagnostics: text with a source excerpt, JSON, SARIF 2.1.0, GitHub workflow commands."""

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


_SPLIT: list = [None, []]
"""The last text split into lines (the text object, its lines): findings come file by file, so one
split per file keeps rendering linear in the file's size."""


def _line(texts: dict[str, str], file: str, number: int) -> str | None:
    """Line `number` of a file the compiler read (`texts`); never read from disk here, so a file the
    loader refused (a link to /proc/self/environ) is never shown."""
    text = texts.get(file)
    if text is None:
        return None
    if _SPLIT[0] is not text:
        # Lines are counted at `\n` only, as the parser counts them: `str.splitlines` would also
        # split at form feeds, U+2028 and friends and show the wrong line under a finding.
        _SPLIT[:] = [text, text.split("\n")]
    lines = _SPLIT[1]
    return lines[number - 1].removesuffix("\r") if 0 < number <= len(lines) else None


def _pad(source: str, column: int) -> str:
    """Blanks that reach `column` (1-based) under `source`, keeping its tabs so the caret lines up."""
    return "".join("\t" if ch == "\t" else " " for ch in source[:column - 1]).ljust(column - 1)


def text(diagnostics: list[Diagnostic], texts: dict[str, str], colour: bool = False) -> str:
    out = []
    for d in diagnostics:
        c = (lambda s, code: f"{code}{s}{_RESET}") if colour else (lambda s, code: s)
        head = f"{c(str(d.span), _BOLD)}: {c(f'{d.severity.value}[{d.code}]', _COLOURS[d.severity])} {d.message}"
        out.append(head)
        source = _line(texts, d.span.file, d.span.line)
        if source is not None:
            gutter = " " * len(str(d.span.line))
            width = 1
            if d.span.end_line == d.span.line and d.span.end_column > d.span.column:
                width = d.span.end_column - d.span.column
            else:
                width = max(1, len(source.rstrip()) - d.span.column + 1)
            out.append(f"{gutter} {c('|', _BLUE)}")
            out.append(f"{c(str(d.span.line), _BLUE)} {c('|', _BLUE)} {source.rstrip()}")
            out.append(f"{gutter} {c('|', _BLUE)} {_pad(source, d.span.column)}{c('^' * width, _COLOURS[d.severity])}")
        if d.hint:
            out.append(f"  = hint: {d.hint}")
        out.append("")
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


def github(diagnostics: list[Diagnostic]) -> str:
    level = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}
    lines = []
    for d in diagnostics:
        props = [f"file={_escape_property(d.span.file)}", f"line={d.span.line}", f"col={d.span.column}"]
        if d.span.end_line >= d.span.line:
            props.append(f"endLine={d.span.end_line}")
            if d.span.end_column > 0:
                props.append(f"endColumn={d.span.end_column}")
        props.append(f"title={_escape_property(f'{d.code} {d.name}')}")
        message = d.message + (f" (hint: {d.hint})" if d.hint else "")
        lines.append(f"::{level[d.severity]} {','.join(props)}::{_escape_data(message)}")
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
    for d in diagnostics:
        location = _artifact_location(d.span.file, root)
        source = _line(texts, d.span.file, d.span.line) or ""
        digest = hashlib.sha256(f"{d.code}\0{location['uri']}\0{_fingerprint_text(source)}".encode()).hexdigest()[:32]
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
