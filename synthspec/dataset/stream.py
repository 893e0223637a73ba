"""`SubjectStream`: an endless iterable of new subjects for training that never sees a subject twice.

Draw n of the stream is subject `start + seed * BLOCK + n` of the plan: `start` defaults to the plan's
subject count, so the stream begins past the cohort `synth run` writes (held out from it), and each
seed owns its own block of 2**32 indices, so streams of different seeds never share a subject.
Consecutive indices keep the sampler's balance (strata by index, prevalence by a low-discrepancy
sequence, `engine.sample`), which a random permutation would only approximate.

In a DataLoader with W workers, worker w yields draws w, w + W, w + 2W, ...  (`get_worker_info`), so
no two workers yield the same subject; what a worker yields depends on (start, seed, w, W) alone, and
with batch_size=1 the DataLoader's in-order delivery gives draws 0, 1, 2, ... whatever W is.  `limit`
ends the stream after that many draws in all (across the workers); None (default) never ends.
Items are `dataset.item.subject_item`'s, then `transform(item)`; the rest is `SubjectDataset`'s.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from synthspec.dataset.item import ItemOptions, subject_item
from synthspec.dataset.map import check_options
from synthspec.dataset.source import plan_of
from synthspec.errors import UsageError

BLOCK = 2 ** 32
"""Indices each seed owns."""


def stream_indices(start: int, seed: int = 0, worker: int = 0, workers: int = 1,
                   limit: int | None = None) -> Iterator[int]:
    """The subject indices worker `worker` of `workers` yields (all of them when workers is 1)."""
    base = start + seed * BLOCK
    n = worker
    while limit is None or n < limit:
        yield base + n
        n += workers


def _whole(name: str, value, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise UsageError(f"{name} must be a whole number of at least {low}, not {value!r}")


class SubjectStream(torch.utils.data.IterableDataset):
    """New subjects of `source` without end (or `limit` of them), split across DataLoader workers."""

    def __init__(self, source, *, start: int | None = None, seed: int = 0, limit: int | None = None,
                 twins: bool = False, transform=None, device: str = "cpu",
                 dtype: torch.dtype | None = torch.float32, lesion_mask: bool = False) -> None:
        check_options(transform, device, dtype)
        _whole("seed", seed, 0)
        if start is not None:
            _whole("start", start, 0)
        if limit is not None:
            _whole("limit", limit, 1)
        self.plan = plan_of(source, device)
        self.start = self.plan.subjects if start is None else start
        self.seed = seed
        self.limit = limit
        self.options = ItemOptions(twins=bool(twins), lesion_mask=bool(lesion_mask), device=device, dtype=dtype)
        self.transform = transform

    def indices(self, worker: int = 0, workers: int = 1) -> Iterator[int]:
        """The indices worker `worker` of `workers` yields."""
        return stream_indices(self.start, self.seed, worker, workers, self.limit)

    def __iter__(self) -> Iterator[dict]:
        info = torch.utils.data.get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        for k in self.indices(worker, workers):
            item = subject_item(self.plan, k, self.options)
            yield item if self.transform is None else self.transform(item)

    def __repr__(self) -> str:
        return (f"SubjectStream({self.plan.cohort_name!r}, start={self.start}, seed={self.seed}, limit={self.limit}, "
                f"twins={self.options.twins}, device={self.options.device!r})")
