"""No-cheat tests: does a model trained on the cohort look at the lesion, or at something else?

Stage role: train a small MONAI classifier on axial slices of a written cohort (the slices
through each lesion for positives, slices at matched heights for negatives), with
subject-wise cross-validation so every prediction comes from a model that never saw that
subject, then ask it about images that differ in one controlled way:

    counterfactual   the positive subjects regenerated WITHOUT their lesions (same anatomy,
                     same noise: `generate(..., with_pathology=False)`); predictions must
                     collapse to the negatives' level
    lesion_mask      the lesion voxels (and their partial-volume rim) replaced by lung
                     parenchyma sampled from around them; predictions must collapse
    artifact_swap    each subject's noise replaced by the noise of a subject of the other
                     class (noiseless regeneration + the other subject's residual); the
                     AUC must hold
    scanner_swap     each subject regenerated with another scanner class of the plan
                     (same anatomy and lesions); the AUC must hold

A model that keeps calling the twins positive has learnt something that travels with the
label but is not the lesion: a shortcut.  The planted-shortcut control
(`debug { planted_shortcut: true }`, generate.plant_shortcut) is such a cohort by design:
its twins keep the marker, as the cohort's positives do, and the tests must flag it.  On a
clean cohort `planted_control=True` also plants the marker in memory and checks that the
tests catch it, so a pass means "no shortcut found by a test shown to find one".

It does not judge anatomy (anatomy.py) or realism (realism.py), and the model is a probe,
not a detector worth shipping: a few thousand weights, CPU-fast, deterministic.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field

import numpy as np

from .results import CheckResult

SHORTCUT_TESTS = ("counterfactual", "lesion_mask", "artifact_swap", "scanner_swap")
LUNG_WINDOW_HU = (-1350.0, 150.0)
"""Lung window (width 1500 HU, level -600 HU) mapped to 0..1; air outside the body stays
inside the window, so a faint marker in the corner is visible to the model as it would be
to a reader."""


@dataclass(frozen=True)
class ShortcutSettings:
    """Knobs of the probe model and the pass thresholds (the defaults are what the tests use)."""

    size: int | None = None               # slices resampled to size x size; None: min(matrix, 128)
    window_hu: tuple[float, float] = LUNG_WINDOW_HU
    slices_per_lesion: int = 3            # slices through each lesion (area >= half its largest)
    folds: int = 3                        # subject-wise cross-validation
    epochs: int = 30
    batch_size: int = 16
    learning_rate: float = 3e-3
    seed: int = 0
    bootstrap: int = 2000                 # resamples for the AUC confidence interval
    min_auc: float = 0.7                  # held-out slice AUC below this: the model learnt too little to judge
    max_collapse: float = 0.35            # twin / masked: share of the positive-negative gap that may remain
    max_still_positive: float = 0.25      # twins called positive, beyond the negatives' false-positive rate
    max_swap_drop: float = 0.10           # AUC may drop at most this much under a noise / scanner swap
    control_strength: float = 0.5         # marker strength of the in-memory planted control
    device: str = "cpu"


@dataclass
class _Slice:
    subject: int          # position in the subject list
    z: int
    positive: bool


@dataclass
class ShortcutReport:
    """The numbers behind the checks (also in each CheckResult's details)."""

    checks: list[CheckResult] = field(default_factory=list)
    numbers: dict = field(default_factory=dict)
    seconds: float = 0.0


# ---------------------------------------------------------------------------------------------
# entry points


def shortcut_checks(cohort, tests=None, settings: ShortcutSettings | None = None,
                    planted_control: bool = True) -> list[CheckResult]:
    """The shortcut CheckResults of a loaded cohort (validate.cohort.load)."""
    return run_shortcut_tests(cohort, tests, settings, planted_control).checks


def run_shortcut_tests(cohort, tests=None, settings: ShortcutSettings | None = None,
                       planted_control: bool = True) -> ShortcutReport:
    """Train the probe with cross-validation and run `tests` (default: the spec's
    `validate.shortcut_tests`, else all four); returns checks and the measured numbers."""
    import torch

    from ..runtime.sample import sample_subject

    started = time.perf_counter()
    s = settings or ShortcutSettings()
    plan = cohort.plan
    tests = _tests(plan, tests)
    report = ShortcutReport()
    subjects = list(cohort.subjects)
    labels_pos = [bool(sub.record.get("positive")) for sub in subjects]
    n_pos, n_neg = sum(labels_pos), len(labels_pos) - sum(labels_pos)
    if n_pos < 4 or n_neg < 4:
        report.checks.append(CheckResult(
            family="shortcut", name="shortcut_model", passed=False, value=float(min(n_pos, n_neg)), threshold=4.0,
            reason=f"{n_pos} positive and {n_neg} negative subjects: shortcut tests need at least 4 of each; "
                   "raise `subjects` or bring `prevalence` nearer 50 %"))
        report.seconds = time.perf_counter() - started
        return report
    size = s.size or int(min(128, plan.grid.shape[1]))
    planted_cohort = _planted(plan)
    threads = torch.get_num_threads()
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    try:
        params = [sample_subject(plan, sub.index) for sub in subjects]
        data = _collect(cohort, subjects, params, labels_pos, tests, s)
        folds = _folds(labels_pos, min(s.folds, n_pos, n_neg))
        prep = _preprocess(size, s.window_hu)
        variants = {"original": data.original}
        for name in ("twin", "masked", "noise_swap", "scanner_swap"):
            if getattr(data, name):
                variants[name] = getattr(data, name)
        preds = _cross_validate(data.slices, folds, variants, prep, s, "cohort")
        numbers = _numbers(data.slices, preds, s, len(subjects))
        numbers["slices"] = {"positive": sum(x.positive for x in data.slices),
                             "negative": sum(not x.positive for x in data.slices)}
        numbers["planted_cohort"] = planted_cohort
        numbers["image_size"] = size
        if data.notes:
            numbers["notes"] = data.notes
        report.checks.extend(_checks(numbers, tests, s, data))
        if planted_control and not planted_cohort and data.twin:
            report.checks.append(_control(plan, params, data, folds, prep, s))
            numbers["planted_control"] = report.checks[-1].details
        report.numbers = numbers
    finally:
        torch.set_num_threads(threads)
    report.seconds = time.perf_counter() - started
    for c in report.checks:
        c.details.setdefault("seconds", round(report.seconds, 1))
    return report


def _tests(plan, tests) -> tuple[str, ...]:
    if tests is None:
        tests = ((plan.cohort.get("validate_") or {}).get("shortcut_tests") or SHORTCUT_TESTS)
    unknown = [t for t in tests if t not in SHORTCUT_TESTS]
    if unknown:
        raise ValueError(f"unknown shortcut test(s) {', '.join(unknown)}; choose from {', '.join(SHORTCUT_TESTS)}")
    return tuple(tests)


def _planted(plan) -> bool:
    return bool((plan.cohort.get("debug") or {}).get("planted_shortcut"))


def _with_marker(plan, strength: float):
    """A copy of the plan whose `plant_shortcut` plants the marker at `strength`."""
    cohort = dict(plan.cohort)
    cohort["debug"] = {"planted_shortcut": True, "marker_strength": float(strength)}
    return plan.model_copy(update={"cohort": cohort})


def _plant(plan, params, image: np.ndarray) -> np.ndarray:
    """The marker a positive subject of `plan` carries, planted on an int16 image (as the cohort does)."""
    from ..runtime.generate import HU_MAX, HU_MIN, plant_shortcut

    marked = plant_shortcut(plan, params, image.astype(np.float32), True)
    return np.clip(np.rint(marked), HU_MIN, HU_MAX).astype(np.int16)


# ---------------------------------------------------------------------------------------------
# data: slices of the originals and of every variant


@dataclass
class _Data:
    slices: list[_Slice]
    original: dict = field(default_factory=dict)      # (subject, z) -> 2-D HU slice
    twin: dict = field(default_factory=dict)
    masked: dict = field(default_factory=dict)
    noise_swap: dict = field(default_factory=dict)
    scanner_swap: dict = field(default_factory=dict)
    twin_clean: dict = field(default_factory=dict)    # twins without the cohort's marker (for the control)
    masked_clean: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _lesion_slices(lesions: np.ndarray, per_lesion: int) -> list[int]:
    """Axial slices through each lesion: the largest cross-sections, at least half the largest."""
    out: list[int] = []
    for i in [int(v) for v in np.unique(lesions) if v]:
        area = (lesions == i).sum(axis=(1, 2))
        zmax = int(np.argmax(area))
        order = sorted((z for z in np.flatnonzero(area >= 0.5 * area[zmax])), key=lambda z: (-area[z], abs(z - zmax)))
        out.extend(int(z) for z in order[:per_lesion])
    return sorted(set(out))


def _slab(volume: np.ndarray, z: int, half: int = 1) -> np.ndarray:
    """Slices z-half .. z+half as channels (edge slices repeated), float32 HU."""
    idx = np.clip(np.arange(z - half, z + half + 1), 0, volume.shape[0] - 1)
    return volume[idx].astype(np.float32)


def _lung_extent(labels: np.ndarray) -> tuple[int, int]:
    lung = ((labels >= 10) & (labels <= 14)).any(axis=(1, 2))
    zs = np.flatnonzero(lung)
    return (int(zs[0]), int(zs[-1])) if zs.size else (0, labels.shape[0] - 1)


def _collect(cohort, subjects, params, positive, tests, s: ShortcutSettings) -> _Data:
    from ..runtime.generate import generate

    plan = cohort.plan
    planted = _planted(plan)
    data = _Data(slices=[])
    labels_of = {}
    heights: list[float] = []
    pos_z: dict[int, list[int]] = {}
    for k, sub in enumerate(subjects):
        labels = sub.labels()
        labels_of[k] = _lung_extent(labels)
        if positive[k]:
            zs = _lesion_slices(sub.lesions(), s.slices_per_lesion)
            if not zs:
                data.notes.append(f"{sub.subject_id} is positive but its lesion mask is empty; left out")
                continue
            pos_z[k] = zs
            lo, hi = labels_of[k]
            heights.extend((z - lo) / max(hi - lo, 1) for z in zs)
    negatives = [k for k in range(len(subjects)) if not positive[k]]
    per_negative = max(1, round(sum(len(v) for v in pos_z.values()) / max(len(negatives), 1)))
    heights.sort()
    neg_z: dict[int, list[int]] = {}
    for j, k in enumerate(negatives):
        lo, hi = labels_of[k]
        chosen = sorted({int(round(lo + heights[(j + m * len(negatives)) % len(heights)] * (hi - lo)))
                         for m in range(per_negative)}) if heights else [(lo + hi) // 2]
        neg_z[k] = chosen
    for k in sorted(set(pos_z) | set(neg_z)):
        for z in pos_z.get(k, neg_z.get(k, [])):
            data.slices.append(_Slice(subject=k, z=z, positive=positive[k]))
    by_subject: dict[int, list[int]] = {}
    for x in data.slices:
        by_subject.setdefault(x.subject, []).append(x.z)

    # originals, masked copies and twins
    for k, zs in by_subject.items():
        sub = subjects[k]
        image = sub.image()
        for z in zs:
            data.original[(k, z)] = _slab(image, z)
        if not positive[k]:
            continue
        if "lesion_mask" in tests:
            masked = _mask_lesions(image, sub.lesions(), sub.labels(), cohort.spacing, s.seed + sub.index)
            for z in zs:
                data.masked[(k, z)] = _slab(masked, z)
        if "counterfactual" in tests or "lesion_mask" in tests:
            twin = generate(plan, params[k], with_pathology=False).image
            for z in zs:
                data.twin_clean[(k, z)] = _slab(twin, z)
            if planted:   # the twin keeps what the cohort's positives carry besides the lesion
                twin = _plant(plan, params[k], twin)
            if "counterfactual" in tests:
                for z in zs:
                    data.twin[(k, z)] = _slab(twin, z)
    # noise swap: noiseless regeneration + the residual noise of a subject of the other class
    if "artifact_swap" in tests:
        order = sorted(by_subject)
        pos_list = [k for k in order if positive[k]]
        neg_list = [k for k in order if not positive[k]]
        partner = {}
        for i, k in enumerate(pos_list):
            partner[k] = neg_list[i % len(neg_list)]
        for i, k in enumerate(neg_list):
            partner[k] = pos_list[i % len(pos_list)]
        noiseless, residual = {}, {}
        wanted: dict[int, set[int]] = {}
        for k, j in partner.items():
            wanted.setdefault(j, set()).update(by_subject[k])
        for k in order:
            clean = generate(plan, params[k], noiseless=True).image.astype(np.float32)
            image = subjects[k].image().astype(np.float32)
            for z in by_subject[k]:
                noiseless[(k, z)] = _slab(clean, z)
            for z in wanted.get(k, ()):
                residual[(k, z)] = _slab(image, z) - _slab(clean, z)
        for k in order:
            for z in by_subject[k]:
                data.noise_swap[(k, z)] = noiseless[(k, z)] + residual[(partner[k], z)]
    # scanner swap: the same subject through another scanner class of the plan
    if "scanner_swap" in tests:
        names = sorted(plan.scanners)
        if len(names) < 2:
            data.notes.append("scanner_swap: the plan has one scanner class; nothing to swap")
        else:
            for k, zs in by_subject.items():
                other = names[(names.index(params[k].scanner) + 1) % len(names)]
                swapped = generate(plan, params[k].model_copy(update={"scanner": other})).image
                for z in zs:
                    data.scanner_swap[(k, z)] = _slab(swapped, z)
    return data


def _mask_lesions(image: np.ndarray, lesions: np.ndarray, labels: np.ndarray, spacing, seed: int) -> np.ndarray:
    """Lesion voxels and a rim as wide as the partial-volume edge (>= 1 voxel, >= 2 mm) replaced by
    lung parenchyma drawn from a shell around them (values resampled, so noise and texture stay)."""
    from scipy.ndimage import binary_dilation

    lesion = lesions > 0
    reach = [max(1, int(math.ceil(2.0 / float(sp)))) for sp in spacing]
    box = np.zeros([2 * r + 1 for r in reach], bool)
    box[tuple(slice(None) for _ in reach)] = True
    region = binary_dilation(lesion, structure=box)
    shell = binary_dilation(region, structure=np.ones((3, 3, 3), bool), iterations=3) & ~region
    lung = (labels >= 10) & (labels <= 14)
    source = image[shell & lung]
    if source.size == 0:
        source = image[lung & ~region] if (lung & ~region).any() else np.array([-850], image.dtype)
    rng = np.random.default_rng(seed)
    out = image.copy()
    out[region] = rng.choice(source, size=int(region.sum()), replace=True)
    return out


# ---------------------------------------------------------------------------------------------
# the probe model


def _preprocess(size: int, window):
    """MONAI transforms: lung window to 0..1, then area-resample to size x size."""
    from monai.transforms import Compose, Resize, ScaleIntensityRange

    scale = ScaleIntensityRange(a_min=window[0], a_max=window[1], b_min=0.0, b_max=1.0, clip=True)
    resize = Resize((size, size), mode="area")

    def run(hu: np.ndarray):
        import torch

        x = torch.as_tensor(hu, dtype=torch.float32)
        t = Compose([scale, resize]) if tuple(hu.shape[1:]) != (size, size) else scale
        return torch.as_tensor(t(x), dtype=torch.float32)

    return run


def probe_model(in_channels: int = 3, channels=(16, 32, 64)):
    """A tiny CNN from MONAI blocks: three conv-norm-ReLU-maxpool stages, then global max and mean
    pooling into one logit (max pooling finds a small finding anywhere in the slice)."""
    import torch
    from monai.networks.blocks import Convolution

    class Probe(torch.nn.Module):
        def __init__(self):
            super().__init__()
            layers, c0 = [], in_channels
            for c in channels:
                layers += [Convolution(spatial_dims=2, in_channels=c0, out_channels=c, kernel_size=3,
                                       act="RELU", norm="BATCH"), torch.nn.MaxPool2d(2)]
                c0 = c
            self.features = torch.nn.Sequential(*layers)
            self.head = torch.nn.Linear(2 * c0, 1)

        def forward(self, x):
            h = self.features(x)
            return self.head(torch.cat([h.amax(dim=(2, 3)), h.mean(dim=(2, 3))], dim=1))

    return Probe()


def _folds(positive: list[bool], n_folds: int) -> list[int]:
    """Fold of each subject: positives and negatives dealt round-robin in index order."""
    fold = [0] * len(positive)
    counters = {True: 0, False: 0}
    for k, p in enumerate(positive):
        fold[k] = counters[p] % n_folds
        counters[p] += 1
    return fold


def _train(x, y, s: ShortcutSettings, seed: int):
    import torch

    torch.manual_seed(seed)
    model = probe_model(x.shape[1]).to(s.device)
    opt = torch.optim.Adam(model.parameters(), lr=s.learning_rate, weight_decay=1e-4)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    gen = torch.Generator().manual_seed(seed)
    x, y = x.to(s.device), y.to(s.device)
    model.train()
    for _ in range(s.epochs):
        order = torch.randperm(len(x), generator=gen)
        for start in range(0, len(x), s.batch_size):
            idx = order[start:start + s.batch_size]
            opt.zero_grad()
            loss = loss_fn(model(x[idx]).squeeze(1), y[idx])
            loss.backward()
            opt.step()
    model.eval()
    return model


def _predict(model, x, s: ShortcutSettings) -> np.ndarray:
    import torch

    with torch.no_grad():
        out = [torch.sigmoid(model(x[i:i + 64].to(s.device)).squeeze(1)).cpu() for i in range(0, len(x), 64)]
    return torch.cat(out).numpy().astype(np.float64)


def _cross_validate(slices: list[_Slice], folds: list[int], variants: dict, prep, s: ShortcutSettings,
                    tag: str) -> dict[str, dict]:
    """Out-of-fold probabilities: {variant: {(subject, z): p}}."""
    import torch

    stacked = {name: {key: prep(v) for key, v in imgs.items()} for name, imgs in variants.items()}
    out: dict[str, dict] = {name: {} for name in variants}
    n_folds = max(folds) + 1
    for f in range(n_folds):
        train = [x for x in slices if folds[x.subject] != f]
        test = [x for x in slices if folds[x.subject] == f]
        xt = torch.stack([stacked["original"][(x.subject, x.z)] for x in train])
        yt = torch.tensor([float(x.positive) for x in train])
        model = _train(xt, yt, s, seed=s.seed * 1000 + f + (0 if tag == "cohort" else 500))
        for name, imgs in stacked.items():
            keys = [(x.subject, x.z) for x in test if (x.subject, x.z) in imgs]
            if keys:
                p = _predict(model, torch.stack([imgs[key] for key in keys]), s)
                out[name].update(zip(keys, p))
    return out


# ---------------------------------------------------------------------------------------------
# numbers


def auc(scores, labels) -> float:
    """Area under the ROC curve (Mann-Whitney, ties counted half)."""
    from scipy.stats import rankdata

    scores, labels = np.asarray(scores, float), np.asarray(labels, bool)
    n1, n0 = int(labels.sum()), int((~labels).sum())
    if n1 == 0 or n0 == 0:
        return float("nan")
    ranks = rankdata(scores)
    return float((ranks[labels].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def bootstrap_auc_ci(scores, labels, n: int, seed: int, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap CI of the AUC, resampling subjects with replacement."""
    scores, labels = np.asarray(scores, float), np.asarray(labels, bool)
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(n):
        idx = rng.integers(0, len(scores), len(scores))
        if labels[idx].all() or not labels[idx].any():
            continue
        values.append(auc(scores[idx], labels[idx]))
    if not values:
        return float("nan"), float("nan")
    a = (1 - level) / 2
    return float(np.quantile(values, a)), float(np.quantile(values, 1 - a))


def _youden(scores, labels) -> float:
    scores, labels = np.asarray(scores, float), np.asarray(labels, bool)
    best, thr = -1.0, 0.5
    for t in np.unique(scores):
        j = np.mean(scores[labels] >= t) - np.mean(scores[~labels] >= t)
        if j > best:
            best, thr = j, float(t)
    return thr


def _numbers(slices: list[_Slice], preds: dict, s: ShortcutSettings, n_subjects: int) -> dict:
    orig = preds["original"]
    keys = [(x.subject, x.z) for x in slices]
    y = np.array([x.positive for x in slices])
    p = np.array([orig[k] for k in keys])
    subj = sorted({x.subject for x in slices})
    subj_p = np.array([np.mean([orig[(x.subject, x.z)] for x in slices if x.subject == k]) for k in subj])
    subj_y = np.array([next(x.positive for x in slices if x.subject == k) for k in subj])
    thr = _youden(p, y)
    ci = bootstrap_auc_ci(subj_p, subj_y, s.bootstrap, s.seed)
    numbers = {
        "slice_auc": round(auc(p, y), 4),
        "subject_auc": round(auc(subj_p, subj_y), 4),
        "subject_auc_ci95": [round(ci[0], 4), round(ci[1], 4)],
        "threshold": round(thr, 4),
        "mean_p_positive": round(float(p[y].mean()), 4),
        "mean_p_negative": round(float(p[~y].mean()), 4),
        "sensitivity": round(float(np.mean(p[y] >= thr)), 4),
        "false_positive_rate": round(float(np.mean(p[~y] >= thr)), 4),
        "subjects": n_subjects,
    }
    gap = numbers["mean_p_positive"] - numbers["mean_p_negative"]
    for name in ("twin", "masked"):
        if preds.get(name):
            q = np.array(list(preds[name].values()))
            numbers[f"mean_p_{name}"] = round(float(q.mean()), 4)
            numbers[f"{name}_collapse_ratio"] = round(float((q.mean() - p[~y].mean()) / gap), 4) if gap > 1e-6 else None
            numbers[f"{name}_still_positive"] = round(float(np.mean(q >= thr)), 4)
    for name in ("noise_swap", "scanner_swap"):
        if preds.get(name):
            q = np.array([preds[name][k] for k in keys])
            numbers[f"{name}_auc"] = round(auc(q, y), 4)
            numbers[f"{name}_drop"] = round(numbers["slice_auc"] - numbers[f"{name}_auc"], 4)
            numbers[f"{name}_accuracy"] = round(float(np.mean((q >= thr) == y)), 4)
    numbers["accuracy"] = round(float(np.mean((p >= thr) == y)), 4)
    return numbers


def _checks(nb: dict, tests, s: ShortcutSettings, data: _Data) -> list[CheckResult]:
    learnt = nb["slice_auc"] >= s.min_auc
    base = {k: nb[k] for k in ("slice_auc", "subject_auc", "subject_auc_ci95", "threshold", "mean_p_positive",
                               "mean_p_negative", "sensitivity", "false_positive_rate", "accuracy", "subjects")}
    out = [CheckResult(
        family="shortcut", name="shortcut_model", passed=learnt, value=nb["slice_auc"], threshold=s.min_auc,
        reason="" if learnt else (f"the probe model reached a held-out AUC of only {nb['slice_auc']:.2f} "
                                  f"(needs {s.min_auc:.2f}), so the no-cheat tests cannot judge it; raise `subjects`, "
                                  "enlarge the lesions or refine the grid"),
        details=dict(base))]
    inconclusive = "inconclusive: the probe model did not learn the finding (see shortcut_model)"
    for test, name, label in (("counterfactual", "twin", "counterfactual twins"), ("lesion_mask", "masked", "lesion masking")):
        if test not in tests:
            continue
        ratio, still = nb.get(f"{name}_collapse_ratio"), nb.get(f"{name}_still_positive")
        details = {**base, "collapse_ratio": ratio, "still_positive": still, f"mean_p_{name}": nb.get(f"mean_p_{name}"),
                   "max_collapse": s.max_collapse, "max_still_positive_excess": s.max_still_positive}
        if ratio is None:
            out.append(CheckResult(family="shortcut", name=f"shortcut_{test}", passed=False, reason=inconclusive,
                                   details=details))
            continue
        excess = still - nb["false_positive_rate"]
        passed = learnt and ratio <= s.max_collapse and excess <= s.max_still_positive
        if not learnt:
            reason = inconclusive
        elif passed:
            reason = ""
        else:
            reason = (f"{label}: positive predictions do not collapse without the lesion — "
                      f"{100 * ratio:.0f} % of the positive-negative gap remains (allowed {100 * s.max_collapse:.0f} %), "
                      f"{100 * still:.0f} % still called positive (negatives: {100 * nb['false_positive_rate']:.0f} %); "
                      "the model keys on something that travels with the label: look for markers, "
                      "scanner or noise differences between the classes")
        out.append(CheckResult(family="shortcut", name=f"shortcut_{test}", passed=passed, value=ratio,
                               threshold=s.max_collapse, reason=reason, details=details))
    for test, name, label in (("artifact_swap", "noise_swap", "noise swap"), ("scanner_swap", "scanner_swap", "scanner swap")):
        if test not in tests:
            continue
        drop = nb.get(f"{name}_drop")
        details = {**base, f"{name}_auc": nb.get(f"{name}_auc"), f"{name}_accuracy": nb.get(f"{name}_accuracy"),
                   "drop": drop, "max_drop": s.max_swap_drop}
        if drop is None:
            note = next((n for n in data.notes if n.startswith(test)), f"{test}: not run")
            out.append(CheckResult(family="shortcut", name=f"shortcut_{test}", passed=True, reason=f"skipped: {note}",
                                   details=details))
            continue
        passed = learnt and drop <= s.max_swap_drop
        reason = inconclusive if not learnt else "" if passed else (
            f"{label}: the held-out AUC drops by {drop:.2f} (allowed {s.max_swap_drop:.2f}) when only the "
            f"{'noise' if name == 'noise_swap' else 'scanner'} changes: the model relies on it")
        out.append(CheckResult(family="shortcut", name=f"shortcut_{test}", passed=passed, value=drop,
                               threshold=s.max_swap_drop, reason=reason, details=details))
    return out


def _control(plan, params, data: _Data, folds, prep, s: ShortcutSettings) -> CheckResult:
    """Plant the debug marker on the positives in memory, retrain, and check the twins expose it."""
    marked_plan = _with_marker(plan, s.control_strength)
    pos_keys = {key for key in data.original if key in data.twin_clean}

    def mark(images: dict) -> dict:
        return {key: (_plant(marked_plan, params[key[0]], v.astype(np.int16)).astype(np.float32)
                      if key in pos_keys else v) for key, v in images.items()}

    variants = {"original": mark(data.original), "twin": mark(data.twin_clean)}
    preds = _cross_validate(data.slices, folds, variants, prep, s, "control")
    nb = _numbers(data.slices, preds, s, len({x.subject for x in data.slices}))
    ratio = nb.get("twin_collapse_ratio")
    caught = ratio is not None and ratio > s.max_collapse
    details = {k: nb.get(k) for k in ("slice_auc", "subject_auc", "subject_auc_ci95", "mean_p_positive",
                                      "mean_p_negative", "mean_p_twin", "twin_collapse_ratio", "twin_still_positive")}
    details["marker_strength"] = s.control_strength
    return CheckResult(
        family="shortcut", name="shortcut_planted_control", passed=caught, value=ratio, threshold=s.max_collapse,
        reason="" if caught else ("a corner marker planted on the positives went unnoticed by the twin test "
                                  f"(collapse ratio {ratio}); at this cohort size the no-cheat tests are not sensitive "
                                  "enough to trust their pass: raise `subjects`"),
        details=details)
