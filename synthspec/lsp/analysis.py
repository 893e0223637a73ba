"""Analysis: an editor's buffer through `synth check`, its findings as LSP diagnostics; formatting.

A buffer is compiled by `compiler.check.compile_text` under the configuration `synth check` would
use for the file (the nearest synth.toml or pyproject.toml with [tool.synth]: roots, select,
ignore, severities), so a finding in the editor is the finding in CI, suppressions included.  Open
buffers stand in for their files on disk, so an import of an unsaved file sees what the editor
shows; imports resolve relative to the document's own path.

Findings in the document are placed at their spans; findings in a file it imports (directly or
through other imports) are placed at the import that brings that file in, naming the file, line
and column, with the place itself as related information.  Suppressed findings are not shown.

This module does not speak the protocol (see `server`) and decides nothing about a finding: code,
severity, message and hint are the compiler's.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse
from urllib.request import url2pathname

from lsprotocol import types

from synthspec.compiler import config as cfg
from synthspec.compiler.check import FileResult, compile_file
from synthspec.compiler.diagnostics import Severity, Span
from synthspec.compiler.resolve import resolved
from synthspec.compiler.text import shown
from synthspec.lsp.positions import UTF16, end_of, lines_of, span_range

SOURCE = "synth"
SEVERITIES = {Severity.ERROR: types.DiagnosticSeverity.Error, Severity.WARNING: types.DiagnosticSeverity.Warning,
              Severity.INFO: types.DiagnosticSeverity.Information}


# ---- documents and their configuration -----------------------------------------------------------

def path_of(uri: str, root: Path | None = None) -> Path:
    """The file a document URI names; a document not on disk (`untitled:Untitled-1`) is taken to lie in
    `root` (the workspace folder, else the working folder), so its imports resolve from there."""
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        location = url2pathname(parsed.path)  # which also undoes the %-escapes
        if parsed.netloc and parsed.netloc != "localhost":  # a UNC path, \\server\share\...
            location = f"//{parsed.netloc}{location}"
        return Path(location)
    name = Path(unquote(parsed.path or "untitled")).name or "untitled"
    base = root if root is not None else Path(os.getcwd())
    return base / (name if name.endswith(".synth") else f"{name}.synth")


def uri_of(path: Path) -> str:
    """The `file:` URI of a path (made absolute first)."""
    return path.absolute().as_uri()


class Configs:
    """The configuration of each document's folder, read again only when its file changes."""

    def __init__(self) -> None:
        self._loaded: dict[Path, tuple[int, cfg.Config]] = {}

    def for_path(self, path: Path) -> tuple[cfg.Config, str | None]:
        """The configuration `synth check PATH` would use, and why it could not be read (or None)."""
        try:
            source = cfg.find(path)
        except OSError:
            source = None
        if source is None:
            return cfg.Config(), None
        try:
            stamp = source.stat().st_mtime_ns
        except OSError:
            stamp = -1
        cached = self._loaded.get(source)
        if cached is not None and cached[0] == stamp:
            return cached[1], None
        try:
            loaded = cfg.load(source)
        except cfg.ConfigError as error:
            return cfg.Config(), f"{error}; checked with the default configuration instead"
        self._loaded[source] = (stamp, loaded)
        return loaded, None


# ---- compiling a buffer --------------------------------------------------------------------------

@dataclass
class Analysis:
    """One version of one document and what the compiler made of it."""

    uri: str
    version: int | None
    path: Path
    text: str
    result: FileResult
    diagnostics: list[types.Diagnostic] = field(default_factory=list)


def analyse(uri: str, text: str, version: int | None, path: Path, configs: Configs,
            unsaved: dict[str, str] | None = None, encoding: str = UTF16) -> Analysis:
    """Compile `text` as the document at `path` (other open buffers in `unsaved`, by path)."""
    config, problem = configs.for_path(path)
    buffers = dict(unsaved or {})
    buffers[str(path)] = text
    result = compile_file(path, config, unsaved=buffers)
    found = diagnostics_of(result, path, text, encoding)
    if problem is not None:
        found.insert(0, types.Diagnostic(range=_range(((0, 0), (0, 0))), message=shown(problem), source=SOURCE,
                                         severity=types.DiagnosticSeverity.Error, code="config"))
    return Analysis(uri=uri, version=version, path=path, text=text, result=result, diagnostics=found)


def _range(r: tuple[tuple[int, int], tuple[int, int]]) -> types.Range:
    (sl, sc), (el, ec) = r
    return types.Range(start=types.Position(line=sl, character=sc), end=types.Position(line=el, character=ec))


def _importers(result: FileResult) -> dict[str, tuple[str, Span]]:
    """For each imported file (resolved path), the file that imports it and the span of that import."""
    out: dict[str, tuple[str, Span]] = {}
    if result.program is None:
        return out
    for module in result.program.modules.values():
        for imp in module.imports:
            if imp.is_path and "\x00" not in imp.target:
                target = resolved(Path(module.file).parent / imp.target)
                if target is not None:
                    out.setdefault(str(target), (module.file, imp.span))
    return out


def _entry_span(file: str, entry: str, importers: dict[str, tuple[str, Span]]) -> Span | None:
    """The import in the document (`entry`) through which `file` was read, or None."""
    seen = set()
    while True:
        real = resolved(Path(file))
        step = importers.get(str(real)) if real is not None else None
        if step is None or file in seen:
            return None
        seen.add(file)
        importer, span = step
        if importer == entry:
            return span
        file = importer


def diagnostics_of(result: FileResult, path: Path, text: str, encoding: str = UTF16) -> list[types.Diagnostic]:
    """The compiler's visible findings as LSP diagnostics of the document at `path` (see the module docstring)."""
    entry = str(path)
    lines = lines_of(text)
    importers = _importers(result)
    texts = result.program.texts if result.program is not None else {}
    out = []
    for d in result.visible:
        message = shown(d.message) + (f"\nhint: {shown(d.hint)}" if d.hint else "")
        related = None
        if d.span.file == entry:
            where = span_range(lines, d.span, encoding)
        else:
            at = _entry_span(d.span.file, entry, importers)
            where = span_range(lines, at if at is not None else Span(file=entry), encoding)
            message = f"{shown(d.span.file)}:{d.span.line}:{d.span.column}: {message}"
            if d.span.file in texts:
                other = span_range(lines_of(texts[d.span.file]), d.span, encoding)
                related = [types.DiagnosticRelatedInformation(
                    location=types.Location(uri=uri_of(Path(os.path.normpath(d.span.file))), range=_range(other)),
                    message=f"{d.code} {d.name}")]
        out.append(types.Diagnostic(range=_range(where), message=message, severity=SEVERITIES[d.severity],
                                    code=d.code, source=SOURCE, related_information=related))
    return out


# ---- formatting ----------------------------------------------------------------------------------

def formatting(text: str, path: Path, encoding: str = UTF16) -> list[types.TextEdit]:
    """`synth fmt` of the buffer as one edit of the whole document; no edit when the text is already
    formatted, or when it does not parse (the diagnostics say why; formatting must not fail loudly)."""
    from synthspec.compiler.fmt import format_text

    formatted, _ = format_text(text, str(path))
    if formatted is None or formatted == text:
        return []
    # a text whose only change is its line endings still gets the edit: `synth fmt` writes `\n`
    end = end_of(text, encoding)
    return [types.TextEdit(range=_range(((0, 0), end)), new_text=formatted)]
