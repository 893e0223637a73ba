"""synthspec: a declarative language and compiler for synthetic medical-imaging cohorts.

The package layout is the pipeline:

    grammar/   the lark grammar of `.synth` files
    compiler/  parse -> syntax tree -> resolve -> checked model -> rules -> diagnostics
    stdlib/    anatomy families, tissue tables, scanners, pathologies (written in .synth)
    runtime/   plan execution: phantoms, physics, writers (never imported by `synth check`)
"""

__version__ = "0.3.0"
LANGUAGE_VERSION = 1
