"""The .npz cache of arrays derived from real priors: built once, reused, rebuilt when damaged."""

from __future__ import annotations

import numpy as np

from synthspec.families.array_cache import cached_arrays


def test_built_once_then_read_back_and_a_damaged_file_is_rebuilt(tmp_path):
    calls = []

    def build():
        calls.append(1)
        return {"a": np.arange(5), "b": np.ones((2, 2), np.float32)}

    target = tmp_path / "priors" / "thing-v1.npz"
    first = cached_arrays(target, build)
    again = cached_arrays(target, build)
    assert len(calls) == 1 and set(again) == {"a", "b"}
    assert np.array_equal(again["a"], first["a"]) and again["b"].dtype == np.float32
    assert [p.name for p in target.parent.iterdir()] == [target.name]   # no temporary file left behind
    target.write_bytes(b"not an npz")
    assert np.array_equal(cached_arrays(target, build)["a"], np.arange(5)) and len(calls) == 2
