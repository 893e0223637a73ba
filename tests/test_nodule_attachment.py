"""Lung nodules meet their surroundings as the spec asks: juxta-pleural, juxta-vascular, perifissural, isolated.

Each attachment is checked on the generated label map and lesion mask, not on the placement's own
bookkeeping: the nodule's mask grown by one voxel must reach the chest wall or mediastinum (pleura), a
pulmonary vessel, or another lobe (fissure); an isolated one reaches neither pleura nor fissure.  The
compiler refuses a juxta-pleural share beside a required gap from the pleura (ANA010), and a spec without
`attachment` keeps its plan and streams.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.ndimage import binary_dilation

from synthspec.compiler.check import compile_file
from synthspec.plan.lower import lower

ATTACHMENTS = ("juxta_pleural", "juxta_vascular", "perifissural", "isolated")


def _spec(tmp_path: Path, attachment: str | None, subjects: int = 4) -> Path:
    from test_run import tiny_spec

    tmp_path.mkdir(parents=True, exist_ok=True)
    spec = tiny_spec(tmp_path, subjects=subjects)
    text = spec.read_text(encoding="utf-8")
    text = text.replace("    require pleura_gap: distance_to(pleura) >= 2 mm\n", "")
    text = "".join(line for line in text.splitlines(keepends=True) if not line.strip().startswith("attachment:"))
    text = text.replace("matrix: 64", "matrix: 96")
    text = text.replace("    count: 1 .. 2\n", "    count: 2 .. 2\n").replace("prevalence: 60%", "prevalence: 100%")
    if attachment:
        text = text.replace("    diameter: 14 mm .. 20 mm   # visible on the coarse test grid",
                            f"    diameter: 10 mm .. 14 mm\n    attachment: {attachment}")
    spec.write_text(text, encoding="utf-8")
    return spec


def _plan(spec: Path):
    result = compile_file(spec)
    errors = [d for d in result.visible if d.severity.value == "error"]
    assert not errors, errors
    return lower(result, device="cpu")


@pytest.fixture(scope="module")
def by_attachment(tmp_path_factory):
    """Subjects of a spec with all four attachments, their lesions grouped by the attachment drawn."""
    from synthspec.engine.subject import generate_subject

    tmp = tmp_path_factory.mktemp("attach")
    plan = _plan(_spec(tmp, "juxta_pleural 25%, juxta_vascular 25%, perifissural 25%, isolated 25%", subjects=8))
    table = {e.name: e for e in plan.labels}
    lobes = np.array([table[n].id for n in table if n.endswith("_lobe")])
    vessels = np.array([e.id for e in plan.labels if e.kind == "anatomy" and e.group in ("pulmonary_vessels", "airways")])
    found: dict[str, list] = {a: [] for a in ATTACHMENTS}
    for k in range(plan.subjects):
        subject = generate_subject(plan, k)
        assert not subject.rejected, subject.rejected
        for lesion in subject.lesions:
            mask = subject.lesion_mask == lesion.id
            grown = binary_dilation(mask, structure=np.ones((3, 3, 3), bool)) & ~mask
            around = subject.labels[grown]
            own = table[lesion.location].id
            found[lesion.attributes["attachment"]].append({
                "pleura": bool(np.any(~np.isin(around, lobes) & ~np.isin(around, vessels))),
                "vessel": bool(np.any(np.isin(around, vessels))),
                "fissure": bool(np.any(np.isin(around, lobes) & (around != own)))})
    return found


def test_every_attachment_is_drawn(by_attachment):
    assert all(by_attachment[a] for a in ATTACHMENTS), {a: len(v) for a, v in by_attachment.items()}


@pytest.mark.parametrize("attachment,touches", [("juxta_pleural", "pleura"), ("juxta_vascular", "vessel"),
                                                ("perifissural", "fissure")])
def test_an_attached_nodule_touches_what_it_is_attached_to(by_attachment, attachment, touches):
    assert by_attachment[attachment] and all(n[touches] for n in by_attachment[attachment]), by_attachment[attachment]


def test_an_isolated_nodule_touches_neither_pleura_nor_fissure(by_attachment):
    assert all(not n["pleura"] and not n["fissure"] for n in by_attachment["isolated"]), by_attachment["isolated"]


def test_the_record_names_the_attachment_and_a_spec_without_one_keeps_its_plan(tmp_path):
    from synthspec.engine.subject import generate_subject

    plan = _plan(_spec(tmp_path / "with", "juxta_vascular"))
    subject = generate_subject(plan, 0)
    assert {lesion.attributes["attachment"] for lesion in subject.lesions} == {"juxta_vascular"}
    plain = _plan(_spec(tmp_path / "without", None))
    assert "attachment" not in json.dumps(plain.model_dump(mode="json"))   # plan bytes as before the field existed
    assert all("attachment" not in lesion.attributes for k in range(plain.subjects)
               for lesion in generate_subject(plain, k).lesions)


def test_juxta_pleural_beside_a_pleural_gap_is_refused_with_the_fix(tmp_path):
    spec = _spec(tmp_path, None)
    text = spec.read_text(encoding="utf-8").replace(
        "    diameter: 14 mm .. 20 mm   # visible on the coarse test grid",
        "    diameter: 14 mm .. 20 mm\n    attachment: isolated 80%, juxta_pleural 20%\n"
        "    require gap: distance_to(pleura) >= 2 mm")
    spec.write_text(text, encoding="utf-8")
    found = [d for d in compile_file(spec).visible if d.code == "ANA010"]
    assert len(found) == 1 and found[0].severity.value == "error"
    assert "juxta_pleural" in found[0].message and "distance_to(pleura) >= 2 mm" in found[0].message
