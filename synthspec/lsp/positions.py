"""Positions: compiler spans to LSP ranges and LSP positions to compiler columns.

The compiler counts lines and columns from 1, in characters (code points) of the text after
`compiler.text.newlines` (every `\\r\\n` and lone `\\r` read as `\\n`, as LSP counts lines too).
LSP counts both from 0, and columns in the code units of the negotiated position encoding:
UTF-16 unless the client offered UTF-8 or UTF-32.  A character outside the Basic Multilingual
Plane is one compiler column, two UTF-16 units and four UTF-8 units.

Pure functions on strings and tuples; no pygls here, so the conversions are tested on their own.
It does not decide where a finding is (the compiler does); it only re-counts.
"""

from __future__ import annotations

from synthspec.compiler.text import newlines

UTF8, UTF16, UTF32 = "utf-8", "utf-16", "utf-32"


def lines_of(text: str) -> list[str]:
    """The text's lines as the compiler and LSP count them (without their line breaks)."""
    return newlines(text).split("\n")


def units(chars: str, encoding: str = UTF16) -> int:
    """How many code units of `encoding` the characters take."""
    if encoding == UTF32 or chars.isascii():
        return len(chars)
    if encoding == UTF8:
        return len(chars.encode("utf-8", "surrogatepass"))
    return len(chars) + sum(1 for c in chars if ord(c) > 0xFFFF)


def to_client(lines: list[str], line: int, column: int, encoding: str = UTF16) -> tuple[int, int]:
    """A compiler position (1-based line, 1-based code-point column) as an LSP (line, character).

    Positions past the text are clamped to it: a finding "at the end" of a file that ends in a
    newline is placed at the end of its last line."""
    index = min(max(line, 1), len(lines)) - 1
    text = lines[index]
    return index, units(text[:max(column, 1) - 1], encoding)


def span_range(lines: list[str], span, encoding: str = UTF16) -> tuple[tuple[int, int], tuple[int, int]]:
    """The LSP range of a compiler `Span`; a span without an end covers the rest of its line
    (a whole-file finding, `Span(file=...)`, underlines the first line)."""
    start = to_client(lines, span.line, span.column, encoding)
    if span.end_line >= span.line and span.end_line > 0 and (span.end_line, span.end_column) > (span.line, span.column):
        end = to_client(lines, span.end_line, span.end_column, encoding)
    else:
        index = start[0]
        end = (index, units(lines[index], encoding))
    if end <= start:  # an empty line: a zero-width range still shows, at the line's start
        end = start
    return start, end


def from_client(lines: list[str], line: int, character: int, encoding: str = UTF16) -> tuple[int, int]:
    """An LSP (line, character) as a 0-based (line, code-point index) into `lines`, clamped to the text.

    A character inside a surrogate pair or a UTF-8 sequence counts as the character it falls in."""
    if not lines:
        return 0, 0
    index = min(max(line, 0), len(lines) - 1)
    text = lines[index]
    if encoding == UTF32 or text.isascii():
        return index, min(max(character, 0), len(text))
    counted = 0
    for position, char in enumerate(text):
        if counted >= character:
            return index, position
        counted += units(char, encoding)
    return index, len(text)


def end_of(text: str, encoding: str = UTF16) -> tuple[int, int]:
    """The LSP position just past the last character of `text` (for a whole-document edit)."""
    lines = lines_of(text)
    return len(lines) - 1, units(lines[-1], encoding)
