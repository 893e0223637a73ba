"""`synth fmt`: print a `.synth` file in its one canonical layout, comments kept.

The formatter parses the file, prints the syntax tree again and puts back the
comments the lexer dropped.  The result is checked before it is returned: it
must parse to the same tree (spans aside) and carry the same comments in the
same order, otherwise no text is returned and an internal-error diagnostic is,
so a formatter bug can never damage a spec.

Layout
------
* Statements keep their order (the header is not moved: moving it would change
  the tree).  The usual order is `synth N`, imports, blocks.
* Top level: exactly one blank line around the header and around every block,
  and between an import and a top-level field; between two imports (or two
  top-level fields) a blank line the author wrote is kept (at most one).
  When a required blank line is missing it goes above the comments that lead
  into the next statement, so comments stay with what they describe.
* Blocks print as `kind name extends parent {`, one item per line indented by
  two spaces per level, and `}` at the block's own indentation.  A block that
  was written on one line and holds only fields stays on one line:
  `organ heart { label: 40; tissue: blood }` (the stdlib's organ tables).  A
  block with no items and no comments prints as `kind name {}`.
* Inside a block one blank line the author wrote between items (or between a
  comment and an item) is kept, runs of blank lines collapse to one, and blank
  lines right after `{` and right before `}` are dropped.
* Items: `key: value`, `require[w] label: left >= right`, `import x as y`,
  `synth N`; values print through the nodes' `source()`: `4mm..8 mm` becomes
  `4 mm .. 8 mm`, `70 %` becomes `70%`, list items are separated by `, `.
  Numbers keep their written digits (`0.40 lp/mm` stays), quoted strings are
  kept byte for byte.  A `require` weight is printed shortest (`[0.90]` ->
  `[0.9]`) unless that would change its value, then as written.
* Comments are kept verbatim (trailing whitespace removed):
  - a comment alone on its line stays on its own line, indented like the item
    it precedes (or like the block's items when it ends a block, at column 0
    at the end of the file);
  - a comment after code is a trailing comment of the last thing on that line:
    an item (`kv: 120 kV  # note`), a block's opening `{` or its closing `}`;
    it is printed two spaces after that thing.  When items joined by `;` are
    split onto their own lines, the comment follows the last of them.
* A line whose comment is a suppression (`# synth: ignore[CODE] reason`) is
  never split: its items stay on one line joined by `; ` (with the `{` or `}`
  that shared the line), so the suppression covers exactly the findings it
  covered before.
* Lines end in `\\n`: the text comes from `compiler.text.decode`, the decoder
  `synth check` uses, which reads `\\r\\n` and a lone `\\r` as line breaks, so
  the formatted file means what the checked one meant, and `synth fmt --check`
  reports a file with other line endings as one to reformat.  No line has
  trailing whitespace, the text ends with exactly one newline (an empty spec
  stays empty).  Formatting is idempotent.
"""

from __future__ import annotations

import os
import re
import stat
import tempfile
from pathlib import Path

from pydantic import BaseModel

from synthspec.compiler.diagnostics import Diagnostic, Span
from synthspec.compiler.parse import parse_text
from synthspec.compiler.rules.syntax import SYNTAX_ERROR
from synthspec.compiler.suppress import comment_start, is_line_suppression
from synthspec.compiler.syntax import Block, Field, Header, Import, Module, Node, Require
from synthspec.compiler.text import newlines

INDENT = "  "
TRAILING_GAP = "  "

_BLANK = None  # a blank line in a run of comment lines
_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"')
_WEIGHT = re.compile(r"\[[\t \f]*([^\]\t \f]+)[\t \f]*\]")
_NUMBER = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?")


class _Source:
    """The source split into lines, with each line's comment found."""

    def __init__(self, text: str) -> None:
        self.lines = newlines(text).split("\n")  # a no-op for `format_text`, which normalises first
        self.comments: dict[int, str] = {}
        self.alone: set[int] = set()
        """Lines whose comment has no code before it."""
        self.kept: set[int] = set()
        """Lines whose comment suppresses a finding on that line: never split."""
        for number, line in enumerate(self.lines, start=1):
            if "#" not in line:
                continue
            start = comment_start(line)
            if start >= 0:
                self.comments[number] = line[start:].rstrip()
                if not line[:start].strip(" \t\f;"):
                    self.alone.add(number)
                elif is_line_suppression(self.comments[number]):
                    self.kept.add(number)

    def line(self, number: int) -> str:
        return self.lines[number - 1] if 1 <= number <= len(self.lines) else ""

    def segment(self, node: Node) -> str:
        """The text of a one-line node."""
        return self.line(node.span.line)[node.span.column - 1:node.span.end_column - 1]

    def gap(self, after: int, before: int) -> list[str | None]:
        """Comment lines and blank lines strictly between two lines; blank runs collapsed."""
        out: list[str | None] = []
        for number in range(after + 1, before):
            if number in self.alone:
                out.append(self.comments[number])
            elif number not in self.comments and (not out or out[-1] is not _BLANK):
                out.append(_BLANK)  # blank, or a line holding only a stray `;`
        return out


class _Printer:
    def __init__(self, module: Module, source: _Source) -> None:
        self.module = module
        self.src = source
        self.trailing: dict[tuple[str, int], str] = {}
        self._attach_trailing()

    # -- trailing comments -------------------------------------------------

    def _attach_trailing(self) -> None:
        """Give each comment that follows code to the last thing on its line."""
        ends: dict[int, list[tuple[int, tuple[str, int]]]] = {}

        def walk(items) -> None:
            for item in items:
                span = item.span
                if isinstance(item, Block):
                    brace = self.src.line(span.line).find("{", span.column - 1)
                    ends.setdefault(span.line, []).append((brace + 2, ("open", id(item))))
                    ends.setdefault(span.end_line, []).append((span.end_column, ("close", id(item))))
                    walk(item.items)
                else:
                    ends.setdefault(span.end_line, []).append((span.end_column, ("item", id(item))))

        walk(self.module.items)
        for number, comment in self.src.comments.items():
            if number in self.src.alone:
                continue
            column = comment_start(self.src.line(number)) + 1
            candidates = [e for e in ends.get(number, []) if e[0] <= column]
            if candidates:
                self.trailing[max(candidates)[1]] = comment
            else:  # cannot happen for text that parsed; keep the comment on its own line
                self.src.alone.add(number)

    def _with_comment(self, text: str, slot: str, node: Node) -> str:
        comment = self.trailing.get((slot, id(node)))
        return f"{text}{TRAILING_GAP}{comment}" if comment else text

    # -- items -------------------------------------------------------------

    def render(self) -> str:
        out: list[str] = []
        self._body(self.module.items, 0, 0, len(self.src.lines) + 1, out, top=True)
        return "\n".join(out) + "\n" if out else ""

    def _body(self, items, depth: int, after: int, before: int, out: list[str], top: bool) -> None:
        indent = INDENT * depth
        previous = None
        for item in items:
            run = self.src.gap(after, item.span.line)
            if previous is None:
                run = _strip_blanks(run, leading=True)
            elif top and _needs_blank(previous, item) and _BLANK not in run:
                run.insert(0, _BLANK)
            out.extend("" if line is _BLANK else indent + line for line in run)
            if previous is not None and previous.span.end_line == item.span.line in self.src.kept:
                piece: list[str] = []  # it shares a suppressed line with the item before: keep them on one line
                self._item(item, depth, piece)
                out[-1] = f"{out[-1]}; {piece[0].lstrip()}"
                out.extend(piece[1:])
            else:
                self._item(item, depth, out)
            previous, after = item, item.span.end_line
        run = _strip_blanks(self.src.gap(after, before), leading=previous is None, trailing=True)
        out.extend("" if line is _BLANK else indent + line for line in run)

    def _item(self, item, depth: int, out: list[str]) -> None:
        if isinstance(item, Block):
            self._block(item, depth, out)
        else:
            out.append(self._with_comment(INDENT * depth + self._leaf(item), "item", item))

    def _leaf(self, item) -> str:
        if isinstance(item, Field):
            return f"{item.key}: {item.value.source()}"
        if isinstance(item, Require):
            return self._require(item)
        if isinstance(item, Import):
            return self._import(item)
        if isinstance(item, Header):
            return f"synth {item.version}"
        raise TypeError(f"cannot format a {type(item).__name__}")

    def _require(self, item: Require) -> str:
        text = item.source()
        if item.weight is not None:
            short = f"{item.weight:g}"
            if not _NUMBER.fullmatch(short) or float(short) != item.weight:
                written = _WEIGHT.search(self.src.segment(item))
                if written:  # `:g` would round the weight: keep the digits as written
                    text = f"require[{written.group(1)}]" + text[len(f"require[{short}]"):]
        return text

    def _import(self, item: Import) -> str:
        if item.is_path:
            written = _STRING.search(self.src.segment(item))
            target = written.group(0) if written else '"' + item.target.replace("\\", "\\\\").replace('"', '\\"') + '"'
        else:
            target = item.target
        return f"import {target}" + (f" as {item.alias}" if item.alias else "")

    def _block(self, block: Block, depth: int, out: list[str]) -> None:
        indent = INDENT * depth
        head = indent + block.kind
        if block.name is not None:
            head += f" {block.name.name}"
        if block.extends is not None:
            head += f" extends {block.extends.name}"
        one_line = block.span.line == block.span.end_line
        if one_line and block.items and all(isinstance(i, Field) for i in block.items):
            fields = "; ".join(self._leaf(i) for i in block.items)
            out.append(self._with_comment(f"{head} {{ {fields} }}", "close", block))
            return
        inner: list[str] = []
        self._body(block.items, depth + 1, block.span.line, block.span.end_line, inner, top=False)
        if not inner and ("open", id(block)) not in self.trailing:
            out.append(self._with_comment(f"{head} {{}}", "close", block))
            return
        lines = [self._with_comment(f"{head} {{", "open", block), *inner]
        close = self._with_comment(f"{indent}}}", "close", block)
        if block.items and block.span.line == block.items[0].span.line in self.src.kept:
            lines[0:2] = [f"{lines[0]} {lines[1].lstrip()}"]  # `{` and the first item share a suppressed line
        if block.items and block.items[-1].span.end_line == block.span.end_line in self.src.kept:
            lines[-1] = f"{lines[-1]} {close.lstrip()}"  # the last item and `}` share a suppressed line
        else:
            lines.append(close)
        out.extend(lines)


def _needs_blank(previous, item) -> bool:
    if isinstance(previous, (Header, Block)) or isinstance(item, (Header, Block)):
        return True
    return type(previous) is not type(item)


def _strip_blanks(run: list[str | None], leading: bool = False, trailing: bool = False) -> list[str | None]:
    start, end = 0, len(run)
    while leading and start < end and run[start] is _BLANK:
        start += 1
    while trailing and end > start and run[end - 1] is _BLANK:
        end -= 1
    return run[start:end]


def syntax_shape(node):
    """A node as nested tuples without positions: equal shapes mean the same spec."""
    if isinstance(node, BaseModel):
        return (type(node).__name__,) + tuple((name, syntax_shape(getattr(node, name)))
                                              for name in type(node).model_fields
                                              if name not in ("span", "key_span", "file"))
    if isinstance(node, list):
        return tuple(syntax_shape(x) for x in node)
    return node


def comments_of(text: str) -> list[str]:
    """Every `#` comment of a text in order, without trailing whitespace."""
    return list(_Source(text).comments.values())


def format_text(text: str, file: str = "<spec>") -> tuple[str | None, list[Diagnostic]]:
    """The canonical layout of `text`, or `(None, diagnostics)` when it does not parse.

    Line breaks are read as `synth check` reads them (`compiler.text.newlines`) before anything else,
    so the parser and the comment finder see the same lines."""
    text = newlines(text)
    module, problems = parse_text(text, file)
    if module is None:
        return None, problems
    try:
        formatted = _Printer(module, _Source(text)).render()
        again, _ = parse_text(formatted, file)
        same = again is not None and syntax_shape(again) == syntax_shape(module)
    except RecursionError:  # the parser reads deeper nesting than Python's stack lets us print
        return None, [SYNTAX_ERROR.diagnostic(Span(file=file), detail="blocks are nested too deeply to format",
                                              expected="flatten the nesting")]
    if not same:
        problem = "the formatted text does not read back as the same spec"
    elif comments_of(formatted) != comments_of(text):
        problem = "the formatted text lost or moved a comment"
    else:
        return formatted, []
    return None, [SYNTAX_ERROR.diagnostic(Span(file=file), detail=f"internal error in the formatter: {problem}; file left as it is",
                                          expected="please report this to the synthspec maintainers")]


def write_atomic(path: Path, text: str) -> None:
    """Replace `path` with `text` so readers see the old file or the new one, never half of one.

    The text goes to a temporary file in the same folder, is flushed to disk and
    renamed over the target; the target's permission bits are kept.  A symlink is
    followed, so the file it points at is rewritten and the link stays.
    """
    target = Path(os.path.realpath(path))
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        mode = 0o666 & ~_umask()
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, target)
    except BaseException:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        raise
    try:  # make the rename itself durable; not possible on every platform
        folder = os.open(target.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(folder)
    except OSError:
        pass
    finally:
        os.close(folder)


def _umask() -> int:
    current = os.umask(0o022)
    os.umask(current)
    return current
