"""`synth check`, `synth fmt`, `synth explain`, `synth rules`: the lint commands.

They import only the compiler (lark, pydantic) and `synthspec.errors`: no generator module, no
torch, MONAI or SimpleITK, so a repository of specs lints in well under a second (a test runs each
command in a fresh interpreter and lists what it imported).  The compiler loads inside the command
functions, so building these parsers imports nothing at all.
"""

from __future__ import annotations

import sys
from pathlib import Path

from synthspec.cli.common import colour
from synthspec.errors import EXIT_FAIL, EXIT_OK, InputError, UsageError


def config_for(paths: list[Path], explicit: str | None):
    """The repository configuration: `explicit` (--config) or the nearest synth.toml / pyproject.toml."""
    from synthspec.compiler import config as cfg

    source = Path(explicit) if explicit else cfg.find(paths[0] if paths else Path.cwd())
    if explicit and not source.is_file():
        raise UsageError(f"configuration file {explicit} " + ("is not a file" if source.exists() else "does not exist")
                         + "; give --config a synth.toml or pyproject.toml")
    try:
        return cfg.load(source)
    except cfg.ConfigError as error:
        raise InputError(str(error)) from None


def _specs(raw: list[str], config) -> list[Path]:
    from synthspec.compiler.check import collect

    files, missing = collect([Path(p) for p in raw], config.exclude)
    if missing:
        raise InputError(f"no such file or folder: {', '.join(missing)}")
    if not files:
        raise InputError(f"no .synth files under {', '.join(raw)}")
    return files


def _settle_stdlib() -> None:
    """Load the stdlib once, then move it out of the garbage collector's sight.

    The stdlib's few thousand objects live for the whole process; freezing them
    keeps every later collection from re-scanning them (a short-lived CLI only).
    """
    import gc

    from synthspec.compiler.resolve import stdlib

    stdlib()
    gc.freeze()


def _settle() -> None:
    """Move what the checks built out of the garbage collector's sight before rendering.

    Rendering a large report allocates as much again; without this every collection would rescan
    the syntax trees and findings of all files (a third of the time on a file of 60,000 findings)."""
    import gc

    gc.freeze()


# ---- check ---------------------------------------------------------------------------------------

def args_check(p) -> None:
    p.description = ("Check .synth specs and report every problem with its place and a fix. "
                     "Exit 0 when clean, 1 when findings reach --fail-on, 2 on usage errors.")
    p.add_argument("paths", nargs="+", metavar="PATH", help="spec files or folders (searched for *.synth)")
    p.add_argument("--format", choices=("text", "json", "sarif", "github"), default="text",
                   help="text for people, json for tools, sarif for code scanning, github for workflow annotations")
    p.add_argument("--fail-on", choices=("error", "warning", "info"),
                   help="lowest severity that fails the check (default: error, or fail-on in the configuration)")
    p.add_argument("--config", metavar="FILE", help="synth.toml or pyproject.toml to use instead of the nearest one")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing when clean")
    p.add_argument("--max-findings", type=_count, default=200, metavar="N",
                   help="findings printed per file in text and github output, then one line with how many more "
                        "(default 200; 0 prints all; json and sarif always hold every finding)")


def _count(text: str) -> int:
    import argparse

    try:
        value = int(text) if text.isascii() else -1
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number of findings, 0 or more, not {text!r}")
    return value


def cmd_check(args) -> int:
    from synthspec.compiler import render
    from synthspec.compiler.check import compile_file
    from synthspec.compiler.diagnostics import Severity

    config = config_for([Path(p) for p in args.paths], args.config)
    files = _specs(args.paths, config)
    if args.fail_on:
        config.fail_on = Severity(args.fail_on)
    _settle_stdlib()
    results = [compile_file(f, config) for f in files]
    _settle()
    diagnostics = [d for r in results for d in r.diagnostics]
    texts = {k: v for r in results if r.program for k, v in r.program.texts.items()}
    visible = [d for d in diagnostics if not d.suppressed]
    limit = getattr(args, "max_findings", 200) or None
    out = sys.stdout
    if args.format == "text":
        if visible:
            out.write(render.text(visible, texts, colour=colour(out), limit=limit))
        if not args.quiet or visible:
            out.write(render.summary(diagnostics, len(files)) + "\n")
    elif args.format == "json":
        out.write(render.as_json(diagnostics, len(files)) + "\n")
    elif args.format == "sarif":
        root = config.source.parent if config.source else Path.cwd()
        out.write(render.sarif(diagnostics, root, texts) + "\n")
    elif args.format == "github":
        if visible:
            out.write(render.github(visible, limit=limit) + "\n")
    failed = any(r.failed(config.fail_on) for r in results)
    return EXIT_FAIL if failed else EXIT_OK


# ---- fmt -----------------------------------------------------------------------------------------

def args_fmt(p) -> None:
    p.description = ("Format .synth files in place, keeping comments. --check and --diff change nothing and exit 1 "
                     "when a file would change.")
    p.add_argument("paths", nargs="+", metavar="PATH", help="spec files or folders (searched for *.synth)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="list files that would change; exit 1 if any")
    mode.add_argument("--diff", action="store_true", help="print the changes as a unified diff; exit 1 if any")


def _read_spec(path: Path, config) -> tuple[bytes | None, str | None, str]:
    """A spec's bytes and its text exactly as `synth check` reads them (regular files inside the allowed
    roots, at most max-file-bytes, UTF-8, every line break read as `\\n`: the one decoder of
    `compiler.text`), or None and why; a refused file is never opened, a large one never read past the limit."""
    from synthspec.compiler.diagnostics import Sink
    from synthspec.compiler.resolve import default_roots, read_bytes, refusal
    from synthspec.compiler.text import decode

    reason = refusal(path, config.roots or default_roots(path, config.source))
    if reason is not None:
        return None, None, f"it was not read: {reason}"
    sink = Sink()
    data = read_bytes(path, sink, limit=config.max_file_bytes)
    text = decode(data, str(path), sink) if data is not None else None
    if text is None:
        return None, None, "; ".join(d.message for d in sink.items) or "it cannot be read"
    return data, text, ""


def _kept_lines(text: str) -> list[str]:
    """Lines ending at `\\n` with their ending kept (`str.splitlines` would also cut at form feeds, U+2028...)."""
    parts = text.split("\n")
    return [line + "\n" for line in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def cmd_fmt(args) -> int:
    from synthspec.compiler import fmt

    config = config_for([Path(p) for p in args.paths], None)
    files = _specs(args.paths, config)
    changed = failed = 0
    for path in files:  # a file that cannot be read or written is a finding (exit 1); the others still run
        data, original, problem = _read_spec(path, config)
        if original is None:
            print(f"{path}: not formatted: {problem}", file=sys.stderr)   # never the refused file's contents
            failed += 1
            continue
        formatted, problems = fmt.format_text(original, str(path))
        if formatted is None:
            from synthspec.compiler import render

            sys.stderr.write(render.text(problems, {str(path): original}, colour=colour(sys.stderr)))
            failed += 1
            continue
        if formatted.encode("utf-8") == data:  # byte for byte: `\r\n` or a lone `\r` is a change to `\n`
            continue
        changed += 1
        if args.diff:
            import difflib

            sys.stdout.writelines(difflib.unified_diff(_kept_lines(data.decode("utf-8")), _kept_lines(formatted),
                                                       f"a/{path}", f"b/{path}"))
            if original == formatted:
                print(f"# {path}: only the line endings change (to \\n)")
        elif args.check:
            print(f"would reformat {path}")
        else:
            try:
                fmt.write_atomic(path, formatted)
            except OSError as error:
                print(f"{path}: cannot write: {error.strerror or error} (the file is unchanged)", file=sys.stderr)
                failed += 1
                continue
            print(f"reformatted {path}")
    verb = "would be reformatted" if (args.check or args.diff) else "reformatted"
    print(f"{changed} file(s) {verb}, {len(files) - changed - failed} unchanged" + (f", {failed} not readable" if failed else ""),
          file=sys.stderr)
    if failed:
        return EXIT_FAIL
    return EXIT_FAIL if (args.check or args.diff) and changed else EXIT_OK


# ---- explain and rules ---------------------------------------------------------------------------

def args_explain(p) -> None:
    p.description = "Explain one rule by code or name: what it checks, why it matters, an example and the fix."
    p.add_argument("code", metavar="CODE", help="a rule code such as PHY001, or its name such as implausible-tube-voltage")


def cmd_explain(args) -> int:
    import difflib

    from synthspec.compiler.elaborate import suggest
    from synthspec.compiler.rules import all_rules, get_rule

    wanted = args.code.strip()
    rule = get_rule(wanted)
    if rule is None:
        by_name = {r.name: r for r in all_rules()}
        rule = by_name.get(wanted.lower().replace("_", "-"))
    if rule is None:
        # codes are upper case and names lower case: compare each in its own case, so a typo in
        # either (`PHY01`, `implausible-tube-voltag`) finds its neighbours
        rules = all_rules()
        close = [*difflib.get_close_matches(wanted.upper(), [r.code for r in rules], n=3, cutoff=0.6),
                 *difflib.get_close_matches(wanted.lower(), [r.name for r in rules], n=3, cutoff=0.6)]
        advice = suggest(wanted, close) if close else "`synth rules` lists them"
        raise UsageError(f"no rule `{wanted}`; {advice}")
    sys.stdout.write(rule.explain())
    return EXIT_OK


def args_rules(p) -> None:
    p.description = "List every rule with its code, name, severity and family (the count goes to stderr)."
    p.add_argument("--format", choices=("text", "json"), default="text",
                   help="text: one rule a line; json: a list with code, name, severity, family, message, fixable")


def cmd_rules(args) -> int:
    from synthspec.compiler.rules import all_rules

    rules = all_rules()
    if args.format == "json":
        import json

        print(json.dumps([{"code": r.code, "name": r.name, "severity": r.severity.value, "family": r.family,
                           "message": r.message, "fixable": r.fix is not None} for r in rules], indent=2))
        return EXIT_OK
    for r in rules:
        print(f"{r.code}  {r.name:<32} {r.severity.value:<8} {r.family}")
    print(f"{len(rules)} rules", file=sys.stderr)
    return EXIT_OK
