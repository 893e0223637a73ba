"""`synth check`: the front half of the compiler as one function per file.

    read -> parse -> elaborate (names, units, ranges) -> resolve imports and extends
         -> checked model -> rule families -> suppressions and configuration

Nothing here imports torch, MONAI or SimpleITK: linting stays fast.
"""

from __future__ import annotations

import datetime
import gc
import os
from dataclasses import dataclass, field
from pathlib import Path

from synthspec import LANGUAGE_VERSION
from synthspec.compiler.config import Config
from synthspec.compiler.context import CheckContext
from synthspec.compiler.diagnostics import Diagnostic, Severity, Sink, Span
from synthspec.compiler.elaborate import Definition, Elaborator
from synthspec.compiler.model import Cohort, build_cohort
from synthspec.compiler.resolve import Loader, Program, default_roots, resolve_extends, resolved
from synthspec.compiler.rules import model_checks
from synthspec.compiler.rules import names as N
from synthspec.compiler.rules import syntax as S
from synthspec.compiler.suppress import apply, scan

REQUIRED_BLOCKS = ("task", "population")
MAX_CHECKED_COHORTS = 8
"""A spec compiles one cohort (SYN013 otherwise); of a file that declares several, only the first
this many are merged and run through the rules, so a file of thousands of cohorts (each extending the
one before) stays linear.  Every block of every cohort is still elaborated (names, units, ranges)."""


@dataclass
class FileResult:
    path: str
    diagnostics: list[Diagnostic] = field(default_factory=list)
    cohort: Cohort | None = None
    program: Program | None = None

    @property
    def visible(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if not d.suppressed]

    def failed(self, threshold: Severity) -> bool:
        return any(d.severity.rank >= threshold.rank for d in self.visible)


def today() -> datetime.date:
    """The date governance expiry is judged against; SYNTH_TODAY pins it for reproducible CI."""
    pinned = os.environ.get("SYNTH_TODAY")
    if pinned and pinned.isascii():  # `fromisoformat` would read other scripts' digits
        try:
            return datetime.date.fromisoformat(pinned)
        except ValueError:
            pass
    return datetime.date.today()


def _cwd() -> Path | None:
    try:
        return Path.cwd()
    except OSError:  # the working folder was deleted
        return None


def _missing(elab: Elaborator, d: Definition, label: str) -> None:
    elab.missing(d, label)
    for child in d.children:
        _missing(elab, child, f"{label}.{child.kind}" + (f" {child.name}" if child.name else ""))


def compile_file(path: Path, config: Config | None = None, roots: list[Path] | None = None,
                 unsaved: dict[str, str] | None = None) -> FileResult:
    """Check one spec file; never raises on bad input.

    `unsaved` maps paths to texts read instead of those files on disk (an editor's buffers, the
    language server's); imports still resolve relative to each file's own path.

    The cyclic garbage collector is paused while one file compiles: the passes
    build large acyclic trees, and on a 10,000-line spec the collector rescanning
    them cost a third of the run.  Cycles made meanwhile are collected afterwards.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _compile(path, config, roots, unsaved)
    finally:
        if collecting:
            gc.enable()


def compile_text(text: str, path: Path, config: Config | None = None, roots: list[Path] | None = None) -> FileResult:
    """Check `text` as the contents of the spec at `path` (which need not exist yet)."""
    return compile_file(path, config, roots, unsaved={str(path): text})


def _compile(path: Path, config: Config | None, roots: list[Path] | None,
             unsaved: dict[str, str] | None = None) -> FileResult:
    config = config or Config()
    sink = Sink()
    real = resolved(path)
    allowed = roots or config.roots or default_roots(path, config.source)
    texts = {str(r): t for p, t in (unsaved or {}).items() if (r := resolved(Path(p))) is not None}
    loader = Loader(sink, allowed, config.max_file_bytes, texts)
    program = loader.load(path)
    result = FileResult(path=str(path), program=program)

    entry = program.modules.get(str(real)) if real is not None else None
    if entry is not None:
        header = entry.header
        if header is None:
            sink.report(S.MISSING_HEADER, Span(file=str(path)))
        elif header.version != LANGUAGE_VERSION:
            sink.report(S.UNSUPPORTED_VERSION, header.span, version=header.version, supported=LANGUAGE_VERSION)
        user_files = {m.file for m in program.modules.values()}
        N.check_definitions(program.registry, sink, user_files)
        if not program.entry_cohorts and not any(
                d.span.file == str(path) for table in program.registry.items.values() for d in table.values()):
            sink.report(S.NO_COHORT, Span(file=str(path)))
        if len(program.entry_cohorts) > 1:
            skipped = len(program.entry_cohorts) - MAX_CHECKED_COHORTS
            hint = None if skipped <= 0 else (f"move each cohort into its own file (use `extends` to share); only the first "
                                              f"{MAX_CHECKED_COHORTS} were checked in full, {skipped} were not")
            sink.report(S.MANY_COHORTS, program.entry_cohorts[1].span, hint=hint, count=len(program.entry_cohorts))

    for definition in program.entry_cohorts[:MAX_CHECKED_COHORTS]:
        merged = resolve_extends(definition, program, sink)
        elab = Elaborator(sink)
        _missing(elab, merged, f"cohort {merged.name}")
        for kind in REQUIRED_BLOCKS:
            if merged.child(kind) is None:
                sink.report(N.MISSING_REQUIRED, merged.span, block=f"cohort {merged.name}", key=f"{kind} {{ ... }}")
        cohort = build_cohort(merged, str(path))
        ctx = CheckContext(cohort=cohort, registry=program.registry, sink=sink, today=today())
        for rule_check in model_checks():
            try:
                rule_check(ctx)
            except Exception as error:  # a rule bug must not hide the other findings or show a traceback
                sink.report(S.SYNTAX_ERROR, cohort.span, detail=f"internal error in check `{rule_check.__name__}`: {error!r}",
                            expected="please report this to the synthspec maintainers")
        result.cohort = result.cohort or cohort

    def configure(items: list[Diagnostic]) -> list[Diagnostic]:
        """Drop codes the configuration does not select and re-grade the rest (idempotent)."""
        out = []
        for d in items:
            if config.enabled(d.code):
                graded = config.grade(d.code, d.severity)
                out.append(d if graded is d.severity else d.model_copy(update={"severity": graded}))
        return out

    diagnostics = configure(sink.sorted())
    suppressions = {}
    for file, text in program.texts.items():
        found, problems = scan(text, file)
        suppressions[file] = found
        diagnostics.extend(problems)
    diagnostics = configure(apply(diagnostics, suppressions))
    result.diagnostics = sorted(diagnostics, key=Diagnostic.sort_key)
    return result


def collect(paths: list[Path], exclude: list[Path] | None = None) -> tuple[list[Path], list[str]]:
    """Expand folders to their .synth files (sorted), skipping excluded folders; report paths that do not exist.

    A file named explicitly is always kept, even inside an excluded folder.
    """
    skip = [e.resolve() for e in exclude or []]

    def excluded(q: Path) -> bool:
        r = q.resolve()
        return any(r == e or e in r.parents for e in skip)

    files, missing = [], []
    for p in paths:
        if p.is_dir():
            files.extend(sorted(q for q in p.rglob("*.synth") if q.is_file() and not excluded(q)))
        elif p.exists():
            files.append(p)
        else:
            missing.append(str(p))
    return files, missing
