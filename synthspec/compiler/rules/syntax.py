"""Syntax and file rules: reported by the parser and the module loader."""

from synthspec.compiler.rules.registry import rule

FAMILY = "syntax"

SYNTAX_ERROR = rule(
    "SYN001", "syntax-error", "error", "{detail}",
    why="The file does not follow the .synth grammar, so nothing after this point can be read reliably.",
    bad="pathology nodule {\n  diameter 4 mm .. 8 mm\n}",
    good="pathology nodule {\n  diameter: 4 mm .. 8 mm\n}",
    fix="{expected}", family=FAMILY)

MISSING_HEADER = rule(
    "SYN002", "missing-version-header", "warning", "file has no `synth 1` version header",
    why="The header pins the language version so `synth migrate` can upgrade the file when the grammar changes.",
    bad="cohort lung { ... }",
    good="synth 1\n\ncohort lung { ... }",
    fix="add `synth 1` as the first line", family=FAMILY)

UNSUPPORTED_VERSION = rule(
    "SYN003", "unsupported-version", "error", "language version {version} is not supported (this synthspec reads version {supported})",
    why="A file written for another language version may mean something else under this compiler.",
    bad="synth 7", good="synth 1",
    fix="write `synth {supported}` or install the synthspec release that reads version {version}", family=FAMILY)

FILE_TOO_LARGE = rule(
    "SYN004", "file-too-large", "error", "file is {size} bytes, over the {limit}-byte limit for a spec",
    why="Specs are hand-written; a file this large is almost certainly generated data or the wrong file, and would slow every check.",
    bad="import \"dump_of_all_scans.synth\"", good="import \"site_defaults.synth\"",
    fix="split the spec into imported modules, or raise `max-file-bytes` in [tool.synth]", family=FAMILY)

NOT_UTF8 = rule(
    "SYN005", "not-utf8", "error", "file is not valid UTF-8 (byte 0x{byte:02x} at offset {offset})",
    why="Specs are text; undecodable bytes usually mean a binary file or a wrong encoding.",
    bad="(a file saved as Latin-1 with `°` in a comment)", good="(the same file saved as UTF-8)",
    fix="re-save the file as UTF-8", family=FAMILY)

IMPORT_CYCLE = rule(
    "SYN006", "import-cycle", "error", "import cycle: {cycle}",
    why="Modules that import each other have no order in which their definitions can be read.",
    bad="# a.synth\nimport \"b.synth\"\n# b.synth\nimport \"a.synth\"",
    good="# move what both need into common.synth and import it from each",
    fix="move the shared definitions into a third module", family=FAMILY)

IMPORT_OUTSIDE_ROOT = rule(
    "SYN007", "import-outside-root", "error", "import `{target}` leaves the allowed roots ({roots})",
    why="A spec may only read files inside its repository (or the configured roots); anything else could leak or depend on a private machine.",
    bad="import \"../../etc/passwd\"", good="import \"shared/site_defaults.synth\"",
    fix="keep imported files under the spec's root, or add the folder to `roots` in [tool.synth]", family=FAMILY)

IMPORT_NOT_FOUND = rule(
    "SYN008", "import-not-found", "error", "cannot import `{target}`: {reason}",
    why="Definitions from a missing module cannot be checked or used.",
    bad="import stdlib.scaners", good="import stdlib.scanners",
    fix="{hint}", family=FAMILY)

DUPLICATE_FIELD = rule(
    "SYN009", "duplicate-field", "error", "`{key}` is set twice in `{block}` (first at line {first})",
    why="With two values for one field, which one is meant is a guess.",
    bad="population {\n  age: 40 y .. 80 y\n  age: 50 y .. 70 y\n}", good="population {\n  age: 50 y .. 70 y\n}",
    fix="delete one of the two lines", family=FAMILY)

BAD_SUPPRESSION = rule(
    "SYN010", "bad-suppression", "error", "suppression {problem}",
    why="A suppression must say which rule it silences and why, so reviewers can judge it; blanket suppressions hide new problems.",
    bad="kv: 160 kV  # synth: ignore", good="kv: 160 kV  # synth: ignore[PHY001] phantom study at 160 kV, approved by physics",
    fix="write `# synth: ignore[CODE] reason`", family=FAMILY)

UNUSED_SUPPRESSION = rule(
    "SYN011", "unused-suppression", "warning", "suppression of {code} matches no finding",
    why="A suppression that silences nothing is stale and will hide a future problem on that line.",
    bad="seed: 7  # synth: ignore[PHY001] old note", good="seed: 7",
    fix="delete the suppression comment", family=FAMILY)

NO_COHORT = rule(
    "SYN012", "no-cohort", "error", "this spec declares no `cohort` block",
    why="`synth check` and `synth run` need one cohort to compile.  A library module that defines scanners, tissues or\n"
        "pathologies is only checked for its definitions; a file that declares nothing at all is almost certainly a mistake.",
    bad="synth 1\nimport stdlib.scanners   # and nothing else", good="synth 1\ncohort demo {\n  ...\n}",
    fix="add a `cohort NAME { ... }` block, or import this module from a spec", family=FAMILY)

MANY_COHORTS = rule(
    "SYN013", "many-cohorts", "error", "this spec declares {count} cohort blocks; a spec compiles exactly one",
    why="A run produces one cohort; several in one file make `synth run FILE` ambiguous.",
    bad="cohort a { ... }\ncohort b { ... }", good="# a.synth\ncohort a { ... }\n# b.synth\ncohort b extends a { ... }",
    fix="move each cohort into its own file (use `extends` to share)", family=FAMILY)

FILE_REFUSED = rule(
    "SYN014", "file-refused", "error", "`{target}` was not read: {reason}",
    why="A spec path may be a link. One that points outside the repository's allowed roots, or at a special "
        "system file such as /proc/self/environ, could make `synth check` print secrets or another project's "
        "files into a CI log; such a file is refused before a byte of it is read, and nothing of it is shown.",
    bad="specs/x.synth -> /proc/self/environ", good="specs/x.synth (a regular file inside the repository)",
    fix="{hint}", family=FAMILY)

BIDI_CONTROL = rule(
    "SYN015", "bidi-control-character", "error",
    "bidirectional control character {codepoint} ({char_name}) in {where}",
    why="Bidirectional controls (U+202A..U+202E, U+2066..U+2069, U+200E, U+200F, U+061C) change the order in which\n"
        "text is shown without changing what it says (\"Trojan Source\", CVE-2021-42574): a reviewer can read a\n"
        "string or a comment that the compiler reads differently, for example a quote that seems to close a string.\n"
        "Specs are reviewed as text, so what a reviewer sees must be what the compiler reads.  The finding names the\n"
        "code point and never prints the character itself.",
    bad="approved_by: \"Imaging board<U+202E> draob\"  # the override reverses what follows",
    good="approved_by: \"Imaging board\"",
    fix="delete the control character (right-to-left text that needs one: `# synth: ignore[SYN015] reason`)",
    family=FAMILY)

CONTROL_CHARACTER = rule(
    "SYN017", "control-character", "error", "control character {codepoint} ({char_name}) in {where}",
    why="A control character (ESC, NUL, BEL, the C1 controls ...) in a string or a comment is invisible in a review\n"
        "but acts on every terminal that shows it: ESC starts an escape sequence that can clear the screen, move the\n"
        "cursor or recolour a CI log, and a string carries it on into DICOM headers and reports.  Tabs and line\n"
        "breaks (and form feeds) are the only control characters a spec may hold.",
    bad="title: \"Lung<ESC>[2J nodules\"", good="title: \"Lung nodules\"",
    fix="delete the control character", family=FAMILY)

NON_ASCII_DIGIT = rule(
    "SYN016", "non-ascii-digit", "error", "{codepoint} ({char_name}) is not an ASCII digit; numbers are written with 0-9",
    why="Python reads full-width (`\uff11\uff12\uff10`), Arabic-Indic (`\u0661\u0666`) and other Unicode digits as\n"
        "numbers, but a reviewer, a diff tool or another program may not, and some look like ASCII digits they are\n"
        "not.  The .synth language reads numbers, dates and versions in ASCII digits only, so a value means the same\n"
        "to every reader.",
    bad="subjects: \u0661\u0666\nkv: \uff11\uff12\uff10 kV", good="subjects: 16\nkv: 120 kV",
    fix="retype the number with the digits 0-9", family=FAMILY)
