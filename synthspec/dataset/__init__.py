"""Training on the fly: cohort subjects as PyTorch datasets, generated in memory, nothing written.

    source.py   a `.synth` spec, a saved plan.json, a cohort folder or a `Plan` -> the plan
    item.py     subject k -> the training item (MONAI layout: what LoadImaged gives from the written files)
    map.py      SubjectDataset: map-style, item k is the written cohort's subject k
    stream.py   SubjectStream: an endless iterable of new subjects, split across DataLoader workers

    from synthspec.dataset import SubjectDataset
    data = SubjectDataset("examples/lung_nodules_ldct.synth", subjects=1000, twins=True)
    item = data[3]    # image [C, X, Y, Z], label, box, box_label, subject_id, ... (item.py)

Subject k depends only on (plan, k) (`engine.generate_subject`), so an item is the same in any
process, worker or order.  Importing this package loads neither torch nor the generator; the
names below load them when first used.  The lint commands never import it.
"""

from __future__ import annotations

_PUBLIC = {"SubjectDataset": "map", "SubjectStream": "stream", "plan_of": "source", "subject_item": "item",
           "ItemOptions": "item", "stream_indices": "stream"}

__all__ = sorted(_PUBLIC)


def __getattr__(name: str):
    if name in _PUBLIC:
        from importlib import import_module

        return getattr(import_module(f"synthspec.dataset.{_PUBLIC[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
