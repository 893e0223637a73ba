"""Range and mix rules: low <= high, weights that add up, values inside their domain."""

from synthspec.compiler.rules.registry import rule

FAMILY = "ranges"

INVERTED_RANGE = rule(
    "RNG001", "inverted-range", "error", "range `{text}` runs backwards (low is above high)",
    why="An empty range cannot be sampled; usually the ends were swapped.",
    bad="diameter: 8 mm .. 4 mm", good="diameter: 4 mm .. 8 mm",
    fix="write `{swapped}`", family=FAMILY)

MIX_NOT_100 = rule(
    "RNG002", "mix-not-100", "error", "weights of `{key}` add up to {total:g}%, not 100%",
    why="A mix is a distribution; weights that do not sum to 100% mean some share was forgotten or double-counted.",
    bad="sex: female 60%, male 30%", good="sex: female 60%, male 40%",
    fix="make the weights add up to 100%", family=FAMILY)

PARTIAL_WEIGHTS = rule(
    "RNG003", "partial-weights", "error", "some choices of `{key}` have weights and some do not",
    why="It is unclear how the unweighted choices should share what is left.",
    bad="type: solid 70%, ground_glass", good="type: solid 70%, ground_glass 30%",
    fix="give every choice a weight, or none (equal shares)", family=FAMILY)

OUT_OF_DOMAIN = rule(
    "RNG004", "out-of-domain", "error", "`{key}` = {value} is outside what it can be ({domain})",
    why="Some values are impossible whatever the physics: a negative size, a share over 100%, zero subjects.",
    bad="prevalence: 140%", good="prevalence: 40%",
    fix="use a value in {domain}", family=FAMILY)

BAD_DISTRIBUTION = rule(
    "RNG005", "bad-distribution", "error", "{problem}",
    why="A distribution must have valid parameters and a clip range that keeps probability mass, or sampling never ends.",
    bad="age: normal(62 y, 10 y) clipped 90 y .. 100 y", good="age: normal(62 y, 10 y) clipped 40 y .. 85 y",
    fix="{fix}", family=FAMILY)

DUPLICATE_CHOICE = rule(
    "RNG006", "duplicate-choice", "error", "`{name}` appears twice in `{key}`",
    why="A repeated choice makes its real weight the sum of two lines, which is easy to misread.",
    bad="sex: female 50%, female 50%", good="sex: female 50%, male 50%",
    fix="merge the two entries", family=FAMILY)
