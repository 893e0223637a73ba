"""`SubjectDataset`: a map-style PyTorch dataset whose item k is subject k of a cohort, made in memory.

    data = SubjectDataset("examples/lung_nodules_ldct.synth", subjects=1000, twins=True, transform=aug)
    loader = torch.utils.data.DataLoader(data, batch_size=1, shuffle=True, num_workers=4)

Item k is `dataset.item.subject_item(plan, k)` (keys and layout there), then `transform(item)` when a
transform is given.  It equals subject k of the cohort `synth run` writes from the same plan, whatever
`subjects` says: the length only chooses how many indices there are (the plan's count by default).

Deterministic and safe in DataLoader workers: every random draw comes from the subject's own counter-
based streams (`synthspec.seeds`), never from global state, and the result does not depend on torch's
thread count (workers run with one thread); the dataset holds the plan and its options only, so it
pickles for the fork and spawn start methods alike.  With device="cuda", use spawn (or no workers).
Batches of more than one item need `collate_fn=list` (or MONAI's `no_collation`), as MONAI's detection
recipes use: the boxes and lesion lists differ in length from subject to subject.
"""

from __future__ import annotations

import operator

import torch

from synthspec.dataset.item import ItemOptions, subject_item
from synthspec.dataset.source import plan_of
from synthspec.errors import UsageError


def check_options(transform, device, dtype) -> None:
    """Refuse, in one line each, the options a dataset or stream cannot use."""
    if transform is not None and not callable(transform):
        raise UsageError(f"transform must be a callable taking and returning the item dict, not "
                         f"{type(transform).__name__}")
    if not isinstance(device, str) or not (device == "cpu" or device == "cuda" or device.startswith("cuda:")):
        raise UsageError(f"device must be cpu, cuda or cuda:N, not {device!r}")
    if dtype is not None and not isinstance(dtype, torch.dtype):
        raise UsageError(f"dtype must be a torch dtype (torch.float32) or None for the delivered dtypes, not {dtype!r}")


class SubjectDataset(torch.utils.data.Dataset):
    """Subjects 0 .. len-1 of `source` (a .synth spec, a plan.json, a cohort folder or a `Plan`)."""

    def __init__(self, source, *, subjects: int | None = None, twins: bool = False, transform=None,
                 device: str = "cpu", dtype: torch.dtype | None = torch.float32, lesion_mask: bool = False) -> None:
        check_options(transform, device, dtype)
        if subjects is not None and (isinstance(subjects, bool) or not isinstance(subjects, int) or subjects < 1):
            raise UsageError(f"subjects must be a whole number of at least 1, not {subjects!r}; leave it out for "
                             "the plan's count")
        self.plan = plan_of(source, device)
        self.subjects = self.plan.subjects if subjects is None else subjects
        self.options = ItemOptions(twins=bool(twins), lesion_mask=bool(lesion_mask), device=device, dtype=dtype)
        self.transform = transform

    def __len__(self) -> int:
        return self.subjects

    def __getitem__(self, k) -> dict:
        k = operator.index(k)
        if k < 0:
            k += self.subjects
        if not 0 <= k < self.subjects:
            raise IndexError(f"subject {k} is outside this dataset's {self.subjects} subjects")
        item = subject_item(self.plan, k, self.options)
        return item if self.transform is None else self.transform(item)

    def __repr__(self) -> str:
        return (f"SubjectDataset({self.plan.cohort_name!r}, subjects={self.subjects}, twins={self.options.twins}, "
                f"device={self.options.device!r})")
