"""`synth lsp`: the language server for editors, on stdin and stdout.

It loads the compiler and pygls (the `lsp` extra), nothing of the generator; the work lives in
`synthspec.lsp` (see its docstring for what each feature does).  Without pygls the command says
how to install it (`main` turns the missing import into one line, as for the `run` extra).
"""

from __future__ import annotations

from synthspec.errors import EXIT_OK


def args_lsp(p) -> None:
    p.description = ("Run the language server over stdin and stdout: `synth check` diagnostics as you type, hover "
                     "docs for stdlib names and rule codes, completion of stdlib references, formatting by `synth fmt`. "
                     "Editors start it; see editors/README.md.")
    p.add_argument("--stdio", action="store_true",
                   help="talk over stdin and stdout (the default and only transport; accepted because editors pass it)")


def cmd_lsp(args) -> int:
    from synthspec.lsp.server import serve  # without pygls or lsprotocol: ModuleNotFoundError, one line in `main`

    serve()
    return EXIT_OK
