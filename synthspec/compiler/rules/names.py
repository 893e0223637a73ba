"""Name rules: fields, blocks, options and references the compiler does not know."""

from synthspec.compiler.rules.registry import rule

FAMILY = "names"

UNKNOWN_FIELD = rule(
    "NAM001", "unknown-field", "error", "`{key}` is not a field of `{block}`",
    why="A misspelt field is silently ignored by most tools; here it is an error so the setting you meant takes effect.",
    bad="population {\n  agee: 40 y .. 80 y\n}", good="population {\n  age: 40 y .. 80 y\n}",
    fix="{suggestion}", family=FAMILY)

UNKNOWN_BLOCK = rule(
    "NAM002", "unknown-block", "error", "`{kind}` is not a block that can appear in `{parent}`",
    why="Blocks have fixed places in a spec; an unknown one is usually a typo or a block at the wrong level.",
    bad="cohort c {\n  populaton { ... }\n}", good="cohort c {\n  population { ... }\n}",
    fix="{suggestion}", family=FAMILY)

UNKNOWN_REFERENCE = rule(
    "NAM003", "unknown-reference", "error", "unknown {what} `{name}`",
    why="The name must refer to something defined in the stdlib or in an imported module.",
    bad="scanners: ct.wide_detektor_256", good="scanners: ct.wide_detector_256",
    fix="{suggestion}", family=FAMILY)

UNKNOWN_OPTION = rule(
    "NAM004", "unknown-option", "error", "`{name}` is not a valid {what}",
    why="This field takes one of a fixed set of options.",
    bad="task {\n  job: detection\n}", good="task {\n  job: detect\n}",
    fix="{suggestion}", family=FAMILY)

MISSING_REQUIRED = rule(
    "NAM005", "missing-required", "error", "`{block}` needs `{key}`",
    why="The compiler cannot plan a cohort without this setting, and a silent default could change clinical meaning.",
    bad="cohort c {\n  subjects: 100\n}", good="cohort c {\n  subjects: 100\n  seed: 7\n  ...\n}",
    fix="add `{key}: ...` to `{block}`", family=FAMILY)

DUPLICATE_DEFINITION = rule(
    "NAM006", "duplicate-definition", "error", "{what} `{name}` is defined twice (first at {first})",
    why="Two definitions under one name make every reference to it ambiguous.",
    bad="scanner ct.mine { ... }\nscanner ct.mine { ... }", good="scanner ct.mine_a { ... }\nscanner ct.mine_b { ... }",
    fix="rename one of them", family=FAMILY)

WRONG_VALUE_KIND = rule(
    "NAM007", "wrong-value-kind", "error", "`{key}` expects {expected}, not {got}",
    why="The field's value has the wrong shape (for example a list where one value is expected).",
    bad="seed: \"forty-two\"", good="seed: 42",
    fix="write {expected}", family=FAMILY)


# ---- checks -------------------------------------------------------------------------
from synthspec.compiler.rules.registry import check  # noqa: E402

CONSTRAINT_FUNCTIONS = ("distance_to", "overlap_with", "diameter", "volume", "count")


def _suggest(name, choices, what=""):
    from synthspec.compiler.elaborate import suggest

    return suggest(name, choices, what)


def _structures(ctx) -> list[str]:
    """Organs and groups of the cohort's anatomy, each once (a group may share an organ's name)."""
    return list(dict.fromkeys([*ctx.organs, *ctx.groups]))


def _ref(ctx, kind: str, what: str, name: str | None, span) -> bool:
    if name is None:
        return False
    if ctx.registry.get(kind, name) is None:
        ctx.sink.report(UNKNOWN_REFERENCE, span, what=what, name=name,
                        suggestion=_suggest(name, ctx.registry.names(kind), what))
        return False
    return True


def _every_structure(registry) -> set:
    """Every organ and group name of every anatomy family."""
    out = set()
    for family in registry.items["anatomy"].values():
        for organ in family.all("organ"):
            out.add(organ.name)
            if organ.get("group"):
                out.add(organ.get("group"))
    return out


@check
def references(ctx) -> None:
    """Every name in the cohort resolves in the stdlib or an imported module."""
    c = ctx.cohort
    _ref(ctx, "anatomy", "anatomy family", c.anatomy, c.at("anatomy"))
    if c.scanners:
        for name in c.scanners.names:
            _ref(ctx, "scanner", "scanner", name, c.at("scanners"))
    if c.task:
        _ref(ctx, "pathology_kind", "finding", c.task.finding, c.task.at("finding"))
    if c.protocol and c.protocol.contrast_agent:
        a = c.protocol.contrast_agent
        _ref(ctx, "agent", "contrast agent", a.agent, a.at("agent"))
    everywhere: set | None = None
    for p in c.pathologies:
        if not _ref(ctx, "pathology_kind", "pathology kind", p.kind, p.at("kind")):
            continue
        kind = ctx.kind(p.kind)
        subtypes = kind.get("subtypes") or []
        if p.subtype:
            for s in p.subtype.names:
                if s not in subtypes:
                    ctx.sink.report(UNKNOWN_OPTION, p.at("subtype"), name=s, what=f"subtype of {p.kind}",
                                    suggestion=_suggest(s, subtypes) if subtypes else f"{p.kind} has no subtypes; remove the field")
        if p.attachment:
            attachments = kind.get("attachments") or []
            for s in p.attachment.names:
                if s not in attachments:
                    ctx.sink.report(UNKNOWN_OPTION, p.at("attachment"), name=s, what=f"attachment of {p.kind}",
                                    suggestion=_suggest(s, attachments) if attachments
                                    else f"{p.kind} has no attachments; remove the field")
        if p.location and ctx.family is not None:
            if everywhere is None:  # once per cohort, not once per pathology
                everywhere = _every_structure(ctx.registry)
            for loc in p.location.names:
                base = loc.split(".")[-1]
                if not ctx.expand(loc) and base not in everywhere:
                    ctx.sink.report(UNKNOWN_REFERENCE, p.at("location"), what="location", name=loc,
                                    suggestion=_suggest(loc, _structures(ctx)))
        for con in p.constraints:
            if con.function and con.function not in CONSTRAINT_FUNCTIONS:
                ctx.sink.report(UNKNOWN_REFERENCE, con.span, what="constraint function", name=con.function,
                                suggestion=_suggest(con.function, CONSTRAINT_FUNCTIONS))
            elif con.function in ("distance_to", "overlap_with") and ctx.family is not None:
                target = con.argument or ""
                if not ctx.expand(target):
                    ctx.sink.report(UNKNOWN_REFERENCE, con.span, what=f"structure in {c.anatomy}", name=target,
                                    suggestion=_suggest(target, _structures(ctx)))
    g = c.governance
    if g:
        for key, vocab, what in (("claims", "claims", "claim"), ("prohibit", "prohibited", "prohibited use")):
            terms = ctx.vocabulary(vocab)
            for term in getattr(g, key):
                if term not in terms and term != "none":
                    ctx.sink.report(UNKNOWN_OPTION, g.at(key), name=term, what=what, suggestion=_suggest(term, terms))


def check_definitions(registry, sink, files: set[str] | None = None) -> None:
    """Cross-references inside definitions (organ tissues, pathology families and locations).

    Run on the user's own definitions at every check, and on the stdlib by the tests.
    """
    def mine(d):
        return files is None or d.span.file in files

    from synthspec.compiler.elaborate import Elaborator

    elaborator = Elaborator(sink)

    def required(d, label):
        elaborator.missing(d, label)
        for child in d.children:
            required(child, f"{label}.{child.kind}" + (f" {child.name}" if child.name else ""))

    for table in registry.items.values():  # required fields of definitions (a scanner's `note`, a tissue's `source`)
        for d in table.values():
            if mine(d):
                required(d, f"{d.kind} {d.name}")

    tissue_names = registry.names("tissue")
    tissues = set(tissue_names)
    families = registry.items.get("anatomy", {})
    for family in families.values():
        if not mine(family):
            continue
        labels: dict[int, str] = {}
        for organ in family.all("organ"):
            t = organ.get("tissue")
            if t and t not in tissues:
                sink.report(UNKNOWN_REFERENCE, organ.at("tissue"), what="tissue", name=t, suggestion=_suggest(t, tissue_names))
            label = organ.get("label")
            if label in labels:
                sink.report(DUPLICATE_DEFINITION, organ.at("label"), what="label", name=str(label), first=labels[label])
            labels[label] = organ.name
        organs = {o.name for o in family.all("organ")}
        for territory in family.all("territory"):
            for target in territory.get("covers", []):
                if target not in organs:
                    sink.report(UNKNOWN_REFERENCE, territory.at("covers"), what=f"structure of {family.name}", name=target,
                                suggestion=_suggest(target, organs))
    structures: dict[tuple, set] = {}  # per set of families, built once however many kinds name it

    def structures_of(fams: tuple) -> set:
        if fams not in structures:
            names = set()
            for fam in fams:
                for organ in families[fam].all("organ"):
                    names.add(organ.name)
                    if organ.get("group"):
                        names.add(organ.get("group"))
            structures[fams] = names
        return structures[fams]

    for kind in registry.items.get("pathology_kind", {}).values():
        if not mine(kind):
            continue
        found = []
        for fam in kind.get("families", []):
            if fam not in families:
                sink.report(UNKNOWN_REFERENCE, kind.at("families"), what="anatomy family", name=fam,
                            suggestion=_suggest(fam, families))
                continue
            found.append(fam)
        known = structures_of(tuple(dict.fromkeys(found)))
        for loc in kind.get("locations", []):
            if known and loc not in known:
                sink.report(UNKNOWN_REFERENCE, kind.at("locations"), what="location", name=loc, suggestion=_suggest(loc, known))
