"""Training on the fly (`synthspec.dataset`): item k is the written cohort's subject k, made in memory.

One module-scoped reference cohort (2 subjects, 64 x 64: subject 0 negative, subject 1 with one nodule)
is written by the local executor and read back the way a training pipeline reads it (MONAI's
LoadImaged + EnsureChannelFirstd, datalist.json, subject.json); the dataset's items must equal it.
The DataLoader checks run 0 and 2 workers, fork and spawn; the stream checks its split across workers.
"""

from __future__ import annotations

import json
import pickle
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from synthspec.cohort import layout
from synthspec.dataset import SubjectDataset, SubjectStream, stream_indices
from synthspec.errors import InputError, SynthError, UsageError

VOLUMES = ("image", "label", "lesion_mask", "twin_image")


@pytest.fixture(scope="module")
def cohort(reference_cohort):
    return reference_cohort


@pytest.fixture(scope="module")
def items(cohort):
    """Items 0 and 1 of the cohort's plan, made in this process (with the lesion instance map)."""
    plan, _ = cohort
    data = SubjectDataset(plan, lesion_mask=True)
    return [data[0], data[1]]


def same(a: dict, b: dict) -> bool:
    """Two items hold the same keys, the same voxels and affines, and the same values."""
    if a.keys() != b.keys():
        return False
    for key, value in a.items():
        if isinstance(value, torch.Tensor):
            if not (torch.equal(torch.as_tensor(value), torch.as_tensor(b[key])) and value.dtype == b[key].dtype):
                return False
            if hasattr(value, "affine") and not torch.equal(value.affine, b[key].affine):
                return False
        elif value != b[key]:
            return False
    return True


def loaded(out: Path, k: int) -> dict:
    """Subject k of the written cohort as MONAI loads it: datalist entry, image, semantic label, lesion ids."""
    from monai.transforms import Compose, EnsureChannelFirstd, LoadImaged

    entry = json.loads((out / layout.DATALIST).read_text(encoding="utf-8"))["training"][k]
    keys = ["image", "label", "lesions"]
    files = {"image": out / entry["image"], "label": out / entry["label"],
             "lesions": layout.subject_dir(out, k) / layout.LESIONS}
    volumes = Compose([LoadImaged(keys), EnsureChannelFirstd(keys)])({key: str(path) for key, path in files.items()})
    record = json.loads((layout.subject_dir(out, k) / layout.SUBJECT_RECORD).read_text(encoding="utf-8"))
    return {"entry": entry, "record": record, **volumes}


# ---- item k is the written cohort's subject k ----------------------------------------------------------

@pytest.mark.parametrize("k", [0, 1])
def test_item_k_is_the_written_subject_k_as_monai_loads_it(cohort, items, k):
    _, out = cohort
    item, disk = items[k], loaded(out, k)
    for ours, theirs in (("image", "image"), ("label", "label"), ("lesion_mask", "lesions")):
        assert item[ours].shape == disk[theirs].shape      # [C, X, Y, Z], as LoadImaged + EnsureChannelFirstd give
        assert item[ours].dtype == disk[theirs].dtype == torch.float32
        assert torch.equal(item[ours].as_tensor(), disk[theirs].as_tensor()), ours
        assert torch.allclose(item[ours].affine, disk[theirs].affine, atol=1e-4)   # RAS, as nibabel reports it
        assert item[ours].meta["space"] == disk[theirs].meta["space"]
    entry = disk["entry"]
    assert item["box"].tolist() == torch.tensor(entry["box"], dtype=torch.float32).reshape(-1, 6).tolist()
    assert item["box_label"].tolist() == entry["box_label"]
    assert item["box"].shape == (len(entry["box"]), 6) and item["box_label"].dtype == torch.long
    record = disk["record"]
    meta = {key: value for key, value in item.items() if not isinstance(value, torch.Tensor)}
    assert {"subject_id", "index", "sex", "age_y", "scanner", "kv", "mas", "positive", "lesions"} <= meta.keys()
    assert meta == {key: record[key] for key in meta}
    assert json.loads(json.dumps(meta)) == meta      # plain values


def test_the_cohort_has_a_negative_and_a_positive(items):
    assert not items[0]["positive"] and items[1]["positive"]
    assert items[1]["box"].shape == (1, 6) and items[1]["lesion_mask"].max() == 1


def test_monai_spatial_and_box_transforms_act_as_on_the_loaded_files(cohort, items):
    from monai.apps.detection.transforms.dictionary import AffineBoxToImageCoordinated, ConvertBoxToStandardModed
    from monai.transforms import Orientationd

    _, out = cohort
    disk = loaded(out, 1)
    turn = Orientationd(keys=["image", "label"], axcodes="RAS")
    ours, theirs = turn(dict(items[1])), turn({"image": disk["image"], "label": disk["label"]})
    assert torch.equal(ours["image"].as_tensor(), theirs["image"].as_tensor())
    assert torch.allclose(ours["image"].affine, theirs["image"].affine, atol=1e-4)
    boxes = AffineBoxToImageCoordinated(box_keys="box", box_ref_image_keys="image", affine_lps_to_ras=True)(
        ConvertBoxToStandardModed(box_keys="box", mode="cccwhd")(dict(items[1])))["box"][0]
    voxels = np.argwhere(items[1]["lesion_mask"][0].numpy() > 0).mean(axis=0)      # (x, y, z) of the lesion
    assert all(boxes[a] <= voxels[a] <= boxes[a + 3] for a in range(3)), (boxes, voxels)


def test_a_plan_file_and_a_cohort_folder_give_the_same_items(cohort, items):
    _, out = cohort
    by_folder = SubjectDataset(out, lesion_mask=True)
    assert len(by_folder) == 2 and by_folder.plan.hash() == cohort[0].hash()
    assert same(SubjectDataset(out / layout.PLAN, lesion_mask=True)[0], items[0])
    assert len(SubjectDataset(out, subjects=1000)) == 1000


# ---- determinism and workers ----------------------------------------------------------------------------

def _with_threads(item: dict) -> dict:
    item["threads"] = torch.get_num_threads()
    return item


def test_items_do_not_depend_on_the_thread_count(cohort, items):
    threads = torch.get_num_threads()
    data = SubjectDataset(cohort[0], lesion_mask=True)
    try:
        torch.set_num_threads(1)
        one = data[1]
        torch.set_num_threads(max(2, threads))
        many = data[1]
    finally:
        torch.set_num_threads(threads)
    assert same(one, items[1]) and same(many, items[1])


def test_loaders_with_zero_and_two_workers_give_identical_batches(cohort, items):
    data = SubjectDataset(cohort[0], lesion_mask=True, transform=_with_threads)
    serial = list(DataLoader(data, batch_size=2, num_workers=0, collate_fn=list))
    forked = list(DataLoader(data, batch_size=1, num_workers=2, collate_fn=list))
    assert [i["index"] for i in serial[0]] == [i["index"] for b in forked for i in b] == [0, 1]
    for k, item in enumerate(i for b in forked for i in b):
        assert item.pop("threads") == 1              # DataLoader workers run torch with one thread
        assert same(item, items[k])
        serial[0][k].pop("threads")
        assert same(serial[0][k], items[k])


def test_the_default_collate_takes_items_one_at_a_time(cohort, items):
    batch = next(iter(DataLoader(SubjectDataset(cohort[0]), batch_size=1, num_workers=0)))
    assert batch["image"].shape == (1, *items[0]["image"].shape) and batch["subject_id"] == ["S000000"]


def test_a_spawned_worker_gives_the_same_items(cohort, items):
    data = pickle.loads(pickle.dumps(SubjectDataset(cohort[0], lesion_mask=True)))
    spawned = [b[0] for b in DataLoader(data, batch_size=1, num_workers=2, multiprocessing_context="spawn",
                                        collate_fn=list)]
    assert all(same(a, b) for a, b in zip(spawned, items, strict=True))


def test_making_an_item_writes_nothing_and_draws_nothing_from_global_state(cohort, items, tmp_path, monkeypatch):
    work, temp = tmp_path / "cwd", tmp_path / "tmp"
    work.mkdir(), temp.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("TMPDIR", str(temp))
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    numpy_state, torch_state = np.random.get_state(), torch.get_rng_state()
    item = SubjectDataset(cohort[0], lesion_mask=True)[1]
    assert same(item, items[1]) and not same(item, items[0])
    assert list(work.iterdir()) == [] and list(temp.iterdir()) == []
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert all(np.array_equal(a, b) for a, b in zip(np.random.get_state(), numpy_state))


# ---- twins, the transform hook, the stream ------------------------------------------------------------

def test_twins_differ_from_their_original_only_around_the_lesion(cohort, items):
    from scipy.ndimage import binary_dilation

    from synthspec.engine import generate_subject

    data = SubjectDataset(cohort[0], twins=True, lesion_mask=True)
    twin = data[1]
    assert same({k: v for k, v in twin.items() if k != "twin_image"}, items[1])
    image, free = twin["image"][0].numpy(), twin["twin_image"][0].numpy()
    lesion = twin["lesion_mask"][0].numpy() > 0
    far = ~binary_dilation(lesion, structure=np.ones((7, 7, 3), bool))     # 3 voxels in-plane, 1 slice ([X, Y, Z])
    assert np.abs(image - free)[lesion].mean() > 100.0                       # the nodule is gone
    # filtered back-projection spreads the change thinly over the slices it lies in: ~0.03 HU on average
    assert np.abs(image - free)[far].mean() < 0.5 and (image == free)[far].mean() > 0.9
    # a negative is its own twin: regenerating it without pathology gives the same voxels
    negative = data[0]
    assert torch.equal(negative["twin_image"], negative["image"])
    again = generate_subject(cohort[0], 0, with_pathology=False, device="cpu").channels["image"]
    assert np.array_equal(again.transpose(2, 1, 0), negative["image"][0].numpy())


def test_the_transform_is_applied_last(cohort, items):
    def crop(item):
        assert isinstance(item["label"], torch.Tensor) and "box" in item      # it sees the whole item
        return {"image": item["image"][:, :8], "subject_id": item["subject_id"]}

    out = SubjectDataset(cohort[0], transform=crop)[0]
    assert out.keys() == {"image", "subject_id"} and out["image"].shape[1] == 8
    assert torch.equal(out["image"], items[0]["image"][:, :8])


def test_the_stream_splits_new_indices_across_workers_and_is_reproducible(cohort):
    plan = cohort[0]
    assert list(stream_indices(2, 0, 0, 2, limit=6)) == [2, 4, 6]
    assert list(stream_indices(2, 0, 1, 2, limit=6)) == [3, 5, 7]
    assert set(stream_indices(2, 1, 0, 1, limit=3)) == {2 ** 32 + 2, 2 ** 32 + 3, 2 ** 32 + 4}   # seeds own blocks
    stream = SubjectStream(plan, limit=4)
    assert stream.start == plan.subjects                    # past the written cohort
    two = [b[0] for b in DataLoader(stream, batch_size=1, num_workers=2, collate_fn=list)]
    assert [i["index"] for i in two] == [2, 3, 4, 5]        # disjoint, and in draw order whatever the workers
    assert [i["subject_id"] for i in two] == [layout.subject_id(k) for k in range(2, 6)]
    assert same(next(iter(SubjectStream(plan, limit=1))), two[0])
    assert same(SubjectDataset(plan, subjects=10)[3], two[1])   # subject 3 is subject 3, however it is reached


# ---- refusals -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("make, error", [
    (lambda tmp: tmp / "missing.synth", InputError),
    (lambda tmp: tmp / "missing.json", InputError),
    (lambda tmp: tmp, InputError),                                        # a folder without plan.json
    (lambda tmp: (tmp / "notes.txt").write_text("x") and tmp / "notes.txt", InputError),
    (lambda tmp: (tmp / "plan.json").write_text("{}") and tmp / "plan.json", InputError),
    (lambda tmp: 42, UsageError),
])
def test_a_bad_source_is_refused_in_one_line(tmp_path, make, error):
    with pytest.raises(error) as caught:
        SubjectDataset(make(tmp_path))
    assert isinstance(caught.value, SynthError) and "\n" not in str(caught.value)


@pytest.mark.parametrize("options", [{"subjects": 0}, {"subjects": 2.5}, {"device": "tpu"}, {"transform": 3},
                                     {"dtype": "float32"}])
def test_bad_options_are_refused_in_one_line(cohort, options):
    with pytest.raises(UsageError) as caught:
        SubjectDataset(cohort[0], **options)
    assert "\n" not in str(caught.value)


def test_indices_outside_the_dataset_are_refused(cohort):
    data = SubjectDataset(cohort[0])
    with pytest.raises(IndexError):
        data[2]
    with pytest.raises(TypeError):
        data["0"]
    with pytest.raises(UsageError):
        SubjectStream(cohort[0], seed=-1)
