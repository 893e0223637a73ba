"""The compiler: `.synth` text to a checked cohort model (and, in `plan`, to an execution plan).

    parse      text -> syntax tree (spans kept)               parse.py, syntax.py
    elaborate  syntax -> definitions in canonical units        elaborate.py, schema.py, units.py
    resolve    imports, stdlib prelude, `extends`              resolve.py
    model      merged definition -> typed cohort model         model.py
    rules      anatomy, physics, population, task, governance  rules/
    check      the whole front half for one file               check.py
"""
