"""Lesion insertion under the spec's constraints.

    nodule.py    lung nodules (solid, part-solid, ground-glass) by rejection sampling
"""
