"""Render diagnostics: text with a source excerpt, JSON, SARIF 2.1.0, GitHub workflow commands."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from .. import __version__
from .diagnostics import Diagnostic, Severity

_COLOURS = {Severity.ERROR: "\033[1;31m", Severity.WARNING: "\033[1;33m", Severity.INFO: "\033[1;36m"}
_BOLD, _BLUE, _RESET = "\033[1m", "\033[1;34m", "\033[0m"


def _line(texts: dict[str, str], file: str, number: int) -> str | None:
    text = texts.get(file)
    if text is None:
        try:
            text = Path(file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None
        texts[file] = text
    lines = text.splitlines()
    return lines[number - 1] if 0 < number <= len(lines) else None


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
            out.append(f"{gutter} {c('|', _BLUE)} {' ' * (d.span.column - 1)}{c('^' * width, _COLOURS[d.severity])}")
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
    return json.dumps({"version": __version__, "files": files, "counts": counts, "diagnostics": items}, indent=2)


def _escape_data(s: str) -> str:
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(s: str) -> str:
    return _escape_data(s).replace(":", "%3A").replace(",", "%2C")


def github(diagnostics: list[Diagnostic]) -> str:
    level = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}
    lines = []
    for d in diagnostics:
        props = [f"file={_escape_property(d.span.file)}", f"line={d.span.line}", f"col={d.span.column}"]
        if d.span.end_line:
            props += [f"endLine={d.span.end_line}", f"endColumn={d.span.end_column}"]
        props.append(f"title={_escape_property(f'{d.code} {d.name}')}")
        message = d.message + (f" (hint: {d.hint})" if d.hint else "")
        lines.append(f"::{level[d.severity]} {','.join(props)}::{_escape_data(message)}")
    return "\n".join(lines)


def _relative_uri(file: str, root: Path) -> str:
    p = Path(file)
    try:
        return p.resolve().relative_to(root).as_posix()
    except ValueError:
        return p.as_posix()


def sarif(diagnostics: list[Diagnostic], root: Path, texts: dict[str, str]) -> str:
    from .rules import all_rules

    level = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}
    rules = all_rules()
    index = {r.code: i for i, r in enumerate(rules)}
    driver_rules = [{
        "id": r.code,
        "name": r.name,
        "shortDescription": {"text": r.message.split("{")[0].strip() or r.name.replace("-", " ")},
        "fullDescription": {"text": " ".join(r.why.split())},
        "help": {"text": r.explain(), "markdown": f"**{r.code} {r.name}**\n\n{r.why}\n\nExample:\n```\n{r.bad}\n```\nUse instead:\n```\n{r.good}\n```"},
        "defaultConfiguration": {"level": level[r.severity]},
        "properties": {"family": r.family, "fixable": r.fix is not None},
    } for r in rules]
    root_uri = root.resolve().as_uri() + "/"
    results = []
    for d in diagnostics:
        source = _line(texts, d.span.file, d.span.line) or ""
        fingerprint = hashlib.sha256(f"{d.code}:{_relative_uri(d.span.file, root.resolve())}:{source.strip()}".encode()).hexdigest()[:32]
        region = {"startLine": d.span.line, "startColumn": d.span.column}
        if d.span.end_line >= d.span.line and d.span.end_line:
            region["endLine"] = d.span.end_line
            if d.span.end_column:
                region["endColumn"] = d.span.end_column
        result = {
            "ruleId": d.code,
            "level": level[d.severity],
            "message": {"text": d.message + (f" Hint: {d.hint}" if d.hint else "")},
            "locations": [{"physicalLocation": {
                "artifactLocation": {"uri": _relative_uri(d.span.file, root.resolve()), "uriBaseId": "SRCROOT"},
                "region": region}}],
            "partialFingerprints": {"primaryLocationLineHash": fingerprint},
        }
        if d.code in index:
            result["ruleIndex"] = index[d.code]
        if d.suppressed:
            result["suppressions"] = [{"kind": "inSource", "justification": d.suppression_reason or ""}]
        results.append(result)
    log = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "synthspec", "version": __version__, "semanticVersion": __version__,
                                "informationUri": "https://github.com/synthspec/synthspec", "rules": driver_rules}},
            "originalUriBaseIds": {"SRCROOT": {"uri": root_uri}},
            "results": results,
            "columnKind": "unicodeCodePoints",
        }],
    }
    return json.dumps(log, indent=2)
