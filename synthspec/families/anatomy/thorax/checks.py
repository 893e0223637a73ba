"""The adult thorax's acceptance checks, part 2: judge one subject's label map and lesion mask.

Role: `assess_subject` / `check_subject_anatomy` run every check on one subject; the
generator's re-draw loop and `synth validate` (validate/anatomy.py, which aggregates a cohort)
both call them.  The checks and their references are described in references.py.  They read
labels only, never intensities.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from synthspec.families.anatomy.assessment import SubjectAnatomy
from synthspec.families.anatomy.thorax.references import (DEFAULT_LOBE_ML, DEFAULT_SIZES_MM, FRAGMENT_FRACTION,
                                                          HEART_INDEX_ML_M2, LESION_ALLOWED_GROUPS, LOBE_SHARE_RULE,
                                                          LOBE_SHARE_TOLERANCE, THIN_VOXELS, THORAX_NAMES, Family, _sex,
                                                          bsa_m2, family_of, heart_volume_limits_ml,
                                                          lung_volume_limits_ml, predicted_tlc_ml)

# ---------------------------------------------------------------------------------------------
# one subject




def check_subject_anatomy(labels: np.ndarray, lesion_mask: np.ndarray | None, spacing, record: dict, plan) -> list[str]:
    """Failure reasons for one subject (empty = it passes); each starts with its check's name.

    labels, lesion_mask: [Z, Y, X] arrays as written (labels.nii.gz, lesions.nii.gz);
    spacing: (dz, dy, dx) mm; record: the subject record (subject.json, or `cohort.record.checked_record`);
    plan: the cohort's plan (labels, constraints).  The executor re-samples a subject
    whose list is not empty."""
    return assess_subject(labels, lesion_mask, spacing, record, plan).reasons


def assess_subject(labels: np.ndarray, lesion_mask: np.ndarray | None, spacing, record: dict, plan,
                   family: Family | None = None) -> SubjectAnatomy:
    """All checks on one subject, with measurements (the structured form of `check_subject_anatomy`)."""
    out = SubjectAnatomy()
    family = family or family_of(plan)
    if family is None:
        out.fail("anatomy", f"the plan's label table has no thorax lobes (anatomy {getattr(plan, 'anatomy', '?')!r}), "
                            "so the thorax checks cannot judge this subject")
        return out
    labels = np.asarray(labels)
    spacing = tuple(float(s) for s in spacing)
    if labels.ndim != 3 or len(spacing) != 3:
        raise ValueError(f"labels must be a [Z, Y, X] volume with (dz, dy, dx) spacing, got {labels.shape} / {spacing}")
    lesions = np.zeros(labels.shape, np.uint16) if lesion_mask is None else np.asarray(lesion_mask)
    if lesions.shape != labels.shape:
        out.fail("lesion_record", f"the lesion mask {lesions.shape} and the label map {labels.shape} differ in shape")
        lesions = np.zeros(labels.shape, np.uint16)
    voxel_ml = spacing[0] * spacing[1] * spacing[2] / 1000.0
    counts = np.bincount(labels.ravel().astype(np.int64), minlength=256)
    ctx = _Context(labels=labels, lesions=lesions, spacing=spacing, voxel_ml=voxel_ml, counts=counts,
                   family=family, record=record or {}, plan=plan)
    for check in (_volumes, _containment, _connectivity, _lesions):
        check(ctx, out)
    return out


@dataclass
class _Context:
    labels: np.ndarray
    lesions: np.ndarray
    spacing: tuple[float, float, float]
    voxel_ml: float
    counts: np.ndarray
    family: Family
    record: dict
    plan: object
    _masks: dict = field(default_factory=dict)
    _lung: np.ndarray | None = None
    _boxes: list | None = None

    def ml(self, codes) -> float:
        return float(sum(int(self.counts[c]) for c in codes)) * self.voxel_ml

    def mask(self, codes) -> np.ndarray:
        key = tuple(sorted(set(int(c) for c in codes)))
        if key not in self._masks:
            lut = np.zeros(256, dtype=bool)
            lut[list(key)] = True
            self._masks[key] = lut[self.labels]
        return self._masks[key]

    def lung_region(self) -> np.ndarray:
        if self._lung is None:
            self._lung = _lung_region(self)
        return self._lung

    def lesion_box(self, lesion_id: int):
        if self._boxes is None:
            from scipy.ndimage import find_objects

            self._boxes = find_objects(self.lesions.astype(np.int32))
        return self._boxes[lesion_id - 1]


def _touches_faces(mask: np.ndarray) -> list[str]:
    faces = []
    for axis, name in ((0, "z"), (1, "y"), (2, "x")):
        first = np.take(mask, 0, axis=axis)
        last = np.take(mask, mask.shape[axis] - 1, axis=axis)
        if first.any() or last.any():
            faces.append(name)
    return faces


def _lung_region(ctx: _Context) -> np.ndarray:
    """Lung parenchyma and the pulmonary vessels inside it (the generator's `lung` region).

    A vessel voxel counts as lung unless one of its 26 neighbours is neither lung nor vessel
    (mediastinal and hilar vessels border the mediastinum)."""
    from scipy.ndimage import binary_dilation

    fam = ctx.family
    lobes = ctx.mask(fam.codes(THORAX_NAMES["lobes"]))
    vessels = ctx.mask(fam.codes(THORAX_NAMES["vessels"]))
    if not vessels.any():
        return lobes
    other = ~(lobes | vessels)
    border = binary_dilation(other, structure=np.ones((3, 3, 3), bool))
    return lobes | (vessels & ~border)


def _volumes(ctx: _Context, out: SubjectAnatomy) -> None:
    fam, rec = ctx.family, ctx.record
    lobe_names = [n for n in THORAX_NAMES["lobes"] if n in fam.labels]
    lobes = ctx.mask(fam.codes(lobe_names))
    sex, height, bmi = rec.get("sex"), rec.get("height_mm"), rec.get("bmi")
    demographics = sex is not None and height is not None
    cut = _touches_faces(lobes)
    if not lobes.any():
        out.fail("lung_volume", "the label map holds no lung lobes")
        return
    if cut:
        out.skip("lung_volume", f"the field of view cuts the lungs (they touch the {'/'.join(cut)} faces)")
        out.skip("lobar_share", "the field of view cuts the lungs")
    else:
        lung = ctx.lung_region()
        total = float(np.count_nonzero(lung)) * ctx.voxel_ml
        out.measures["lung_ml"] = round(total, 1)
        if demographics:
            pred, _ = predicted_tlc_ml(sex, height)
            low, high = lung_volume_limits_ml(sex, height)
            out.measures["predicted_tlc_ml"] = round(pred, 1)
            out.measures["lung_to_tlc"] = round(total / pred, 4) if pred > 0 else None
            if not low <= total <= high:
                out.fail("lung_volume", f"total lung volume {total / 1000:.2f} L is "
                         f"{'below' if total < low else 'above'} the limits of normal "
                         f"{low / 1000:.2f}..{high / 1000:.2f} L "
                         f"({100 * total / pred:.0f} % of the predicted TLC {pred / 1000:.2f} L for a "
                         f"{_sex(sex)} of {height / 10:.0f} cm, ERS 1993)")
        else:
            out.skip("lung_volume", "the subject record has no sex/height to predict the lung capacity from")
        lobe_ml = {n: ctx.ml([fam.labels[n]]) for n in lobe_names}
        out.measures["lobe_ml"] = {n: round(v, 1) for n, v in lobe_ml.items()}
        lobes_total = sum(lobe_ml.values())
        mids = {n: 0.5 * sum(fam.volumes_ml.get(n, DEFAULT_LOBE_ML[n])) for n in lobe_names}
        mid_total = sum(mids.values())
        bad = []
        for n in lobe_names:
            share, expected = lobe_ml[n] / lobes_total, mids[n] / mid_total
            low, high = expected * (1 - LOBE_SHARE_TOLERANCE), expected * (1 + LOBE_SHARE_TOLERANCE)
            if not low <= share <= high:
                bad.append(f"{n} {100 * share:.1f} % (expected {100 * low:.0f}..{100 * high:.0f} %)")
        if bad:
            out.fail("lobar_share", "lobar shares of the lung volume out of range: " + "; ".join(bad))
    heart_codes = fam.codes(["heart"])
    if heart_codes:
        heart = ctx.mask(heart_codes)
        h_ml = ctx.ml(heart_codes)
        out.measures["heart_ml"] = round(h_ml, 1)
        if not heart.any():
            out.fail("heart_volume", "the label map holds no heart")
        elif _touches_faces(heart):
            out.skip("heart_volume", "the field of view cuts the heart")
        elif demographics and bmi is not None:
            low, high = heart_volume_limits_ml(sex, height, bmi)
            s = bsa_m2(height, bmi)
            out.measures["heart_ml_per_m2"] = round(h_ml / s, 1)
            if not low <= h_ml <= high:
                lo_i, hi_i = HEART_INDEX_ML_M2[_sex(sex)]
                out.fail("heart_volume", f"heart volume {h_ml:.0f} mL ({h_ml / s:.0f} mL/m2) is outside "
                         f"{low:.0f}..{high:.0f} mL ({lo_i:.0f}..{hi_i:.0f} mL/m2 of body-surface area {s:.2f} m2 "
                         f"for a {_sex(sex)})")
        else:
            out.skip("heart_volume", "the subject record has no sex/height/BMI to scale the heart range")


def _containment(ctx: _Context, out: SubjectAnatomy) -> None:
    """Lungs, heart and aorta must be enclosed by the body: no face contact with outside air (label 0)."""
    from scipy.ndimage import binary_dilation

    fam = ctx.family
    outside = ctx.labels == 0
    if not outside.any():
        return
    near_outside = binary_dilation(outside)  # 6-connected contact
    problems = []
    for what, names in (("right lung", THORAX_NAMES["right_lung"]), ("left lung", THORAX_NAMES["left_lung"]),
                        ("heart", ("heart",)), ("aorta", ("aorta",))):
        codes = fam.codes(names)
        if not codes:
            continue
        organ = ctx.mask(codes)
        touching = int(np.count_nonzero(organ & near_outside))
        if touching:
            problems.append(f"{what} touches the air outside the body at {touching} voxels")
        inplane = [f for f in _touches_faces(organ) if f != "z"]
        if inplane:
            problems.append(f"{what} reaches the {'/'.join(inplane)} edge of the field of view")
    if problems:
        out.fail("containment", "; ".join(problems))


def _pieces(mask: np.ndarray, thin: bool) -> list[int]:
    """Voxel counts of the 26-connected pieces of `mask` (largest first); for a thin structure,
    pieces one voxel apart count as one."""
    from scipy.ndimage import binary_dilation, label

    if not mask.any():
        return []
    pad = []
    for axis in range(3):
        hit = np.flatnonzero(mask.any(axis=tuple(a for a in range(3) if a != axis)))
        pad.append(slice(max(int(hit[0]) - 2, 0), int(hit[-1]) + 3))
    pad = tuple(pad)
    sub = mask[pad]
    s26 = np.ones((3, 3, 3), bool)
    joined = binary_dilation(sub, structure=s26) if thin else sub
    lab, n = label(joined, structure=s26)
    sizes = np.bincount(lab[sub], minlength=n + 1)[1:]
    return sorted((int(s) for s in sizes if s > 0), reverse=True)


def _connectivity(ctx: _Context, out: SubjectAnatomy) -> None:
    fam = ctx.family
    problems, specks = [], {}
    coarsest = max(ctx.spacing)
    for what, names, size_of in (("right lung", THORAX_NAMES["right_lung"], "right_upper_lobe"),
                                 ("left lung", THORAX_NAMES["left_lung"], "left_upper_lobe"),
                                 ("heart", ("heart",), "heart"), ("aorta", ("aorta",), "aorta"),
                                 ("trachea", ("trachea",), "trachea")):
        codes = fam.codes(names)
        if not codes:
            continue
        organ = ctx.mask(codes)
        if not organ.any():
            if what in ("right lung", "left lung", "heart"):
                problems.append(f"{what} is missing")
            continue
        thin = fam.sizes_mm.get(size_of, DEFAULT_SIZES_MM.get(size_of, 100.0)) < THIN_VOXELS * coarsest
        pieces = _pieces(organ, thin)
        total = sum(pieces)
        floor = max(2, int(FRAGMENT_FRACTION * total))
        big = [p for p in pieces if p > floor]
        small = [p for p in pieces if p <= floor]
        if small:
            specks[what] = small
        if len(big) > 1:
            shown = ", ".join(f"{p * ctx.voxel_ml:.1f} mL" for p in big[:4]) + (" ..." if len(big) > 4 else "")
            problems.append(f"{what} is in {len(big)} pieces ({shown}); it must be one connected piece")
    if specks:
        out.measures["specks_voxels"] = specks
    if problems:
        out.fail("connectivity", "; ".join(problems))


def _lesions(ctx: _Context, out: SubjectAnatomy) -> None:
    fam, rec = ctx.family, ctx.record
    lesions = ctx.lesions
    records = {int(l["id"]): l for l in rec.get("lesions") or [] if "id" in l}
    ids = [int(i) for i in np.unique(lesions) if i != 0]
    missing = [i for i in records if i not in ids]
    extra = [i for i in ids if i not in records]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"recorded lesion(s) {', '.join(map(str, missing))} have no voxels in the mask")
        if extra:
            parts.append(f"mask lesion id(s) {', '.join(map(str, extra))} are not in the subject record")
        out.fail("lesion_record", "; ".join(parts))
    if not ids:
        _count_constraints(ctx, out, 0)
        return
    allowed = np.zeros(256, dtype=bool)
    for g in LESION_ALLOWED_GROUPS:
        allowed[fam.resolve(g)] = True
    lobe_codes = set(fam.codes(THORAX_NAMES["lobes"]))
    names = fam.names
    tissue_problems, location_problems = [], []
    measured = {}
    for i in ids:
        box = ctx.lesion_box(i)
        where = lesions[box] == i
        labs = ctx.labels[box][where]
        what = f"lesion {i}" + (f" ({records[i].get('location')})" if i in records else "")
        bad = labs[~allowed[labs]]
        if bad.size:
            codes, n = np.unique(bad, return_counts=True)
            listed = ", ".join(f"{int(k)} in {names.get(int(c), f'label {int(c)}') if c else 'outside air'}"
                               for c, k in sorted(zip(codes, n), key=lambda t: -t[1]))
            tissue_problems.append(f"{what}: {int(bad.size)} of {int(labs.size)} voxels outside the lung ({listed})")
        in_lobes = labs[np.isin(labs, list(lobe_codes))]
        if i in records and records[i].get("location") in fam.labels:
            target = fam.labels[records[i]["location"]]
            share = float(np.mean(in_lobes == target)) if in_lobes.size else 0.0
            if share < LOBE_SHARE_RULE:
                location_problems.append(f"{what}: only {100 * share:.0f} % of its lobe voxels lie in "
                                         f"{records[i]['location']} (needs >= {100 * LOBE_SHARE_RULE:.0f} %)")
        measured[i] = {"voxels": int(labs.size)}
    if tissue_problems:
        out.fail("lesion_tissue", "; ".join(tissue_problems))
    if location_problems:
        out.fail("lesion_location", "; ".join(location_problems))
    # constraints of the pathologies that could have produced each lesion
    pathologies = [p.model_dump() for p in ctx.plan.sampling.pathologies]
    problems = []
    for i in ids:
        rec_i = records.get(i, {})
        kind = rec_i.get("kind")
        candidates = [p for p in pathologies if not kind or p.get("kind") == kind] or pathologies
        verdicts = []
        for p in candidates:
            broken = []
            for con in p.get("constraints") or []:
                if con.get("weight") is not None and float(con["weight"]) < 1.0:
                    continue   # a soft constraint (`require[0.75]`) is a preference, not a rule
                verdict = _constraint(ctx, con, i, rec_i, measured[i])
                if verdict:
                    broken.append(verdict)
            verdicts.append(broken)
        if verdicts and all(verdicts):
            problems.append(f"lesion {i}: " + "; ".join(min(verdicts, key=len)))
    out.measures["lesions"] = measured
    if problems:
        out.fail("lesion_constraints", "; ".join(problems))
    _count_constraints(ctx, out, len(ids))


def _count_constraints(ctx: _Context, out: SubjectAnatomy, n: int) -> None:
    for p in [p.model_dump() for p in ctx.plan.sampling.pathologies]:
        for con in p.get("constraints") or []:
            if con.get("function") == "count" and con.get("right_value") is not None:
                if not _compare(n, con.get("op"), float(con["right_value"])):
                    out.fail("lesion_constraints", f"{_name(con)}: {n} lesions, the spec requires {con.get('left')} "
                                                   f"{con.get('op')} {con.get('right')}")


def _name(con: dict) -> str:
    return con.get("label") or f"{con.get('left')} {con.get('op')} {con.get('right')}"


def _compare(value: float, op: str | None, limit: float, tol: float = 1e-6) -> bool:
    if op == ">=":
        return value >= limit - tol
    if op == ">":
        return value > limit - tol
    if op == "<=":
        return value <= limit + tol
    if op == "<":
        return value < limit + tol
    if op in ("==", "="):
        return abs(value - limit) <= max(tol, 1e-6 * abs(limit))
    if op == "!=":
        return abs(value - limit) > tol
    return True


def _constraint(ctx: _Context, con: dict, lesion_id: int, rec: dict, measured: dict) -> str | None:
    """Why lesion `lesion_id` breaks `con`, or None (also None for constraints this check cannot evaluate)."""
    function, op, limit = con.get("function"), con.get("op"), con.get("right_value")
    if limit is None or op is None:
        return None
    limit = float(limit)
    value: float | None = None
    unit, tol = "", 1e-6
    if function == "distance_to":
        value = _distance_to(ctx, con.get("argument") or "", lesion_id)
        # the generator measures on its own lung region; from labels alone the side of the
        # boundary that hilar vessel voxels lie on is uncertain, so allow half the finest
        # spacing, but never more than a quarter of the limit itself
        unit, tol = " mm", min(0.5 * min(ctx.spacing), 0.25 * limit)
    elif function == "overlap_with":
        codes = ctx.family.resolve(con.get("argument") or "")
        if not codes:
            return None
        labs = ctx.labels[ctx.lesions == lesion_id]
        value = float(np.mean(np.isin(labs, codes))) if labs.size else 0.0
        if con.get("right_dimension") == "count":
            value = float(np.count_nonzero(np.isin(labs, codes)))
    elif function == "diameter" and rec.get("diameter_mm") is not None:
        value, unit = float(rec["diameter_mm"]), " mm"
    elif function == "volume":
        value = float(rec["volume_ml"]) if rec.get("volume_ml") is not None else \
            float(np.count_nonzero(ctx.lesions == lesion_id)) * ctx.voxel_ml
        unit = " mL"
    if value is None:
        return None
    measured[function + (f"({con.get('argument')})" if con.get("argument") else "")] = round(value, 4)
    if _compare(value, op, limit, tol):
        return None
    return f"{_name(con)}: measured {value:.3g}{unit}, the spec requires {con.get('left')} {op} {con.get('right')}"


def _distance_to(ctx: _Context, target: str, lesion_id: int) -> float | None:
    """Smallest distance (mm, voxel centre to voxel centre) from the lesion to the structure.

    `pleura` is the lung surface: the nearest voxel outside the lung region, as the generator
    measures it (families/pathology/lung_nodule/placement.py); the grid's own faces are not pleura."""
    from scipy.ndimage import distance_transform_edt

    key = str(target).strip().lower().split(".")[-1]
    if key == "pleura":
        inside = ctx.lung_region() | (ctx.lesions == lesion_id)   # a lesion replaces lung; it is not pleura
    else:
        codes = ctx.family.resolve(key)
        if not codes:
            return None
        inside = ~ctx.mask(codes)
    box = ctx.lesion_box(lesion_id)
    shape, sp = ctx.labels.shape, ctx.spacing
    grow_mm = 24.0
    while True:   # a crop around the lesion, grown until the nearest target voxel surely lies in it
        g = [int(math.ceil(grow_mm / s)) for s in sp]
        lo = [max(b.start - k, 0) for b, k in zip(box, g)]
        hi = [min(b.stop + k, n) for b, k, n in zip(box, g, shape)]
        whole = all(a == 0 for a in lo) and all(b == n for b, n in zip(hi, shape))
        crop = tuple(slice(a, b) for a, b in zip(lo, hi))
        sub = inside[crop]
        if sub.all():
            if whole:
                return math.inf
            grow_mm *= 2
            continue
        d = float(distance_transform_edt(sub, sampling=sp)[ctx.lesions[crop] == lesion_id].min())
        # a voxel outside the crop lies more than k voxels beyond the lesion's box on an open side
        margins = [k * s for a, b, k, s, n in zip(lo, hi, g, sp, shape) for side_open in (a > 0, b < n) if side_open]
        if whole or not margins or d <= min(margins):
            return d
        grow_mm = max(2 * grow_mm, d + max(sp))


