"""The syntax tree: what a `.synth` file says, before any meaning is given to it.

Every node carries the `Span` it came from so later passes can point at it.
Nodes are pydantic models (serialisable, typed); the parser builds them with
`model_construct` because its input is already shaped by the grammar.
"""

from __future__ import annotations

from typing import Union

from pydantic import BaseModel

from synthspec.compiler.diagnostics import Span


class Node(BaseModel):
    span: Span


class Quantity(Node):
    """A number with an optional unit as written (`4 mm`, `70%`, `200`)."""

    number: float
    text: str
    unit: str | None = None

    def source(self) -> str:
        if self.unit is None:
            return self.text
        return f"{self.text}{self.unit}" if self.unit == "%" else f"{self.text} {self.unit}"


class Ref(Node):
    """A name or dotted reference (`thorax_adult`, `ct.wide_detector_256`)."""

    parts: list[str]

    @property
    def name(self) -> str:
        return ".".join(self.parts)

    def source(self) -> str:
        return self.name


class String(Node):
    value: str
    raw: str

    def source(self) -> str:
        return self.raw


class Date(Node):
    value: str

    def source(self) -> str:
        return self.value


class Range(Node):
    low: "Scalar"
    high: "Scalar"

    def source(self) -> str:
        return f"{self.low.source()} .. {self.high.source()}"


class Call(Node):
    """`normal(62 y, 10 y) clipped 40 y .. 85 y` or `distance_to(pleura)`."""

    name: str
    args: list["Atom"]
    clip: Range | None = None

    def source(self) -> str:
        text = f"{self.name}({', '.join(a.source() for a in self.args)})"
        return f"{text} clipped {self.clip.source()}" if self.clip else text


Scalar = Union[Quantity, Call, Ref, String, Date]
Atom = Union[Quantity, Call, Ref, String, Date, Range]


class Choice(Node):
    """One item of a value; `weight` is the `70%` of a weighted choice."""

    atom: Atom
    weight: Quantity | None = None

    def source(self) -> str:
        return f"{self.atom.source()} {self.weight.source()}" if self.weight else self.atom.source()


class Value(Node):
    choices: list[Choice]

    def source(self) -> str:
        return ", ".join(c.source() for c in self.choices)

    @property
    def single(self) -> Atom | None:
        if len(self.choices) == 1 and self.choices[0].weight is None:
            return self.choices[0].atom
        return None


class Field(Node):
    key: str
    key_span: Span
    value: Value


class Require(Node):
    """A constraint; `weight` makes it soft (`require[0.9] ...`), `label` names it."""

    label: str | None = None
    weight: float | None = None
    left: Scalar
    op: str
    right: Scalar

    def source(self) -> str:
        head = "require" + (f"[{self.weight:g}]" if self.weight is not None else "")
        label = f" {self.label}:" if self.label else ""
        return f"{head}{label} {self.left.source()} {self.op} {self.right.source()}"


class Block(Node):
    kind: str
    name: Ref | None = None
    extends: Ref | None = None
    items: list[Union["Field", "Block", Require]]

    def fields(self) -> list[Field]:
        return [i for i in self.items if isinstance(i, Field)]

    def blocks(self, kind: str | None = None) -> list["Block"]:
        return [i for i in self.items if isinstance(i, Block) and (kind is None or i.kind == kind)]

    def requires(self) -> list[Require]:
        return [i for i in self.items if isinstance(i, Require)]

    def field(self, key: str) -> Field | None:
        for item in self.items:
            if isinstance(item, Field) and item.key == key:
                return item
        return None

    @property
    def label(self) -> str:
        return f"{self.kind} {self.name.name}" if self.name else self.kind


class Import(Node):
    target: str
    is_path: bool
    alias: str | None = None


class Header(Node):
    version: int


class Module(Node):
    """One parsed file: its header, imports and top-level blocks and fields in order."""

    file: str
    items: list[Union[Header, Import, Block, Field]]

    @property
    def header(self) -> Header | None:
        return next((i for i in self.items if isinstance(i, Header)), None)

    @property
    def imports(self) -> list[Import]:
        return [i for i in self.items if isinstance(i, Import)]

    def blocks(self, kind: str | None = None) -> list[Block]:
        return [i for i in self.items if isinstance(i, Block) and (kind is None or i.kind == kind)]


for _model in (Range, Call, Choice, Value, Field, Require, Block, Module):
    _model.model_rebuild()
