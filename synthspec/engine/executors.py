"""The executors a plan can run on: one line each, nothing imported until one is asked for.

Every executor calls `engine.generate_subject(plan, k)` and writes through `cohort.writer`, so
the cohort is byte-identical whichever runs it.  Importing this module loads only the standard
library: the CLI lists the choices while it builds its parser.
"""

from __future__ import annotations

from importlib import import_module

EXECUTORS: tuple[tuple[str, str, str], ...] = (
    ("local", "synthspec.engine.executor:run", "this process, subjects in batches (CPU, or CUDA when present)"),
    ("ray", "synthspec.engine.executor_ray:run",
     "Ray tasks, one per subject, on a local Ray or the cluster at --address (needs the `ray` extra)"),
)
NAMES = tuple(name for name, _, _ in EXECUTORS)


def executor(name: str):
    """The run function of an executor: run(plan, out, resume=False) -> RunSummary."""
    for entry, target, _ in EXECUTORS:
        if entry == name:
            module, _, attribute = target.partition(":")
            return getattr(import_module(module), attribute)
    from synthspec.errors import UsageError

    raise UsageError(f"no executor `{name}` (available: {', '.join(NAMES)})")
