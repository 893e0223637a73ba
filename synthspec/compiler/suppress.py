"""In-file suppressions: `# synth: ignore[CODE] reason` on a line, `# synth: ignore-file[CODE] reason` for a file.

A suppression must name codes and give a reason; unused ones are reported.
Suppressed diagnostics are kept (marked) so SARIF can list them as suppressed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from synthspec.compiler.diagnostics import Diagnostic, Span
from synthspec.compiler.rules import syntax as S

_MARK = re.compile(r"#\s*synth:\s*(ignore-file|ignore)\b(?:\[([^\]]*)\])?\s*(.*)$")


@dataclass
class Suppression:
    line: int
    column: int
    whole_file: bool
    codes: list[str]
    reason: str
    used: bool = False


def comment_start(line: str) -> int:
    """Index of the `#` that starts a comment, ignoring `#` inside strings; -1 if none."""
    in_string = escaped = False
    for i, ch in enumerate(line):
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch == "#":
            return i
    return -1


def is_line_suppression(comment: str) -> bool:
    """Whether a comment (from its `#`) is a `# synth: ignore[...]` of its own line (not `ignore-file`)."""
    match = _MARK.match(comment)
    return match is not None and match.group(1) == "ignore"


def scan(text: str, file: str) -> tuple[list[Suppression], list[Diagnostic]]:
    found, problems = [], []
    if "ignore" not in text:  # no marker can match: skip the per-line scan (most files)
        return found, problems
    # Lines are counted at `\n` only, as the parser counts them: `str.splitlines` would also
    # split at form feeds, U+2028 and friends and put suppressions on the wrong line.
    for number, line in enumerate(text.split("\n"), start=1):
        if "#" not in line:
            continue
        line = line.removesuffix("\r")
        start = comment_start(line)
        if start < 0:
            continue
        match = _MARK.search(line, start)
        if not match:
            continue
        span = Span(file=file, line=number, column=start + 1, end_line=number, end_column=len(line) + 1)
        kind, codes, reason = match.group(1), match.group(2), match.group(3).strip()
        if codes is None or not codes.strip():
            problems.append(S.BAD_SUPPRESSION.diagnostic(span, problem="names no rule code (blanket suppressions are not allowed)"))
            continue
        if not reason:
            problems.append(S.BAD_SUPPRESSION.diagnostic(span, problem="gives no reason"))
            continue
        code_list = [c.strip().upper() for c in codes.split(",") if c.strip()]
        found.append(Suppression(number, start + 1, kind == "ignore-file", code_list, reason))
    return found, problems


def apply(diagnostics: list[Diagnostic], suppressions: dict[str, list[Suppression]]) -> list[Diagnostic]:
    """Mark suppressed diagnostics; add SYN011 for suppressions that matched nothing.

    A diagnostic is covered by the first suppression, in the file's order, that names its code and
    sits on its first or last line or covers the whole file.  Suppressions are indexed by line and,
    file-wide ones, by code, so the work is linear in findings plus suppressions."""
    by_line: dict[tuple[str, int], list[tuple[Suppression, frozenset]]] = {}
    whole: dict[tuple[str, str], Suppression] = {}
    for file, items in suppressions.items():
        for s in items:
            if s.whole_file:
                for code in s.codes:
                    whole.setdefault((file, code), s)  # the first one in the file wins
            else:
                by_line.setdefault((file, s.line), []).append((s, frozenset(s.codes)))
    from synthspec.compiler.config import ALWAYS_REPORTED

    for d in diagnostics:
        if d.code in ("SYN010", "SYN011") or d.code in ALWAYS_REPORTED:   # those are never suppressed
            continue
        file = d.span.file
        found = [s for s, codes in by_line.get((file, d.span.line), ()) if d.code in codes]
        if d.span.end_line != d.span.line:
            found += [s for s, codes in by_line.get((file, d.span.end_line), ()) if d.code in codes]
        everywhere = whole.get((file, d.code))
        if everywhere is not None:
            found.append(everywhere)
        if found:
            s = min(found, key=_order)
            d.suppressed, d.suppression_reason, s.used = True, s.reason, True
    extra = []
    for file, items in suppressions.items():
        for s in items:
            if not s.used:
                for code in s.codes:
                    extra.append(S.UNUSED_SUPPRESSION.diagnostic(Span(file=file, line=s.line, column=s.column), code=code))
    return diagnostics + extra


def _order(s: Suppression) -> tuple[int, int]:
    return (s.line, s.column)
