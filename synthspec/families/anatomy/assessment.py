"""What an anatomy family's acceptance checks return for one subject: failures, skips and measurements.

Shared by every anatomy family (thorax, hand): the re-draw loop reads `reasons`, `synth validate` the
failures and skips by check name and the measurements.  It checks nothing itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class SubjectAnatomy:
    """Everything checked on one subject: failures and skips by check, and the measurements."""

    failures: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    measures: dict = field(default_factory=dict)

    def fail(self, check: str, message: str) -> None:
        self.failures.append((check, message))

    def skip(self, check: str, message: str) -> None:
        self.skipped.append((check, message))

    @property
    def reasons(self) -> list[str]:
        return [f"{check}: {message}" for check, message in self.failures]
