"""The `.synth` grammar (lark, LALR). Only the grammar file lives here; see compiler.parse."""

from importlib.resources import files

GRAMMAR_PATH = files(__package__).joinpath("synth.lark")
