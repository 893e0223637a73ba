"""Rules as units: a code, a readable name, a message, an explanation, a fix.

A rule's wording lives only here, so every place that reports it reads the
same.  Rules register themselves when their family module is imported;
`all_rules()` imports every family and returns the table sorted by code.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from synthspec.compiler.diagnostics import Diagnostic, Severity, Span

_RULES: dict[str, "Rule"] = {}
_CHECKS: list = []


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    severity: Severity
    message: str
    """One line, a `str.format` template filled from the report's fields."""
    why: str
    bad: str
    good: str
    fix: str | None = None
    """How to mend it; None where no mechanical fix exists."""
    family: str = field(default="")

    def diagnostic(self, span: Span, hint: str | None = None, **fields) -> Diagnostic:
        if hint is None and self.fix:
            hint = _fill(self.fix, fields)
        return Diagnostic(code=self.code, name=self.name, severity=self.severity,
                          message=_fill(self.message, fields), span=span, hint=hint)

    def explain(self) -> str:
        lines = [
            f"{self.code} {self.name} ({self.severity.value}, {self.family})",
            "",
            "What it does",
            f"  {self.message}",
            "",
            "Why it matters",
            *("  " + line for line in self.why.strip().splitlines()),
            "",
            "Example",
            *("    " + line for line in self.bad.strip().splitlines()),
            "",
            "Use instead",
            *("    " + line for line in self.good.strip().splitlines()),
        ]
        if self.fix:
            lines += ["", "Fix", f"  {self.fix}"]
        return "\n".join(lines) + "\n"


def _fill(template: str, fields: dict) -> str:
    try:
        return template.format(**fields)
    except (KeyError, IndexError):  # a missing field must not hide the finding
        return template


def rule(code: str, name: str, severity: str, message: str, *, why: str, bad: str, good: str,
         fix: str | None = None, family: str) -> Rule:
    if code in _RULES:
        raise ValueError(f"rule code {code} registered twice")
    made = Rule(code, name, Severity(severity), message, why, bad, good, fix, family)
    _RULES[code] = made
    return made


def check(function):
    """Register a model-level check: `function(ctx)` reports into `ctx.sink`."""
    _CHECKS.append(function)
    return function


def _load_families() -> None:
    from synthspec.compiler.rules import anatomy, governance, names, physics, population, ranges, syntax, taskfit, units  # noqa: F401


def all_rules() -> list[Rule]:
    _load_families()
    return [_RULES[c] for c in sorted(_RULES)]


def get_rule(code: str) -> Rule | None:
    _load_families()
    return _RULES.get(code.upper())


def model_checks() -> list:
    _load_families()
    return list(_CHECKS)
