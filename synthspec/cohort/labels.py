"""The cohort's label table: which id in labels.nii.gz is which structure, of which tissue.

The table is read once from the stdlib family definition when the plan is lowered and carried
in the plan (`Plan.labels`); everything that needs "the lung labels" or "the name of label 12"
asks here, never a copy of the numbers.
"""

from __future__ import annotations


def _table(plan) -> list:
    return [entry for entry in plan.labels if entry.kind == "anatomy"]


def ids(plan, *, tissue: str | None = None, group: str | None = None, written_only: bool = True) -> tuple[int, ...]:
    """Label ids of the anatomy with this tissue and/or group (all anatomy labels when neither is given)."""
    return tuple(sorted(e.id for e in _table(plan)
                        if (tissue is None or e.tissue == tissue) and (group is None or e.group == group)
                        and (e.written or not written_only)))


def names(plan) -> dict[int, str]:
    return {e.id: e.name for e in _table(plan)}


def tissues(plan) -> dict[int, str]:
    return {e.id: e.tissue for e in _table(plan)}


def lung_ids(plan) -> tuple[int, ...]:
    """The lung parenchyma labels (lobes), as the family's table gives them."""
    return ids(plan, tissue="lung")
