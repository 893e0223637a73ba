"""Resolve: read files safely, follow imports, collect definitions, merge `extends`.

Reading is the only place a spec touches the file system, so every guard lives
here: a size limit, regular files only, UTF-8 only (decoded by `compiler.text.decode`,
which `synth fmt` uses too), imports only inside the allowed roots, cycles
reported with their path.  The stdlib is a prelude: always loaded, and
`import stdlib.NAME` only checks that the module exists.
"""

from __future__ import annotations

import stat
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.resources import files
from pathlib import Path

from synthspec.compiler import diagnostics as D
from synthspec.compiler.diagnostics import Sink, Span
from synthspec.compiler.elaborate import Definition, Elaborator
from synthspec.compiler.parse import parse_text
from synthspec.compiler.rules import names as N
from synthspec.compiler.rules import syntax as S
from synthspec.compiler.schema import DEFINITION_KINDS, SCHEMAS
from synthspec.compiler.syntax import Block, Field, Import, Module
from synthspec.compiler.text import decode

MAX_FILE_BYTES = 1_000_000
MAX_IMPORT_DEPTH = 50
"""How long a chain of imports may be (a imports b imports c ...); deeper chains are
reported, which also keeps the loader's recursion far from Python's limit."""


def resolved(path: Path) -> Path | None:
    """`path.resolve()`, or None where it cannot be resolved (a symlink loop, a NUL byte, a bad name)."""
    try:
        return path.resolve()
    except (OSError, RuntimeError, ValueError):
        return None


@dataclass
class Registry:
    """Every definition by kind and name; stdlib first, then the user's modules."""

    items: dict[str, dict[str, Definition]] = field(default_factory=lambda: {k: {} for k in DEFINITION_KINDS})

    def add(self, d: Definition, sink: Sink | None) -> None:
        table = self.items.setdefault(d.kind, {})
        if d.name in table and sink is not None:
            sink.report(N.DUPLICATE_DEFINITION, d.span, what=d.kind, name=d.name, first=str(table[d.name].span))
            return
        table[d.name] = d

    def get(self, kind: str, name: str | None) -> Definition | None:
        return self.items.get(kind, {}).get(name) if name else None

    def names(self, kind: str) -> list[str]:
        return list(self.items.get(kind, {}))

    def vocabulary(self) -> Definition | None:
        return next(iter(self.items.get("governance_vocabulary", {}).values()), None)

    def copy(self) -> "Registry":
        return Registry({k: dict(v) for k, v in self.items.items()})


SYSTEM_TREES = (Path("/proc"), Path("/sys"), Path("/dev"))
"""Pseudo-filesystems: their "regular files" (/proc/self/environ) are process state, never specs."""


def refusal(path: Path, roots: list[Path]) -> str | None:
    """Why `path` must not be read at all (a link out of the allowed roots, a system file), or None.

    Decided from the resolved path alone, before the file is opened, so a refused file's contents
    can never reach a message."""
    real = resolved(path)
    if real is None:
        return "the path cannot be resolved (a symlink loop or a bad name)"
    if any(real == t or t in real.parents for t in SYSTEM_TREES):
        return f"it resolves to the system file {real}, not a spec"
    allowed = [r for r in map(resolved, roots) if r is not None]
    if allowed and not any(real == r or r in real.parents for r in allowed):
        return f"it resolves to {real}, outside the allowed roots ({', '.join(map(str, allowed))})"
    return None


def default_roots(path: Path, config_source: Path | None = None) -> list[Path]:
    """The folders a spec may read when the configuration names none: the configuration file's folder,
    else the version-control root above the spec, else the spec's own folder; never the working folder.

    The spec's folder is taken as named (a link's own folder, not its target's)."""
    if config_source is not None:
        return [config_source.parent]
    try:
        folder = path.absolute().parent
    except (OSError, ValueError):
        return []
    for candidate in (folder, *folder.parents):
        if (candidate / ".git").exists() or (candidate / ".hg").exists():
            return [candidate]
    return [folder]


def read_bytes(path: Path, sink: Sink, at: Span | None = None, limit: int = MAX_FILE_BYTES) -> bytes | None:
    """The bytes of a spec file; a missing, huge or special file becomes a diagnostic.

    Only regular files are read (a FIFO or a device would block or never end), and
    never more than `limit` + 1 bytes, even if the file grows after `stat`.
    """
    where = at or Span(file=str(path))
    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError(str(path))
        if not stat.S_ISREG(info.st_mode):
            sink.report(S.IMPORT_NOT_FOUND, where, target=str(path), reason="it is not a regular file",
                        hint="name a .synth file")
            return None
        if info.st_size > limit:
            sink.report(S.FILE_TOO_LARGE, Span(file=str(path)), size=info.st_size, limit=limit)
            return None
        with path.open("rb") as stream:
            data = stream.read(limit + 1)
        if len(data) > limit:
            sink.report(S.FILE_TOO_LARGE, Span(file=str(path)), size=len(data), limit=limit)
            return None
    except FileNotFoundError:
        sink.report(S.IMPORT_NOT_FOUND, where, target=str(path), reason="no such file", hint="check the path")
        return None
    except IsADirectoryError:
        sink.report(S.IMPORT_NOT_FOUND, where, target=str(path), reason="it is a folder", hint="name a .synth file")
        return None
    except OSError as error:
        sink.report(S.IMPORT_NOT_FOUND, where, target=str(path), reason=error.strerror or str(error),
                    hint="check the file's permissions")
        return None
    except ValueError as error:  # e.g. a NUL byte in the name
        sink.report(S.IMPORT_NOT_FOUND, where, target=repr(str(path))[1:-1], reason=str(error), hint="check the path")
        return None
    return data


def read_source(path: Path, sink: Sink, at: Span | None = None, limit: int = MAX_FILE_BYTES) -> str | None:
    """Read a spec file as every command reads it: `read_bytes`, then `text.decode` (UTF-8, line
    breaks `\\r\\n` and a lone `\\r` read as `\\n`); any problem becomes a diagnostic."""
    data = read_bytes(path, sink, at, limit)
    return None if data is None else decode(data, str(path), sink)


STDLIB_MODULES = ("tissues", "agents", "scanners", "anatomy_thorax", "anatomy_thorax_real", "anatomy_head", "anatomy_hand",
                  "pathologies", "governance")


def _stdlib_root():
    return files("synthspec").joinpath("stdlib")


@lru_cache(maxsize=1)
def stdlib() -> tuple[Registry, tuple[D.Diagnostic, ...]]:
    """Parse and elaborate the stdlib once per process; its diagnostics must be empty."""
    sink = Sink()
    registry = Registry()
    root = _stdlib_root()
    for name in STDLIB_MODULES:
        text = decode(root.joinpath(f"{name}.synth").read_bytes(), f"stdlib/{name}.synth", sink)
        if text is None:
            continue
        module, errors = parse_text(text, f"stdlib/{name}.synth")
        for e in errors:
            sink.add(e)
        if module is None:
            continue
        for d in definitions(module, sink):
            registry.add(d, sink)
    return registry, tuple(sink.items)


def definitions(module: Module, sink: Sink) -> list[Definition]:
    """Elaborate the top-level blocks of a module (cohorts included)."""
    elaborator = Elaborator(sink)
    out = []
    for item in module.items:
        if isinstance(item, Block):
            if item.kind not in SCHEMAS or item.kind not in ("cohort", *DEFINITION_KINDS):
                from synthspec.compiler.elaborate import suggest
                from synthspec.compiler.schema import TOP_LEVEL

                sink.report(N.UNKNOWN_BLOCK, item.span, kind=item.kind, parent="the top level of a file",
                            suggestion=suggest(item.kind, TOP_LEVEL))
                continue
            d = elaborator.block(item)
            if d is not None:
                if d.name is None:
                    sink.report(N.MISSING_REQUIRED, item.span, block=item.kind, key="a name")
                    continue
                out.append(d)
        elif isinstance(item, Field):
            sink.report(N.UNKNOWN_FIELD, item.key_span, key=item.key, block="the top level of a file",
                        suggestion="put fields inside a block such as `cohort NAME { ... }`")
    return out


@dataclass
class Program:
    """Everything a spec brings into scope: its modules, the registry and its cohort."""

    entry: str
    modules: dict[str, Module] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)
    """Each file's text as the compiler reads it (line breaks as `\\n`)."""
    sources: dict[str, str] = field(default_factory=dict)
    """Each file's text exactly as it is on disk (its own line endings), for provenance."""
    registry: Registry = field(default_factory=Registry)
    cohorts: list[Definition] = field(default_factory=list)
    entry_cohorts: list[Definition] = field(default_factory=list)
    _by_name: tuple[int, dict[str, Definition]] = field(default_factory=lambda: (-1, {}), repr=False)

    def cohort(self, name: str | None) -> Definition | None:
        """The first cohort of that name; the index is built once, so resolving many cohorts stays linear."""
        if self._by_name[0] != len(self.cohorts):
            index: dict[str, Definition] = {}
            for c in self.cohorts:
                index.setdefault(c.name, c)  # the first definition wins
            self._by_name = (len(self.cohorts), index)
        return self._by_name[1].get(name) if name is not None else None


class Loader:
    def __init__(self, sink: Sink, roots: list[Path], max_bytes: int = MAX_FILE_BYTES,
                 unsaved: dict[str, str] | None = None):
        self.sink = sink
        self.roots = [r for r in map(resolved, roots) if r is not None]
        self.max_bytes = max_bytes
        self.unsaved = unsaved or {}
        """Texts to read instead of the file on disk (an editor's unsaved buffers), by resolved path;
        every other guard (roots, refusals, size, UTF-8, line breaks) applies to them as to a file."""

    def _read(self, path: Path, key: str, at: Span | None) -> bytes | None:
        text = self.unsaved.get(key)
        if text is None:
            return read_bytes(path, self.sink, at, self.max_bytes)
        data = text.encode("utf-8", "surrogatepass")  # a lone surrogate then fails to decode: SYN005, as on disk
        if len(data) > self.max_bytes:
            self.sink.report(S.FILE_TOO_LARGE, Span(file=str(path)), size=len(data), limit=self.max_bytes)
            return None
        return data

    def load(self, path: Path) -> Program:
        registry, stdlib_errors = stdlib()
        for e in stdlib_errors:  # a broken stdlib is a bug in synthspec; say so rather than hide it
            self.sink.add(e)
        program = Program(entry=str(path), registry=registry.copy())
        self._visit(path, program, stack=[], at=None, entry=True)
        return program

    def _inside_roots(self, path: Path) -> bool:
        real = resolved(path)
        return real is not None and any(real == r or r in real.parents for r in self.roots)

    def _visit(self, path: Path, program: Program, stack: list[Path], at: Span | None, entry: bool) -> None:
        real = resolved(path)
        if real is None:
            self.sink.report(S.IMPORT_NOT_FOUND, at or Span(file=str(path)), target=repr(str(path))[1:-1],
                             reason="the path cannot be resolved (a symlink loop or a bad name)", hint="check the path")
            return
        key = str(real)
        if real in stack:
            cycle = " -> ".join(p.name for p in stack[stack.index(real):] + [real])
            self.sink.report(S.IMPORT_CYCLE, at or Span(file=str(path)), cycle=cycle)
            return
        if key in program.modules:
            return
        if len(stack) >= MAX_IMPORT_DEPTH:
            self.sink.report(S.IMPORT_NOT_FOUND, at or Span(file=str(path)), target=str(path),
                             reason=f"imports are chained more than {MAX_IMPORT_DEPTH} files deep",
                             hint="import the shared modules directly instead of through long chains")
            return
        reason = refusal(path, self.roots)
        if reason is not None:
            self.sink.report(S.FILE_REFUSED, at or Span(file=str(path)), target=str(path), reason=reason,
                             hint="point the link at a spec inside the repository, or add its folder to `roots` in "
                                  "[tool.synth]")
            return
        data = self._read(path, key, at)
        text = None if data is None else decode(data, str(path), self.sink)
        if text is None:
            return
        module, errors = parse_text(text, str(path))
        for e in errors:
            self.sink.add(e)
        program.texts[str(path)] = text
        program.sources[str(path)] = data.decode("utf-8")
        if module is None:
            return
        program.modules[key] = module
        for imp in module.imports:
            self._import(imp, path, program, stack + [real])
        for d in definitions(module, self.sink):
            if d.kind == "cohort":
                program.cohorts.append(d)
                if entry:
                    program.entry_cohorts.append(d)
            else:
                program.registry.add(d, self.sink)

    def _import(self, imp: Import, importer: Path, program: Program, stack: list[Path]) -> None:
        if not imp.is_path:
            parts = imp.target.split(".")
            if parts[0] != "stdlib" or len(parts) != 2 or parts[1] not in STDLIB_MODULES:
                from synthspec.compiler.elaborate import suggest

                options = [f"stdlib.{m}" for m in STDLIB_MODULES]
                self.sink.report(S.IMPORT_NOT_FOUND, imp.span, target=imp.target, reason="no such stdlib module",
                                 hint=suggest(imp.target, options) + " (local files are imported as quoted paths)")
            return
        if "\x00" in imp.target:
            self.sink.report(S.IMPORT_NOT_FOUND, imp.span, target=repr(imp.target)[1:-1],
                             reason="the path contains a NUL character", hint="check the path")
            return
        target = Path(imp.target)
        if target.is_absolute() or target.suffix != ".synth":
            self.sink.report(S.IMPORT_OUTSIDE_ROOT if target.is_absolute() else S.IMPORT_NOT_FOUND, imp.span,
                             target=imp.target, roots=", ".join(str(r) for r in self.roots),
                             reason="only relative paths to .synth files can be imported",
                             hint="write a relative path ending in .synth")
            return
        path = importer.parent / target
        if resolved(path) is None:
            self.sink.report(S.IMPORT_NOT_FOUND, imp.span, target=imp.target,
                             reason="the path cannot be resolved (a symlink loop or a bad name)", hint="check the path")
            return
        if not self._inside_roots(path):
            self.sink.report(S.IMPORT_OUTSIDE_ROOT, imp.span, target=imp.target,
                             roots=", ".join(str(r) for r in self.roots))
            return
        self._visit(path, program, stack, imp.span, entry=False)


def merge(child: Definition, parent: Definition) -> Definition:
    """`extends`: the child's fields win; same-kind blocks merge, named ones by name."""
    values = {**parent.values, **child.values}
    spans = {**parent.spans, **child.spans}
    children: list[Definition] = []
    schema = SCHEMAS[child.kind]
    for p in parent.children:
        match = next((c for c in child.children if c.kind == p.kind and
                      (p.kind not in schema.repeatable or c.name == p.name)), None)
        children.append(merge(match, p) if match is not None else p)
    for c in child.children:
        if not any(c is m or (m.kind == c.kind and (c.kind not in schema.repeatable or m.name == c.name))
                   for m in parent.children):
            children.append(c)
    return child.model_copy(update={"values": values, "spans": spans, "children": children,
                                    "requires": parent.requires + child.requires})


def resolve_extends(cohort: Definition, program: Program, sink: Sink, seen: tuple[str, ...] = ()) -> Definition:
    """Merge `cohort` with the chain of cohorts it extends, parent first.

    Walks the chain in a loop (a chain of thousands of cohorts must not exhaust
    the stack); a cycle or an unknown parent ends the chain with a diagnostic.
    """
    chain = [cohort]
    names = seen + (cohort.name,)
    current = cohort
    while current.extends is not None:
        if current.extends in names:
            sink.report(S.IMPORT_CYCLE, current.span, cycle=" -> ".join(names + (current.extends,)))
            break
        parent = program.cohort(current.extends)
        if parent is None:
            from synthspec.compiler.elaborate import suggest

            sink.report(N.UNKNOWN_REFERENCE, current.span, what="cohort to extend", name=current.extends,
                        suggestion=suggest(current.extends, [c.name for c in program.cohorts if c is not current], "cohort")
                        + " (import the file that defines it)")
            break
        chain.append(parent)
        names += (parent.name,)
        current = parent
    merged = chain[-1]
    for child in reversed(chain[:-1]):
        merged = merge(child, merged)
    return merged
