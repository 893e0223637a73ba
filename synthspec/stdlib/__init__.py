"""The standard library, written in .synth and shipped as package data (see compiler.resolve)."""
