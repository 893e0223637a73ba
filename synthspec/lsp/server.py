"""The language server: pygls speaks the protocol, the compiler answers.

    textDocument/didOpen, didChange, didSave  compile the buffer (`analysis.analyse`) and publish
                                              its diagnostics, tagged with the document's version
    textDocument/didClose                     clear the document's diagnostics
    textDocument/hover                        `knowledge.hover` at the cursor
    textDocument/completion                   `knowledge.complete` at the cursor
    textDocument/formatting                   `synth fmt` as one whole-document edit

Documents are synchronised in full (the client sends the whole text on each change): a spec is
small (at most max-file-bytes), and the lines stay the compiler's own (`\\n`, `\\r\\n` and a lone
`\\r`), never a second idea of where lines break.  Handlers run one after another in the order the
messages arrive and each compiles the text of the version it publishes, so diagnostics of an old
version can never follow those of a newer one; a version older than the last published one is
dropped all the same, as a guard.  A compile takes milliseconds (see benchmarks/lsp_latency.py),
so there is no debounce.  A save compiles every open document again: one may import the saved file.

Position encoding: what the client offers (pygls picks UTF-16 unless the client prefers UTF-8 or
UTF-32); `positions` converts from the compiler's code-point columns.

This module imports pygls and lsprotocol; nothing of the generator.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from synthspec import __version__
from synthspec.compiler.resolve import resolved
from synthspec.compiler.text import newlines
from synthspec.lsp import analysis, cursor, knowledge
from synthspec.lsp.positions import UTF8, UTF16, UTF32, from_client, lines_of, units

NAME = "synth"
KINDS = {"name": types.CompletionItemKind.Value, "field": types.CompletionItemKind.Field,
         "block": types.CompletionItemKind.Struct, "option": types.CompletionItemKind.EnumMember,
         "unit": types.CompletionItemKind.Unit, "keyword": types.CompletionItemKind.Keyword,
         "module": types.CompletionItemKind.Module, "rule": types.CompletionItemKind.Constant}


@dataclass
class Session:
    """What the server remembers between messages: the last analysis of each open document."""

    configs: analysis.Configs = field(default_factory=analysis.Configs)
    analyses: dict[str, analysis.Analysis] = field(default_factory=dict)
    published: dict[str, int] = field(default_factory=dict)
    """The newest version published per document URI."""


def _encoding(ls: LanguageServer) -> str:
    chosen = str(getattr(ls.workspace, "position_encoding", None) or UTF16)
    return {"utf-8": UTF8, "utf-32": UTF32}.get(chosen, UTF16)


def _root(ls: LanguageServer) -> Path | None:
    root = ls.workspace.root_path
    return Path(root) if root else None


def _path(ls: LanguageServer, uri: str) -> Path:
    return analysis.path_of(uri, _root(ls))


def _document(ls: LanguageServer, uri: str):
    """The open document of a URI, or None (pygls keys its documents by the unquoted URI)."""
    return ls.workspace.text_documents.get(unquote(uri))


def _open_buffers(ls: LanguageServer, but: str) -> dict[str, str]:
    """The text of every other open `file:` document, by path: imports read these instead of the disk (a git
    revision or another scheme's view of a spec never stands in for the file)."""
    return {str(_path(ls, doc.uri)): doc.source for doc in ls.workspace.text_documents.values()
            if unquote(doc.uri) != unquote(but) and doc.uri.startswith("file:")}


def refresh(ls: LanguageServer, session: Session, uri: str) -> None:
    """Compile the document's current text and publish its diagnostics for its current version."""
    document = _document(ls, uri)
    if document is None:
        return
    key, text, version = unquote(uri), document.source, document.version
    done = analysis.analyse(uri, text, version, _path(ls, uri), session.configs, _open_buffers(ls, uri), _encoding(ls))
    session.analyses[key] = done
    current = _document(ls, uri)
    if current is None or current.version != version:
        return  # the document changed or closed meanwhile: that version's own compile publishes
    if version is not None and session.published.get(key, -1) > version:
        return
    if version is not None:
        session.published[key] = version
    ls.text_document_publish_diagnostics(
        types.PublishDiagnosticsParams(uri=uri, diagnostics=done.diagnostics, version=version))


def _cursor(ls: LanguageServer, session: Session, uri: str, position: types.Position):
    document = _document(ls, uri)
    if document is None:
        return None, None
    text = newlines(document.source)
    line, column = from_client(lines_of(text), position.line, position.character, _encoding(ls))
    last = session.analyses.get(unquote(uri))
    fallback = None
    if last is not None and last.result.program is not None:
        real = resolved(last.path)
        fallback = last.result.program.modules.get(str(real)) if real is not None else None
    return cursor.at(text, line, column, fallback), last


def _registry_and_texts(last):
    if last is not None and last.result.program is not None:
        return last.result.program.registry, last.result.program.texts
    return knowledge.default_registry(), {}


def _word_range(ls: LanguageServer, c: cursor.Cursor, start: int, end: int) -> types.Range:
    encoding = _encoding(ls)
    return types.Range(start=types.Position(line=c.line, character=units(c.source[:start], encoding)),
                       end=types.Position(line=c.line, character=units(c.source[:end], encoding)))


def build(session: Session | None = None) -> LanguageServer:
    """A language server with every feature registered (not yet started)."""
    session = session or Session()
    server = LanguageServer(NAME, __version__, text_document_sync_kind=types.TextDocumentSyncKind.Full)
    server.session = session

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: LanguageServer, params: types.DidOpenTextDocumentParams) -> None:
        refresh(ls, session, params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: LanguageServer, params: types.DidChangeTextDocumentParams) -> None:
        refresh(ls, session, params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: LanguageServer, params: types.DidSaveTextDocumentParams) -> None:
        saved = params.text_document.uri
        others = [doc.uri for doc in ls.workspace.text_documents.values() if unquote(doc.uri) != unquote(saved)]
        for uri in [saved, *others]:
            refresh(ls, session, uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: LanguageServer, params: types.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        session.analyses.pop(unquote(uri), None)
        session.published.pop(unquote(uri), None)
        ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    def hover(ls: LanguageServer, params: types.HoverParams) -> types.Hover | None:
        c, last = _cursor(ls, session, params.text_document.uri, params.position)
        if c is None:
            return None
        registry, texts = _registry_and_texts(last)
        text = knowledge.hover(c, registry, texts)
        if text is None:
            return None
        return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=text),
                           range=_word_range(ls, c, c.start, c.end))

    @server.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(trigger_characters=[".", "["]))
    def completion(ls: LanguageServer, params: types.CompletionParams) -> types.CompletionList | None:
        c, last = _cursor(ls, session, params.text_document.uri, params.position)
        if c is None:
            return None
        registry, _ = _registry_and_texts(last)
        replace = _word_range(ls, c, c.start, c.column)  # a dotted name is replaced whole: `ct.mi` -> `ct.midrange_64`
        items = [types.CompletionItem(
            label=k.label, kind=KINDS.get(k.kind), detail=k.detail or None,
            documentation=types.MarkupContent(kind=types.MarkupKind.Markdown, value=k.documentation) if k.documentation else None,
            filter_text=k.label, text_edit=types.TextEdit(range=replace, new_text=k.label))
            for k in knowledge.complete(c, registry)]
        return types.CompletionList(is_incomplete=False, items=items)

    @server.feature(types.TEXT_DOCUMENT_FORMATTING)
    def formatting(ls: LanguageServer, params: types.DocumentFormattingParams) -> list[types.TextEdit]:
        uri = params.text_document.uri
        document = _document(ls, uri)
        if document is None:
            return []
        return analysis.formatting(document.source, _path(ls, uri), _encoding(ls))

    return server


def serve() -> None:
    """Run the server on stdin and stdout until the client says exit."""
    build().start_io()
