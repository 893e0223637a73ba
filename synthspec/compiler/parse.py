"""Parse `.synth` text into a syntax tree, or into positioned syntax diagnostics.

The LALR parser is built once per process (its tables cached per user, see
`_cache_file`), with the node builder applied inline: syntax nodes are made as
the parser reduces, so no intermediate parse tree is kept and no second pass
runs.  A bad file never raises: `parse_text` returns `(None, [diagnostic])`
(a file that parses may still bring findings on its text, SYN015).

Limits that keep hostile input cheap: blocks and calls nest at most
`MAX_NESTING` deep (checked by the lexer, so nothing recursive ever sees more).

Digits are ASCII only: the grammar's `\\d` would match every Unicode decimal digit
(Arabic-Indic U+0660..U+0669, full-width U+FF10..U+FF19, ...) and Python's
`int`/`float` would read them, so the lexer runs with `re.ASCII`; a non-ASCII
digit in code is SYN016, never a number.  Bidirectional control characters
anywhere in the text are SYN015 (see `compiler.text`).
"""

from __future__ import annotations

import functools
import gc
import os
import re
import sys
import threading
from functools import lru_cache

from lark import Lark, Token
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from synthspec.compiler.diagnostics import Diagnostic, Span
from synthspec.compiler.rules.syntax import NON_ASCII_DIGIT, SYNTAX_ERROR
from synthspec.compiler.syntax import Block, Call, Choice, Date, Field, Header, Import, Module, Node, Quantity, Range, Ref, Require, String, Value

# Names users read instead of terminal names.
_TOKEN_WORDS = {
    "NAME": "a name", "NUMBER": "a number", "INT": "a whole number", "UNIT": "a unit",
    "STRING": "a quoted string", "DATE": "a date (YYYY-MM-DD)", "CMP": "a comparison (>=, <=, ==, >, <)",
    "_NL": "a new line", "LBRACE": "`{`", "RBRACE": "`}`", "COLON": "`:`", "COMMA": "`,`",
    "LPAR": "`(`", "RPAR": "`)`", "LSQB": "`[`", "RSQB": "`]`", "DOT": "`.`", "__ANON_0": "`..`",
    "$END": "the end of the file", "SYNTH": "`synth`", "IMPORT": "`import`", "REQUIRE": "`require`",
    "EXTENDS": "`extends`", "CLIPPED": "`clipped`", "AS": "`as`", "SEMICOLON": "`;`",
}
# What an unexpected token is called in "unexpected NOUN `text`"; keywords and punctuation have none.
_TOKEN_NOUNS = {"NAME": "name", "NUMBER": "number", "INT": "number", "UNIT": "unit", "STRING": "string",
                "DATE": "date", "CMP": "comparison"}
_KEYWORDS = {"SYNTH", "IMPORT", "REQUIRE", "EXTENDS", "CLIPPED", "AS"}
_SKIPPED = {"COMMENT", "__IGNORE_0"}

MAX_NESTING = 64
"""How deep blocks and calls may nest (`{` and `(` together).  Real specs need four
levels; the limit keeps every recursive pass (transformer, elaborator, formatter)
far from Python's recursion limit, so a pathological file is one diagnostic."""


class _TooDeep(Exception):
    def __init__(self, token: Token):
        super().__init__(token)
        self.token = token


class _State(threading.local):
    """Per-parse state (per thread): the nesting depth and the file being read."""

    depth = 0
    file = "<spec>"


_STATE = _State()


def _open(token: Token) -> Token:
    _STATE.depth += 1
    if _STATE.depth > MAX_NESTING:
        raise _TooDeep(token)
    return token


def _close(token: Token) -> Token:
    if _STATE.depth > 0:
        _STATE.depth -= 1
    return token


_setattr = object.__setattr__


_FIELDS_SET: dict = {}
"""One `__pydantic_fields_set__` per node class, shared by its nodes: the builder always passes every
field, so the set is complete and never grows; a private set per node cost half of a large parse's
peak memory."""


def _fast_new(cls, values: dict):
    """`cls.model_construct(**values)` without its per-call overhead; every field is passed."""
    node = cls.__new__(cls)
    _setattr(node, "__dict__", values)
    shared = _FIELDS_SET.get(cls)
    if shared is None or len(shared) != len(values):  # the builder always passes every field of its class
        shared = _FIELDS_SET[cls] = set(values)
    _setattr(node, "__pydantic_fields_set__", shared)
    _setattr(node, "__pydantic_extra__", None)
    _setattr(node, "__pydantic_private__", None)
    return node


def _construct_new(cls, values: dict):
    return cls.model_construct(**values)


def _pick_new():
    """Use the fast constructor only if it builds exactly what `model_construct` builds."""
    values = {"file": "f", "line": 1, "column": 2, "end_line": 3, "end_column": 4}
    try:
        fast, slow = _fast_new(Span, dict(values)), Span.model_construct(**values)
        same = (fast == slow and hash(fast) == hash(slow) and fast.model_dump() == slow.model_dump()
                and all(getattr(fast, a, None) == getattr(slow, a, None)
                        for a in ("__pydantic_fields_set__", "__pydantic_extra__", "__pydantic_private__")))
    except Exception:
        same = False
    return _fast_new if same else _construct_new


_new = _pick_new()


def _tok_span(file: str, tok: Token) -> Span:
    return _new(Span, {"file": file, "line": tok.line, "column": tok.column,
                       "end_line": tok.end_line or tok.line, "end_column": tok.end_column or tok.column})


def _span(file: str, children) -> Span:
    """From the first to the last positioned child (tokens, punctuation and new lines included).

    The same rule as lark's `propagate_positions`: a node starts where its first
    token or child node starts and ends where its last one ends.
    """
    first = last = None
    for c in children:
        if isinstance(c, (Token, Node)):
            first = c
            break
    if first is None:
        return _new(Span, {"file": file, "line": 1, "column": 1, "end_line": 0, "end_column": 0})
    for c in reversed(children):
        if isinstance(c, (Token, Node)):
            last = c
            break
    if type(first) is Token:
        line, column = first.line, first.column
    else:
        line, column = first.span.line, first.span.column
    if type(last) is Token:
        end_line, end_column = last.end_line, last.end_column
    else:
        end_line, end_column = last.span.end_line, last.span.end_column
    return _new(Span, {"file": file, "line": line, "column": column, "end_line": end_line, "end_column": end_column})


class _BuildError(Exception):
    """A node could not be built (e.g. a header number too long to read)."""

    def __init__(self, rule: str, children, error: Exception):
        super().__init__(rule, error)
        self.rule, self.children, self.error = rule, children, error


def _guard(method):
    """Turn any failure to build a node into a `_BuildError` carrying where it happened."""

    @functools.wraps(method)
    def build(self, children):
        try:
            return method(self, children)
        except _BuildError:
            raise
        except Exception as error:  # a value Python cannot hold; a diagnostic, never a crash
            raise _BuildError(method.__name__, children, error) from None
    return build


def _between(file: str, first: Span, last: Span) -> Span:
    return _new(Span, {"file": file, "line": first.line, "column": first.column,
                       "end_line": last.end_line, "end_column": last.end_column})


def _kept(children) -> list:
    """The children that are syntax nodes (punctuation, new lines and placeholders dropped)."""
    return [c for c in children if isinstance(c, Node)]


class _Build:
    """Builds syntax nodes while the LALR parser reduces (lark's inline transformer).

    No parse tree is made and no second pass runs: each method gets a rule's
    children (every token kept, `keep_all_tokens=True`, so spans can cover
    keywords, brackets and braces) and returns the node.  Spans follow lark's
    `propagate_positions` rule exactly (see `_span`).  The file name is per-parse
    state in `_STATE`.
    """

    @property
    def file(self) -> str:
        return _STATE.file

    @_guard
    def start(self, c):
        return _new(Module, {"span": _span(self.file, c), "file": self.file, "items": _kept(c)})

    @_guard
    def header(self, c):
        return _new(Header, {"span": _span(self.file, c), "version": int(c[1])})

    @_guard
    def import_stmt(self, c):
        target = c[1]
        alias = str(c[3]) if len(c) > 3 else None
        if isinstance(target, Token):  # a quoted path
            return _new(Import, {"span": _span(self.file, c), "target": _unquote(str(target)), "is_path": True,
                                 "alias": alias})
        return _new(Import, {"span": _span(self.file, c), "target": target.name, "is_path": False, "alias": alias})

    @_guard
    def block(self, c):
        brace = next(i for i, x in enumerate(c) if type(x) is Token and x.type == "LBRACE")
        head = c[1:brace]  # [name placeholder or Ref, then `extends` and its Ref or placeholders]
        extends = next((x for x in head[1:] if isinstance(x, Ref)), None)
        return _new(Block, {"span": _span(self.file, c), "kind": str(c[0]), "name": head[0] if head else None,
                            "extends": extends, "items": _kept(c[brace + 1:])})

    @_guard
    def require(self, c):
        weight = next((x for x in c if type(x) is float), None)
        colon = next((i for i, x in enumerate(c) if type(x) is Token and x.type == "COLON"), None)
        label = str(c[colon - 1]) if colon is not None else None
        op = next(i for i, x in enumerate(c) if type(x) is Token and x.type == "CMP")
        left = next(x for x in reversed(c[:op]) if isinstance(x, Node))
        right = next(x for x in c[op + 1:] if isinstance(x, Node))
        return _new(Require, {"span": _span(self.file, c), "label": label or None, "weight": weight,
                              "left": left, "op": str(c[op]), "right": right})

    @_guard
    def weight_spec(self, c):
        return float(c[1])

    # The rules below run for nearly every token, cannot fail on what the grammar lets
    # through, and know where their first and last child are: no guard, no search.

    def value(self, c):  # [choice, (",", choice)*]
        return _new(Value, {"span": _between(self.file, c[0].span, c[-1].span), "choices": c[::2]})

    def choice(self, c):  # [atom, quantity or None]
        atom, weight = c
        return _new(Choice, {"span": _between(self.file, atom.span, (weight or atom).span), "atom": atom, "weight": weight})

    def range(self, c):  # [low, "..", high]
        return _new(Range, {"span": _between(self.file, c[0].span, c[2].span), "low": c[0], "high": c[2]})

    def quantity(self, c):  # [NUMBER, UNIT or None]
        number, unit = c
        last = unit or number
        return _new(Quantity, {"span": _new(Span, {"file": self.file, "line": number.line, "column": number.column,
                                                   "end_line": last.end_line, "end_column": last.end_column}),
                               "number": float(number), "text": str(number), "unit": str(unit) if unit is not None else None})

    def field(self, c):  # [NAME, ":", value]
        key, _, value = c
        key_span = _tok_span(self.file, key)
        end = value.span
        return _new(Field, {"span": _new(Span, {"file": self.file, "line": key.line, "column": key.column,
                                                "end_line": end.end_line, "end_column": end.end_column}),
                            "key": str(key), "key_span": key_span, "value": value})

    def call(self, c):  # [NAME, "(", args and "," ..., ")", "clipped" and range, or placeholders]
        close = next(i for i, x in enumerate(c) if type(x) is Token and x.type == "RPAR")
        clip = next((x for x in c[close + 1:] if isinstance(x, Node)), None)
        first = c[0]
        last = clip.span if clip is not None else c[close]
        return _new(Call, {"span": _new(Span, {"file": self.file, "line": first.line, "column": first.column,
                                               "end_line": last.end_line, "end_column": last.end_column}),
                           "name": str(first), "args": _kept(c[2:close]), "clip": clip})

    def ref(self, c):
        return c[0]

    def dotted(self, c):  # [NAME, (".", NAME)*]
        first, last = c[0], c[-1]
        return _new(Ref, {"span": _new(Span, {"file": self.file, "line": first.line, "column": first.column,
                                              "end_line": last.end_line, "end_column": last.end_column}),
                          "parts": [str(t) for t in c[::2]]})

    def string(self, c):
        raw = str(c[0])
        return _new(String, {"span": _tok_span(self.file, c[0]), "value": _unquote(raw), "raw": raw})

    def date(self, c):
        return _new(Date, {"span": _tok_span(self.file, c[0]), "value": str(c[0])})


_BUILD = _Build()


def _unquote(raw: str) -> str:
    body = raw[1:-1]
    return body.replace('\\"', '"').replace("\\\\", "\\") if "\\" in body else body


def _cache_file(grammar: str) -> str | bool:
    """A per-user cache file for the built parser, or False when there is no safe place for one.

    lark's own `cache=True` writes a pickle to a predictable name in the shared
    temporary folder and loads it back with `pickle.load`; anyone who can create
    that file first could run code in every later `synth check`.  The cache lives
    in the user's own cache folder instead, and only if that folder is private.
    """
    if os.environ.get("SYNTH_NO_PARSER_CACHE"):
        return False
    try:
        import hashlib

        import lark

        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        folder = os.path.join(base, "synthspec")
        os.makedirs(folder, mode=0o700, exist_ok=True)
        info = os.stat(folder)
        if hasattr(os, "getuid") and (info.st_uid != os.getuid() or info.st_mode & 0o022):
            return False
        digest = hashlib.sha256(f"{grammar}\0flags={_REGEX_FLAGS}".encode("utf-8")).hexdigest()[:16]
        return os.path.join(folder, f"parser-{digest}-lark{lark.__version__}-py{sys.version_info[0]}{sys.version_info[1]}.pickle")
    except (OSError, ValueError, RuntimeError):
        return False


_REGEX_FLAGS = re.ASCII
"""`\\d` matches 0-9 only (and `\\w`, `\\s` ASCII only), whatever the grammar file says."""


@lru_cache(maxsize=1)
def _parser() -> Lark:
    from synthspec.grammar import GRAMMAR_PATH

    grammar = GRAMMAR_PATH.read_text(encoding="utf-8")
    return Lark(grammar, parser="lalr", lexer="contextual", keep_all_tokens=True, maybe_placeholders=True,
                transformer=_BUILD, cache=_cache_file(grammar), g_regex_flags=_REGEX_FLAGS,
                lexer_callbacks={"LBRACE": _open, "LPAR": _open, "RBRACE": _close, "RPAR": _close})


def _expected_words(expected) -> str:
    words = sorted({_TOKEN_WORDS.get(t, f"`{t.lower()}`" if t.isalpha() else t) for t in expected if t not in _SKIPPED})
    if not words:
        return ""
    if len(words) > 6:
        words = words[:6] + ["…"]
    return "expected " + ", ".join(words)


def syntax_diagnostic(file: str, text: str, error: UnexpectedInput) -> Diagnostic:
    """Turn a lark error into one positioned diagnostic with what was expected."""
    line, column = getattr(error, "line", 1) or 1, getattr(error, "column", 1) or 1
    if isinstance(error, UnexpectedCharacters):
        char = text[error.pos_in_stream] if 0 <= error.pos_in_stream < len(text) else "?"
        if char.isdigit() and not char.isascii():
            from synthspec.compiler.text import describe

            codepoint, name = describe(char)
            span = Span(file=file, line=line, column=column, end_line=line, end_column=column + 1)
            return NON_ASCII_DIGIT.diagnostic(span, codepoint=codepoint, char_name=name)
        if char == '"':
            detail = "unterminated string (a closing `\"` is missing on this line)"
        elif char == "\ufeff" and error.pos_in_stream == 0:
            detail = "the file starts with a byte-order mark (U+FEFF)"
        else:
            detail = f"unexpected character {_describe_char(char)}"
        expected = _expected_words(error.allowed or ())
        if char == "\ufeff" and error.pos_in_stream == 0:
            expected = "re-save the file as UTF-8 without a byte-order mark"
    elif isinstance(error, UnexpectedEOF):
        line, column = _end_of_text(text)
        detail = "the file ends in the middle of a statement (a `}` may be missing)"
        expected = _expected_words(error.expected)
    elif isinstance(error, UnexpectedToken):
        tok = error.token
        if tok.type == "$END":
            line, column = _end_of_text(text)
            detail = "the file ends in the middle of a statement (a `}` may be missing)"
        elif tok.type == "_NL":
            detail = "the line ends too early"
        else:
            shown = str(tok) if len(str(tok)) <= 40 else str(tok)[:37] + "..."
            if tok.type in _KEYWORDS:
                detail = f"unexpected keyword `{shown}`"
            elif tok.type == "UNIT" and str(tok).isidentifier():
                detail = f"unexpected name `{shown}`"  # a word read as a unit: to a reader it is a name
            elif tok.type in _TOKEN_NOUNS:
                detail = f"unexpected {_TOKEN_NOUNS[tok.type]} `{shown}`"
            else:
                detail = f"unexpected `{shown}`"
        expected = _expected_words(error.accepts or error.expected)
    else:
        detail, expected = "cannot read this", ""
    span = Span(file=file, line=line, column=column, end_line=line, end_column=column + 1)
    return SYNTAX_ERROR.diagnostic(span, detail=detail, expected=expected or "check the statement's shape")


def _end_of_text(text: str) -> tuple[int, int]:
    """Line and column just after the last non-blank character, counting lines at `\n` as the lexer does."""
    body = text.rstrip(" \t\f\r\n")
    start = body.rfind("\n") + 1
    return body.count("\n") + 1, len(body) - start + 1


def _describe_char(char: str) -> str:
    if char.isprintable() and char.isascii():
        return repr(char)
    import unicodedata

    name = unicodedata.name(char, "")
    return f"{char!r} (U+{ord(char):04X}{' ' + name if name else ''})"


def _too_deep(file: str, token: Token) -> Diagnostic:
    span = Span(file=file, line=token.line or 1, column=token.column or 1,
                end_line=token.line or 1, end_column=(token.column or 1) + 1)
    return SYNTAX_ERROR.diagnostic(span, detail=f"blocks and calls are nested more than {MAX_NESTING} levels deep",
                                   expected="flatten the nesting (a spec needs only a few levels)")


def parse_text(text: str, file: str = "<spec>") -> tuple[Module | None, list[Diagnostic]]:
    """Parse one file's text; never raises on bad input.

    Returns the module and the text's own findings (SYN015), or None and what stopped the parse.
    """
    from synthspec.compiler.text import BIDI_CONTROLS, bidi_findings, control_findings

    bidi = bidi_findings(text, file) + control_findings(text, file)
    module, problems = _parse(text, file)
    if bidi and problems and problems[0].code == SYNTAX_ERROR.code:
        error = problems[0].span
        at = _offset(text, error.line, error.column)
        if 0 <= at < len(text) and text[at] in BIDI_CONTROLS:
            problems = []  # the parse stopped at a control character: its SYN015 says why
    return module, problems + bidi


def _offset(text: str, line: int, column: int) -> int:
    """The index of (line, column) in `text`, lines counted at `\\n`; -1 when outside it."""
    start = 0
    for _ in range(line - 1):
        start = text.find("\n", start) + 1
        if start == 0:
            return -1
    return start + column - 1


def _parse(text: str, file: str) -> tuple[Module | None, list[Diagnostic]]:
    _STATE.depth = 0
    # A parse allocates hundreds of thousands of small objects and no cycles; the cyclic
    # garbage collector would otherwise rescan the growing heap again and again
    # (more than half the time on a 10,000-line spec).
    collecting = gc.isenabled()
    gc.disable()
    try:
        _STATE.file = file
        return _parser().parse(text), []
    except _TooDeep as error:
        return None, [_too_deep(file, error.token)]
    except UnexpectedInput as error:
        if isinstance(getattr(error, "orig_exc", None), _TooDeep):
            return None, [_too_deep(file, error.orig_exc.token)]
        return None, [syntax_diagnostic(file, text, error)]
    except _BuildError as error:  # a node could not be built (e.g. a number too long to read)
        where = _span(file, error.children)
        span = Span(file=file, line=where.line, column=where.column, end_line=where.end_line, end_column=where.end_column)
        return None, [SYNTAX_ERROR.diagnostic(span, detail=f"cannot read this {error.rule.replace('_stmt', '')}: {error.error}",
                                              expected="check the value")]
    except RecursionError:  # only when the caller's own stack is already deep: the nesting limit keeps ours short
        return None, [SYNTAX_ERROR.diagnostic(Span(file=file), detail="the spec is nested too deeply to read",
                                              expected="flatten the nesting")]
    finally:
        _STATE.depth = 0
        if collecting:
            gc.enable()
