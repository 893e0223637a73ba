"""Acceptance checks of one head: structures present, intracranial, brain and ventricle volumes against
age and sex references, skull thickness, territory coverage, and that lesions lie inside the head.

Used by the re-draw loop and by `synth validate`; each failure names its check (references.py).
Measures on labels only, so the same code judges a subject at generation and from its files.
"""

from __future__ import annotations

import numpy as np

from synthspec.families.anatomy.assessment import SubjectAnatomy, lesion_record_mismatch
from synthspec.families.anatomy.head import references as R


def label_ids_of(plan) -> dict[str, int]:
    if plan is None or not getattr(plan, "labels", None):
        from synthspec.compiler.resolve import stdlib

        return {o.name: int(o.get("label")) for o in stdlib()[0].get("anatomy", "head_adult").all("organ")}
    return {e.name: int(e.id) for e in plan.labels if getattr(e, "kind", "anatomy") == "anatomy"}


def _skull_thickness_mm(labels: np.ndarray, ids, spacing) -> float | None:
    """Median skull thickness along rays from the intracranial centre of the slice with the largest intracranial
    area (a supratentorial slice), in the slice plane."""
    inside = np.isin(labels, [ids[n] for n in R.INTRACRANIAL if n in ids])
    bone = np.isin(labels, [ids[n] for n in ("skull", "diploe", "sutures") if n in ids])
    if not inside.any():
        return None
    k = int(np.argmax(inside.sum(axis=(1, 2))))
    ys, xs = np.nonzero(inside[k])
    cy, cx = ys.mean(), xs.mean()
    dy, dx = float(spacing[1]), float(spacing[2])
    step = 0.5 * min(dy, dx)
    out = []
    for angle in np.linspace(0, 2 * np.pi, 72, endpoint=False):
        r = np.arange(0, 200, step)
        py = np.rint(cy + r * np.sin(angle) / dy).astype(int)
        px = np.rint(cx + r * np.cos(angle) / dx).astype(int)
        ok = (py >= 0) & (py < labels.shape[1]) & (px >= 0) & (px < labels.shape[2])
        hits = bone[k, py[ok], px[ok]]
        if not hits.any():
            continue
        first = int(np.argmax(hits))
        run = hits[first:]
        end = int(np.argmax(~run)) if (~run).any() else len(run)
        out.append(end * step)
    return float(np.median(out)) if out else None


def assess_subject(labels: np.ndarray, lesion_mask, spacing, record: dict, plan) -> SubjectAnatomy:
    out = SubjectAnatomy()
    labels = np.asarray(labels)
    spacing = tuple(float(s) for s in spacing)
    ids = label_ids_of(plan)
    record = record or {}
    sex, age = record.get("sex"), record.get("age_y")
    counts = np.bincount(labels.ravel().astype(np.int64), minlength=256)
    ml = float(np.prod(spacing)) / 1000.0
    missing = [n for n in R.REQUIRED if n in ids and counts[ids[n]] == 0]
    if missing:
        out.fail("labels_present", f"no voxels of {', '.join(missing)}")
    icv = float(sum(counts[ids[n]] for n in R.INTRACRANIAL if n in ids)) * ml
    brain = float(sum(counts[ids[n]] for n in R.BRAIN if n in ids)) * ml
    vent = float(counts[ids["lateral_ventricles"]]) * ml if "lateral_ventricles" in ids else 0.0
    out.measures.update({"intracranial_ml": round(icv, 1), "brain_ml": round(brain, 1), "ventricles_ml": round(vent, 1)})
    lo, hi = R.icv_range(sex)
    if not lo <= icv <= hi:
        out.fail("intracranial_volume", f"intracranial volume {icv:.0f} mL is outside {lo:.0f}-{hi:.0f} mL "
                                        f"({sex or 'either sex'})")
    if icv > 0:
        bpf = brain / icv
        out.measures["brain_fraction"] = round(bpf, 3)
        if not R.BRAIN_FRACTION[0] <= bpf <= R.BRAIN_FRACTION[1]:
            out.fail("brain_fraction", f"brain parenchymal fraction {bpf:.2f} is outside "
                                       f"{R.BRAIN_FRACTION[0]}-{R.BRAIN_FRACTION[1]}")
    vlo, vhi = R.ventricle_range(age)
    if not vlo <= vent <= vhi:
        out.fail("ventricle_volume", f"lateral ventricles {vent:.1f} mL are outside {vlo:.0f}-{vhi:.0f} mL expected "
                                     f"at {age if age is not None else 'an unknown age'} y")
    thickness = _skull_thickness_mm(labels, ids, spacing)
    if thickness is None:
        out.fail("skull_thickness", "no skull around the intracranial space")
    else:
        out.measures["skull_mm"] = round(thickness, 2)
        if not R.SKULL_MM[0] <= thickness <= R.SKULL_MM[1]:
            out.fail("skull_thickness", f"median skull thickness {thickness:.1f} mm is outside "
                                        f"{R.SKULL_MM[0]:g}-{R.SKULL_MM[1]:g} mm")
    if brain > 0:
        covered = float(sum(counts[ids[n]] for n in R.TERRITORY_LABELS + ("white_matter",) if n in ids)) * ml
        share = covered / brain
        out.measures["territory_share"] = round(share, 3)
        if share < R.TERRITORY_SHARE:
            out.fail("territories", f"only {100 * share:.0f} % of the brain lies in a named arterial territory")
    _lesions(out, labels, lesion_mask, ids, record)
    return out


def _lesions(out, labels, lesion_mask, ids, record) -> None:
    if lesion_mask is None:
        return
    lesions = np.asarray(lesion_mask)
    present, mismatch = lesion_record_mismatch(lesions, record)
    if mismatch:
        out.fail("lesion_record", mismatch)
    outside = [ids[n] for n in ("scalp", "paranasal_sinuses", "mastoid_air") if n in ids] + [0]
    for i in sorted(present):
        labs = labels[lesions == i]
        share = float(np.mean(~np.isin(labs, outside))) if labs.size else 0.0
        if share < 0.9:
            out.fail("lesion_site", f"lesion {i}: only {100 * share:.0f} % of its voxels lie inside the skull")
