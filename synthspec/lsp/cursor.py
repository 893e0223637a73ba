"""Cursor: what the editor's cursor is on, for hover and completion.

Structure comes from the compiler: the blocks around the cursor are found in the syntax tree of
`compiler.parse.parse_text`.  While the user types, the buffer often does not parse (`scanners: ct.`
ends in a dot), so the text is parsed again with the cursor's line left blank, then also each line
the parser reports it stops at (a few times), and failing that the last tree that parsed is used.  Only the cursor's own line is read directly, and only for what the
tree cannot hold while it is half written: the word under the cursor, the `key:` the cursor stands
after, whether it sits in a comment (`compiler.suppress.comment_start`, the formatter's finder).

It does not decide what a name means (see `knowledge`) and reads no file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from synthspec.compiler.parse import parse_text
from synthspec.compiler.suppress import comment_start
from synthspec.compiler.syntax import Block, Field, Module, Ref

_WORD = re.compile(r"[A-Za-z0-9_.]")
_KEY = re.compile(r"[\t \f]*([A-Za-z_][A-Za-z0-9_]*)[\t \f]*:")
_BARE = re.compile(r"[\t \f]*([A-Za-z_][A-Za-z0-9_]*)?")
_IMPORT = re.compile(r"[\t \f]*import[\t \f]+([A-Za-z0-9_.]*)$")


@dataclass
class Cursor:
    """A cursor at 0-based `line` and code-point `column`, and what surrounds it."""

    line: int
    column: int
    source: str
    """The cursor's line."""
    word: str = ""
    """The dotted name under the cursor (`ct.midrange_64`), or ""."""
    start: int = 0
    end: int = 0
    """The word's code-point columns (end exclusive); `start` also begins the text a completion replaces."""
    key: str | None = None
    """The field whose value the cursor is in (`scanners` in `scanners: ct.mi|`)."""
    on_key: bool = False
    """The word under the cursor is that field's key, not part of its value."""
    at_key: bool = False
    """Nothing but a (partial) word before the cursor on its statement: a key or a block kind goes here."""
    importing: bool = False
    in_comment: bool = False
    blocks: list[Block] = field(default_factory=list)
    """The blocks around the cursor, outermost first."""
    module: Module | None = None

    @property
    def block(self) -> Block | None:
        return self.blocks[-1] if self.blocks else None

    def outer(self, kind: str) -> Block | None:
        """The nearest enclosing block of `kind`."""
        return next((b for b in reversed(self.blocks) if b.kind == kind), None)

    @property
    def prefix(self) -> str:
        """The part of the word before the cursor: what a completion is filtered by."""
        return self.source[self.start:self.column]


def tree(text: str, line: int, fallback: Module | None = None, attempts: int = 4) -> Module | None:
    """The syntax tree of `text`; else of `text` with line `line` (0-based) and then each line the parser
    stops at left blank (a few times); else `fallback`."""
    module, errors = parse_text(text, "<buffer>")
    lines = text.split("\n")
    blank = line
    for _ in range(attempts):
        if module is not None:
            return module
        if not 0 <= blank < len(lines) or not lines[blank].strip():
            break
        lines[blank] = ""
        module, errors = parse_text("\n".join(lines), "<buffer>")
        blank = errors[0].span.line - 1 if errors else -1
    return module if module is not None else fallback


def _contains(block: Block, line: int, column: int) -> bool:
    s = block.span
    end = (s.end_line, s.end_column) if s.end_line else (s.line, s.column)
    return (s.line, s.column) <= (line, column) < end


def enclosing(module: Module | None, line: int, column: int) -> list[Block]:
    """The blocks whose span holds the 1-based position, outermost first."""
    out: list[Block] = []
    items = module.blocks() if module is not None else []
    while True:
        inner = next((b for b in items if _contains(b, line, column)), None)
        if inner is None:
            return out
        out.append(inner)
        items = inner.blocks()


def at(text: str, line: int, column: int, fallback: Module | None = None) -> Cursor:
    """The cursor at 0-based `line` and code-point `column` of `text` (line breaks as `\\n`)."""
    lines = text.split("\n")
    source = lines[line] if 0 <= line < len(lines) else ""
    column = min(max(column, 0), len(source))
    start = column
    while start > 0 and _WORD.match(source[start - 1]):
        start -= 1
    end = column
    while end < len(source) and _WORD.match(source[end]):
        end += 1
    cursor = Cursor(line=line, column=column, source=source, word=source[start:end].strip("."), start=start, end=end)
    hash_at = comment_start(source)
    if 0 <= hash_at < column:
        cursor.in_comment = True
        return cursor
    before = source[:column]
    statement_start = max(before.rfind("{"), before.rfind(";")) + 1  # one-line blocks: `organ heart { label: 40; ...`
    key = _KEY.match(source, statement_start)
    if key is not None and key.start(1) == start and column <= key.end(1):
        cursor.key, cursor.on_key = key.group(1), True
    elif key is not None and column >= key.end():
        cursor.key = key.group(1)
    elif _IMPORT.match(before) is not None:
        cursor.importing = True
    elif _BARE.fullmatch(before, statement_start) is not None:
        cursor.at_key = True
    cursor.module = tree(text, line, fallback)
    cursor.blocks = enclosing(cursor.module, line + 1, column + 1)
    return cursor


def field_value(block: Block | None, key: str) -> str | None:
    """The single name a block's field holds (`anatomy: head_adult` -> `head_adult`), or None."""
    item: Field | None = block.field(key) if block is not None else None
    atom = item.value.single if item is not None else None
    return atom.name if isinstance(atom, Ref) else None
