"""The paediatric hand's acceptance checks: judge one subject's label map and lesion mask.

Role: `assess_subject` runs every check of references.py on one subject (the generator's
re-draw loop and `synth validate` both call it through FAMILY.assess / FAMILY.check).  It reads
labels, the lesion mask and the subject record (sex, age) only, never intensities, and draws
nothing.  Label ids come from the plan's label table by name (the stdlib's when no plan is given).
"""

from __future__ import annotations

import numpy as np

from synthspec.families.anatomy.assessment import SubjectAnatomy, lesion_record_mismatch
from synthspec.families.anatomy.hand import references as R

DEFAULT_IDS = {"soft_tissue": 1, "subcutaneous_fat": 2, "radius": 10, "ulna": 11, "carpals": 12, "metacarpals": 13,
               "proximal_phalanges": 14, "middle_phalanges": 15, "distal_phalanges": 16, "distal_radius_physis": 20,
               "distal_ulna_physis": 21, "metacarpal_physes": 22, "phalangeal_physes": 23, "unossified_cartilage": 24}
"""anatomy_hand.synth's ids, used when the checks run without a plan."""
PHYSIS_GROUP = {"distal_radius_physis": "radius", "distal_ulna_physis": "ulna", "metacarpal_physes": "hand",
                "phalangeal_physes": "hand"}
COARSE_MM = 0.6
"""Above this voxel size the gaps between metacarpal bases (~1 mm in infants) may be unresolved:
fewer than five shafts is then a skip, not a failure."""




def label_ids_of(plan) -> dict[str, int]:
    if plan is None or not getattr(plan, "labels", None):
        return dict(DEFAULT_IDS)
    ids = {e.name: int(e.id) for e in plan.labels if getattr(e, "kind", "anatomy") == "anatomy"}
    return ids or dict(DEFAULT_IDS)


def _pieces(mask: np.ndarray):
    """6-connected pieces of `mask`: (label array, list of (voxel count, index arrays))."""
    from scipy.ndimage import find_objects, label

    lab, n = label(mask)
    out = []
    for i, box in enumerate(find_objects(lab), start=1):
        if box is None:
            continue
        where = np.argwhere(lab[box] == i) + np.array([s.start for s in box])
        out.append(where)
    return out


def _length_mm(points: np.ndarray, spacing) -> float:
    """Extent along the principal axis (mm) of voxel indices `points`, plus one voxel."""
    p = points * np.asarray(spacing, float)
    if len(p) < 3:
        return float(min(spacing))
    c = p - p.mean(axis=0)
    _, _, vt = np.linalg.svd(c, full_matrices=False)
    proj = c @ vt[0]
    return float(proj.max() - proj.min() + abs(vt[0]) @ np.asarray(spacing, float))


def assess_subject(labels: np.ndarray, lesion_mask, spacing, record: dict, plan) -> SubjectAnatomy:
    out = SubjectAnatomy()
    labels = np.asarray(labels)
    spacing = tuple(float(s) for s in spacing)
    ids = label_ids_of(plan)
    record = record or {}
    sex, age = record.get("sex"), record.get("age_y")
    counts = np.bincount(labels.ravel().astype(np.int64), minlength=256)
    _present(out, counts, ids, sex, age)
    _field_of_view(out, labels, ids)
    _metacarpals(out, labels, ids, spacing, sex, age)
    _carpals(out, labels, ids, sex, age)
    _physes(out, counts, ids, sex, age)
    _lesions(out, labels, lesion_mask, ids, record)
    return out


def _present(out, counts, ids, sex, age) -> None:
    need = ["soft_tissue", "subcutaneous_fat", "radius", "ulna", "metacarpals", "proximal_phalanges",
            "middle_phalanges", "distal_phalanges"]
    if sex is not None and age is not None:
        if age >= R.carpal_onset_range(sex, "capitate")[1]:
            need.append("carpals")
        for name, group in PHYSIS_GROUP.items():
            if age < R.CLOSURE_Y[R.sex_key(sex)][group][0]:
                need.append(name)
    missing = [n for n in need if n in ids and counts[ids[n]] == 0]
    if missing:
        out.fail("labels_present", f"no voxels of {', '.join(missing)}" +
                 (f" (expected at {age:g} y, {sex})" if age is not None else ""))


def _field_of_view(out, labels, ids) -> None:
    forearm = [ids[n] for n in ("radius", "ulna", "soft_tissue", "subcutaneous_fat") if n in ids]
    problems = []
    for axis, name in ((0, "z"), (1, "y"), (2, "x")):
        for side, face in ((0, "-"), (labels.shape[axis] - 1, "+")):
            sl = np.take(labels, side, axis=axis)
            codes = set(np.unique(sl).tolist()) - {0}
            allowed = set(forearm) if (axis == 0 and side == 0) else set()
            bad = sorted(codes - allowed)
            if bad:
                inv = {v: k for k, v in ids.items()}
                problems.append(f"{', '.join(inv.get(c, str(c)) for c in bad)} touch the {face}{name} face")
    if problems:
        out.fail("field_of_view", "; ".join(problems) + " (only the forearm may leave through the proximal -z face)")


def _metacarpals(out, labels, ids, spacing, sex, age) -> None:
    mask = np.isin(labels, [ids["metacarpals"], ids.get("metacarpal_physes", -1)])
    pieces = _pieces(mask)
    if not pieces:
        out.fail("bone_count", "no metacarpal voxels")
        return
    lengths = [_length_mm(p, spacing) for p in pieces]
    top = max(lengths)
    shafts = [p for p, L in zip(pieces, lengths) if L >= 0.5 * top]
    out.measures["metacarpal_shafts"] = len(shafts)
    if len(shafts) != 5:
        msg = f"{len(shafts)} metacarpal shafts found, 5 expected"
        if len(shafts) < 5 and max(spacing) > COARSE_MM:
            out.skip("bone_count", msg + f" (voxels of {max(spacing):g} mm may merge touching bases)")
            out.skip("bone_length", "the metacarpals could not be told apart")
        else:
            out.fail("bone_count", msg)
        return
    shafts.sort(key=lambda p: float(p[:, 2].mean()))    # ulnar (-x) to radial (+x, the thumb): MC3 is third
    mc3 = _length_mm(shafts[2], spacing)
    out.measures["mc3_mm"] = round(mc3, 1)
    if sex is None or age is None:
        out.skip("bone_length", "the subject record has no sex/age")
        return
    onset_hi = R.EPIPHYSIS_ONSET_Y[R.sex_key(sex)]["metacarpal"] * (1 + R.ONSET_CV * R.MATURITY_Z_LIMIT) * 1.15
    low, high = R.mc3_limits_mm(age, sex, head_ossified=age >= onset_hi + R.OSSIFY_GROWTH_Y)
    out.measures["mc3_limits_mm"] = (round(low, 1), round(high, 1))
    if not low <= mc3 <= high:
        out.fail("bone_length", f"3rd metacarpal {mc3:.1f} mm outside {low:.1f}..{high:.1f} mm for a {sex} of "
                 f"{age:g} y (Garn et al. 1972 +-{R.MC3_Z:g} SD)")


def _carpals(out, labels, ids, sex, age) -> None:
    pieces = _pieces(labels == ids["carpals"])
    n = len(pieces)
    out.measures["carpals_ossified"] = n
    if sex is None or age is None:
        out.skip("carpal_count", "the subject record has no sex/age")
        return
    lo, hi = R.carpal_count_range(age, sex)
    if not lo <= n <= hi:
        out.fail("carpal_count", f"{n} ossified carpals, {lo}..{hi} expected for a {sex} of {age:g} y "
                 "(onset ages of Greulich-Pyle / Gilsanz-Ratib)")


def _physes(out, counts, ids, sex, age) -> None:
    if sex is None or age is None:
        out.skip("physes", "the subject record has no sex/age")
        return
    problems = []
    for name, group in PHYSIS_GROUP.items():
        if name not in ids:
            continue
        lo, hi = R.CLOSURE_Y[R.sex_key(sex)][group]
        n = int(counts[ids[name]])
        if age < lo and n == 0:
            problems.append(f"{name} closed at {age:g} y (closes {lo:g}..{hi:g} y in a {sex})")
        if age >= hi and n > 0:
            problems.append(f"{name} open at {age:g} y ({n} voxels; fused by {hi:g} y in a {sex})")
    if problems:
        out.fail("physes", "; ".join(problems))


def _lesions(out, labels, lesion_mask, ids, record) -> None:
    if lesion_mask is None:
        return
    lesions = np.asarray(lesion_mask)
    present, mismatch = lesion_record_mismatch(lesions, record)
    if mismatch:
        out.fail("lesion_record", mismatch)
    bony = [ids[n] for n in ids if n not in ("soft_tissue", "subcutaneous_fat")]
    for i in sorted(present):
        labs = labels[lesions == i]
        share = float(np.mean(np.isin(labs, bony))) if labs.size else 0.0
        if share < 0.9:
            out.fail("lesion_site", f"lesion {i}: only {100 * share:.0f} % of its voxels lie in bone, physis or "
                                    "cartilage (rickets changes the metaphysis and physis)")
