"""Arrays a family derives from real priors (a template head, a shape library), cached as one .npz file.

`cached_arrays(target, build)` returns the arrays of `target` when that file loads, else calls
`build()` and writes its result there atomically (a temporary file renamed into place), so a crash
never leaves a half-written cache and a damaged one is simply rebuilt.  Naming the file (what it is
keyed by) is the caller's business; this module knows nothing of what the arrays mean.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np


def cached_arrays(target: Path, build: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The arrays cached in `target`, or `build()`'s, which are then cached there."""
    target = Path(target)
    if target.is_file():
        try:
            with np.load(target) as data:
                return {k: data[k] for k in data.files}
        except (OSError, ValueError):
            pass   # a damaged cache file is rebuilt below
    arrays = build()
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".tmp-{target.stem}-", suffix=".npz", dir=target.parent)
    os.close(fd)
    try:
        np.savez_compressed(tmp, **arrays)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return arrays
