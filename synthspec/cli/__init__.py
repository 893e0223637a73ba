"""The `synth` command line: one table of commands, one error hierarchy caught once in `main`.

Exit codes: 0 ok; 1 findings at or above --fail-on, a failed run or failed checks; 2 every usage
error (bad arguments, missing or damaged files, unreadable configuration); 130 interrupted.

`COMMANDS` lists every subcommand with the module that holds it.  A module `synthspec.cli.<room>`
defines, for a command `name`, `args_<name>(parser)` (its arguments, importing nothing) and
`cmd_<name>(args) -> int` (the work, importing what it needs when it runs); `-` in a name is `_`
in these.  `main` imports only the module of the command it runs, so `check`, `fmt`, `explain` and
`rules` load the compiler and nothing of the generator: no torch, MONAI or SimpleITK, no
synthspec.engine, plan, cohort, validate or report.

Errors: a command raises `synthspec.errors.SynthError` (the rooms' PlanError, RunError, CohortError
... derive from it) and `main` prints it as `synth COMMAND: error: MESSAGE` and returns its exit
code; argparse errors print `synth COMMAND: error: MESSAGE` and exit 2 (SystemExit, as argparse
does).  Anything else is a bug and surfaces with its traceback.
"""

from __future__ import annotations

import argparse
import difflib
import os
import sys
from importlib import import_module
from typing import NamedTuple

from synthspec import __version__
from synthspec.cli import common
from synthspec.errors import EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, Interrupted, SynthError, one_line


class Command(NamedTuple):
    name: str
    module: str     # where args_<name> and cmd_<name> live
    help: str       # one line in `synth --help`


COMMANDS: tuple[Command, ...] = (
    Command("check", "synthspec.cli.lint", "lint specs: syntax, names, units, anatomy, physics, population, governance"),
    Command("fmt", "synthspec.cli.lint", "rewrite specs in the one canonical layout (comments kept)"),
    Command("explain", "synthspec.cli.lint", "explain a rule: what, why, example, fix"),
    Command("rules", "synthspec.cli.lint", "list every rule with its code, name, severity and family"),
    Command("plan", "synthspec.cli.generate", "show the execution plan: stages, shapes, device, batch size, memory and time"),
    Command("run", "synthspec.cli.generate", "generate the cohort: images, masks, DICOM, manifest, provenance"),
    Command("verify", "synthspec.cli.generate",
            "check every subject's files against their recorded hashes and regenerate a sample"),
    Command("validate", "synthspec.cli.review", "check a cohort: anatomy, realism against real scans, shortcut tests"),
    Command("report", "synthspec.cli.review", "write the cohort card (Markdown + JSON) and the HTML report"),
    Command("transfer", "synthspec.cli.transfer",
            "train on synthetic, test on held-out real sites: four arms, per-site metrics, the spec's gate"),
    Command("review-pack", "synthspec.cli.review", "blinded reader study: mix synthetic and real slices for a radiologist"),
    Command("review-score", "synthspec.cli.review", "score a reader's answers against the key (accuracy with a 95%% CI)"),
    Command("export", "synthspec.cli.export", "export a cohort for a training framework: nnU-Net v2 (DatasetXXX_NAME)"),
    Command("lsp", "synthspec.cli.lsp", "language server for editors: diagnostics as you type, hover, completion, formatting"),
)
BY_NAME = {c.name: c for c in COMMANDS}
_colour = common.colour  # the old cli module's name for it (tests/test_render.py)

# top-level packages of the `run` extra (and of the `lsp` extra, in EXTRA): a command that needs a missing
# one says how to install it
OPTIONAL = frozenset({"numpy", "scipy", "torch", "SimpleITK", "pydicom", "numba", "jinja2", "tqdm", "matplotlib",
                      "monai", "skimage", "highdicom", "jpeg_ls", "pygls", "lsprotocol"})
EXTRA = {"pygls": ("lsp", "the language server"), "lsprotocol": ("lsp", "the language server")}

DESCRIPTION = """\
synth compiles .synth cohort specs into synthetic medical-imaging cohorts.

  synth check specs/               lint specs (add --format sarif for code scanning)
  synth fmt specs/                 rewrite specs in the canonical layout
  synth explain PHY001             what a rule checks, why, and how to fix it
  synth plan spec.synth            what `synth run` would do, and what it costs
  synth run spec.synth --out DIR   generate the cohort (then validate its anatomy)
  synth report DIR                 cohort card and HTML report

exit codes: 0 ok, 1 findings / failed run / failed checks, 2 usage error, 130 interrupted
"""


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors: `synth run: error: argument --subjects: ...; see `synth run --help``."""

    def error(self, message: str):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (`{self.prog} --help` lists the options)\n")


def _slug(name: str) -> str:
    return name.replace("-", "_")


def _functions(command: Command):
    module = import_module(command.module)
    return getattr(module, f"args_{_slug(command.name)}"), getattr(module, f"cmd_{_slug(command.name)}")


def build_parser(only: str | None = None) -> Parser:
    """The `synth` parser with every command's arguments, or with only those of the command `only`.

    Building a command's arguments imports its cli module, which imports no heavy module; with
    `only`, the other commands are listed (for `synth --help`) without importing anything.
    """
    parser = Parser(prog="synth", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"synthspec {__version__}",
                        help="print the synthspec version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for command in COMMANDS:
        p = sub.add_parser(command.name, help=command.help, description=command.help.replace("%%", "%"))
        p.set_defaults(_command=command)
        if only is None or command.name == only:
            _functions(command)[0](p)
    return parser


def command_word(argv: list[str]) -> str | None:
    """The subcommand in `argv`: its first word that is not an option (`synth` itself takes no values)."""
    for word in argv:
        if word == "--":
            return None
        if not word.startswith("-"):
            return word
    return None


def _unknown(word: str) -> str:
    close = difflib.get_close_matches(word, list(BY_NAME), n=3, cutoff=0.6)
    if not close:
        return f"no command `{word}`; `synth --help` lists them"
    return f"no command `{word}`; did you mean " + " or ".join(f"`{c}`" for c in close) + "?"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    word = command_word(argv)
    if word is not None and word not in BY_NAME:
        sys.stderr.write(f"synth: error: {_unknown(word)}\n")
        raise SystemExit(EXIT_USAGE)
    parser = build_parser(only=word)
    args = parser.parse_args(argv)
    command = getattr(args, "_command", None)
    if command is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        return _functions(command)[1](args)
    except SynthError as error:
        label = "" if isinstance(error, Interrupted) else "error: "
        print(f"synth {command.name}: {label}{one_line(error)}", file=sys.stderr)
        return error.exit_code
    except ModuleNotFoundError as error:
        if (top := (error.name or "").split(".")[0]) in OPTIONAL:
            extra, what = EXTRA.get(top, ("run", "the runtime"))
            print(f"synth {command.name}: error: needs {error.name}, which is not installed; install {what} "
                  f"with `pip install 'synthspec[{extra}]'`", file=sys.stderr)
            return EXIT_USAGE
        raise
    except KeyboardInterrupt:
        print(f"synth {command.name}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        _quiet_stdout()
        return EXIT_OK


def _quiet_stdout() -> None:
    """After the reader of stdout went away (`synth rules | head`), point stdout at /dev/null so the
    interpreter's final flush does not complain."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, sys.stdout.fileno())
        finally:
            os.close(devnull)
    except (OSError, ValueError, AttributeError):  # stdout is not a file (a test's capture): nothing to quiet
        pass
