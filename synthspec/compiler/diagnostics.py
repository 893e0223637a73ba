"""Diagnostics: what every compiler pass reports instead of raising.

A pass never raises on bad input; it appends a `Diagnostic` to a `Sink`.  Wording
lives with the rule (see `rules.registry`), so a code always reads the same.
"""

from __future__ import annotations

from enum import Enum

from pydantic import BaseModel, ConfigDict


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {"info": 0, "warning": 1, "error": 2}[self.value]


class Span(BaseModel):
    """A place in a source file; lines and columns count from 1."""

    model_config = ConfigDict(frozen=True)

    file: str
    line: int = 1
    column: int = 1
    end_line: int = 0
    end_column: int = 0

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


class Diagnostic(BaseModel):
    code: str
    name: str
    severity: Severity
    message: str
    span: Span
    hint: str | None = None
    suppressed: bool = False
    suppression_reason: str | None = None

    def sort_key(self):
        return (self.span.file, self.span.line, self.span.column, self.code)


class Sink:
    """Collects diagnostics for one compilation; passes only ever append."""

    def __init__(self) -> None:
        self.items: list[Diagnostic] = []

    def add(self, diagnostic: Diagnostic) -> None:
        self.items.append(diagnostic)

    def report(self, rule, span: Span, hint: str | None = None, **fields) -> None:
        """Report `rule` at `span`; the message template is filled from `fields`."""
        self.items.append(rule.diagnostic(span, hint=hint, **fields))

    @property
    def has_errors(self) -> bool:
        return any(d.severity is Severity.ERROR and not d.suppressed for d in self.items)

    def sorted(self) -> list[Diagnostic]:
        seen, out = set(), []
        for d in sorted(self.items, key=Diagnostic.sort_key):
            key = (d.code, d.span, d.message)
            if key not in seen:
                seen.add(key)
                out.append(d)
        return out
