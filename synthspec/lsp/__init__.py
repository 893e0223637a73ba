"""The language server room: `synth lsp` for editors, on pygls.

It is a front end of the compiler, like `synth check`: every diagnostic, hover and completion comes
from the compiler's own passes (`compiler.check.compile_text`, `compiler.parse`, `compiler.fmt`, the
rule registry and the stdlib registry), never from a second parser.  The room sits just above the
stdlib, so the layout test keeps it from importing anything of the generator (no engine, families,
plan, cohort, validate or report; no torch or numpy).

    positions  compiler spans (1-based, code points) <-> LSP ranges (0-based, UTF-16 by default)
    analysis   compile an editor's buffer and turn its findings into LSP diagnostics; formatting
    cursor     what the cursor is on, read from the compiler's syntax tree
    knowledge  what names and rule codes mean: hover texts and completion candidates
    server     the pygls wiring: document sync, publishDiagnostics, hover, completion, formatting
    client     a minimal stdio client for the tests and benchmarks/lsp_latency.py (not for editors)

Importing this package imports nothing; pygls is imported by `server` only.
"""
