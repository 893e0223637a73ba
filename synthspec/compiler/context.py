"""What a model-level rule sees: the checked cohort, the registry and a sink."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from functools import cached_property

from synthspec.compiler.diagnostics import Sink
from synthspec.compiler.elaborate import Definition
from synthspec.compiler.model import Cohort
from synthspec.compiler.resolve import Registry


@dataclass
class CheckContext:
    cohort: Cohort
    registry: Registry
    sink: Sink
    today: datetime.date = field(default_factory=datetime.date.today)

    @cached_property
    def family(self) -> Definition | None:
        return self.registry.get("anatomy", self.cohort.anatomy)

    @cached_property
    def organs(self) -> dict[str, Definition]:
        return {o.name: o for o in self.family.all("organ")} if self.family else {}

    @cached_property
    def groups(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for name, organ in self.organs.items():
            if organ.get("group"):
                out.setdefault(organ.get("group"), []).append(name)
        return out

    def expand(self, location: str) -> list[str]:
        """Organ names a location stands for: an organ, a group, or `group.organ`."""
        if "." in location:
            group, _, organ = location.partition(".")
            return [organ] if organ in self.groups.get(group, []) else []
        if location in self.organs:
            return [location]
        return list(self.groups.get(location, []))

    def kind(self, name: str | None) -> Definition | None:
        return self.registry.get("pathology_kind", name)

    def scanners(self) -> list[tuple[str, Definition]]:
        mix = self.cohort.scanners
        if mix is None:
            return []
        return [(n, self.registry.get("scanner", n)) for n in mix.names if self.registry.get("scanner", n) is not None]

    def vocabulary(self, key: str) -> list[str]:
        vocab = self.registry.vocabulary()
        return list(vocab.get(key, [])) if vocab else []
