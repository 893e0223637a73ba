"""Anatomy checks: organ volumes against demographic reference ranges, containment, topology, lesions.

Stage role: judge one subject's label map and lesion mask (`check_subject_anatomy`, which
the executor calls to re-sample a subject that fails) and a whole written cohort
(`anatomy_checks`, which aggregates the same findings into one `CheckResult` per check).
It reads labels only; intensities are the realism checks' business (realism.py), and
whether a model keys on the lesions is shortcut.py's.

Checks (each name is the prefix of the failure reasons, like the generator's `rejected`):

    lung_volume      total lung volume (lobes + intrapulmonary vessels) within the limits of
                     normal of the predicted total lung capacity for the subject's sex and height
    lobar_share      each lobe's share of the lungs within the range the stdlib's lobe volumes imply
    heart_volume     total heart volume within a sex-specific range indexed to body-surface area
    containment      lungs, heart and aorta enclosed by the body (no contact with outside air)
    connectivity     one connected piece (26-connectivity) for each lung, heart, aorta, trachea
    lesion_record    the lesion mask and the subject record agree (every recorded lesion painted)
    lesion_tissue    lesion voxels only in lung parenchyma or intrapulmonary vessels, never in the
                     heart, aorta, airways, bone or chest wall (labels cannot overlap by
                     construction, so overlap is checked as "which labels lie under a lesion")
    lesion_location  >= 75 % of a lesion's lobe voxels in the lobe its record names (the
                     generator's own placement rule)
    lesion_constraints the spec's `require` lines: distance_to(X) >=, overlap_with(X) <=,
                     diameter, volume, count

Age enters none of the adult references used (the ERS TLC equations have no age term for
adults; the family's age range is the compiler's ANA005).  Volume checks are skipped (not
failed) for an organ the field of view cuts: a scan that stops above the lung bases has no
total lung volume to judge.  Label codes come from the
plan's organ names (anatomy_thorax.synth); other anatomy families are not checked yet
(`anatomy_checks` says so in one result instead of passing silently).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from synthspec.validate.results import CheckResult

ANATOMY_CHECKS = ("lung_volume", "lobar_share", "heart_volume", "containment", "connectivity")
"""Checks of the anatomy alone: a failure calls for a new anatomy draw."""
LESION_CHECKS = ("lesion_record", "lesion_tissue", "lesion_location", "lesion_constraints")
"""Checks of the lesions: a failure calls for a new lesion draw in the SAME anatomy, so that the
counterfactual twin (no lesions, no lesion checks) keeps the anatomy of its original."""
CHECKS = ANATOMY_CHECKS + LESION_CHECKS

# ---------------------------------------------------------------------------------------------
# reference values (sources in comments; all are approximations for a procedural phantom)

# Total lung capacity, ERS/ECCS 1993 (Quanjer et al., Eur Respir J 1993;6 Suppl 16:5-40),
# adults 18-70 y, height H in metres; TLC has no age term in these equations:
#     men   TLC = 7.99 H - 7.08 L  (residual SD 0.70 L)
#     women TLC = 6.60 H - 5.79 L  (residual SD 0.60 L)
# The GLI 2021 static-lung-volume equations (Hall et al., Eur Respir J 2021;57:2000289)
# give values within a few per cent at these heights.
TLC_COEF = {"male": (7.99, -7.08, 0.70), "female": (6.60, -5.79, 0.60)}
TLC_Z = 2.5
"""Limits of normal at +-2.5 residual SD (~99 % of healthy adults), wider than the usual
1.645 because a phantom is judged per subject and a re-sample costs a subject."""
CT_TLC_FACTOR = 0.9
"""CT lung volume at suspended full inspiration, supine, runs roughly 10 % below
plethysmographic TLC in healthy adults (incomplete breath-hold, posture); the lower limit
is scaled by this factor, the upper one is not."""

LOBE_SHARE_TOLERANCE = 0.4
"""A lobe's share of the lungs may differ by +-40 % (relative) from the share implied by
the midpoints of the stdlib's lobe ranges (CT lobar volumetry, e.g. Lee et al., AJR 2004:
RUL ~20 %, RML ~9 %, RLL ~25 %, LUL ~23 %, LLL ~23 %); +-40 % is about +-2.5 SD of the
between-subject spread those studies report."""
DEFAULT_LOBE_ML = {"right_upper_lobe": (700.0, 1500.0), "right_middle_lobe": (300.0, 800.0),
                   "right_lower_lobe": (900.0, 2000.0), "left_upper_lobe": (800.0, 1700.0),
                   "left_lower_lobe": (800.0, 1800.0)}

# Total heart volume indexed to body-surface area (Mosteller BSA).  Upper limits from the
# sums of the 97.5th-percentile BSA-indexed chamber volumes on 320-row CT in the Copenhagen
# General Population Study (Fuchs et al., Eur Heart J Cardiovasc Imaging 2016;17:1009:
# LV+RV+LA+RA = 362 mL/m2 men, 315 mL/m2 women) plus the myocardium (LV mass <= 80 and
# 65 g/m2 at 1.05 g/mL, atrial/RV walls ~10 %); lower limits from the corresponding means
# (~330 and ~290 mL/m2 total) minus ~2.5 SD (~15 % CV).  Chamber sizes are also tabulated
# in Lang et al., JASE 2015 (the stdlib's source).  Approximate by design.
HEART_INDEX_ML_M2 = {"male": (200.0, 460.0), "female": (175.0, 400.0)}

LESION_ALLOWED_GROUPS = ("lung", "pulmonary_vessels")
LOBE_SHARE_RULE = 0.75
"""Share of a lesion's lobe voxels that must lie in its recorded lobe (pathology/nodule.py)."""
FRAGMENT_FRACTION = 0.001
"""Pieces of an organ smaller than 0.1 % of it (at least 2 voxels) are labelling specks
(a voxel isolated by partial-volume vessels), listed but not failed."""
THIN_VOXELS = 3.0
"""A structure whose stdlib `size` is under 3 voxels is thin at this resolution: pieces a
one-voxel gap apart are one piece (partial volume breaks thin tubes on coarse grids)."""

THORAX_NAMES = {
    "lobes": ("right_upper_lobe", "right_middle_lobe", "right_lower_lobe", "left_upper_lobe", "left_lower_lobe"),
    "right_lung": ("right_upper_lobe", "right_middle_lobe", "right_lower_lobe"),
    "left_lung": ("left_upper_lobe", "left_lower_lobe"),
    "vessels": ("pulmonary_arteries", "pulmonary_veins"),
}
THORAX_DEFAULT_LABELS = {
    "body_wall": 1, "subcutaneous_fat": 2, "muscle": 3, "right_upper_lobe": 10, "right_middle_lobe": 11,
    "right_lower_lobe": 12, "left_upper_lobe": 13, "left_lower_lobe": 14, "pleura": 15, "trachea": 20,
    "bronchi": 21, "pulmonary_arteries": 30, "pulmonary_veins": 31, "heart": 40, "aorta": 41,
    "vertebrae": 50, "spinal_canal": 51, "ribs": 52, "sternum": 53,
}
DEFAULT_SIZES_MM = {"trachea": 15.0, "aorta": 25.0, "heart": 80.0}


def predicted_tlc_ml(sex: str, height_mm: float) -> tuple[float, float]:
    """(predicted TLC, residual SD) in mL, ERS/ECCS 1993."""
    a, b, rsd = TLC_COEF[_sex(sex)]
    return 1000.0 * (a * height_mm / 1000.0 + b), 1000.0 * rsd


def lung_volume_limits_ml(sex: str, height_mm: float) -> tuple[float, float]:
    pred, rsd = predicted_tlc_ml(sex, height_mm)
    return CT_TLC_FACTOR * (pred - TLC_Z * rsd), pred + TLC_Z * rsd


def bsa_m2(height_mm: float, bmi: float) -> float:
    """Body-surface area, Mosteller (N Engl J Med 1987;317:1098): sqrt(height cm * weight kg / 3600)."""
    weight = bmi * (height_mm / 1000.0) ** 2
    return math.sqrt(max(height_mm / 10.0 * weight, 0.0) / 3600.0)


def heart_volume_limits_ml(sex: str, height_mm: float, bmi: float) -> tuple[float, float]:
    low, high = HEART_INDEX_ML_M2[_sex(sex)]
    s = bsa_m2(height_mm, bmi)
    return low * s, high * s


def _sex(sex) -> str:
    key = str(sex).strip().lower()
    key = {"m": "male", "f": "female"}.get(key, key)
    if key not in TLC_COEF:
        raise ValueError(f"sex must be 'female' or 'male' for the thorax references, got {sex!r}")
    return key


# ---------------------------------------------------------------------------------------------
# what the checks need to know about the anatomy family


@dataclass
class Family:
    """Labels, groups, sizes and volume ranges of an anatomy family, from the plan and the stdlib."""

    name: str
    labels: dict[str, int]                     # organ name -> label code
    groups: dict[str, tuple[str, ...]]         # group name -> organ names
    sizes_mm: dict[str, float]                 # organ name -> stdlib `size`
    volumes_ml: dict[str, tuple[float, float]]  # organ name -> stdlib `volume` range

    @property
    def names(self) -> dict[int, str]:
        return {v: k for k, v in self.labels.items()}

    def codes(self, names) -> list[int]:
        return [self.labels[n] for n in names if n in self.labels]

    def resolve(self, what: str) -> list[int]:
        """Label codes an organ or group name (`heart`, `lung`, `pulmonary_vessels`, `lung.upper_lobe`) means."""
        key = str(what).strip().lower().split(".")[-1]
        if key in self.labels:
            return [self.labels[key]]
        if key in ("lung", "lungs"):
            return self.codes(THORAX_NAMES["lobes"])
        if key in ("right_lung", "left_lung"):
            return self.codes(THORAX_NAMES[key])
        if key in self.groups:
            return self.codes(self.groups[key])
        return []


def family_of(plan) -> Family | None:
    """The thorax family of a plan, or None for families these checks do not cover yet."""
    if not str(getattr(plan, "anatomy", "")).startswith("thorax"):
        return None
    named = getattr(plan, "organ_names", None) or {}
    labels = {str(n): int(k) for k, n in named.items()} or dict(THORAX_DEFAULT_LABELS)
    groups: dict[str, list[str]] = {}
    sizes, volumes = dict(DEFAULT_SIZES_MM), dict(DEFAULT_LOBE_ML)
    try:
        from synthspec.compiler.resolve import stdlib

        definition = stdlib()[0].get("anatomy", plan.anatomy)
    except Exception:  # noqa: BLE001 - the stdlib is an enrichment here, never a requirement
        definition = None
    if definition is not None:
        for organ in definition.all("organ"):
            if organ.get("group"):
                groups.setdefault(str(organ.get("group")), []).append(organ.name)
            if organ.get("size") is not None:
                sizes[organ.name] = float(organ.get("size"))
            if organ.get("volume") is not None:
                low, high = organ.get("volume")
                volumes[organ.name] = (float(low), float(high))
    groups.setdefault("pulmonary_vessels", list(THORAX_NAMES["vessels"]))
    groups.setdefault("lung", list(THORAX_NAMES["lobes"]))
    if not all(n in labels for n in THORAX_NAMES["lobes"]):
        return None
    return Family(name=str(plan.anatomy), labels=labels, groups={k: tuple(v) for k, v in groups.items()},
                  sizes_mm=sizes, volumes_ml=volumes)


# ---------------------------------------------------------------------------------------------
# one subject


@dataclass
class SubjectAnatomy:
    """Everything checked on one subject: failures and skips by check, and the measurements."""

    failures: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    measures: dict = field(default_factory=dict)

    def fail(self, check: str, message: str) -> None:
        self.failures.append((check, message))

    def skip(self, check: str, message: str) -> None:
        self.skipped.append((check, message))

    @property
    def reasons(self) -> list[str]:
        return [f"{check}: {message}" for check, message in self.failures]


def check_subject_anatomy(labels: np.ndarray, lesion_mask: np.ndarray | None, spacing, record: dict, plan) -> list[str]:
    """Failure reasons for one subject (empty = it passes); each starts with its check's name.

    labels, lesion_mask: [Z, Y, X] arrays as written (labels.nii.gz, lesions.nii.gz);
    spacing: (dz, dy, dx) mm; record: the subject record (subject.json, or `record_of`);
    plan: the cohort's plan (labels, constraints).  The executor re-samples a subject
    whose list is not empty."""
    return assess_subject(labels, lesion_mask, spacing, record, plan).reasons


def record_of(subject) -> dict:
    """The part of a subject record the checks read, from a `GeneratedSubject` before it is written."""
    return record_from(subject.params, subject.lesions)


def record_from(params, lesions, lesions_requested: int | None = None) -> dict:
    """The record the checks read, from sampled parameters and the lesions actually inserted."""
    p = params
    return {"subject_id": p.subject_id, "index": p.index, "sex": p.sex, "age_y": p.age_y, "height_mm": p.height_mm,
            "bmi": p.bmi, "positive": bool(lesions),
            "lesions_requested": len(p.lesions) if lesions_requested is None else lesions_requested,
            "lesions": [{"id": l.id, "kind": l.kind, "subtype": l.subtype, "location": l.location,
                         "diameter_mm": float(l.diameter_mm), "volume_ml": float(l.volume_ml),
                         "centre_mm": list(l.centre_mm)} for l in lesions]}


def assess_subject(labels: np.ndarray, lesion_mask: np.ndarray | None, spacing, record: dict, plan,
                   family: Family | None = None) -> SubjectAnatomy:
    """All checks on one subject, with measurements (the structured form of `check_subject_anatomy`)."""
    out = SubjectAnatomy()
    family = family or family_of(plan)
    if family is None:
        out.skip("anatomy", f"anatomy family {getattr(plan, 'anatomy', '?')!r} has no anatomy checks yet")
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
    pathologies = (getattr(ctx.plan, "cohort", None) or {}).get("pathologies") or []
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
    for p in (getattr(ctx.plan, "cohort", None) or {}).get("pathologies") or []:
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
    measures it (pathology/nodule.py); the grid's own faces are not pleura."""
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


# ---------------------------------------------------------------------------------------------
# a cohort


def anatomy_checks(cohort, min_pass_rate: float = 1.0, subjects=None) -> list[CheckResult]:
    """One `CheckResult` per anatomy check over the cohort's subjects, plus a per-subject summary.

    A check passes when the share of subjects that pass it is >= `min_pass_rate` (1.0: every
    subject); `details` name the failing subjects with their reasons and list subjects the
    check could not evaluate (e.g. lungs cut by the field of view)."""
    family = family_of(cohort.plan)
    if family is None:
        return [CheckResult(family="anatomy", name="anatomy_family", passed=False,
                            reason=f"no anatomy checks exist for the family {cohort.plan.anatomy!r} yet; "
                                   "validate it by eye (reader pack) or set `validate {{ anatomy: false }}`")]
    spacing = cohort.spacing
    chosen = cohort.subjects if subjects is None else [s for s in cohort.subjects if s.index in set(subjects)]
    per: dict[str, SubjectAnatomy] = {}
    for s in chosen:
        per[s.subject_id] = assess_subject(s.labels(), s.lesions(), spacing, s.record, cohort.plan, family)
    n = len(per)
    results = []
    for check in CHECKS:
        failed = {sid: [m for c, m in a.failures if c == check] for sid, a in per.items()}
        failed = {sid: ms for sid, ms in failed.items() if ms}
        skipped = {sid: [m for c, m in a.skipped if c == check] for sid, a in per.items()}
        skipped = {sid: ms[0] for sid, ms in skipped.items() if ms}
        evaluated = n - len(skipped)
        rate = 1.0 - len(failed) / evaluated if evaluated else 1.0
        details: dict = {"evaluated": evaluated, "failed": failed}
        if skipped:
            details["not_evaluated"] = skipped
        details.update(_summary(check, per))
        if failed:
            first = next(iter(failed.items()))
            reason = (f"{len(failed)} of {evaluated} subjects fail {check}: {first[0]} {first[1][0]}"
                      + (f" (and {len(failed) - 1} more; see details)" if len(failed) > 1 else ""))
        elif evaluated == 0:
            reason = f"{check} could not be evaluated on any subject: {next(iter(skipped.values()), '')}"
        else:
            reason = f"{evaluated} of {evaluated} subjects pass" + (f"; {len(skipped)} not evaluated (see details)"
                                                                    if skipped else "")
        results.append(CheckResult(family="anatomy", name=check, passed=rate >= min_pass_rate, value=round(rate, 4),
                                   threshold=min_pass_rate, reason=reason, details=details))
    bad = sorted(sid for sid, a in per.items() if a.failures)
    rate = 1.0 - len(bad) / n if n else 1.0
    results.append(CheckResult(
        family="anatomy", name="anatomy_subjects", passed=rate >= min_pass_rate, value=round(rate, 4),
        threshold=min_pass_rate,
        reason=f"all {n} subjects pass every anatomy check" if not bad else f"{len(bad)} of {n} subjects fail an anatomy check: {', '.join(bad[:8])}"
                                  + (" ..." if len(bad) > 8 else ""),
        details={"subjects": n, "failed": {sid: per[sid].reasons for sid in bad}}))
    return results


def _summary(check: str, per: dict[str, SubjectAnatomy]) -> dict:
    """Cohort-level measurements that explain a check (systematic bias shows here before it fails)."""
    def stats(values):
        v = np.asarray([x for x in values if x is not None], dtype=float)
        if not v.size:
            return None
        return {"mean": round(float(v.mean()), 4), "min": round(float(v.min()), 4), "max": round(float(v.max()), 4)}

    if check == "lung_volume":
        return {"lung_to_predicted_tlc": stats(a.measures.get("lung_to_tlc") for a in per.values()),
                "lung_ml": stats(a.measures.get("lung_ml") for a in per.values())}
    if check == "heart_volume":
        return {"heart_ml": stats(a.measures.get("heart_ml") for a in per.values()),
                "heart_ml_per_m2": stats(a.measures.get("heart_ml_per_m2") for a in per.values())}
    if check == "connectivity":
        specks = {sid: a.measures["specks_voxels"] for sid, a in per.items() if a.measures.get("specks_voxels")}
        return {"specks_voxels": specks} if specks else {}
    return {}
