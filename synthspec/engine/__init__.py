"""The engine: runs a plan.  Never imported by `synth check`, `fmt`, `explain` or `rules`.

    sample.py      population sampling: one SubjectParams per index, from the plan's typed parameters
    subject.py     STAGES and generate_subject(plan, k): the plan's stages for one subject, in memory
    debug.py       the planted shortcut marker (method development only)
    executor.py    the local executor: batches, progress, resume, then the cohort's closing files
    verify.py      hash every file on disk, regenerate a sample and compare

Random streams come from `synthspec.seeds` (below every room).  `generate_subject` is the one entry every executor, verify, the shortcut twins and the
benchmarks call; `sample_subject` and `plant_shortcut` are the other public names (what subject
k would be, and the planted marker).
"""

from __future__ import annotations


_PUBLIC = {"generate_subject": "subject", "GeneratedSubject": "subject", "STAGES": "subject",
           "sample_subject": "sample", "SubjectParams": "sample", "plant_shortcut": "debug",
           "DEFAULT_MARKER_STRENGTH": "debug"}


def __getattr__(name: str):
    if name in _PUBLIC:
        from importlib import import_module

        return getattr(import_module(f"synthspec.engine.{_PUBLIC[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
