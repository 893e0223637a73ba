"""Source text: the one decoder every reader of a spec uses, and the checks made on the text itself.

`decode` turns a spec's bytes into the text the compiler reads: UTF-8 only, and
every line break read as `\\n`: `\\r\\n` and a lone `\\r` are line breaks, as
editors and Python's universal newlines show them.  `synth check`, `synth fmt`,
the stdlib loader and the API all read through it, so what is a comment to one
is a comment to all, and a line number means the same line everywhere.

Text checks (they never stop the parse):

* bidirectional control characters (SYN015, "Trojan Source"): anywhere in the
  file, reported with the code point's number and name, never the character;
* non-ASCII digits (SYN016) are reported by the parser where one stands in
  code: the lexer reads ASCII digits only, so `subjects: \u0661\u0666` is never a number.
"""

from __future__ import annotations

import re
import unicodedata

from synthspec.compiler.diagnostics import Diagnostic, Sink, Span
from synthspec.compiler.rules import syntax as S

BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
_BIDI = re.compile("[" + "".join(sorted(BIDI_CONTROLS)) + "]")


def newlines(text: str) -> str:
    """`text` with every `\\r\\n` and every lone `\\r` read as `\\n`."""
    if "\r" not in text:
        return text
    return text.replace("\r\n", "\n").replace("\r", "\n")


def decode(data: bytes, file: str, sink: Sink) -> str | None:
    """A spec's bytes as the compiler reads them (see the module docstring); undecodable bytes are SYN005."""
    try:
        return newlines(data.decode("utf-8"))
    except UnicodeDecodeError as error:
        before = newlines(data[:error.start].decode("utf-8", "replace"))
        line = before.count("\n") + 1
        column = len(before) - (before.rfind("\n") + 1) + 1  # characters, as the parser counts
        sink.report(S.NOT_UTF8, Span(file=file, line=line, column=column), byte=data[error.start], offset=error.start)
        return None


def describe(char: str) -> tuple[str, str]:
    """`("U+202E", "RIGHT-TO-LEFT OVERRIDE")`: how a message names a character without showing it."""
    return f"U+{ord(char):04X}", unicodedata.name(char, "unnamed character")


class _Places:
    """Whether a position is in a string, a comment or code, for positions met in increasing order.

    Scans each character once (a long line with many findings stays linear); the rules are those of
    `suppress.comment_start`: `#` outside a string starts a comment, `\\` escapes inside a string."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.position = 0
        self.in_string = self.escaped = self.in_comment = False

    def at(self, index: int, line_start: int) -> str:
        """The place of `index`, which starts its line at `line_start`."""
        if self.position < line_start:  # a new line: start from its beginning
            self.position = line_start
            self.in_string = self.escaped = self.in_comment = False
        for ch in self.text[self.position:index]:
            if self.in_comment:
                continue
            elif self.in_string:
                if self.escaped:
                    self.escaped = False
                elif ch == "\\":
                    self.escaped = True
                elif ch == '"':
                    self.in_string = False
            elif ch == '"':
                self.in_string = True
            elif ch == "#":
                self.in_comment = True
        self.position = max(self.position, index)
        return "a comment" if self.in_comment else "a string" if self.in_string else "code"


def _matches(pattern: re.Pattern, text: str):
    """(character, line, column, place) of every match of `pattern`, in order; linear in the text's length.
    The place is "a string", "a comment" or "code" (see `_Places`)."""
    places = _Places(text)
    line, line_start, position = 1, 0, 0
    for match in pattern.finditer(text):
        index = match.start()
        breaks = text.count("\n", position, index)
        if breaks:
            line += breaks
            line_start = text.rfind("\n", position, index) + 1
        position = index
        yield match.group(), line, index - line_start + 1, places.at(index, line_start)


def _span(file: str, line: int, column: int) -> Span:
    return Span(file=file, line=line, column=column, end_line=line, end_column=column + 1)


def bidi_findings(text: str, file: str) -> list[Diagnostic]:
    """SYN015 for every bidirectional control character, in order."""
    if text.isascii():
        return []
    out: list[Diagnostic] = []
    for char, line, column, where in _matches(_BIDI, text):
        codepoint, name = describe(char)
        out.append(S.BIDI_CONTROL.diagnostic(_span(file, line, column), codepoint=codepoint, char_name=name, where=where))
    return out


_UNPRINTABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f" + "".join(sorted(BIDI_CONTROLS)) + "]")
"""Bidirectional controls and the C0/C1 control characters but tab, line feed and carriage return (never
in a source line, which is split at both; the github format escapes them in messages): a terminal would
act on them (ESC starts an escape sequence that can clear the screen or recolour the log), never show them."""


_CONTROLS = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")
"""Control characters a spec may not hold in a string or comment: all but tab, line feed, form feed
(a page break some editors write) and carriage return (read as a line break)."""
_CONTROL_NAMES = {0x00: "NULL", 0x07: "BELL", 0x08: "BACKSPACE", 0x0B: "LINE TABULATION", 0x0C: "FORM FEED",
                  0x1B: "ESCAPE", 0x7F: "DELETE", 0x9B: "CONTROL SEQUENCE INTRODUCER"}


def control_findings(text: str, file: str) -> list[Diagnostic]:
    """SYN017 for every control character of `_CONTROLS` inside a string or a comment (in code
    the parser already stops at it)."""
    if _CONTROLS.search(text) is None:
        return []
    out: list[Diagnostic] = []
    for char, line, column, where in _matches(_CONTROLS, text):
        if where == "code":
            continue
        code = ord(char)
        name = _CONTROL_NAMES.get(code) or ("C1 control" if code >= 0x80 else "C0 control")
        out.append(S.CONTROL_CHARACTER.diagnostic(_span(file, line, column), codepoint=f"U+{code:04X}", char_name=name,
                                                  where=where))
    return out


def shown(text: str) -> str:
    """`text` safe to print in a terminal: each control character (ESC, NUL, bidirectional controls ...)
    becomes U+FFFD, one column wide, so a caret under the line still lines up."""
    return _UNPRINTABLE.sub("\ufffd", text)
