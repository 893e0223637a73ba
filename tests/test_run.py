"""End to end on a tiny grid: run, interrupt, resume, verify — byte-identical and atomic."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from synthspec.cli import main
from synthspec.compiler.check import compile_file
from synthspec.plan.lower import lower
from synthspec.engine.executor import RunError, run
from synthspec.engine import generate_subject
from synthspec.engine.sample import sample_subject
from synthspec.engine.verify import verify

EXAMPLE = Path(__file__).parent.parent / "examples" / "lung_nodules_ldct.synth"


def tiny_spec(tmp_path: Path, subjects: int = 3) -> Path:
    """The lung example on a coarse grid so a subject takes about a second on CPU."""
    text = EXAMPLE.read_text(encoding="utf-8")
    lines = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("subjects:"):
            line = f"  subjects: {subjects}"
        elif stripped.startswith("anatomy:"):
            # the runtime's fixtures use the procedural thorax (seconds per subject, no template to derive);
            # the example's real-prior thorax has its own tests (test_thorax_real.py)
            line = "  anatomy: thorax_adult"
        elif stripped.startswith(("slice_thickness:", "matrix:", "field_of_view:", "views:")):
            continue
        elif stripped.startswith("kv:"):
            line = line + "\n    slice_thickness: 5 mm\n    matrix: 64\n    field_of_view: 450 mm\n    views: 96  # synth: ignore[PHY013] a 64-pixel test fixture"
        elif stripped.startswith("stratify:") or stripped.startswith("min_per_stratum:"):
            continue
        elif stripped.startswith("min_positives:"):
            line = "    min_positives: 1"
        elif stripped.startswith("diameter:"):
            line = "    diameter: 14 mm .. 20 mm   # visible on the coarse test grid"
        lines.append(line)
    spec = tmp_path / "tiny.synth"
    spec.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return spec


def tiny_plan(tmp_path: Path, subjects: int = 3):
    result = compile_file(tiny_spec(tmp_path, subjects))
    errors = [d for d in result.visible if d.severity.value == "error"]
    assert not errors, errors
    return lower(result, device="cpu")


def hashes(out: Path) -> dict[str, str]:
    import hashlib

    return {p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(out.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cohort")
    plan = tiny_plan(tmp)
    out = tmp / "out"
    summary = run(plan, out)
    return plan, out, summary


def test_a_run_writes_every_output(cohort):
    plan, out, summary = cohort
    assert summary.generated == 3
    for name in ("plan.json", "manifest.csv", "manifest.json", "provenance.json", "cohort.json"):
        assert (out / name).is_file(), name
    for k in range(3):
        folder = out / "subjects" / f"S{k:06d}"
        for name in ("image.nii.gz", "labels.nii.gz", "lesions.nii.gz", "subject.json"):
            assert (folder / name).is_file()
        assert len(list((folder / "dicom").glob("*.dcm"))) == plan.grid.shape[0]
    manifest = json.loads((out / "manifest.json").read_text())
    assert [r["index"] for r in manifest["rows"]] == [0, 1, 2]
    provenance = json.loads((out / "provenance.json").read_text())
    assert provenance["spec_hash"] == plan.spec_hash and provenance["synthetic"] is True
    assert not list(out.rglob(".tmp-*"))


def test_air_and_soft_tissue_have_their_ct_numbers(cohort):
    import SimpleITK as sitk

    _, out, _ = cohort
    image = sitk.GetArrayFromImage(sitk.ReadImage(str(out / "subjects" / "S000000" / "image.nii.gz")))
    labels = sitk.GetArrayFromImage(sitk.ReadImage(str(out / "subjects" / "S000000" / "labels.nii.gz")))
    air = image[labels == 0]
    assert abs(np.median(air) + 1000) < 40
    lung = image[(labels >= 10) & (labels <= 14)]
    assert -950 < np.median(lung) < -600


def test_dicom_series_reads_as_one_volume_with_the_nifti_geometry(cohort):
    import SimpleITK as sitk

    _, out, _ = cohort
    folder = out / "subjects" / "S000001"
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder / "dicom")))
    series = reader.Execute()
    nifti = sitk.ReadImage(str(folder / "image.nii.gz"))
    assert series.GetSize() == nifti.GetSize()
    assert np.allclose(series.GetSpacing(), nifti.GetSpacing(), atol=1e-4)
    assert np.allclose(series.GetOrigin(), nifti.GetOrigin(), atol=1e-3)
    assert np.array_equal(sitk.GetArrayFromImage(series), sitk.GetArrayFromImage(nifti))


def test_interrupted_and_resumed_run_is_byte_identical(cohort, tmp_path):
    plan, out, _ = cohort
    other = tmp_path / "again"
    with pytest.raises(KeyboardInterrupt):
        run(plan, other, stop_after=1)
    assert (other / "subjects" / "S000000").is_dir() and not (other / "cohort.json").exists()
    with pytest.raises(RunError):
        run(plan, other)  # without --resume nothing is touched
    run(plan, other, resume=True)
    assert hashes(other) == hashes(out)


def test_batch_size_does_not_change_the_cohort(cohort, tmp_path):
    plan, out, _ = cohort
    single = plan.model_copy(update={"batch_size": 1})
    assert single.hash() == plan.hash()
    run(single, tmp_path / "single")
    # plan.json and provenance.json record how the run was executed (batch size), and cohort.json vouches for
    # them; every subject file, manifest and the content hash are identical
    execution = {"plan.json", "provenance.json", "cohort.json"}
    same = {k: v for k, v in hashes(tmp_path / "single").items() if k not in execution}
    assert same == {k: v for k, v in hashes(out).items() if k not in execution}
    content = [json.loads((folder / "cohort.json").read_text())["content_hash"] for folder in (out, tmp_path / "single")]
    assert content[0] == content[1]


def test_resume_refuses_a_different_plan(cohort, tmp_path):
    plan, out, _ = cohort
    changed = plan.model_copy(update={"cohort_seed": plan.cohort_seed + 1})
    with pytest.raises(RunError, match="different plan"):
        run(changed, out, resume=True)


def test_verify_regenerates_identical_subjects(cohort):
    _, out, _ = cohort
    results = verify(out, count=2)
    assert len(results) == 2 and all(ok for _, ok, _ in results)


def test_counterfactual_twin_differs_only_in_the_lesion(cohort):
    plan, _, _ = cohort
    k = next(k for k in range(20) if sample_subject(plan, k).lesions)
    with_lesion = generate_subject(plan, k, noiseless=True)
    twin = generate_subject(plan, k, with_pathology=False, noiseless=True)
    assert with_lesion.lesion_mask.any() and not twin.lesion_mask.any()
    assert np.array_equal(with_lesion.labels, twin.labels)
    outside = np.abs(with_lesion.truth - twin.truth) > 1.0
    assert outside.any()
    # every visibly changed voxel (> 1 HU; partial-volume tails are fainter) lies in or next to a lesion:
    # within two voxels of it, diagonals included (a real outline's ramp can graze a diagonal neighbour)
    from scipy.ndimage import binary_dilation

    near = binary_dilation(with_lesion.lesion_mask > 0, structure=np.ones((3, 3, 3), bool), iterations=2)
    assert not (outside & ~near).any()


def test_run_command_prints_where_the_cohort_is(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SYNTH_NO_PROGRESS", "1")
    spec = tiny_spec(tmp_path, subjects=2)
    out = tmp_path / "cli"
    assert main(["run", str(spec), "--out", str(out), "--device", "cpu"]) == 0
    printed = capsys.readouterr().out
    assert str(out) in printed and "manifest" in printed
    assert main(["run", str(spec), "--out", str(out), "--device", "cpu"]) == 1  # exists, no --resume
    assert "resume" in capsys.readouterr().err
    assert main(["verify", str(out), "--sample", "1"]) == 0
