"""A cohort the field's tools read as it is: label tables (labels.json, ITK-SNAP, 3D Slicer), the semantic
map, MONAI's datalist (LoadImaged -> a tiny UNet, detection boxes), TorchIO, LUNA16-style annotations,
the flat manifest.csv and SHA256SUMS (checked with the real `sha256sum -c`).

One module-scoped reference cohort (2 subjects, 64 x 64, a few seconds) serves every test.
"""

from __future__ import annotations

import csv
import json
import random
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from synthspec import api
from synthspec.cohort import integrity, interop, layout
from synthspec.cohort.manifest import read_manifest_csv
from synthspec.cohort.read import CohortError, load
from synthspec.engine.executor import run

NEW_FILES = (layout.LABEL_ITKSNAP, layout.LABEL_SLICER, layout.DATALIST, layout.ANNOTATIONS, layout.CHECKSUMS)


@pytest.fixture(scope="module")
def cohort(reference_cohort):
    return reference_cohort


def _read(path: Path) -> np.ndarray:
    import SimpleITK as sitk

    return sitk.GetArrayFromImage(sitk.ReadImage(str(path)))


def _table(out: Path) -> dict:
    return json.loads((out / layout.LABEL_TABLE).read_text(encoding="utf-8"))


def _positive(out: Path) -> dict:
    records = [json.loads(p.read_text()) for p in sorted((out / "subjects").glob("*/subject.json"))]
    return next(r for r in records if r["lesions"])


# ---- label tables and the semantic map ----------------------------------------------------------------

def test_the_label_table_lists_only_ids_that_can_occur_with_kind_and_colour(cohort):
    plan, out = cohort
    table = _table(out)
    entries = table["labels"]
    anatomy = [e for e in entries if e["kind"] == "anatomy"]
    findings = [e for e in entries if e["kind"] == "finding"]
    assert [e["id"] for e in anatomy] == sorted(e.id for e in plan.labels if e.written)
    assert 15 not in {e["id"] for e in entries}                    # the pleura is declared, never drawn
    assert [(e["name"], e["id"]) for e in findings] == [("lung_nodule", 60)]
    assert min(e["id"] for e in findings) > max(e.id for e in plan.labels)
    assert set(findings[0]["subtypes"]) == {"solid", "part_solid", "ground_glass"}
    colours = [tuple(e["colour"]) for e in entries]
    assert all(len(c) == 3 and all(isinstance(v, int) and 0 <= v <= 255 for v in c) for c in colours)
    assert len(set(colours)) == len(colours) and (0, 0, 0) not in colours
    lobes = [tuple(e["colour"]) for e in anatomy if e["tissue"] == "lung"]
    assert all(b > r and b > g for r, g, b in lobes)                # lungs are blue
    vessels = [tuple(e["colour"]) for e in anatomy if e["group"] == "pulmonary_vessels"]
    assert all(r > g and r > b for r, g, b in vessels)              # vessels red
    for e in entries:
        assert e["name"] and (e["tissue"] or e["kind"] == "finding")
    assert interop.label_table(plan) == table                     # a pure function of the plan


def test_the_semantic_map_is_the_anatomy_with_the_lesions_as_their_finding(cohort):
    _, out = cohort
    ids = {e["id"] for e in _table(out)["labels"]} | {0}
    record = _positive(out)
    folder = out / "subjects" / record["subject_id"]
    labels, lesions, semantic = (_read(folder / n) for n in (layout.LABELS, layout.LESIONS, layout.SEMANTIC))
    assert semantic.dtype == np.uint8 and semantic.shape == labels.shape
    assert np.array_equal(semantic[lesions == 0], labels[lesions == 0])
    assert (lesions > 0).any() and np.all(semantic[lesions > 0] == 60)
    assert set(np.unique(semantic).tolist()) <= ids and 60 not in np.unique(labels)
    assert record["files"]["semantic"] == f"subjects/{record['subject_id']}/{layout.SEMANTIC}"
    assert layout.SEMANTIC in record["hashes"]


def test_itksnap_and_slicer_tables_match_labels_json(cohort):
    _, out = cohort
    expected = [(0, "background", (0, 0, 0))] + [(e["id"], e["name"], tuple(e["colour"])) for e in _table(out)["labels"]]
    row = re.compile(r'^\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+([\d.]+)\s+([01])\s+([01])\s+"([^"]*)"$')
    snap = [row.match(line) for line in (out / layout.LABEL_ITKSNAP).read_text().splitlines()
            if line.strip() and not line.startswith("#")]
    assert all(snap), "every ITK-SNAP row is IDX R G B A VIS MSH \"LABEL\""
    got = [(int(m[1]), m[8], (int(m[2]), int(m[3]), int(m[4]))) for m in snap]
    assert [g[0] for g in got] == [e[0] for e in expected] and [g[2] for g in got] == [e[2] for e in expected]
    assert got[0][1] == "Clear Label" and [g[1] for g in got[1:]] == [e[1] for e in expected[1:]]
    lines = (out / layout.LABEL_SLICER).read_text().splitlines()
    assert lines[0].startswith("# Color table file") and lines[1] == f"# {len(expected)} values"
    slicer = [line.split() for line in lines if not line.startswith("#")]
    assert [(int(i), n, (int(r), int(g), int(b))) for i, n, r, g, b, _a in slicer] == expected
    assert all(a == "255" for *_rest, a in slicer[1:])


# ---- MONAI and TorchIO -----------------------------------------------------------------------------------

def test_monai_reads_the_datalist_and_a_tiny_unet_trains_on_it(cohort):
    torch = pytest.importorskip("torch")
    pytest.importorskip("nibabel")   # MONAI's NIfTI reader
    from monai.data import load_decathlon_datalist
    from monai.networks.nets import UNet
    from monai.transforms import Compose, EnsureChannelFirstd, LoadImaged, Orientationd, Resized, ScaleIntensityRanged

    _, out = cohort
    document = json.loads((out / layout.DATALIST).read_text())
    items = load_decathlon_datalist(str(out / layout.DATALIST), is_segmentation=True, data_list_key="training")
    assert len(items) == document["numTraining"] == 2
    for item in items:
        assert Path(item["image"]).is_file() and Path(item["label"]).is_file()   # resolved against the file's folder
        assert 0 <= item["fold"] < document["numFolds"]
    assert "cccwhd" in document["description"] and "LPS" in document["description"]
    assert document["labels"]["0"] == "background" and document["labels"]["60"] == "lung_nodule"
    keys = ["image", "label"]
    transform = Compose([LoadImaged(keys=keys), EnsureChannelFirstd(keys=keys), Orientationd(keys=keys, axcodes="RAS"),
                         ScaleIntensityRanged(keys="image", a_min=-1000, a_max=400, b_min=0.0, b_max=1.0, clip=True),
                         Resized(keys=keys, spatial_size=(32, 32, 32), mode=("trilinear", "nearest"))])
    sample = transform(items[0])
    assert tuple(sample["image"].shape) == (1, 32, 32, 32) and tuple(sample["label"].shape) == (1, 32, 32, 32)
    n_classes = len(document["labels"])
    model = UNet(spatial_dims=3, in_channels=1, out_channels=n_classes, channels=(4, 8), strides=(2,), num_res_units=0)
    logits = model(sample["image"].as_tensor().unsqueeze(0).float())
    assert tuple(logits.shape) == (1, n_classes, 32, 32, 32)
    index = {int(k): n for n, k in enumerate(sorted(int(k) for k in document["labels"]))}
    target = sample["label"].as_tensor().long().apply_(lambda v: index[v])
    loss = torch.nn.functional.cross_entropy(logits, target)
    loss.backward()
    assert torch.isfinite(loss)


def test_monai_detection_boxes_cover_the_lesion_voxels(cohort):
    torch = pytest.importorskip("torch")
    pytest.importorskip("nibabel")
    from monai.apps.detection.transforms.dictionary import AffineBoxToImageCoordinated, ConvertBoxToStandardModed
    from monai.data import load_decathlon_datalist
    from monai.transforms import Compose, EnsureChannelFirstd, EnsureTyped, LoadImaged, Orientationd

    _, out = cohort
    document = json.loads((out / layout.DATALIST).read_text())
    assert document["box_mode"] == "cccwhd" and document["box_classes"] == ["lung_nodule"]
    items = load_decathlon_datalist(str(out / layout.DATALIST), data_list_key="training")
    item = next(i for i in items if i["box"])
    record = json.loads((out / "subjects" / item["subject_id"] / "subject.json").read_text())
    assert len(item["box"]) == len(record["lesions"]) and item["box_label"] == [0] * len(record["lesions"])
    keys = ["image", "label"]
    transform = Compose([
        LoadImaged(keys=keys), EnsureChannelFirstd(keys=keys), Orientationd(keys=keys, axcodes="RAS"),
        EnsureTyped(keys="box", dtype=torch.float32), ConvertBoxToStandardModed(box_keys="box", mode="cccwhd"),
        AffineBoxToImageCoordinated(box_keys="box", box_ref_image_keys="image", affine_lps_to_ras=True)])
    sample = transform(dict(item))
    label = sample["label"][0].numpy()
    for box in sample["box"].numpy():                                   # xyzxyz in the oriented array
        inside = np.argwhere(label == 60)
        hit = np.all((inside >= np.floor(box[:3]) - 1) & (inside <= np.ceil(box[3:]) + 1), axis=1)
        assert hit.mean() > 0.9, (box, inside.min(0), inside.max(0))


def test_torchio_reads_the_datalist(cohort):
    tio = pytest.importorskip("torchio")
    from monai.data import load_decathlon_datalist

    _, out = cohort
    items = load_decathlon_datalist(str(out / layout.DATALIST), data_list_key="training")
    subjects = [tio.Subject(image=tio.ScalarImage(i["image"]), label=tio.LabelMap(i["label"]), fold=i["fold"])
                for i in items]
    dataset = tio.SubjectsDataset(subjects, transform=tio.ToCanonical())
    first = dataset[0]
    assert first["image"].shape == first["label"].shape == (1, 64, 64, 60)
    ids = {int(k) for k in json.loads((out / layout.DATALIST).read_text())["labels"]}
    assert set(np.unique(first["label"].numpy()).tolist()) <= ids


# ---- detection annotations, flat manifest, SHA256SUMS -----------------------------------------------------

def test_annotations_are_luna16_rows_in_world_lps_mm(cohort):
    import pydicom
    import SimpleITK as sitk

    _, out = cohort
    with open(out / layout.ANNOTATIONS, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0])[:5] == ["seriesuid", "coordX", "coordY", "coordZ", "diameter_mm"]
    records = [json.loads(p.read_text()) for p in sorted((out / "subjects").glob("*/subject.json"))]
    assert len(rows) == sum(len(r["lesions"]) for r in records)
    record = _positive(out)
    row = next(r for r in rows if r["subject_id"] == record["subject_id"])
    lesion = record["lesions"][0]
    centre = [float(row[k]) for k in ("coordX", "coordY", "coordZ")]
    assert centre == lesion["centre_mm"] and float(row["diameter_mm"]) == lesion["diameter_mm"]
    folder = out / "subjects" / record["subject_id"]
    dicom = pydicom.dcmread(next((folder / "dicom").glob("*.dcm")), stop_before_pixels=True)
    assert row["seriesuid"] == dicom.SeriesInstanceUID
    mask = sitk.ReadImage(str(folder / layout.LESIONS))                  # the world frame SimpleITK reports
    zyx = np.argwhere(sitk.GetArrayFromImage(mask) == lesion["id"]).mean(axis=0)
    world = mask.TransformContinuousIndexToPhysicalPoint([float(v) for v in zyx[::-1]])
    assert np.all(np.abs(np.subtract(world, centre)) <= np.array(mask.GetSpacing()))


def test_manifest_csv_is_flat_with_a_path_column_per_file_kind(cohort):
    _, out = cohort
    text = (out / layout.MANIFEST_CSV).read_text()
    header = text.splitlines()[0].split(",")
    assert header[:2] == ["index", "subject_id"]
    for column in ("patient_id", "sex", "age_y", "height_mm", "bmi", "scanner", "kv", "mas", "kernel",
                   "slice_thickness_mm", "stratum", "positive", "n_lesions", "image_path", "labels_path",
                   "lesions_path", "semantic_path", "dicom_path"):
        assert column in header, column
    assert "{" not in text and "[" not in text and not re.search(r"\b[0-9a-f]{64}\b", text)
    rows = read_manifest_csv(out / layout.MANIFEST_CSV)
    assert [r["stratum"] for r in rows] == ["all", "all"]
    for row in rows:
        for column in ("image_path", "labels_path", "lesions_path", "semantic_path", "dicom_path"):
            assert (out / row[column]).exists(), row[column]
    nested = json.loads((out / layout.MANIFEST_JSON).read_text())["rows"]
    assert [r["n_lesions"] for r in rows] == [len(r["lesions"]) for r in nested] and "hashes" in nested[0]


def test_sha256sum_accepts_sha256sums(cohort):
    if shutil.which("sha256sum") is None:
        pytest.skip("sha256sum (coreutils) is not installed")
    _, out = cohort
    lines = (out / layout.CHECKSUMS).read_text().splitlines()
    listed = [line.split("  ", 1)[1] for line in lines]
    assert all(re.fullmatch(r"[0-9a-f]{64}  subjects/S\d{6}/\S+", line) for line in lines)
    assert listed == sorted(p.relative_to(out).as_posix() for p in (out / "subjects").rglob("*") if p.is_file())
    done = subprocess.run(["sha256sum", "--check", "--strict", layout.CHECKSUMS], cwd=out, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


# ---- every new cohort-level file is vouched for ---------------------------------------------------------

def test_every_cohort_level_file_is_named_in_layout_and_vouched_for():
    assert set(NEW_FILES) <= set(integrity.VOUCHED_FILES)
    assert len(set(integrity.VOUCHED_FILES)) == len(integrity.VOUCHED_FILES)


@pytest.mark.parametrize("name", NEW_FILES)
def test_an_edited_new_file_is_refused_and_resume_restores_it(cohort, tmp_path, name):
    _, good = cohort
    copy = tmp_path / "cohort"
    shutil.copytree(good, copy, symlinks=True)
    original = (copy / name).read_bytes()
    (copy / name).write_bytes(original[: len(original) // 2])
    with pytest.raises(CohortError, match=re.escape(name)):
        load(copy)
    if name == layout.DATALIST:   # a finished cohort's files are rewritten exactly by --resume
        (copy / name).unlink()
        run(api.load_plan(copy / layout.PLAN), copy, resume=True)
        assert (copy / name).read_bytes() == original
        load(copy)


# ---- folds -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("n, positives", [(13, 5), (7, 7), (3, 0), (1, 1), (24, 12)])
def test_folds_are_deterministic_and_balanced(n, positives):
    chosen = set(random.Random(n).sample(range(n), positives))
    records = [{"index": k, "subject_id": f"S{k:06d}", "positive": k in chosen} for k in range(n)]
    k = min(interop.MAX_FOLDS, n)
    fold = interop.folds(records, k)
    assert fold == interop.folds(list(reversed(records)), k)
    sizes = [sum(1 for f in fold.values() if f == j) for j in range(k)]
    pos = [sum(1 for r in records if r["positive"] and fold[r["subject_id"]] == j) for j in range(k)]
    assert max(sizes) - min(sizes) <= 1 and max(pos) - min(pos) <= 1
