"""synthspec: a declarative language and compiler for synthetic medical-imaging cohorts.

The package layout is the pipeline:

    grammar/   the lark grammar of `.synth` files
    compiler/  parse -> syntax tree -> resolve -> checked model -> rules -> diagnostics
    stdlib/    anatomy families, tissue tables, scanners, pathologies (written in .synth)
    families/  registry; anatomy (tissues), modality (contrast and acquisition), pathology (tissue layers)
    plan/      the typed execution plan, lowered with the families
    cohort/    the on-disk contract of a cohort folder
    engine/    generate_subject(plan, k), executors, verify (never imported by `synth check`)
    validate/  anatomy, realism, shortcut tests;  report/  card, HTML, reader pack;  cli/  `synth`
    errors.py, seeds.py, identity.py sit below every room; api.py is the whole path in a few functions
"""

__version__ = "0.14.0"
LANGUAGE_VERSION = 1
