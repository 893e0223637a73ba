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


def lesion_record_mismatch(lesions, record: dict) -> tuple[set[int], str | None]:
    """(lesion ids present in the mask, why the mask and the subject record disagree or None): the
    `lesion_record` check of the hand and head families."""
    import numpy as np

    recorded = {int(l["id"]) for l in record.get("lesions") or [] if "id" in l}
    present = {int(i) for i in np.unique(lesions) if i != 0}
    parts = []
    if recorded - present:
        parts.append(f"recorded lesion(s) {', '.join(map(str, sorted(recorded - present)))} have no voxels")
    if present - recorded and record.get("lesions") is not None:
        parts.append(f"mask lesion id(s) {', '.join(map(str, sorted(present - recorded)))} are not recorded")
    return present, ("; ".join(parts) if parts else None)
