"""Unit rules: physical quantities carry units, and the right ones."""

from synthspec.compiler.rules.registry import rule

FAMILY = "units"

BARE_NUMBER = rule(
    "UNI001", "bare-number", "error", "`{key}` needs a unit ({dimension}), but `{text}` has none",
    why="A bare number is ambiguous (mm or cm? ms or s?) and a wrong guess changes the physics silently.",
    bad="slice_thickness: 1.25", good="slice_thickness: 1.25 mm",
    fix="write it with a unit, e.g. `{suggested}`", family=FAMILY)

WRONG_DIMENSION = rule(
    "UNI002", "wrong-dimension", "error", "`{key}` is a {dimension}, but `{unit}` measures {got}",
    why="Dimensional analysis at compile time catches swapped fields and unit slips before any compute is spent.",
    bad="kv: 120 mAs", good="kv: 120 kV",
    fix="use a {dimension} unit such as {examples}", family=FAMILY)

UNKNOWN_UNIT = rule(
    "UNI003", "unknown-unit", "error", "unknown unit `{unit}`",
    why="Only units the compiler can convert are accepted.",
    bad="diameter: 5 milimetres", good="diameter: 5 mm",
    fix="{suggestion}", family=FAMILY)

UNEXPECTED_UNIT = rule(
    "UNI004", "unexpected-unit", "error", "`{key}` is a plain count; `{unit}` does not belong here",
    why="Counts such as subjects and seeds have no unit; a unit here usually means the value was put in the wrong field.",
    bad="subjects: 200 mm", good="subjects: 200",
    fix="drop the unit", family=FAMILY)
