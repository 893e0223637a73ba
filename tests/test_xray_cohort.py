"""A radiograph cohort end to end: the hand phantom through the X-ray modality into files other readers open.

One tiny cohort (tests/data/hand_tiny.synth: 4 subjects, 1 mm phantom voxels, 0.5 mm detector
pixels) is generated once for the module; the tests read it the way users do (pydicom, SimpleITK,
dciodvfy, the cohort reader, the datalist) and regenerate subjects in memory to check that the
files are subject k, that twins lose only their lesion and that the lead marker is physical.
"""

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from synthspec.cohort import layout
from synthspec.cohort.read import load
from synthspec.compiler.check import compile_file, compile_text
from synthspec.engine.subject import generate_subject
from synthspec.plan.lower import PlanError, lower

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "tests" / "data" / "hand_tiny.synth"


@pytest.fixture(scope="module")
def plan():
    return lower(compile_file(SPEC), device="cpu")


@pytest.fixture(scope="module")
def cohort(tmp_path_factory, plan):
    from synthspec.engine.executor import run

    out = tmp_path_factory.mktemp("hand") / "cohort"
    run(plan, out)
    return load(out)


def _positive(cohort):
    return next(s for s in cohort.subjects if s.record["positive"])


def test_a_radiograph_is_one_image_on_the_detector_grid(cohort, plan):
    settings = plan.stage("acquire").params.settings
    for sub in cohort.subjects:
        image = sub.image()
        assert image.shape == (1, settings["rows"], settings["cols"]) and image.dtype == np.uint16
        assert 0 < image.max() <= 4095
        labels = sub.detector_mask("labels_projected")
        assert labels.shape == image.shape
        assert sub.labels().shape == tuple(plan.grid.shape)   # the 3-D phantom stays the subject's labels


def test_the_files_are_subject_k_regenerated(cohort, plan):
    sub = cohort.subjects[1]
    again = generate_subject(plan, sub.index)
    assert np.array_equal(again.channels["image"], sub.image())
    assert np.array_equal(again.masks["labels_projected"], sub.detector_mask("labels_projected"))


def test_the_dx_file_carries_the_image_and_its_geometry(cohort, plan):
    import pydicom
    import SimpleITK as sitk

    sub = cohort.subjects[0]
    files = sorted((sub.folder / "dicom").glob("*.dcm"))
    assert len(files) == 1
    ds = pydicom.dcmread(files[0])
    settings = plan.stage("acquire").params.settings
    assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.1.1" and ds.Modality == "DX"
    assert ds.PresentationIntentType == "FOR PRESENTATION" and ds.PhotometricInterpretation == "MONOCHROME2"
    assert np.array_equal(ds.pixel_array, sub.image()[0])
    assert float(ds.KVP) == pytest.approx(55.0)
    assert [float(v) for v in ds.ImagerPixelSpacing] == pytest.approx([0.5, 0.5])
    magnification = settings["sid_mm"] / settings["sod_mm"]
    assert float(ds.PixelSpacing[0]) == pytest.approx(0.5 / magnification, rel=1e-4)
    assert float(ds.DistanceSourceToDetector) == pytest.approx(1000.0)
    assert ds.ViewPosition == "PA" and ds.ImageLaterality == "L" and ds.BodyPartExamined == "HAND"
    assert ds.PatientIdentityRemoved == "YES"
    read = sitk.ReadImage(str(files[0]))
    assert sitk.GetArrayFromImage(read).squeeze().shape == sub.image()[0].shape


@pytest.mark.skipif(shutil.which("dciodvfy") is None, reason="dciodvfy (Debian dicom3tools) is not installed")
def test_dciodvfy_finds_no_error_in_the_dx_file(cohort):
    file = next((cohort.subjects[0].folder / "dicom").glob("*.dcm"))
    done = subprocess.run(["dciodvfy", str(file)], capture_output=True, text=True, timeout=120)
    errors = [line for line in (done.stdout + done.stderr).splitlines() if line.startswith("Error")]
    assert errors == []


def test_the_lesion_lies_on_a_growth_plate_in_the_detector_plane(cohort, plan):
    sub = _positive(cohort)
    lesions = sub.detector_mask("lesions_projected")[0]
    labels = sub.detector_mask("labels_projected")[0]
    assert lesions.any()
    physes = [e.id for e in plan.labels if e.group == "physes"]
    bones = [e.id for e in plan.labels if e.tissue in ("cortical_bone", "cancellous_bone")]
    under = labels[lesions > 0]
    assert np.isin(under, physes + bones).mean() > 0.9
    for other in cohort.subjects:
        if not other.record["positive"]:
            assert not other.detector_mask("lesions_projected").any()


def test_a_twin_loses_its_lesion_and_differs_most_where_it_was(cohort, plan):
    sub = _positive(cohort)
    twin = generate_subject(plan, sub.index, with_pathology=False)
    assert not twin.masks["lesions_projected"].any()
    footprint = sub.detector_mask("lesions_projected")[0] > 0
    diff = np.abs(twin.channels["image"][0].astype(float) - sub.image()[0].astype(float))
    assert diff[footprint].mean() > 3 * diff[~footprint].mean()


def test_the_lead_marker_is_in_the_image_and_only_there(plan):
    from synthspec.engine.sample import sample_subject

    params = sample_subject(plan, 0)
    bare = params.model_copy(update={"acquisition": {**params.acquisition, "marker_corner": "none"}})
    marked = generate_subject(plan, 0).channels["image"][0].astype(float)
    unmarked = generate_subject(plan, 0, params=bare).channels["image"][0].astype(float)
    changed = np.abs(marked - unmarked) > 200
    rows, cols = np.nonzero(changed)
    assert changed.sum() > 20
    # the letter is small (10 mm high on a 0.5 mm grid: about 20 rows) and sits in a top corner
    assert rows.max() - rows.min() < 40 and rows.max() < marked.shape[0] // 3


def test_the_datalist_points_at_the_detector_plane_masks(cohort):
    data = json.loads((cohort.folder / layout.DATALIST).read_text())
    assert data["tensorImageSize"] == "2D"
    item = data["training"][0]
    assert item["label"].endswith("labels_projected.nii.gz") and item["lesion_label"].endswith("lesions_projected.nii.gz")
    assert "box" not in item


def test_anatomy_and_realism_validate_a_radiograph_cohort(cohort):
    from synthspec.validate.anatomy import anatomy_checks

    checks = anatomy_checks(cohort)
    assert checks and all(c.passed for c in checks), [c.reason for c in checks if not c.passed]


def test_a_view_the_family_cannot_take_is_refused_in_one_line():
    text = SPEC.read_text().replace("view: pa", "view: lateral")
    with pytest.raises(PlanError) as error:
        lower(compile_text(text, SPEC), device="cpu")
    assert "lateral" in str(error.value) and "view" in str(error.value) and "\n" not in str(error.value)


def test_a_focal_spot_inside_the_phantom_is_refused_in_one_line():
    text = SPEC.read_text().replace("sid: 100 cm", "sid: 5 cm")
    with pytest.raises(PlanError) as error:
        lower(compile_text(text, SPEC), device="cpu")
    message = str(error.value)
    assert "sid" in message and "phantom" in message and "\n" not in message


def test_the_shortcut_tests_run_on_radiographs_and_their_marker_control_is_judged(tmp_path):
    """Eight subjects: the probes train on whole radiographs; every check comes back with a reason, and the
    planted control is the lead marker left out of the positives' twins."""
    from synthspec.engine.executor import run
    from synthspec.validate.shortcut import run_shortcut_tests

    plan = lower(compile_file(SPEC), device="cpu", subjects=8)
    run(plan, tmp_path / "c")
    report = run_shortcut_tests(load(tmp_path / "c"), tests=("counterfactual",))
    names = {c.name for c in report.checks}
    assert {"shortcut_model", "shortcut_counterfactual", "shortcut_planted_control"} <= names
    control = next(c for c in report.checks if c.name == "shortcut_planted_control")
    assert "laterality marker" in control.reason and control.value is not None
    assert all(c.reason for c in report.checks)
