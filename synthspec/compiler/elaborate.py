"""Elaborate: give a syntax block meaning against the schema.

Checks field and block names, units and dimensions, ranges, mixes and value
domains, and converts every value to canonical units.  The result is a
`Definition`: plain values plus the span of each field, so later rules can
point at what they judge.  Reports into a sink; never raises.
"""

from __future__ import annotations

import difflib
import math
from typing import Any

from pydantic import BaseModel
from pydantic import Field as ModelField

from synthspec.compiler import units
from synthspec.compiler.diagnostics import Sink, Span
from synthspec.compiler.rules import names as N
from synthspec.compiler.rules import ranges as R
from synthspec.compiler.rules import syntax as S
from synthspec.compiler.rules import units as U
from synthspec.compiler.schema import SCHEMAS, FieldType
from synthspec.compiler.syntax import Block, Call, Date, Field, Quantity, Range, Ref, Require, String
from synthspec.compiler.values import Dist, Mix

DISTRIBUTIONS = ("normal", "uniform", "lognormal")


class Definition(BaseModel):
    kind: str
    name: str | None = None
    span: Span
    values: dict[str, Any] = {}
    spans: dict[str, Span] = {}
    children: list["Definition"] = []
    requires: list[Require] = []
    extends: str | None = None
    invalid: list[str] = ModelField(default_factory=list, exclude=True)
    """Fields that were written but whose value was rejected (already reported); not `missing`."""

    def child(self, kind: str) -> "Definition | None":
        return next((c for c in self.children if c.kind == kind), None)

    def all(self, kind: str) -> list["Definition"]:
        return [c for c in self.children if c.kind == kind]

    def get(self, key: str, default=None):
        return self.values.get(key, default)

    def at(self, key: str) -> Span:
        return self.spans.get(key, self.span)


def suggest(word: str, choices, what: str = "") -> str:
    close = difflib.get_close_matches(word, list(choices), n=3, cutoff=0.6)
    if close:
        return "did you mean " + " or ".join(f"`{c}`" for c in close) + "?"
    choices = sorted(choices)
    if not choices:
        return f"define the {what} first" if what else "check the spelling"
    shown = ", ".join(f"`{c}`" for c in choices[:8]) + (", …" if len(choices) > 8 else "")
    return f"choose one of {shown}"


class Elaborator:
    def __init__(self, sink: Sink):
        self.sink = sink

    # -- blocks -----------------------------------------------------------------------
    def block(self, block: Block, parent: str | None = None) -> Definition | None:
        schema = SCHEMAS.get(block.kind)
        if schema is None:
            allowed = SCHEMAS[parent].children if parent else tuple(k for k in SCHEMAS if k in _top())
            self.sink.report(N.UNKNOWN_BLOCK, block.span, kind=block.kind, parent=parent or "the file",
                             suggestion=suggest(block.kind, allowed))
            return None
        out = Definition(kind=block.kind, name=block.name.name if block.name else None, span=block.span,
                         extends=block.extends.name if block.extends else None)
        seen: dict[str, Field] = {}
        for item in block.items:
            if isinstance(item, Field):
                if item.key in seen:
                    self.sink.report(S.DUPLICATE_FIELD, item.key_span, key=item.key, block=block.label,
                                     first=seen[item.key].span.line)
                    continue
                seen[item.key] = item
                ftype = schema.fields.get(item.key)
                if ftype is None and not schema.any_fields:
                    self.sink.report(N.UNKNOWN_FIELD, item.key_span, key=item.key, block=block.label,
                                     suggestion=suggest(item.key, schema.fields) if schema.fields else "remove it")
                    continue
                value = self.value(item, ftype or FieldType("any"))
                if value is not None:
                    out.values[item.key] = value
                    out.spans[item.key] = item.span
                else:
                    out.invalid.append(item.key)
            elif isinstance(item, Block):
                if item.kind not in schema.children:
                    self.sink.report(N.UNKNOWN_BLOCK, item.span, kind=item.kind, parent=block.label,
                                     suggestion=suggest(item.kind, schema.children) if schema.children else "move it to the top level")
                    continue
                child = self.block(item, block.kind)
                if child is not None:
                    out.children.append(child)
            elif isinstance(item, Require):
                if not schema.requires:
                    self.sink.report(N.UNKNOWN_BLOCK, item.span, kind="require", parent=block.label,
                                     suggestion="put `require` constraints inside a `pathology` block")
                    continue
                out.requires.append(item)
        return out

    def missing(self, out: Definition, label: str) -> None:
        """Report required fields absent after `extends` merging."""
        schema = SCHEMAS[out.kind]
        for key, ftype in schema.fields.items():
            # a field that is written but rejected has its own diagnostic; "missing" would be noise
            if ftype.required and key not in out.values and key not in out.invalid:
                self.sink.report(N.MISSING_REQUIRED, out.span, block=label, key=key)

    # -- values -----------------------------------------------------------------------
    def value(self, f: Field, t: FieldType):
        shape = t.shape
        handler = getattr(self, "_" + shape, None)
        if handler is None:  # free-form appearance entries: keep the source text and quantities
            return self._any(f)
        return handler(f, t)

    def _one(self, f: Field, expected: str):
        atom = f.value.single
        if atom is None:
            self.sink.report(N.WRONG_VALUE_KIND, f.value.span, key=f.key, expected=expected,
                             got="a list of values")
        return atom

    def _wrong(self, f: Field, node, expected: str):
        got = {Quantity: "a number", Ref: "a name", String: "a string", Date: "a date",
               Range: "a range", Call: "a function call"}.get(type(node), "this")
        self.sink.report(N.WRONG_VALUE_KIND, node.span, key=f.key, expected=expected, got=got)

    def quantity(self, f: Field, node: Quantity, t: FieldType, check_domain: bool = True) -> float | None:
        dim = t.dimension
        if dim == "count":
            if node.unit is not None and node.unit != "%":
                self.sink.report(U.UNEXPECTED_UNIT, node.span, key=f.key, unit=node.unit)
                return None
            value = node.number * (0.01 if node.unit == "%" else 1.0)
        else:
            if node.unit is None:
                if dim == "fraction":  # `0.7` means 70%, not 0.7%: suggest the percentage it stands for
                    suggested = f"{node.number * 100:g}%"
                else:
                    suggested = f"{node.text} {units.CANONICAL.get(dim, '')}".strip()
                self.sink.report(U.BARE_NUMBER, node.span, key=f.key, dimension=dim.replace("_", " "),
                                 text=node.text, example=units.CANONICAL.get(dim, ""), suggested=suggested)
                return None
            spec = units.lookup(node.unit)
            if spec is None:
                self.sink.report(U.UNKNOWN_UNIT, node.span, unit=node.unit, suggestion=suggest(node.unit, units.UNITS))
                return None
            if spec.dimension != dim:
                self.sink.report(U.WRONG_DIMENSION, node.span, key=f.key, dimension=dim.replace("_", " "),
                                 unit=node.unit, got=spec.dimension.replace("_", " "), examples=units.describe(dim))
                return None
            value = node.number * spec.factor
        if not math.isfinite(value):
            self.sink.report(R.OUT_OF_DOMAIN, node.span, key=f.key, value=node.source(), domain="finite numbers")
            return None
        if check_domain and not self._in_domain(value, t):
            self.sink.report(R.OUT_OF_DOMAIN, node.span, key=f.key, value=node.source(), domain=_domain(t))
            return None
        return value

    @staticmethod
    def _in_domain(value: float, t: FieldType) -> bool:
        return (t.low is None or value >= t.low) and (t.high is None or value <= t.high)

    def _pair(self, f: Field, node: Range, t: FieldType) -> tuple[float, float] | None:
        if not (isinstance(node.low, Quantity) and isinstance(node.high, Quantity)):
            self._wrong(f, node, "a range of numbers")
            return None
        low, high = self.quantity(f, node.low, t), self.quantity(f, node.high, t)
        if low is None or high is None:
            return None
        if low > high:
            self.sink.report(R.INVERTED_RANGE, node.span, text=node.source(),
                             swapped=f"{node.high.source()} .. {node.low.source()}")
            return None
        return low, high

    def _quantity(self, f: Field, t: FieldType):
        atom = self._one(f, "one quantity")
        if atom is None:
            return None
        if not isinstance(atom, Quantity):
            self._wrong(f, atom, "a number" if t.dimension == "count" else f"a quantity in {units.describe(t.dimension)}")
            return None
        return self.quantity(f, atom, t)

    def _number(self, f: Field, t: FieldType):
        return self._quantity(f, t)

    def _count(self, f: Field, t: FieldType):
        value = self._quantity(f, t)
        if value is None:
            return None
        if value != int(value):
            self.sink.report(R.OUT_OF_DOMAIN, f.value.span, key=f.key, value=f.value.source(), domain="whole numbers")
            return None
        return int(value)

    def _range(self, f: Field, t: FieldType):
        atom = self._one(f, "a range `a .. b`")
        if isinstance(atom, Range):
            return self._pair(f, atom, t)
        if isinstance(atom, Quantity):
            v = self.quantity(f, atom, t)
            return None if v is None else (v, v)
        if atom is not None:
            self._wrong(f, atom, "a range `a .. b`")
        return None

    def _count_range(self, f: Field, t: FieldType):
        pair = self._range(f, t)
        if pair is None:
            return None
        if any(v != int(v) for v in pair):
            self.sink.report(R.OUT_OF_DOMAIN, f.value.span, key=f.key, value=f.value.source(), domain="whole numbers")
            return None
        return int(pair[0]), int(pair[1])

    def _quantities(self, f: Field, t: FieldType):
        out = []
        for choice in f.value.choices:
            if choice.weight is not None or not isinstance(choice.atom, Quantity):
                self._wrong(f, choice.atom, "a list of quantities")
                return None
            v = self.quantity(f, choice.atom, t)
            if v is None:
                return None
            out.append(v)
        return out

    def _dist_atom(self, f: Field, node, t: FieldType) -> Dist | None:
        dim = t.dimension
        if isinstance(node, Quantity):
            v = self.quantity(f, node, t)
            return None if v is None else Dist(kind="fixed", dimension=dim, value=v)
        if isinstance(node, Range):
            pair = self._pair(f, node, t)
            return None if pair is None else Dist(kind="uniform", dimension=dim, low=pair[0], high=pair[1])
        if isinstance(node, Call):
            return self._call(f, node, t)
        self._wrong(f, node, f"a quantity, a range or a distribution in {units.describe(dim)}")
        return None

    def _call(self, f: Field, node: Call, t: FieldType) -> Dist | None:
        dim = t.dimension
        if node.name not in DISTRIBUTIONS:
            self.sink.report(N.UNKNOWN_REFERENCE, node.span, what="distribution", name=node.name,
                             suggestion=suggest(node.name, DISTRIBUTIONS))
            return None
        if len(node.args) != 2 or not all(isinstance(a, Quantity) for a in node.args):
            self.sink.report(R.BAD_DISTRIBUTION, node.span, problem=f"`{node.name}` takes two quantities",
                             fix=f"write `{node.name}(a, b)` with units")
            return None
        a = self.quantity(f, node.args[0], t, check_domain=node.name != "normal")
        free = FieldType(t.shape, t.dimension)  # spreads are not bound by the value's domain
        b = self.quantity(f, node.args[1], free if node.name != "uniform" else t)
        if a is None or b is None:
            return None
        clip = None
        if node.clip is not None:
            clip = self._pair(f, node.clip, t)
            if clip is None:
                return None
        if node.name == "uniform":
            if a > b:
                self.sink.report(R.INVERTED_RANGE, node.span, text=node.source(),
                                 swapped=f"uniform({node.args[1].source()}, {node.args[0].source()})")
                return None
            low, high = (max(a, clip[0]), min(b, clip[1])) if clip else (a, b)
            if low > high:
                self.sink.report(R.BAD_DISTRIBUTION, node.span, problem="the clip range excludes the whole distribution",
                                 fix="widen the clip range")
                return None
            return Dist(kind="uniform", dimension=dim, low=low, high=high)
        if b <= 0:
            self.sink.report(R.BAD_DISTRIBUTION, node.span, problem=f"the spread of `{node.name}` must be positive",
                             fix="give a positive standard deviation")
            return None
        if node.name == "lognormal" and a <= 0:
            self.sink.report(R.BAD_DISTRIBUTION, node.span, problem="a lognormal needs a positive mean",
                             fix="give a positive mean")
            return None
        if clip is None:
            low, high = t.low, t.high
            lo_v, hi_v = a - 4 * b, a + 4 * b
            if (low is not None and lo_v < low) or (high is not None and hi_v > high):
                self.sink.report(R.BAD_DISTRIBUTION, node.span,
                                 problem=f"`{node.source()}` reaches outside {_domain(t)} without a clip range",
                                 fix="add `clipped low .. high`")
                return None
        else:
            # mass kept inside the clip range must not be negligible, or rejection sampling never ends
            z_lo, z_hi = (clip[0] - a) / b, (clip[1] - a) / b
            kept = 0.5 * (math.erf(z_hi / math.sqrt(2)) - math.erf(z_lo / math.sqrt(2)))
            if node.name == "normal" and kept < 0.01:
                self.sink.report(R.BAD_DISTRIBUTION, node.span,
                                 problem=f"the clip range keeps {kept:.2%} of `{node.name}({node.args[0].source()}, {node.args[1].source()})`",
                                 fix="move the clip range over the mean or change the mean")
                return None
        return Dist(kind=node.name, dimension=dim, mean=a, sd=b,
                    low=clip[0] if clip else None, high=clip[1] if clip else None)

    def _weights(self, f: Field) -> list[float] | None:
        weighted = [c.weight is not None for c in f.value.choices]
        if not any(weighted):
            n = len(f.value.choices)
            return [1.0 / n] * n
        if not all(weighted):
            self.sink.report(R.PARTIAL_WEIGHTS, f.value.span, key=f.key)
            return None
        weights = []
        for c in f.value.choices:
            if c.weight.unit != "%":
                self.sink.report(U.WRONG_DIMENSION, c.weight.span, key=f.key + " weight", dimension="percentage",
                                 unit=c.weight.unit or "(none)", got="something else", examples="%")
                return None
            if c.weight.number < 0:
                self.sink.report(R.OUT_OF_DOMAIN, c.weight.span, key=f.key, value=c.weight.source(), domain="0% .. 100%")
                return None
            weights.append(c.weight.number / 100)
        total = sum(weights)
        if abs(total - 1.0) > 1e-6:
            self.sink.report(R.MIX_NOT_100, f.value.span, key=f.key, total=total * 100)
            return None
        return weights

    def _dist(self, f: Field, t: FieldType):
        choices = f.value.choices
        if len(choices) == 1 and choices[0].weight is None:
            return self._dist_atom(f, choices[0].atom, t)
        weights = self._weights(f)
        if weights is None:
            return None
        options = [self._dist_atom(f, c.atom, t) for c in choices]
        if any(o is None for o in options):
            return None
        return Dist(kind="mix", dimension=t.dimension, options=options, weights=weights)

    def _name_of(self, f: Field, node, t: FieldType) -> str | None:
        if isinstance(node, String) and t.options is None:
            return node.value
        if not isinstance(node, Ref):
            self._wrong(f, node, "a name")
            return None
        if t.options is not None and node.name not in t.options:
            self.sink.report(N.UNKNOWN_OPTION, node.span, name=node.name, what=f"`{f.key}`",
                             suggestion=suggest(node.name, t.options))
            return None
        return node.name

    def _name(self, f: Field, t: FieldType):
        atom = self._one(f, "one name")
        if atom is None:
            return None
        if isinstance(atom, Ref) and atom.name in ("none",) and t.options and "none" in t.options:
            return "none"
        return self._name_of(f, atom, t)

    def _names(self, f: Field, t: FieldType):
        out = []
        for choice in f.value.choices:
            if choice.weight is not None:
                self._wrong(f, choice, "a list of names without weights")
                return None
            n = self._name_of(f, choice.atom, t)
            if n is None:
                return None
            if n in out:
                self.sink.report(R.DUPLICATE_CHOICE, choice.span, name=n, key=f.key)
                return None
            out.append(n)
        return out

    def _mix(self, f: Field, t: FieldType):
        weights = self._weights(f)
        if weights is None:
            return None
        out = []
        for choice in f.value.choices:
            n = self._name_of(f, choice.atom, t)
            if n is None:
                return None
            if n in out:
                self.sink.report(R.DUPLICATE_CHOICE, choice.span, name=n, key=f.key)
                return None
            out.append(n)
        return Mix(names=out, weights=weights)

    def _text(self, f: Field, t: FieldType):
        atom = self._one(f, "a quoted string")
        if atom is None:
            return None
        if not isinstance(atom, String):
            self._wrong(f, atom, "a quoted string")
            return None
        return atom.value

    def _path(self, f: Field, t: FieldType):
        return self._text(f, t)

    def _date(self, f: Field, t: FieldType):
        atom = self._one(f, "a date YYYY-MM-DD")
        if atom is None:
            return None
        if not isinstance(atom, Date):
            self._wrong(f, atom, "a date YYYY-MM-DD")
            return None
        import datetime

        try:
            return datetime.date.fromisoformat(atom.value)
        except ValueError:
            self.sink.report(R.OUT_OF_DOMAIN, atom.span, key=f.key, value=atom.value, domain="real calendar dates")
            return None

    def _bool(self, f: Field, t: FieldType):
        atom = self._one(f, "true or false")
        if isinstance(atom, Ref) and atom.name in ("true", "false", "yes", "no"):
            return atom.name in ("true", "yes")
        if atom is not None:
            self._wrong(f, atom, "true or false")
        return None

    def _any(self, f: Field, t: FieldType | None = None):
        """Appearance tables: keep quantities canonical where they have known units."""
        out = []
        for choice in f.value.choices:
            atom = choice.atom
            if isinstance(atom, Range) and isinstance(atom.low, Quantity) and isinstance(atom.high, Quantity):
                lo, hi = (units.lookup(atom.low.unit), units.lookup(atom.high.unit))
                if lo is None or hi is None:
                    bad = atom.low if lo is None else atom.high
                    self.sink.report(U.UNKNOWN_UNIT, bad.span, unit=bad.unit, suggestion=suggest(bad.unit, units.UNITS))
                    return None
                a, b = atom.low.number * lo.factor, atom.high.number * hi.factor
                if a > b:
                    self.sink.report(R.INVERTED_RANGE, atom.span, text=atom.source(),
                                     swapped=f"{atom.high.source()} .. {atom.low.source()}")
                    return None
                out.append((a, b))
            elif isinstance(atom, Quantity):
                spec = units.lookup(atom.unit)
                if spec is None:
                    self.sink.report(U.UNKNOWN_UNIT, atom.span, unit=atom.unit, suggestion=suggest(atom.unit, units.UNITS))
                    return None
                out.append(atom.number * spec.factor)
            else:
                out.append(atom.source())
        return out[0] if len(out) == 1 else out


def _domain(t: FieldType) -> str:
    lo = units.format_canonical(t.low, t.dimension) if t.low is not None else "-inf"
    hi = units.format_canonical(t.high, t.dimension) if t.high is not None else "inf"
    return f"{lo} .. {hi}"


def _top():
    from synthspec.compiler.schema import TOP_LEVEL

    return TOP_LEVEL


Definition.model_rebuild()
