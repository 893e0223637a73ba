"""Knowledge: what a name, a key, a block or a rule code means, for hover and completion.

Everything is read from the compiler's own tables: definitions from the registry the last compile
built (the stdlib, then the user's imported modules; the stdlib alone before any compile), block
and field types from `compiler.schema.SCHEMAS`, units from `compiler.units`, rule texts from the
rule registry (`Rule.explain`, the text `synth explain` prints), stdlib module names from
`compiler.resolve.STDLIB_MODULES`.

    names     stdlib and user definitions (scanners, anatomy families, tissues, agents, pathology
              kinds), the organs, organ groups and territories of anatomy families, and the
              governance vocabulary's terms (purposes, claims, prohibited uses)
    hover     Markdown: kind, summary (description / note / source fields), where it is defined and
              the definition's source; for a key its type, for a block its schema, for a code the rule
    complete  the names of the kind the field refers to where the schema says (`scanners:` takes
              scanners, `location:` the structures of the cohort's anatomy), a field's fixed options,
              units after a number, keys and blocks where a statement starts, rule codes in
              `# synth: ignore[...]`, stdlib modules after `import`; every name elsewhere

It does not find the cursor (see `cursor`) or build protocol messages (see `server`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files

from synthspec.compiler.diagnostics import Span
from synthspec.compiler.resolve import STDLIB_MODULES, Registry, stdlib
from synthspec.compiler.schema import DEFINITION_KINDS, SCHEMAS, TOP_LEVEL, FieldType
from synthspec.compiler.units import CANONICAL, EXAMPLES
from synthspec.lsp.cursor import Cursor, field_value

RULE_CODE = re.compile(r"[A-Z]{3}[0-9]{3}")
VOCABULARY = {"purpose": "purposes", "claim": "claims", "prohibited_use": "prohibited"}
"""Schema `refers_to` names that are governance vocabulary terms, and the vocabulary field listing them."""
MAX_SOURCE_LINES = 14
KEYWORDS = ("synth", "import")


@dataclass(frozen=True)
class Entry:
    """Something a name can mean."""

    name: str
    kind: str
    """scanner, anatomy, tissue, agent, pathology_kind, organ, organ group, territory, purpose, ..."""
    summary: str = ""
    span: Span | None = None
    parent: str | None = None
    """The anatomy family of an organ or territory; the vocabulary of a term."""
    members: tuple[str, ...] = ()
    """The organs of an organ group."""


def _summary(values: dict) -> str:
    return next((str(values[k]) for k in ("description", "note") if isinstance(values.get(k), str)), "")


def names(registry: Registry) -> list[Entry]:
    """Every name the registry defines, once per meaning (see the module docstring)."""
    out: list[Entry] = []
    for kind in DEFINITION_KINDS:
        for name, d in registry.items.get(kind, {}).items():
            out.append(Entry(name, kind, _summary(d.values), d.span))
    for family in registry.items.get("anatomy", {}).values():
        groups: dict[str, list[str]] = {}
        for child in family.children:
            if child.kind in ("organ", "territory"):
                out.append(Entry(child.name, child.kind, _summary(child.values), child.span, family.name))
            group = child.get("group") if child.kind == "organ" else None
            if group:
                groups.setdefault(group, []).append(child.name)
        out += [Entry(g, "organ group", "", family.span, family.name, tuple(m)) for g, m in groups.items()]
    vocabulary = registry.vocabulary()
    if vocabulary is not None:
        for term_kind, key in VOCABULARY.items():
            for term in vocabulary.get(key) or []:
                out.append(Entry(term, term_kind.replace("_", " "), "", vocabulary.span, vocabulary.name))
    return out


def default_registry() -> Registry:
    return stdlib()[0]


# ---- what a place refers to ----------------------------------------------------------------------

def field_type(cursor: Cursor) -> FieldType | None:
    """The schema's type of the field the cursor is in, when the enclosing block is known."""
    block = cursor.block
    schema = SCHEMAS.get(block.kind) if block is not None else None
    return schema.fields.get(cursor.key) if schema is not None and cursor.key else None


def _structures(cursor: Cursor, entries: list[Entry]) -> list[Entry]:
    """Organs and groups of the cohort's anatomy (all families' when the cohort names none it knows)."""
    family = field_value(cursor.outer("cohort"), "anatomy")
    mine = [e for e in entries if e.kind in ("organ", "organ group") and e.parent == family]
    return mine or [e for e in entries if e.kind in ("organ", "organ group")]


def wanted(registry: Registry, cursor: Cursor, entries: list[Entry]) -> list[Entry] | None:
    """The names that fit the field the cursor is in, or None when the schema does not say."""
    ftype = field_type(cursor)
    if ftype is None:
        return None
    target = ftype.refers_to
    if target in DEFINITION_KINDS:
        return [e for e in entries if e.kind == target]
    if target == "organ":
        return _structures(cursor, entries)
    if target in VOCABULARY:
        return [e for e in entries if e.kind == target.replace("_", " ")]
    if cursor.key == "subtype" and cursor.block is not None and cursor.block.kind == "pathology":
        kind = registry.get("pathology_kind", field_value(cursor.block, "kind"))
        return [Entry(s, "subtype", "", kind.span, kind.name) for s in kind.get("subtypes") or []] if kind else []
    if cursor.key == "covers" and cursor.block is not None and cursor.block.kind == "territory":
        return [e for e in entries if e.kind in ("organ", "organ group")]
    return []


# ---- hover ---------------------------------------------------------------------------------------

def rule_markdown(code: str) -> str | None:
    """The `synth explain CODE` text as Markdown, or None for no such rule."""
    from synthspec.compiler.rules import get_rule

    rule = get_rule(code) if RULE_CODE.fullmatch(code) else None
    if rule is None:
        return None
    return f"**{rule.code}** `{rule.name}` ({rule.severity.value}, {rule.family})\n\n```text\n{rule.explain()}```"


@lru_cache(maxsize=16)
def _stdlib_text(file: str) -> str | None:
    name = file.split("/", 1)[1] if file.startswith("stdlib/") else None
    if name is None or name.removesuffix(".synth") not in STDLIB_MODULES:
        return None
    return files("synthspec").joinpath("stdlib", name).read_text(encoding="utf-8")


def source_of(span: Span, texts: dict[str, str]) -> str | None:
    """The lines a definition spans, from the user's files or the stdlib's (at most MAX_SOURCE_LINES)."""
    text = texts.get(span.file) if span.file in texts else _stdlib_text(span.file)
    if text is None:
        return None
    lines = text.split("\n")
    last = span.end_line if span.end_line >= span.line else span.line
    chosen = lines[span.line - 1:min(last, span.line - 1 + MAX_SOURCE_LINES)]
    more = last - (span.line - 1) - len(chosen)
    return "\n".join(chosen) + (f"\n# ... {more} more line(s)" if more > 0 else "")


def entry_markdown(entry: Entry, texts: dict[str, str]) -> str:
    kind = entry.kind.replace("_", " ")
    head = f"**{kind}** `{entry.name}`"
    if entry.parent and entry.kind in ("organ", "organ group", "territory", "subtype"):
        head += f" of `{entry.parent}`"
    elif entry.parent:
        head += f" (governance vocabulary `{entry.parent}`)"
    parts = [head]
    if entry.summary:
        parts.append(entry.summary)
    if entry.members:
        parts.append("groups " + ", ".join(f"`{m}`" for m in entry.members))
    if entry.span is not None:
        parts.append(f"defined in `{entry.span}`")
        if entry.kind not in ("organ group", "purpose", "claim", "prohibited use", "subtype"):
            source = source_of(entry.span, texts)
            if source:
                parts.append(f"```synth\n{source}\n```")
    return "\n\n".join(parts)


def _number(x: float) -> str:
    return f"{int(x):,}" if float(x).is_integer() and abs(x) < 1e15 else f"{x:g}"


def _type_text(ftype: FieldType) -> str:
    shape = {"quantity": "a quantity", "range": "a range", "dist": "a value or distribution", "count": "a whole number",
             "count_range": "a whole number or range", "number": "a number", "name": "a name", "names": "names",
             "mix": "a weighted mix", "quantities": "a list of quantities", "text": "a quoted string",
             "path": "a quoted path", "date": "a date (YYYY-MM-DD)", "bool": "true or false"}.get(ftype.shape, ftype.shape)
    out = shape
    if ftype.shape in ("quantity", "range", "dist", "quantities") and CANONICAL.get(ftype.dimension):
        out += f" of {ftype.dimension.replace('_', ' ')} (in {CANONICAL[ftype.dimension]})"
    if ftype.refers_to:
        out += f" naming a {ftype.refers_to.replace('_', ' ')}"
    if ftype.options:
        out += ": " + ", ".join(f"`{o}`" for o in ftype.options)
    if ftype.low is not None and ftype.high is not None and ftype.shape not in ("name", "names", "mix", "bool"):
        unit = CANONICAL.get(ftype.dimension, "")
        out += f"; from {_number(ftype.low)} to {_number(ftype.high)}{(' ' + unit) if unit and unit != '%' else ''}"
    return out + ("; required" if ftype.required else "")


def block_markdown(kind: str) -> str | None:
    schema = SCHEMAS.get(kind)
    if schema is None:
        return None
    parts = [f"**block** `{kind}`" + (" NAME" if schema.named else ""), schema.doc or ""]
    if schema.fields:
        parts.append("fields: " + ", ".join(f"`{k}`" for k in schema.fields))
    if schema.children:
        parts.append("blocks: " + ", ".join(f"`{k}`" for k in schema.children))
    return "\n\n".join(p for p in parts if p)


def hover(cursor: Cursor, registry: Registry, texts: dict[str, str]) -> str | None:
    """Markdown for what the cursor is on, or None."""
    word = cursor.word
    if not word:
        return None
    if RULE_CODE.fullmatch(word):
        return rule_markdown(word)
    if cursor.in_comment:
        return None
    if cursor.on_key:
        block = cursor.block
        ftype = field_type(cursor)
        if ftype is not None:
            return f"**field** `{word}` of `{block.kind}`: {_type_text(ftype)}"
    opened = next((b for b in cursor.blocks if (b.span.line, b.span.column) == (cursor.line + 1, cursor.start + 1)), None)
    if opened is not None and opened.kind == word and block_markdown(word):
        return block_markdown(word)
    entries = names(registry)
    fitting = wanted(registry, cursor, entries) if cursor.key else None
    found = [e for e in (fitting or []) if e.name == word] or [e for e in entries if e.name == word]
    if not found:
        return None
    return "\n\n---\n\n".join(entry_markdown(e, texts) for e in found[:4])


# ---- completion ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Candidate:
    label: str
    kind: str
    """name, field, block, option, unit, keyword, module, rule"""
    detail: str = ""
    documentation: str = ""


def _from_entries(entries: list[Entry]) -> list[Candidate]:
    out, seen = [], set()
    for e in entries:
        if (e.name, e.kind) in seen:
            continue
        seen.add((e.name, e.kind))
        where = f" · {e.span.file}" if e.span is not None else ""
        of = f" of {e.parent}" if e.parent and e.kind in ("organ", "organ group", "territory") else ""
        out.append(Candidate(e.name, "name", f"{e.kind.replace('_', ' ')}{of}{where}", e.summary))
    return out


_AFTER_NUMBER = re.compile(r"[0-9][\t \f]*$")
_SUPPRESSION = re.compile(r"#\s*synth:\s*ignore(?:-file)?\[[A-Za-z0-9, ]*$")


def complete(cursor: Cursor, registry: Registry) -> list[Candidate]:
    """What may be written at the cursor (see the module docstring)."""
    if cursor.in_comment:
        if _SUPPRESSION.search(cursor.source[:cursor.start]) is None:
            return []
        from synthspec.compiler.rules import all_rules

        return [Candidate(r.code, "rule", r.name, r.message) for r in all_rules()]
    if cursor.importing:
        return [Candidate(f"stdlib.{m}", "module", "stdlib module") for m in STDLIB_MODULES]
    entries = names(registry)
    if cursor.at_key:
        block = cursor.block
        if block is None:
            return ([Candidate(k, "block", "top-level block", block_markdown(k) or "") for k in TOP_LEVEL]
                    + [Candidate(k, "keyword") for k in KEYWORDS])
        schema = SCHEMAS.get(block.kind)
        if schema is None:
            return []
        written = {f.key for f in block.fields()}
        out = [Candidate(k, "field", f"{block.kind}.{k}", _type_text(t)) for k, t in schema.fields.items()
               if k not in written or cursor.prefix == k]
        out += [Candidate(k, "block", f"block in {block.kind}", block_markdown(k) or "") for k in schema.children]
        if schema.requires:
            out.append(Candidate("require", "keyword", "a constraint: require NAME: LEFT >= RIGHT"))
        return out
    if cursor.key is not None:
        ftype = field_type(cursor)
        if ftype is not None:
            if ftype.shape in ("quantity", "range", "dist", "quantities") and \
                    _AFTER_NUMBER.search(cursor.source[:cursor.start]) is not None:
                return [Candidate(u, "unit", ftype.dimension.replace("_", " ")) for u in EXAMPLES.get(ftype.dimension, [])]
            if ftype.shape == "bool":
                return [Candidate("true", "option"), Candidate("false", "option")]
            if ftype.options:
                return [Candidate(o, "option", f"{cursor.key} option") for o in ftype.options]
        fitting = wanted(registry, cursor, entries)
        if fitting is not None:
            return _from_entries(fitting)
    return _from_entries(entries)
