"""The runtime: executes a plan.  Never imported by `synth check` or `synth fmt`.

    seeds.py       counter-based seeds: (seed key, cohort seed, subject index, stage) -> stream
    sample.py      population sampling: one SubjectParams per index
    phantom/       procedural anatomy (label map + HU)
    pathology/     lesion insertion under constraints
    physics/       modality simulators (CT)
    writers/       NIfTI, DICOM, manifest, provenance (atomic)
    executor.py    batches, progress, resume, cohort hash
    verify.py      regenerate a sample and compare
"""
