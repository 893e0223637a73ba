"""Counter-based seeding: every random stream is a pure function of its coordinates.

A subject's streams depend only on (seed key, cohort seed, subject index, stage),
never on batch size, worker count, order or resume history.  Analyses (validation
splits, bootstraps, reader-pack order, the verify sample) draw from `analysis_rng`,
keyed by their purpose.  Nothing in synthspec draws from global random state.

It sits below every room (the engine, validate and report all use it) and imports
only numpy, and torch inside `torch_stream`.
"""

from __future__ import annotations

import hashlib

import numpy as np

STAGES = ("population", "anatomy", "lesions", "noise", "identity")


def stream_seed(seed_key: str, cohort_seed: int, index: int, stage: str, attempt: int = 0, salt: str = "") -> int:
    """`attempt` > 0 keys the re-draws of a subject that failed anatomy validation; `salt` names a
    cohort-level quantity (such as a pathology's prevalence offset) drawn outside any subject."""
    if stage not in STAGES:
        raise ValueError(f"unknown random stream {stage!r}; known: {', '.join(STAGES)}")
    suffix = (f":retry{attempt}" if attempt else "") + (f":{salt}" if salt else "")
    digest = hashlib.blake2b(f"{seed_key}:{cohort_seed}:{index}:{stage}{suffix}".encode(), digest_size=16).digest()
    return int.from_bytes(digest, "little")


def numpy_stream(seed_key: str, cohort_seed: int, index: int, stage: str, attempt: int = 0) -> np.random.Generator:
    """A Philox generator keyed by the stream's coordinates (counter-based, no shared state)."""
    key = stream_seed(seed_key, cohort_seed, index, stage, attempt)
    return np.random.Generator(np.random.Philox(key=[key & (2**64 - 1), key >> 64]))


def torch_stream(seed_key: str, cohort_seed: int, index: int, stage: str):
    import torch

    g = torch.Generator(device="cpu")
    g.manual_seed(stream_seed(seed_key, cohort_seed, index, stage) & (2**63 - 1))
    return g


ANALYSES = ("realism", "shortcut", "reader_pack", "verify", "bootstrap", "transfer")


def analysis_rng(purpose: str, *coordinates) -> np.random.Generator:
    """The random stream of an analysis (validation split, bootstrap, reader-pack order, verify sample).

    Analyses never draw from global state: each names its purpose and the coordinates that key it
    (a cohort's seed key, a user seed, a check name), so a rerun gives the same result."""
    if purpose not in ANALYSES:
        raise ValueError(f"unknown analysis stream {purpose!r}; known: {', '.join(ANALYSES)}")
    text = ":".join([purpose, *(str(c) for c in coordinates)])
    key = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=16).digest(), "little")
    return np.random.Generator(np.random.Philox(key=[key & (2**64 - 1), key >> 64]))
