"""No-cheat tests: does a model trained on the cohort look at the lesion, or at something else?

Stage role: train a small MONAI probe on axial slabs of a written cohort (slabs through each
lesion for positives, slabs at matched heights for negatives) with subject-wise
cross-validation, so every prediction comes from a model that never saw that subject, then
ask it about images that differ from the originals in one controlled way:

    counterfactual   the positives regenerated WITHOUT their lesions (same anatomy, same noise:
                     `generate(..., with_pathology=False)`): predictions must collapse to the
                     negatives' level.  And a second probe trained on lesion-free images only
                     (twins vs negatives) must not beat chance: if it can tell the classes
                     apart, something besides the lesion carries the label.
    lesion_mask      lesion voxels and their partial-volume rim replaced by lung parenchyma
                     resampled from around them: predictions must collapse
    artifact_swap    each subject's noise replaced by the noise of a subject of the other class
                     (noiseless regeneration + that subject's residual): the AUC must hold
    scanner_swap     each subject regenerated through another scanner class of the plan (same
                     anatomy and lesions): the AUC must hold

The planted-shortcut control (`debug { planted_shortcut: true }`, generate.plant_shortcut) is
a cohort with such a flaw by design; its twins keep the marker, as its positives do, and the
tests must flag it.  On a clean cohort, `planted_control=True` plants the marker in memory
and checks that the tests catch it, so a pass reads "no shortcut found by tests shown to
find one at this cohort size".

The probe sees five channels per slab (MONAI ScaleIntensityRange windows):
    0-2  slices z-1, z, z+1 in the lung window (W 1500, L -600)
    3    slice z in the lung window inside the (eroded) lung label, 0 elsewhere: lets a tiny
         model learn the finding from a few dozen subjects; twins share the labels, so this
         channel carries no label information beyond the image inside the lungs
    4    slice z in a low-density window (W 300, L -950): faint offsets in air and padding
         (markers, calibration, reconstruction-circle values) stay visible
It is a measuring instrument, not a detector worth shipping: ~30 k weights, CPU-fast,
deterministic (fixed seeds, fixed data order).  It does not judge anatomy (anatomy.py) or
realism (realism.py).
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
LOW_DENSITY_WINDOW_HU = (-1100.0, -800.0)
LUNG_LABELS = (10, 11, 12, 13, 14)
"""Lobe labels of anatomy_thorax.synth (the lung channel and the matched slice heights)."""


@dataclass(frozen=True)
class ShortcutSettings:
    """Knobs of the probe and the pass thresholds (the defaults are what the tests use)."""

    size: int | None = None               # slices resampled to size x size; None: min(matrix, 128)
    slices_per_lesion: int = 3            # slices through each lesion (area >= half its largest)
    folds: int = 3                        # subject-wise cross-validation
    epochs: int = 30
    batch_size: int = 16
    learning_rate: float = 3e-3
    seed: int = 0
    bootstrap: int = 2000                 # resamples (of subjects) for the AUC confidence interval
    min_auc: float = 0.7                  # probe's held-out slice AUC below this: too weak to judge
    max_collapse: float = 0.35            # twin / masked: share of the positive-negative gap that may remain
    max_still_positive: float = 0.25      # twins called positive, beyond the negatives' false-positive rate
    max_probe_auc: float = 0.75           # lesion-free probe: held-out AUC above this = the label leaks
    max_swap_drop: float = 0.10           # AUC may drop at most this much under a noise / scanner swap
    control_strength: float = 0.5         # marker strength of the in-memory planted control
    device: str = "cpu"


@dataclass
class ShortcutReport:
    """The checks and the numbers behind them (also in each CheckResult's details)."""

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
    """Cross-validate the probe and run `tests` (default: the spec's `validate.shortcut_tests`,
    else all four); returns the checks and the measured numbers."""
    import torch

    from ..runtime.sample import sample_subject

    started = time.perf_counter()
    s = settings or ShortcutSettings()
    plan = cohort.plan
    tests = _tests(plan, tests)
    report = ShortcutReport()
    subjects = list(cohort.subjects)
    positive = [bool(sub.record.get("positive")) for sub in subjects]
    n_pos, n_neg = sum(positive), len(positive) - sum(positive)
    if n_pos < 4 or n_neg < 4:
        report.checks.append(CheckResult(
            family="shortcut", name="shortcut_model", passed=False, value=float(min(n_pos, n_neg)), threshold=4.0,
            reason=f"{n_pos} positive and {n_neg} negative subjects: the shortcut tests need at least 4 of each; "
                   "raise `subjects` or bring `prevalence` nearer 50 %"))
        report.seconds = time.perf_counter() - started
        return report
    planted_cohort = _planted(plan)
    threads = torch.get_num_threads()
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    try:
        params = [sample_subject(plan, sub.index) for sub in subjects]
        folds = _folds(positive, min(s.folds, n_pos, n_neg))
        data = _collect(cohort, subjects, params, positive, folds, tests, s)
        prep = _Inputs(s.size or int(min(128, plan.grid.shape[1])))
        preds = _cross_validate(data, prep, s, tag=0)
        numbers = _numbers(data, preds, s)
        numbers.update(planted_cohort=planted_cohort, image_size=prep.size, folds=max(folds) + 1,
                       slices={"positive": sum(len(v) for k, v in data.test.items() if positive[k]),
                               "negative": sum(len(v) for k, v in data.test.items() if not positive[k])})
        if data.notes:
            numbers["notes"] = data.notes
        report.checks.extend(_checks(numbers, tests, s, data))
        if planted_control and not planted_cohort and "counterfactual" in tests:
            report.checks.append(_control(plan, params, data, prep, s))
            numbers["planted_control"] = report.checks[-1].details
        report.numbers = numbers
    finally:
        torch.set_num_threads(threads)
    report.seconds = time.perf_counter() - started
    report.numbers["seconds"] = round(report.seconds, 1)
    return report


def _tests(plan, tests) -> tuple[str, ...]:
    if tests is None:
        tests = (plan.cohort.get("validate_") or {}).get("shortcut_tests") or SHORTCUT_TESTS
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
    """The marker a positive subject of `plan` carries, planted on an int16 image as the cohort does."""
    from ..runtime.generate import HU_MAX, HU_MIN, plant_shortcut

    marked = plant_shortcut(plan, params, np.asarray(image, dtype=np.float32), True)
    return np.clip(np.rint(marked), HU_MIN, HU_MAX).astype(np.int16)


# ---------------------------------------------------------------------------------------------
# data: which slabs, and the slabs of the originals and of every variant


@dataclass
class _Data:
    positive: list[bool]
    folds: list[int]
    train: dict[int, dict[int, list[int]]]   # fold -> subject -> slice indices it trains on
    test: dict[int, list[int]]               # subject -> slice indices it is tested on (its own fold)
    lung: dict = field(default_factory=dict)        # (subject, z) -> 2-D eroded lung mask
    original: dict = field(default_factory=dict)    # (subject, z) -> [3, Y, X] HU slab
    twin: dict = field(default_factory=dict)        # positives without lesions (marker kept if planted)
    masked: dict = field(default_factory=dict)
    noise_swap: dict = field(default_factory=dict)
    scanner_swap: dict = field(default_factory=dict)
    twin_clean: dict = field(default_factory=dict)  # twins without the cohort's marker (the in-memory control)
    notes: list[str] = field(default_factory=list)


def _slab(volume: np.ndarray, z: int, half: int = 1) -> np.ndarray:
    """Slices z-half .. z+half as channels (edge slices repeated), float32 HU."""
    idx = np.clip(np.arange(z - half, z + half + 1), 0, volume.shape[0] - 1)
    return volume[idx].astype(np.float32)


def _lesion_slices(lesions: np.ndarray, per_lesion: int) -> list[int]:
    """Axial slices through each lesion: its largest cross-sections, each at least half the largest."""
    out: list[int] = []
    for i in [int(v) for v in np.unique(lesions) if v]:
        area = (lesions == i).sum(axis=(1, 2))
        zmax = int(np.argmax(area))
        order = sorted(np.flatnonzero(area >= 0.5 * area[zmax]), key=lambda z: (-area[z], abs(int(z) - zmax)))
        out.extend(int(z) for z in order[:per_lesion])
    return sorted(set(out))


def _lung_extent(labels: np.ndarray) -> tuple[int, int]:
    zs = np.flatnonzero(np.isin(labels, LUNG_LABELS).any(axis=(1, 2)))
    return (int(zs[0]), int(zs[-1])) if zs.size else (0, labels.shape[0] - 1)


def _matched(extent: tuple[int, int], heights: list[float], count: int, offset: int) -> list[int]:
    """`count` slices of a negative subject at relative lung heights taken from `heights` (cycled)."""
    lo, hi = extent
    if not heights:
        return [(lo + hi) // 2]
    hs = sorted(heights)
    return sorted({int(round(lo + hs[(offset + m * 7) % len(hs)] * (hi - lo))) for m in range(count)})


def _collect(cohort, subjects, params, positive, folds, tests, s: ShortcutSettings) -> _Data:
    """Choose the slabs and build every variant the tests need.

    Positives: the slabs through their lesions.  Negatives: the slabs through VIRTUAL lesions,
    placed in the negative's own anatomy by the generator's placement rules with a positive's
    lesion requests (noiseless regeneration; only the mask is used, the images stay the
    negative's).  Slab selection is then the same procedure for both classes: matching by
    slice height alone leaves a confound a probe learns (a lesion needs thick lung around it,
    so positives' slabs show more lung), and matching on the held-out positives leaks labels."""
    from scipy.ndimage import binary_erosion

    n_folds = max(folds) + 1
    positive, folds = list(positive), list(folds)
    extents, slices, label_cache, notes = {}, {}, {}, []
    for k, sub in enumerate(subjects):
        labels = sub.labels()
        extents[k] = _lung_extent(labels)
        label_cache[k] = labels
        if positive[k]:
            zs = _lesion_slices(sub.lesions(), s.slices_per_lesion)
            if not zs:
                notes.append(f"{sub.subject_id} is positive but its lesion mask is empty; left out")
                folds[k] = -1
                continue
            slices[k] = zs
    donors = [k for k in range(len(subjects)) if positive[k] and folds[k] >= 0]
    heights = [(z - extents[k][0]) / max(extents[k][1] - extents[k][0], 1) for k in donors for z in slices[k]]
    negatives = [k for k in range(len(subjects)) if not positive[k]]
    for j, k in enumerate(negatives):
        zs = _virtual_lesion_slices(cohort.plan, params[k], params[donors[j % len(donors)]], s.slices_per_lesion)
        if not zs:
            notes.append(f"{subjects[k].subject_id}: no virtual lesion could be placed; slabs matched by height")
            zs = _matched(extents[k], heights, s.slices_per_lesion, j)
        slices[k] = zs
    train = {f: {k: zs for k, zs in slices.items() if folds[k] != f} for f in range(n_folds)}
    test = {k: zs for k, zs in slices.items() if folds[k] >= 0}
    data = _Data(positive=positive, folds=folds, train=train, test=test, notes=notes)
    for k, zs in test.items():
        image = subjects[k].image()
        lung = np.isin(label_cache[k], LUNG_LABELS)
        for z in zs:
            data.original[(k, z)] = _slab(image, z)
            data.lung[(k, z)] = binary_erosion(lung[z])
        if positive[k]:
            _positive_variants(data, cohort, subjects[k], params[k], image, k, zs, tests, s)
    if "artifact_swap" in tests:
        _noise_swap(data, cohort, subjects, params, s)
    if "scanner_swap" in tests:
        _scanner_swap(data, cohort, params)
    return data


def _virtual_lesion_slices(plan, params, donor, per_lesion: int) -> list[int]:
    """Slabs through lesions placed in `params`' anatomy with `donor`'s lesion requests."""
    from ..runtime.generate import generate

    virtual = params.model_copy(update={"lesions": donor.lesions, "positive": True})
    try:
        mask = generate(plan, virtual, noiseless=True).lesion_mask
    except Exception:  # noqa: BLE001 - a placement that cannot run falls back to height matching
        return []
    return _lesion_slices(mask, per_lesion)


def _positive_variants(data: _Data, cohort, sub, params, image, k: int, zs: list[int], tests, s) -> None:
    from ..runtime.generate import generate

    plan = cohort.plan
    if "lesion_mask" in tests:
        masked = _mask_lesions(image, sub.lesions(), sub.labels(), cohort.spacing, s.seed + sub.index)
        for z in data.test[k]:
            data.masked[(k, z)] = _slab(masked, z)
    if "counterfactual" in tests:
        twin = generate(plan, params, with_pathology=False).image
        for z in zs:
            data.twin_clean[(k, z)] = _slab(twin, z)
        if _planted(plan):   # the twin keeps what the cohort's positives carry besides the lesion
            twin = _plant(plan, params, twin)
        for z in zs:
            data.twin[(k, z)] = _slab(twin, z)


def _noise_swap(data: _Data, cohort, subjects, params, s) -> None:
    """Noiseless regeneration of each tested slab plus the noise residual of a subject of the
    other class at the same slices (positives and negatives paired in index order)."""
    from ..runtime.generate import generate

    plan = cohort.plan
    order = sorted(data.test)
    pos_list = [k for k in order if data.positive[k]]
    neg_list = [k for k in order if not data.positive[k]]
    partner = {k: neg_list[i % len(neg_list)] for i, k in enumerate(pos_list)}
    partner.update({k: pos_list[i % len(pos_list)] for i, k in enumerate(neg_list)})
    wanted: dict[int, set[int]] = {}
    for k, j in partner.items():
        wanted.setdefault(j, set()).update(data.test[k])
    noiseless, residual = {}, {}
    for k in order:
        clean = generate(plan, params[k], noiseless=True).image
        image = subjects[k].image()
        for z in data.test[k]:
            noiseless[(k, z)] = _slab(clean, z)
        for z in wanted.get(k, ()):
            residual[(k, z)] = _slab(image, z) - _slab(clean, z)
    for k in order:
        for z in data.test[k]:
            data.noise_swap[(k, z)] = noiseless[(k, z)] + residual[(partner[k], z)]


def _scanner_swap(data: _Data, cohort, params) -> None:
    from ..runtime.generate import generate

    plan = cohort.plan
    names = sorted(plan.scanners)
    if len(names) < 2:
        data.notes.append("scanner_swap: the plan has one scanner class; nothing to swap")
        return
    for k in sorted(data.test):
        other = names[(names.index(params[k].scanner) + 1) % len(names)] if params[k].scanner in names else names[0]
        swapped = generate(plan, params[k].model_copy(update={"scanner": other})).image
        for z in data.test[k]:
            data.scanner_swap[(k, z)] = _slab(swapped, z)


def _mask_lesions(image: np.ndarray, lesions: np.ndarray, labels: np.ndarray, spacing, seed: int) -> np.ndarray:
    """Lesion voxels and a rim as wide as the partial-volume edge (>= 1 voxel, >= 2 mm) replaced by
    lung parenchyma resampled from a shell around them (so noise and texture stay)."""
    from scipy.ndimage import binary_dilation

    lesion = lesions > 0
    reach = [max(1, int(math.ceil(2.0 / float(sp)))) for sp in spacing]
    region = binary_dilation(lesion, structure=np.ones([2 * r + 1 for r in reach], bool))
    shell = binary_dilation(region, structure=np.ones((3, 3, 3), bool), iterations=3) & ~region
    lung = np.isin(labels, LUNG_LABELS)
    source = image[shell & lung]
    if source.size == 0:
        source = image[lung & ~region] if (lung & ~region).any() else np.array([-850], image.dtype)
    out = image.copy()
    out[region] = np.random.default_rng(seed).choice(source, size=int(region.sum()), replace=True)
    return out


# ---------------------------------------------------------------------------------------------
# the probe


class _Inputs:
    """HU slab + lung mask -> the probe's five channels at size x size (MONAI transforms)."""

    def __init__(self, size: int):
        from monai.transforms import Resize, ScaleIntensityRange

        self.size = size
        self.lung_window = ScaleIntensityRange(a_min=LUNG_WINDOW_HU[0], a_max=LUNG_WINDOW_HU[1], b_min=0.0, b_max=1.0,
                                               clip=True)
        self.low_window = ScaleIntensityRange(a_min=LOW_DENSITY_WINDOW_HU[0], a_max=LOW_DENSITY_WINDOW_HU[1],
                                              b_min=0.0, b_max=1.0, clip=True)
        self.resize = Resize((size, size), mode="area")

    def __call__(self, slab: np.ndarray, lung: np.ndarray):
        import torch

        hu = torch.as_tensor(slab, dtype=torch.float32)
        lung_w = torch.as_tensor(self.lung_window(hu), dtype=torch.float32)
        centre = lung_w[1:2]
        inside = torch.as_tensor(lung[None], dtype=torch.bool)
        fill = centre[inside].median() if bool(inside.any()) else centre.new_tensor(0.33)
        lung_only = torch.where(inside, centre, fill)   # flat outside the lung: no edges to respond to
        channels = torch.cat([lung_w, lung_only, torch.as_tensor(self.low_window(hu[1:2]), dtype=torch.float32)])
        if tuple(channels.shape[1:]) != (self.size, self.size):
            channels = torch.as_tensor(self.resize(channels), dtype=torch.float32)
        return channels


def probe_model(in_channels: int = 5, lesion_channels=(16, 32, 64), context_channels=(8, 16, 16), grid: int = 4):
    """The probe: two small CNN branches of MONAI blocks (conv-batchnorm-ReLU-maxpool) and one logit.

    lesion branch   the lung-only channel (3), global max and mean pooling: finds a small
                    finding anywhere in the lungs
    context branch  everything else (slab, low-density window), max-pooled on a coarse
                    grid x grid layout: position-aware, so a marker, text or padding in a fixed
                    place is as easy to learn as the finding is
    Either alone can carry the label; which one the trained probe leans on is what the tests read."""
    import torch
    from monai.networks.blocks import Convolution

    def stack(c_in, widths):
        layers = []
        for c in widths:
            layers += [Convolution(spatial_dims=2, in_channels=c_in, out_channels=c, kernel_size=3,
                                   act="RELU", norm="BATCH"), torch.nn.MaxPool2d(2)]
            c_in = c
        return torch.nn.Sequential(*layers)

    class Probe(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lesion = stack(1, lesion_channels)
            self.context = stack(in_channels - 1, context_channels)
            self.pool = torch.nn.AdaptiveMaxPool2d(grid)
            self.head = torch.nn.Linear(2 * lesion_channels[-1] + context_channels[-1] * grid * grid, 1)

        def forward(self, x):
            h = self.lesion(x[:, 3:4])
            c = self.pool(self.context(torch.cat([x[:, :3], x[:, 4:]], dim=1))).flatten(1)
            return self.head(torch.cat([h.amax(dim=(2, 3)), h.mean(dim=(2, 3)), c], dim=1))

    return Probe()


def _folds(positive: list[bool], n_folds: int) -> list[int]:
    """Fold of each subject: positives and negatives dealt round-robin in index order."""
    fold, counters = [0] * len(positive), {True: 0, False: 0}
    for k, p in enumerate(positive):
        fold[k] = counters[p] % n_folds
        counters[p] += 1
    return fold


def _train(x, y, s: ShortcutSettings, seed: int):
    import torch

    torch.manual_seed(seed)
    model = probe_model(x.shape[1]).to(s.device)
    opt = torch.optim.Adam(model.parameters(), lr=s.learning_rate, weight_decay=1e-4)
    pos = float(y.sum())
    weight = torch.tensor((len(y) - pos) / max(pos, 1.0))
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=weight.to(s.device))
    gen = torch.Generator().manual_seed(seed)
    x, y = x.to(s.device), y.to(s.device)
    for _ in range(s.epochs):
        model.train()
        order = torch.randperm(len(x), generator=gen)
        for start in range(0, len(x), s.batch_size):
            idx = order[start:start + s.batch_size]
            if len(idx) < 2:   # batch norm needs two
                continue
            opt.zero_grad()
            loss_fn(model(x[idx]).squeeze(1), y[idx]).backward()
            opt.step()
    model.eval()
    return model


def _predict(model, x, s: ShortcutSettings) -> np.ndarray:
    import torch

    with torch.no_grad():
        out = [torch.sigmoid(model(x[i:i + 64].to(s.device)).squeeze(1)).cpu() for i in range(0, len(x), 64)]
    return torch.cat(out).numpy().astype(np.float64)


def _cross_validate(data: _Data, prep: _Inputs, s: ShortcutSettings, tag: int,
                    original: dict | None = None, twin: dict | None = None) -> dict[str, dict]:
    """Out-of-fold probabilities {variant: {(subject, z): p}}.

    Probe A trains on the originals and predicts every variant of the held-out subjects;
    probe B (`lesion_free`) trains on lesion-free images (twins for positives) and predicts
    the held-out lesion-free images."""
    import torch

    original = data.original if original is None else original
    twin = data.twin if twin is None else twin
    cache: dict = {}

    def x_of(images: dict, key):
        ident = (id(images), key)
        if ident not in cache:
            cache[ident] = prep(images[key], data.lung[key])
        return cache[ident]

    variants = {"original": original, "twin": twin, "masked": data.masked, "noise_swap": data.noise_swap,
                "scanner_swap": data.scanner_swap}
    out: dict[str, dict] = {name: {} for name in (*variants, "lesion_free")}
    n_folds = max(data.folds) + 1
    for f in range(n_folds):
        train = [(k, z) for k, zs in data.train[f].items() for z in zs]
        y = torch.tensor([float(data.positive[k]) for k, _ in train])
        tested = [(k, z) for k, zs in data.test.items() if data.folds[k] == f for z in zs]
        model = _train(torch.stack([x_of(original, key) for key in train]), y, s, seed=1000 * tag + f + 7 * s.seed)
        for name, images in variants.items():
            keys = [key for key in tested if key in images]
            if keys:
                out[name].update(zip(keys, _predict(model, torch.stack([x_of(images, key) for key in keys]), s)))
        if twin:
            free = lambda key: twin if data.positive[key[0]] else original  # noqa: E731
            if all(key in free(key) for key in train + tested):
                model_b = _train(torch.stack([x_of(free(key), key) for key in train]), y, s,
                                 seed=1000 * tag + 100 + f + 7 * s.seed)
                out["lesion_free"].update(zip(tested, _predict(
                    model_b, torch.stack([x_of(free(key), key) for key in tested]), s)))
    return out


# ---------------------------------------------------------------------------------------------
# numbers and checks


def auc(scores, labels) -> float:
    """Area under the ROC curve (Mann-Whitney, ties counted half); NaN with one class only."""
    from scipy.stats import rankdata

    scores, labels = np.asarray(scores, float), np.asarray(labels, bool)
    n1, n0 = int(labels.sum()), int((~labels).sum())
    if n1 == 0 or n0 == 0:
        return float("nan")
    return float((rankdata(scores)[labels].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def bootstrap_auc_ci(scores, labels, n: int, seed: int, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap CI of the AUC, resampling the given units (subjects) with replacement."""
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


def _r(v):
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else round(float(v), 4)


def _numbers(data: _Data, preds: dict, s: ShortcutSettings) -> dict:
    orig = preds["original"]
    keys = sorted(orig)
    y = np.array([data.positive[k] for k, _ in keys])
    p = np.array([orig[key] for key in keys])
    subjects = sorted({k for k, _ in keys})
    subj_p = np.array([np.mean([orig[key] for key in keys if key[0] == k]) for k in subjects])
    subj_y = np.array([data.positive[k] for k in subjects])
    thr = _youden(p, y)
    ci = bootstrap_auc_ci(subj_p, subj_y, s.bootstrap, s.seed)
    nb = {
        "slice_auc": _r(auc(p, y)), "subject_auc": _r(auc(subj_p, subj_y)), "subject_auc_ci95": [_r(ci[0]), _r(ci[1])],
        "threshold": _r(thr), "mean_p_positive": _r(p[y].mean()), "mean_p_negative": _r(p[~y].mean()),
        "sensitivity": _r(np.mean(p[y] >= thr)), "false_positive_rate": _r(np.mean(p[~y] >= thr)),
        "accuracy": _r(np.mean((p >= thr) == y)), "subjects": len(subjects),
    }
    gap = float(p[y].mean() - p[~y].mean())
    for name in ("twin", "masked"):
        if preds.get(name):
            q = np.array(list(preds[name].values()))
            nb[f"mean_p_{name}"] = _r(q.mean())
            nb[f"{name}_collapse_ratio"] = _r((q.mean() - p[~y].mean()) / gap) if gap > 1e-3 else None
            nb[f"{name}_still_positive"] = _r(np.mean(q >= thr))
    if preds.get("lesion_free"):
        free = preds["lesion_free"]
        fk = sorted(free)
        fy = np.array([data.positive[k] for k, _ in fk])
        fp = np.array([free[key] for key in fk])
        fs = sorted({k for k, _ in fk})
        fsp = np.array([np.mean([free[key] for key in fk if key[0] == k]) for k in fs])
        fsy = np.array([data.positive[k] for k in fs])
        fci = bootstrap_auc_ci(fsp, fsy, s.bootstrap, s.seed + 1)
        nb["lesion_free_slice_auc"] = _r(auc(fp, fy))
        nb["lesion_free_subject_auc"] = _r(auc(fsp, fsy))
        nb["lesion_free_subject_auc_ci95"] = [_r(fci[0]), _r(fci[1])]
    for name in ("noise_swap", "scanner_swap"):
        if preds.get(name):
            sk = [key for key in keys if key in preds[name]]
            q = np.array([preds[name][key] for key in sk])
            sy = np.array([data.positive[k] for k, _ in sk])
            base = auc([orig[key] for key in sk], sy)
            nb[f"{name}_auc"] = _r(auc(q, sy))
            nb[f"{name}_drop"] = _r(base - auc(q, sy))
            nb[f"{name}_accuracy"] = _r(np.mean((q >= thr) == sy))
    return nb


def _checks(nb: dict, tests, s: ShortcutSettings, data: _Data) -> list[CheckResult]:
    learnt = nb["slice_auc"] is not None and nb["slice_auc"] >= s.min_auc
    base = {k: nb[k] for k in ("slice_auc", "subject_auc", "subject_auc_ci95", "threshold", "mean_p_positive",
                               "mean_p_negative", "sensitivity", "false_positive_rate", "accuracy", "subjects")}
    out = [CheckResult(
        family="shortcut", name="shortcut_model", passed=learnt, value=nb["slice_auc"], threshold=s.min_auc,
        reason="" if learnt else (f"the probe reached a held-out AUC of only {nb['slice_auc']} (needs {s.min_auc:.2f}), "
                                  "so the collapse and swap tests cannot judge it; raise `subjects`, enlarge the "
                                  "lesions or refine the grid"),
        details=dict(base))]
    inconclusive = "inconclusive: the probe did not learn the finding (see shortcut_model)"
    for test, name, label in (("counterfactual", "twin", "counterfactual twins"),
                              ("lesion_mask", "masked", "lesion masking")):
        if test not in tests:
            continue
        ratio, still = nb.get(f"{name}_collapse_ratio"), nb.get(f"{name}_still_positive")
        details = {**base, "collapse_ratio": ratio, "still_positive": still, f"mean_p_{name}": nb.get(f"mean_p_{name}"),
                   "max_collapse": s.max_collapse, "max_still_positive_excess": s.max_still_positive}
        if ratio is None or not learnt:
            out.append(CheckResult(family="shortcut", name=f"shortcut_{test}", passed=False, value=ratio,
                                   threshold=s.max_collapse, reason=inconclusive, details=details))
            continue
        excess = still - nb["false_positive_rate"]
        passed = ratio <= s.max_collapse and excess <= s.max_still_positive
        reason = "" if passed else (
            f"{label}: predictions do not collapse without the lesion: {100 * ratio:.0f} % of the positive-negative "
            f"gap remains (allowed {100 * s.max_collapse:.0f} %), {100 * still:.0f} % still called positive "
            f"(negatives {100 * nb['false_positive_rate']:.0f} %); the model keys on something that travels with "
            "the label: look for markers, scanner or noise differences between the classes")
        out.append(CheckResult(family="shortcut", name=f"shortcut_{test}", passed=passed, value=ratio,
                               threshold=s.max_collapse, reason=reason, details=details))
    if "counterfactual" in tests and nb.get("lesion_free_slice_auc") is not None:
        value = nb["lesion_free_slice_auc"]
        passed = value <= s.max_probe_auc
        out.append(CheckResult(
            family="shortcut", name="shortcut_lesion_free_probe", passed=passed, value=value, threshold=s.max_probe_auc,
            reason="" if passed else (
                f"a probe trained with every lesion removed (twins vs negatives) still separates the classes "
                f"(held-out AUC {value:.2f}, allowed {s.max_probe_auc:.2f}): something besides the lesion carries "
                "the label"),
            details={"slice_auc": value, "subject_auc": nb.get("lesion_free_subject_auc"),
                     "subject_auc_ci95": nb.get("lesion_free_subject_auc_ci95"), "max_auc": s.max_probe_auc}))
    for test, name, label in (("artifact_swap", "noise_swap", "noise"), ("scanner_swap", "scanner_swap", "scanner")):
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
            f"{label} swap: the held-out AUC drops by {drop:.2f} (allowed {s.max_swap_drop:.2f}) when only the "
            f"{label} changes: the model relies on it")
        out.append(CheckResult(family="shortcut", name=f"shortcut_{test}", passed=passed, value=drop,
                               threshold=s.max_swap_drop, reason=reason, details=details))
    return out


def _control(plan, params, data: _Data, prep: _Inputs, s: ShortcutSettings) -> CheckResult:
    """Plant the debug marker on the positives in memory, retrain, and check the tests expose it."""
    marked_plan = _with_marker(plan, s.control_strength)

    def mark(images: dict) -> dict:
        return {key: (_plant(marked_plan, params[key[0]], v).astype(np.float32) if data.positive[key[0]] else v)
                for key, v in images.items()}

    original, twin = mark(data.original), mark(data.twin_clean)
    preds = _cross_validate(data, prep, s, tag=1, original=original, twin=twin)
    preds = {k: preds[k] for k in ("original", "twin", "lesion_free")}
    nb = _numbers(data, preds, s)
    ratio, free = nb.get("twin_collapse_ratio"), nb.get("lesion_free_slice_auc")
    by_twins = ratio is not None and ratio > s.max_collapse
    by_probe = free is not None and free > s.max_probe_auc
    caught = by_twins or by_probe
    details = {k: nb.get(k) for k in ("slice_auc", "subject_auc", "mean_p_positive", "mean_p_negative", "mean_p_twin",
                                      "twin_collapse_ratio", "twin_still_positive", "lesion_free_slice_auc")}
    details.update(marker_strength=s.control_strength, caught_by_twins=by_twins, caught_by_lesion_free_probe=by_probe)
    return CheckResult(
        family="shortcut", name="shortcut_planted_control", passed=caught, value=free, threshold=s.max_probe_auc,
        reason="" if caught else (
            f"a corner marker planted in memory on the positives (strength {100 * s.control_strength:.0f} %) went "
            f"unnoticed (twin collapse ratio {ratio}, lesion-free probe AUC {free}): at this cohort size the "
            "no-cheat tests are not sensitive enough to trust their pass; raise `subjects`"),
        details=details)
