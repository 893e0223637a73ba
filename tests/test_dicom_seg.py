"""DICOM SEG (seg.dcm): dciodvfy accepts it, highdicom and pydicom read it back to the NIfTI masks' voxels, it
lives in the images' study and frame of reference, its segments are coded, and its bytes are deterministic.

The reference cohort's two subjects (64 x 64, one negative, one positive) are generated once; each test
cohort writes them with another `output.dicom_seg` (the seed key leaves the output block out, so every
variant holds the same subjects).
"""

from __future__ import annotations

import csv
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from synthspec import __version__, api
from synthspec.cohort import dicom_seg, layout
from synthspec.cohort.interop import label_entries
from synthspec.cohort.read import load
from synthspec.cohort.writer import write_subject
from synthspec.engine import generate_subject
from synthspec.engine.executor import run_with
from synthspec.families.modality.ct.dicom import DEIDENTIFICATION_METHOD, MANUFACTURER, SYNTHETIC_DATE, SYNTHETIC_TIME
from synthspec.families.modality.ct.estimate import bytes_on_disk_per_subject, seg_bytes
from synthspec.identity import IMPLEMENTATION_CLASS_UID, derived_uid, identity_for

pydicom = pytest.importorskip("pydicom")
hd = pytest.importorskip("highdicom")
sitk = pytest.importorskip("SimpleITK")

SPEC = Path(__file__).parent / "data" / "reference_cohort.synth"
DCIODVFY = shutil.which("dciodvfy")


def _spec_with(tmp: Path, mode: str) -> Path:
    text = SPEC.read_text(encoding="utf-8")
    text = text.replace("formats: nifti, dicom, masks", f"formats: nifti, dicom, masks\n    dicom_seg: {mode}")
    path = tmp / f"reference_{mode}.synth"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def plans(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("seg-specs")
    out = {"lesions": api.plan(SPEC, device="cpu")}
    for mode in ("all", "none"):
        out[mode] = api.plan(_spec_with(tmp, mode), device="cpu")
    return out


@pytest.fixture(scope="module")
def subjects(plans):
    return [generate_subject(plans["lesions"], k) for k in range(plans["lesions"].subjects)]


def _write(out: Path, plan, subjects) -> Path:
    """The cohort `run` writes, from subjects generated already."""
    def generate(plan, todo, advance):
        for k in todo:
            write_subject(out, plan, subjects[k])
            advance()
        return len(todo)

    run_with(generate, plan, out, resume=False)
    return out


@pytest.fixture(scope="module")
def cohorts(plans, subjects, tmp_path_factory):
    root = tmp_path_factory.mktemp("seg-cohorts")
    return {mode: _write(root / mode, plan, subjects) for mode, plan in plans.items()}


def _positive(subjects) -> int:
    return next(s.params.index for s in subjects if s.lesions)


def _negative(subjects) -> int:
    return next(s.params.index for s in subjects if not s.lesions)


def _nifti(path: Path) -> np.ndarray:
    return sitk.GetArrayFromImage(sitk.ReadImage(str(path)))


def _slices(folder: Path) -> list:
    return sorted((pydicom.dcmread(p, stop_before_pixels=True) for p in (folder / layout.DICOM).glob("*.dcm")),
                  key=lambda ds: int(ds.InstanceNumber))


def _expected(folder: Path, segment) -> np.ndarray:
    """The voxels of a segment, from the NIfTI masks ([Z, Y, X] bool)."""
    if segment.kind == "finding":
        return _nifti(folder / layout.LESIONS) > 0       # the reference cohort has one finding class
    return _nifti(folder / layout.LABELS) == segment.label_id


def _segment_number(ds, item) -> int:
    """A frame's segment: in its own functional groups, or shared by every frame (a single segment)."""
    if "SegmentIdentificationSequence" not in item:
        item = ds.SharedFunctionalGroupsSequence[0]
    return int(item.SegmentIdentificationSequence[0].ReferencedSegmentNumber)


def _by_position(ds, slices) -> dict[int, np.ndarray]:
    """Segment number -> [Z, Y, X] volume, placing each frame by its source slice UID and by its position."""
    frames = ds.pixel_array.reshape(int(ds.NumberOfFrames), int(ds.Rows), int(ds.Columns))
    index_of_uid = {s.SOPInstanceUID: k for k, s in enumerate(slices)}
    z0, dz = float(slices[0].ImagePositionPatient[2]), float(slices[0].SpacingBetweenSlices)
    out: dict[int, np.ndarray] = {}
    shape = (len(slices), int(ds.Rows), int(ds.Columns))
    for frame, item in zip(frames, ds.PerFrameFunctionalGroupsSequence):
        number = _segment_number(ds, item)
        uid = item.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID
        position = [float(v) for v in item.PlanePositionSequence[0].ImagePositionPatient]
        k = index_of_uid[uid]
        assert k == round((position[2] - z0) / dz)
        assert position == pytest.approx([float(v) for v in slices[k].ImagePositionPatient])
        assert frame.any(), "an empty frame was written"
        volume = out.setdefault(number, np.zeros(shape, dtype=bool))
        assert not volume[k].any(), "two frames of one segment on one slice"
        volume[k] = frame > 0
    return out


# ---- what is written, and when ----------------------------------------------------------------------------

def test_the_spec_chooses_the_seg(plans):
    assert {mode: plan.writing.dicom_seg for mode, plan in plans.items()} == {m: m for m in plans}
    assert len({plan.seed_key for plan in plans.values()}) == 1       # the output block does not change subjects


def test_lesions_writes_a_seg_for_positives_only_and_lists_it(cohorts, subjects):
    out = cohorts["lesions"]
    pos, neg = _positive(subjects), _negative(subjects)
    positive, negative = layout.subject_dir(out, pos), layout.subject_dir(out, neg)
    assert (positive / layout.SEG).is_file() and not (negative / layout.SEG).exists()
    cohort = load(out)
    records = {s.folder.name: s.record for s in cohort.subjects}
    record = records[layout.subject_id(pos)]
    assert record["files"]["dicom_seg"] == f"{layout.SUBJECTS}/{layout.subject_id(pos)}/{layout.SEG}"
    assert layout.SEG in record["hashes"]
    assert "dicom_seg" not in records[layout.subject_id(neg)]["files"]
    for s in cohort.subjects:
        s.check_files()
    sums = (out / layout.CHECKSUMS).read_text(encoding="utf-8")
    assert f"  {layout.SUBJECTS}/{layout.subject_id(pos)}/{layout.SEG}\n" in sums
    with open(out / layout.MANIFEST_CSV, newline="", encoding="utf-8") as handle:
        rows = {r["subject_id"]: r for r in csv.DictReader(handle)}
    assert rows[layout.subject_id(pos)]["dicom_seg_path"] == record["files"]["dicom_seg"]
    assert rows[layout.subject_id(neg)]["dicom_seg_path"] == ""


def test_none_writes_no_seg_and_all_writes_one_per_subject(cohorts, plans):
    for k in range(plans["none"].subjects):
        assert not (layout.subject_dir(cohorts["none"], k) / layout.SEG).exists()
        assert (layout.subject_dir(cohorts["all"], k) / layout.SEG).is_file()
    with open(cohorts["none"] / layout.MANIFEST_CSV, newline="", encoding="utf-8") as handle:
        assert "dicom_seg_path" not in next(csv.reader(handle))


def test_no_seg_without_dicom(plans, subjects, tmp_path):
    plan = plans["all"].model_copy(deep=True)
    plan.writing.formats = ["nifti", "masks"]
    record = write_subject(tmp_path, plan, subjects[_positive(subjects)])
    assert "dicom_seg" not in record["files"] and not list(tmp_path.rglob(layout.SEG))


# ---- the file: valid, in the images' study, deterministic ----------------------------------------------------

@pytest.mark.skipif(DCIODVFY is None,
                    reason="dciodvfy (Debian package dicom3tools) is not installed: cannot validate the IOD")
@pytest.mark.parametrize("mode", ["lesions", "all"])
def test_dciodvfy_reports_no_errors(cohorts, subjects, mode):
    # the positive subject's SEG (with `all`, the negative one's differs only in having no lesion frames)
    for path in [layout.subject_dir(cohorts[mode], _positive(subjects)) / layout.SEG]:
        result = subprocess.run([DCIODVFY, str(path)], capture_output=True, text=True, timeout=60)
        output = result.stdout + result.stderr
        assert "Segmentation" in output, output                     # it recognised the IOD
        assert not [line for line in output.splitlines() if line.startswith("Error")], output
        for line in output.splitlines():
            if "Warning" in line:                                   # only the private block, as in the CT series
                assert re.search(r"\(0x0011,0x10", line), line


def test_same_patient_study_and_frame_of_reference_and_marked_synthetic(cohorts, plans, subjects):
    plan, k = plans["lesions"], _positive(subjects)
    folder = layout.subject_dir(cohorts["lesions"], k)
    ds = pydicom.dcmread(folder / layout.SEG)
    ct = _slices(folder)
    identity = identity_for(plan.seed_key, plan.cohort_seed, k)
    assert ds.SOPClassUID == pydicom.uid.SegmentationStorage == ds.file_meta.MediaStorageSOPClassUID
    assert ds.Modality == "SEG" and ds.SegmentationType == "BINARY"
    for keyword in ("StudyInstanceUID", "FrameOfReferenceUID", "PatientID", "PatientName", "PatientSex",
                    "StudyDate", "StudyTime", "StudyID"):
        assert ds[keyword].value == ct[0][keyword].value, keyword
    assert ds.StudyInstanceUID == identity.study_uid and ds.FrameOfReferenceUID == identity.frame_of_reference_uid
    assert ds.SeriesInstanceUID == derived_uid(identity.series_uid, "seg", "series") != identity.series_uid
    assert ds.SOPInstanceUID == derived_uid(identity.series_uid, "seg", "instance", 1)
    assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
    assert ds.file_meta.ImplementationClassUID == IMPLEMENTATION_CLASS_UID
    assert ds.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
    referenced = ds.ReferencedSeriesSequence[0]
    assert referenced.SeriesInstanceUID == identity.series_uid
    assert [i.ReferencedSOPInstanceUID for i in referenced.ReferencedInstanceSequence] == [s.SOPInstanceUID for s in ct]
    assert ds.Manufacturer == MANUFACTURER and ds.PatientIdentityRemoved == "YES"
    assert ds.DeidentificationMethod == DEIDENTIFICATION_METHOD
    assert ds.SeriesDate == ds.ContentDate == SYNTHETIC_DATE and ds.SeriesTime == ds.ContentTime == SYNTHETIC_TIME
    assert "InstanceCreationDate" not in ds and "InstanceCreationTime" not in ds
    assert all("ContributionDateTime" not in item for item in ds.ContributingEquipmentSequence)
    organisation = derived_uid(identity.series_uid, "seg", "dimension_organization")
    assert ds.DimensionOrganizationSequence[0].DimensionOrganizationUID == organisation
    assert {i.DimensionOrganizationUID for i in ds.DimensionIndexSequence} == {organisation}
    block = ds.private_block(0x0011, "SYNTHSPEC")
    assert block[0x00].value == plan.seed_key[:64] and block[0x01].value == __version__
    assert block[0x02].value == "SYNTHETIC"


def test_the_bytes_are_deterministic(cohorts, plans, subjects, tmp_path):
    k = _positive(subjects)
    for mode in ("lesions", "all"):
        again = tmp_path / mode
        record = write_subject(again, plans[mode], subjects[k])
        first = layout.subject_dir(cohorts[mode], k) / layout.SEG
        assert (layout.subject_dir(again, k) / layout.SEG).read_bytes() == first.read_bytes()
        assert record["hashes"][layout.SEG] == load(cohorts[mode]).subjects[k].record["hashes"][layout.SEG]


# ---- it reads back to the masks -----------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["lesions", "all"])
def test_highdicom_reads_back_the_nifti_voxels(cohorts, plans, subjects, mode):
    segments = dicom_seg.segment_classes(plans[mode])
    for k in range(plans[mode].subjects):
        folder = layout.subject_dir(cohorts[mode], k)
        if not (folder / layout.SEG).exists():
            assert mode == "lesions" and not subjects[k].lesions
            continue
        seg = hd.seg.segread(folder / layout.SEG)
        ct = _slices(folder)
        uids = [s.SOPInstanceUID for s in ct]
        assert list(seg.get_segment_numbers()) == [s.number for s in segments]
        pixels = seg.get_pixels_by_source_instance(source_sop_instance_uids=uids,
                                                   segment_numbers=[s.number for s in segments],
                                                   assert_missing_frames_are_empty=True)
        assert pixels.shape == (len(ct), int(ct[0].Rows), int(ct[0].Columns), len(segments))
        for s, segment in enumerate(segments):
            expected = _expected(folder, segment)
            assert np.array_equal(pixels[..., s] > 0, expected), (k, segment.label)
            assert expected.any() or (segment.kind == "finding" and not subjects[k].lesions)


@pytest.mark.parametrize("mode", ["lesions", "all"])
def test_pydicom_frames_placed_by_uid_and_position_match_the_masks(cohorts, plans, mode):
    segments = {s.number: s for s in dicom_seg.segment_classes(plans[mode])}
    for k in range(plans[mode].subjects):
        folder = layout.subject_dir(cohorts[mode], k)
        if not (folder / layout.SEG).exists():
            continue
        ds = pydicom.dcmread(folder / layout.SEG)
        volumes = _by_position(ds, _slices(folder))
        for number, segment in segments.items():
            expected = _expected(folder, segment)
            got = volumes.get(number)
            assert (got is None and not expected.any()) or np.array_equal(got, expected), (k, segment.label)
        image = sitk.ReadImage(str(folder / layout.SEG))               # SimpleITK (GDCM) opens it too
        assert image.GetSize()[2] == int(ds.NumberOfFrames)


# ---- the segment descriptions ---------------------------------------------------------------------------------

def _cid(cid: int) -> dict[str, str]:
    """Code value -> meaning of a DICOM context group's SNOMED CT codes (pydicom's tables)."""
    from pydicom.sr._cid_dict import cid_concepts
    from pydicom.sr.codedict import codes

    return {(c := getattr(codes.SCT, keyword)).value: c.meaning for keyword in cid_concepts[cid]["SCT"]}


def test_segments_are_coded_named_and_coloured_from_the_label_table(cohorts, plans, subjects):
    categories, types, laterality = _cid(7150), _cid(7151), _cid(244)
    plan = plans["all"]
    table = {e["name"]: e for e in label_entries(plan)}
    ds = pydicom.dcmread(layout.subject_dir(cohorts["all"], _positive(subjects)) / layout.SEG)
    items = list(ds.SegmentSequence)
    assert [i.SegmentLabel for i in items] == [e["name"] for e in label_entries(plan) if e["kind"] == "finding"] + \
        [e["name"] for e in label_entries(plan) if e["kind"] == "anatomy"]
    assert len(items) == 1 + sum(1 for e in plan.labels if e.written)
    for item in items:
        category = item.SegmentedPropertyCategoryCodeSequence[0]
        kind = item.SegmentedPropertyTypeCodeSequence[0]
        assert category.CodingSchemeDesignator == kind.CodingSchemeDesignator == "SCT"
        assert categories.get(category.CodeValue) == category.CodeMeaning, item.SegmentLabel
        assert types.get(kind.CodeValue) == kind.CodeMeaning, item.SegmentLabel
        for modifier in kind.get("SegmentedPropertyTypeModifierCodeSequence", []):
            assert laterality.get(modifier.CodeValue) == modifier.CodeMeaning
        assert item.SegmentAlgorithmType == "AUTOMATIC" and item.SegmentAlgorithmName == "synthspec"
        algorithm = item.SegmentationAlgorithmIdentificationSequence[0]
        assert algorithm.AlgorithmName == "synthspec" and algorithm.AlgorithmVersion == __version__
        colour = hd.color.CIELabColor.from_rgb(*table[item.SegmentLabel]["colour"])
        assert tuple(item.RecommendedDisplayCIELabValue) == tuple(colour.value)
    by_label = {i.SegmentLabel: i for i in items}
    nodule = by_label["lung_nodule"]
    assert nodule.SegmentedPropertyCategoryCodeSequence[0].CodeValue == "49755003"    # morphologically abnormal
    assert nodule.SegmentedPropertyTypeCodeSequence[0].CodeValue == "27925004"        # nodule
    assert nodule.AnatomicRegionSequence[0].CodeValue == "39607008"                   # lung
    lobe = by_label["left_upper_lobe"].SegmentedPropertyTypeCodeSequence[0]
    assert lobe.CodeValue == "45653009" and lobe.SegmentedPropertyTypeModifierCodeSequence[0].CodeMeaning == "Left"
    assert by_label["heart"].SegmentedPropertyCategoryCodeSequence[0].CodeMeaning == "Anatomical Structure"
    assert by_label["subcutaneous_fat"].SegmentedPropertyCategoryCodeSequence[0].CodeMeaning == "Tissue"
    lesions_only = pydicom.dcmread(layout.subject_dir(cohorts["lesions"], _positive(subjects)) / layout.SEG)
    assert [i.SegmentLabel for i in lesions_only.SegmentSequence] == ["lung_nodule"]


def test_every_structure_the_family_declares_has_a_code_and_unknown_ones_fall_back(plans):
    for e in plans["all"].labels:
        assert e.name in dicom_seg.ANATOMY_CODES, e.name
    fallback = dicom_seg._codes_for({"kind": "anatomy", "name": "spleen", "tissue": "soft_tissue"})
    assert fallback == (dicom_seg.TISSUE, ("87784001", "Soft tissue"), None, None)
    assert dicom_seg._codes_for({"kind": "anatomy", "name": "x", "tissue": "air"})[:2] == dicom_seg.TISSUE_FALLBACK
    assert dicom_seg._codes_for({"kind": "finding", "name": "liver_lesion"})[1] == ("52988006", "Lesion")


def test_a_negative_subject_under_all_describes_the_finding_without_frames(cohorts, subjects):
    ds = pydicom.dcmread(layout.subject_dir(cohorts["all"], _negative(subjects)) / layout.SEG)
    numbers = {_segment_number(ds, i) for i in ds.PerFrameFunctionalGroupsSequence}
    assert ds.SegmentSequence[0].SegmentLabel == "lung_nodule" and 1 not in numbers
    assert numbers == set(range(2, len(ds.SegmentSequence) + 1))


# ---- the storage estimate -------------------------------------------------------------------------------------

def test_the_storage_estimate_covers_the_written_seg(cohorts, plans, subjects):
    shape = tuple(plans["lesions"].grid.shape)
    k = _positive(subjects)
    anatomy = sum(1 for e in plans["all"].labels if e.written)
    for mode, segments in (("lesions", (1, 0)), ("all", (1, anatomy))):
        size = (layout.subject_dir(cohorts[mode], k) / layout.SEG).stat().st_size
        assert size <= seg_bytes(shape, *segments) <= 3 * size, mode
        assert plans[mode].estimates["disk_seg_bytes"] == seg_bytes(shape, *segments)
    assert plans["none"].estimates["disk_seg_bytes"] == 0 == seg_bytes(shape, 0, 0)
    assert bytes_on_disk_per_subject(shape, ["nifti", "masks"], (1, anatomy))["seg"] == 0
