"""The `synth` command line.

Exit codes: 0 clean, 1 findings at or above the failing severity (or a failed
run), 2 usage error (bad arguments, missing files, unreadable configuration).
`check`, `fmt`, `explain` and `rules` import only the compiler: no torch,
MONAI or SimpleITK, so linting stays fast.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from synthspec import __version__

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2

DESCRIPTION = """\
synth compiles .synth cohort specs into synthetic medical-imaging cohorts.

  synth check specs/               lint specs (add --format sarif for code scanning)
  synth fmt specs/                 rewrite specs in the canonical layout
  synth explain PHY001             what a rule checks, why, and how to fix it
  synth rules                      list every rule
"""


class UsageError(Exception):
    """Bad input to the command line itself; printed as one line, exit 2."""


def _colour(stream) -> bool:
    return stream.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


def _config_for(paths: list[Path], explicit: str | None):
    from synthspec.compiler import config as cfg

    source = Path(explicit) if explicit else cfg.find(paths[0] if paths else Path.cwd())
    if explicit and not source.is_file():
        raise UsageError(f"configuration file {explicit} " + ("is not a file" if source.exists() else "does not exist"))
    try:
        return cfg.load(source)
    except cfg.ConfigError as error:
        raise UsageError(str(error)) from None


def _settle_stdlib() -> None:
    """Load the stdlib once, then move it out of the garbage collector's sight.

    The stdlib's few thousand objects live for the whole process; freezing them
    keeps every later collection from re-scanning them (a short-lived CLI only).
    """
    import gc

    from synthspec.compiler.resolve import stdlib

    stdlib()
    gc.freeze()


def cmd_check(args) -> int:
    from synthspec.compiler import render
    from synthspec.compiler.check import collect, compile_file
    from synthspec.compiler.diagnostics import Severity

    paths = [Path(p) for p in args.paths]
    config = _config_for(paths, args.config)
    files, missing = collect(paths, config.exclude)
    if missing:
        raise UsageError(f"no such file or folder: {', '.join(missing)}")
    if not files:
        raise UsageError(f"no .synth files under {', '.join(args.paths)}")
    if args.fail_on:
        config.fail_on = Severity(args.fail_on)
    _settle_stdlib()
    results = [compile_file(f, config) for f in files]
    diagnostics = [d for r in results for d in r.diagnostics]
    texts = {k: v for r in results if r.program for k, v in r.program.texts.items()}
    visible = [d for d in diagnostics if not d.suppressed]
    out = sys.stdout
    if args.format == "text":
        if visible:
            out.write(render.text(visible, texts, colour=_colour(out)))
        if not args.quiet or visible:
            out.write(render.summary(diagnostics, len(files)) + "\n")
    elif args.format == "json":
        out.write(render.as_json(diagnostics, len(files)) + "\n")
    elif args.format == "sarif":
        root = config.source.parent if config.source else Path.cwd()
        out.write(render.sarif(diagnostics, root, texts) + "\n")
    elif args.format == "github":
        if visible:
            out.write(render.github(visible) + "\n")
    failed = any(r.failed(config.fail_on) for r in results)
    return EXIT_FINDINGS if failed else EXIT_OK


def cmd_fmt(args) -> int:
    from synthspec.compiler import fmt
    from synthspec.compiler.check import collect

    paths = [Path(p) for p in args.paths]
    config = _config_for(paths, None)
    files, missing = collect(paths, config.exclude)
    if missing:
        raise UsageError(f"no such file or folder: {', '.join(missing)}")
    if not files:
        raise UsageError(f"no .synth files under {', '.join(args.paths)}")
    changed = failed = 0
    for path in files:
        try:
            original = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            print(f"{path}: cannot read: {error}", file=sys.stderr)
            failed += 1
            continue
        formatted, problems = fmt.format_text(original, str(path))
        if formatted is None:
            from synthspec.compiler import render

            sys.stderr.write(render.text(problems, {str(path): original}, colour=_colour(sys.stderr)))
            failed += 1
            continue
        if formatted == original:
            continue
        changed += 1
        if args.check or args.diff:
            if args.diff:
                import difflib

                sys.stdout.writelines(difflib.unified_diff(original.splitlines(True), formatted.splitlines(True),
                                                           f"a/{path}", f"b/{path}"))
            else:
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
        return EXIT_FINDINGS
    return EXIT_FINDINGS if (args.check or args.diff) and changed else EXIT_OK


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="synth", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"synthspec {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("check", help="lint specs: syntax, names, units, anatomy, physics, population, governance",
                       description="Check .synth specs and report every problem with its place and a fix. "
                                   "Exit 0 when clean, 1 when findings reach --fail-on, 2 on usage errors.")
    p.add_argument("paths", nargs="+", metavar="PATH", help="spec files or folders (searched for *.synth)")
    p.add_argument("--format", choices=("text", "json", "sarif", "github"), default="text",
                   help="text for people, json for tools, sarif for code scanning, github for workflow annotations")
    p.add_argument("--fail-on", choices=("error", "warning", "info"), help="lowest severity that fails the check (default: error)")
    p.add_argument("--config", metavar="FILE", help="synth.toml or pyproject.toml to use instead of the nearest one")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing when clean")
    p.set_defaults(run=cmd_check)

    p = sub.add_parser("fmt", help="rewrite specs in the one canonical layout (comments kept)",
                       description="Format .synth files. --check and --diff change nothing and exit 1 when a file would change.")
    p.add_argument("paths", nargs="+", metavar="PATH")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="list files that would change; exit 1 if any")
    mode.add_argument("--diff", action="store_true", help="print the changes as a unified diff; exit 1 if any")
    p.set_defaults(run=cmd_fmt)

    p = sub.add_parser("explain", help="explain a rule: what, why, example, fix", description="Explain one rule by code or name.")
    p.add_argument("code", metavar="CODE", help="a rule code such as PHY001, or its name such as implausible-tube-voltage")
    p.set_defaults(run=cmd_explain)

    p = sub.add_parser("rules", help="list every rule with its code, name, severity and family")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(run=cmd_rules)

    _add_runtime_commands(sub)
    return parser


def _add_runtime_commands(sub) -> None:
    """Commands that execute plans live in synthspec.runtime; they are registered only if present."""
    try:
        from synthspec.cli.generate import register
    except ImportError:
        return
    register(sub)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return args.run(args)
    except ModuleNotFoundError as error:
        if error.name and error.name.split(".")[0] in ("torch", "numpy", "scipy", "SimpleITK", "pydicom", "numba", "jinja2"):
            print(f"synth {args.command}: needs {error.name}, which is not installed; "
                  "install the runtime with `pip install 'synthspec[run]'`", file=sys.stderr)
            return EXIT_USAGE
        raise
    except UsageError as error:
        print(f"synth {args.command}: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"synth {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
