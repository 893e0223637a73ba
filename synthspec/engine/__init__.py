"""The engine: runs a plan.  Never imported by `synth check`, `fmt`, `explain` or `rules`.

    seeds.py       counter-based seeds: (seed key, cohort seed, subject index, stream) -> generator
    sample.py      population sampling: one SubjectParams per index, from the plan's typed parameters
    subject.py     STAGES and generate_subject(plan, k): the plan's stages for one subject, in memory
    debug.py       the planted shortcut marker (method development only)
    executor.py    the local executor: batches, progress, resume, then the cohort's closing files
    verify.py      hash every file on disk, regenerate a sample and compare

`generate_subject` is the one entry every executor, verify, the shortcut twins and the
benchmarks call.
"""

from __future__ import annotations


def __getattr__(name: str):
    if name in ("generate_subject", "GeneratedSubject", "STAGES"):
        from synthspec.engine import subject

        return getattr(subject, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
