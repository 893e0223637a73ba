"""Parse `.synth` text into a syntax tree, or into positioned syntax diagnostics.

The LALR parser is built once per process (and cached on disk by lark), with
the transformer applied inline so no intermediate parse tree is kept.  A bad
file never raises: `parse_text` returns `(None, [diagnostic])`.
"""

from __future__ import annotations

from functools import lru_cache

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError

from .diagnostics import Diagnostic, Span
from .rules.syntax import SYNTAX_ERROR
from .syntax import Block, Call, Choice, Date, Field, Header, Import, Module, Quantity, Range, Ref, Require, String, Value

# Names users read instead of terminal names.
_TOKEN_WORDS = {
    "NAME": "a name", "NUMBER": "a number", "INT": "a whole number", "UNIT": "a unit",
    "STRING": "a quoted string", "DATE": "a date (YYYY-MM-DD)", "CMP": "a comparison (>=, <=, ==, >, <)",
    "_NL": "a new line", "LBRACE": "`{`", "RBRACE": "`}`", "COLON": "`:`", "COMMA": "`,`",
    "LPAR": "`(`", "RPAR": "`)`", "LSQB": "`[`", "RSQB": "`]`", "DOT": "`.`", "__ANON_0": "`..`",
    "$END": "the end of the file", "SYNTH": "`synth`", "IMPORT": "`import`", "REQUIRE": "`require`",
    "EXTENDS": "`extends`", "CLIPPED": "`clipped`", "AS": "`as`",
}


def _span(file: str, meta) -> Span:
    if getattr(meta, "empty", True):
        return Span(file=file)
    return Span.model_construct(file=file, line=meta.line, column=meta.column,
                                end_line=meta.end_line, end_column=meta.end_column)


def _tok_span(file: str, tok: Token) -> Span:
    return Span.model_construct(file=file, line=tok.line, column=tok.column,
                                end_line=tok.end_line or tok.line, end_column=tok.end_column or tok.column)


@v_args(meta=True)
class _Build(Transformer):
    """Turns grammar matches into syntax nodes; `file` is set per parse."""

    file = "<spec>"

    def start(self, meta, items):
        return Module.model_construct(span=_span(self.file, meta), file=self.file, items=list(items))

    def header(self, meta, items):
        return Header.model_construct(span=_span(self.file, meta), version=int(items[0]))

    def import_stmt(self, meta, items):
        target, alias = items[0], (str(items[1]) if len(items) > 1 and items[1] is not None else None)
        if isinstance(target, Token):  # a quoted path
            return Import.model_construct(span=_span(self.file, meta), target=_unquote(str(target)), is_path=True, alias=alias)
        return Import.model_construct(span=_span(self.file, meta), target=target.name, is_path=False, alias=alias)

    def block(self, meta, items):
        kind, name, extends, *body = items
        return Block.model_construct(span=_span(self.file, meta), kind=str(kind), name=name, extends=extends, items=body)

    def field(self, meta, items):
        key, value = items
        return Field.model_construct(span=_span(self.file, meta), key=str(key), key_span=_tok_span(self.file, key), value=value)

    def require(self, meta, items):
        weight, label, left, op, right = items
        return Require.model_construct(span=_span(self.file, meta), label=str(label) if label else None,
                                       weight=weight, left=left, op=str(op), right=right)

    def weight_spec(self, meta, items):
        return float(items[0])

    def value(self, meta, items):
        return Value.model_construct(span=_span(self.file, meta), choices=list(items))

    def choice(self, meta, items):
        atom, weight = items
        return Choice.model_construct(span=_span(self.file, meta), atom=atom, weight=weight)

    def range(self, meta, items):
        return Range.model_construct(span=_span(self.file, meta), low=items[0], high=items[1])

    def quantity(self, meta, items):
        number, unit = items
        return Quantity.model_construct(span=_span(self.file, meta), number=float(number), text=str(number),
                                        unit=str(unit) if unit is not None else None)

    def call(self, meta, items):
        name, *rest = items
        clip = rest.pop() if rest else None
        args = [a for a in rest if a is not None]
        return Call.model_construct(span=_span(self.file, meta), name=str(name), args=args, clip=clip)

    def ref(self, meta, items):
        return items[0]

    def dotted(self, meta, items):
        return Ref.model_construct(span=_span(self.file, meta), parts=[str(t) for t in items])

    def string(self, meta, items):
        raw = str(items[0])
        return String.model_construct(span=_span(self.file, meta), value=_unquote(raw), raw=raw)

    def date(self, meta, items):
        return Date.model_construct(span=_span(self.file, meta), value=str(items[0]))


def _unquote(raw: str) -> str:
    body = raw[1:-1]
    return body.replace('\\"', '"').replace("\\\\", "\\") if "\\" in body else body


@lru_cache(maxsize=1)
def _parser() -> Lark:
    from ..grammar import GRAMMAR_PATH

    return Lark(GRAMMAR_PATH.read_text(encoding="utf-8"), parser="lalr", lexer="contextual",
                propagate_positions=True, maybe_placeholders=True, cache=True)


def _expected_words(expected) -> str:
    words = sorted({_TOKEN_WORDS.get(t, f"`{t.lower()}`" if t.isalpha() else t) for t in expected})
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
        detail = "unterminated string (a closing `\"` is missing on this line)" if char == '"' else f"unexpected character {char!r}"
        expected = _expected_words(error.allowed or ())
    elif isinstance(error, UnexpectedEOF):
        lines = text.splitlines() or [""]
        line, column = len(lines), len(lines[-1]) + 1
        detail = "the file ends in the middle of a statement (a `}` may be missing)"
        expected = _expected_words(error.expected)
    elif isinstance(error, UnexpectedToken):
        tok = error.token
        if tok.type == "$END":
            lines = text.splitlines() or [""]
            line, column = len(lines), len(lines[-1]) + 1
            detail = "the file ends in the middle of a statement (a `}` may be missing)"
        elif tok.type == "_NL":
            detail = "the line ends too early"
        else:
            word = _TOKEN_WORDS.get(tok.type, "token").removeprefix("a ").removeprefix("an ")
            detail = f"unexpected {word} `{tok}`"
        expected = _expected_words(error.accepts or error.expected)
    else:
        detail, expected = "cannot read this", ""
    span = Span(file=file, line=line, column=column, end_line=line, end_column=column + 1)
    return SYNTAX_ERROR.diagnostic(span, detail=detail, expected=expected or "check the statement's shape")


def parse_text(text: str, file: str = "<spec>") -> tuple[Module | None, list[Diagnostic]]:
    """Parse one file's text; never raises on bad input."""
    builder = _Build()
    builder.file = file
    try:
        tree = _parser().parse(text)
        return builder.transform(tree), []
    except UnexpectedInput as error:
        return None, [syntax_diagnostic(file, text, error)]
    except VisitError as error:  # a node could not be built (e.g. a number too large to read)
        span = Span(file=file, line=getattr(error.obj.meta, "line", 1), column=getattr(error.obj.meta, "column", 1))
        return None, [SYNTAX_ERROR.diagnostic(span, detail=f"cannot read this {error.rule}: {error.orig_exc}",
                                              expected="check the value")]
    except RecursionError:
        return None, [SYNTAX_ERROR.diagnostic(Span(file=file), detail="blocks are nested too deeply",
                                              expected="flatten the nesting")]
