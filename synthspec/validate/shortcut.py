"""No-cheat tests: does a model trained on the cohort look at the lesion, or at something else?

Stage role: train small MONAI probes on a written cohort with subject-wise cross-validation
(every prediction comes from a model that never saw that subject) and ask them about images
that differ from the originals in one controlled way.  Two probes:

    detector probe   slabs through each lesion (positives) and through VIRTUAL lesions placed
                     in each negative's own anatomy by the generator's placement rules; two
                     branches: the lung-only channel with global pooling (finds the finding)
                     and the rest of the slab on a coarse position-aware grid (finds a marker)
    twin probe       whole scans (evenly spaced slabs, scan label on every slab) with every
                     positive replaced by its counterfactual twin: nothing but a shortcut is
                     left to learn, so its held-out AUC must stay at chance

Tests (names as in `validate { shortcut_tests: ... }`):

    counterfactual   positives regenerated WITHOUT their lesions (same anatomy, same noise,
                     `generate(..., with_pathology=False)`; the planted marker kept, as the
                     cohort's positives carry it): the detector's predictions must collapse to
                     the negatives' level, and the twin probe must not tell twins from negatives
    lesion_mask      lesion voxels and their partial-volume rim replaced by lung parenchyma
                     resampled from around them: the detector's predictions must collapse
    artifact_swap    each subject's noise replaced by the noise of a subject of the other class
                     (noiseless regeneration + that subject's residual): the AUC must hold
    scanner_swap     each subject regenerated through another scanner class of the plan (same
                     anatomy, lesions and noise stream): the AUC must hold

The planted-shortcut control (`debug { planted_shortcut: true }`, generate.plant_shortcut)
is a cohort with such a flaw by design and must be flagged.  On a clean cohort,
`planted_control=True` also plants the marker in memory and checks that the twin probe
catches it, so a pass reads "no shortcut found by a test shown to find one at this size".

Input channels (MONAI ScaleIntensityRange windows, then Resize to size x size):
    0-2  slices z-1, z, z+1 in the lung window (W 1500, L -600)
    3    slice z, lung window, inside the eroded lung label only (flat lung median outside:
         no edges); twins share the labels, so it adds no label information
    4    slice z in a low-density window (W 300, L -950): faint offsets in air and padding
The probes are measuring instruments, not detectors worth shipping: tens of thousands of
weights, CPU-fast, deterministic (fixed seeds and data order).  Anatomy and realism are
anatomy.py's and realism.py's business.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field

import numpy as np

from synthspec.validate.results import CheckResult

SHORTCUT_TESTS = ("counterfactual", "lesion_mask", "artifact_swap", "scanner_swap")
LUNG_WINDOW_HU = (-1350.0, 150.0)
LOW_DENSITY_WINDOW_HU = (-1100.0, -800.0)
LUNG_LABELS = (10, 11, 12, 13, 14)
"""Lobe labels of anatomy_thorax.synth (the lung channel, slab heights, inpainting source)."""
CONTEXT = [0, 1, 2, 4]
"""Channels of the position-aware context branch and of the twin probe."""


@dataclass(frozen=True)
class ShortcutSettings:
    """Knobs of the probes and the pass thresholds (the defaults are what the tests use)."""

    size: int | None = None               # slabs resampled to size x size; None: min(matrix, 128)
    slices_per_lesion: int = 3            # detector slabs per lesion (area >= half its largest)
    scan_slices: int = 12                 # twin-probe slabs per subject, evenly spaced over the lungs
    folds: int = 3                        # subject-wise cross-validation
    epochs: int = 30                      # detector probe
    scan_epochs: int = 10                 # twin probe (more slabs per subject, fewer passes)
    batch_size: int = 16
    learning_rate: float = 3e-3
    seed: int = 0
    bootstrap: int = 2000                 # resamples (of subjects) for the AUC confidence intervals
    min_auc: float = 0.7                  # detector's held-out slab AUC below this: too weak to judge
    max_collapse: float = 0.35            # twin / masked: share of the positive-negative gap that may remain
    max_still_positive: float = 0.25      # twins called positive, beyond the negatives' false-positive rate
    max_probe_auc: float = 0.75           # twin probe: held-out subject AUC above this = the label leaks
    max_swap_drop: float = 0.10           # detector AUC may drop at most this much under a swap
    max_twin_mismatch_hu: float = 1.0     # twin vs original, mean |difference| away from the lesions
    control_strength: float = 0.5         # in-memory planted control; = generate.DEFAULT_MARKER_STRENGTH
    device: str = "cpu"


@dataclass
class ShortcutReport:
    """The checks and the numbers behind them (also in each CheckResult's details)."""

    checks: list[CheckResult] = field(default_factory=list)
    numbers: dict = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def flagged(self) -> bool:
        return not all(c.passed for c in self.checks)


# ---------------------------------------------------------------------------------------------
# entry points


def shortcut_checks(cohort, tests=None, settings: ShortcutSettings | None = None,
                    planted_control: bool = True) -> list[CheckResult]:
    """The shortcut CheckResults of a loaded cohort (validate.cohort.load)."""
    return run_shortcut_tests(cohort, tests, settings, planted_control).checks


def run_shortcut_tests(cohort, tests=None, settings: ShortcutSettings | None = None,
                       planted_control: bool = True) -> ShortcutReport:
    """Cross-validate the probes and run `tests` (default: the spec's `validate.shortcut_tests`,
    else all four); returns the checks and the measured numbers."""
    import torch

    from synthspec.engine.sample import sample_subject

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
    control = planted_control and not _planted(plan) and "counterfactual" in tests
    threads = torch.get_num_threads()
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    try:
        params = [sample_subject(plan, sub.index) for sub in subjects]
        folds = _folds(positive, min(s.folds, n_pos, n_neg))
        prep = _Inputs(s.size or int(min(128, plan.grid.shape[1])))
        data = _collect(cohort, subjects, params, positive, folds, tests, s, prep, control)
        preds = _detector(data, prep, s)
        numbers = _numbers(data, preds, s)
        if data.scan:
            numbers.update(_twin_probe(data, data.scan, s, tag=0))
        numbers.update(planted_cohort=_planted(plan), image_size=prep.size, folds=max(folds) + 1,
                       twin_mismatch_hu=data.mismatch or None,
                       slabs={"positive": sum(len(v) for k, v in data.test.items() if data.positive[k]),
                              "negative": sum(len(v) for k, v in data.test.items() if not data.positive[k])})
        if data.notes:
            numbers["notes"] = data.notes
        report.checks.extend(_checks(numbers, tests, s, data))
        if control:
            free = {k: (data.scan_marked[k] if data.positive[k] else x) for k, x in data.scan.items()}
            nb = _twin_probe(data, free, s, tag=1)
            report.checks.append(_control_result(nb, s))
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
    from synthspec.engine.subject import HU_MAX, HU_MIN, plant_shortcut

    marked = plant_shortcut(plan, params, np.asarray(image, dtype=np.float32), True)
    return np.clip(np.rint(marked), HU_MIN, HU_MAX).astype(np.int16)


# ---------------------------------------------------------------------------------------------
# data: which slabs, the originals and every variant


@dataclass
class _Data:
    positive: list[bool]
    folds: list[int]                                # -1: left out
    test: dict[int, list[int]]                      # subject -> detector slab indices
    lung: dict = field(default_factory=dict)        # (subject, z) -> 2-D eroded lung mask
    original: dict = field(default_factory=dict)    # (subject, z) -> [3, Y, X] HU slab
    twin: dict = field(default_factory=dict)        # positives without lesions (marker kept if planted)
    masked: dict = field(default_factory=dict)
    noise_swap: dict = field(default_factory=dict)
    scanner_swap: dict = field(default_factory=dict)
    scan: dict = field(default_factory=dict)        # subject -> twin-probe inputs (twins for positives)
    scan_marked: dict = field(default_factory=dict)  # positives' twin-probe inputs with an in-memory marker
    mismatch: dict = field(default_factory=dict)    # subject id -> twin vs original mean |HU| off the lesions
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


def _scan_slices(extent: tuple[int, int], n: int) -> list[int]:
    lo, hi = extent
    return sorted({int(round(z)) for z in np.linspace(lo + 1, max(lo + 1, hi - 1), n)})


def _collect(cohort, subjects, params, positive, folds, tests, s: ShortcutSettings, prep, control: bool) -> _Data:
    """Choose the slabs and build every variant the tests need.

    Negatives' detector slabs run through virtual lesions (a positive's lesion requests placed
    in the negative's own anatomy by the generator; only the mask is used): slab selection is
    then the same procedure for both classes.  Matching on slice height alone leaves a confound
    a probe learns (a lesion needs thick lung around it), and matching on the held-out
    positives' heights leaks their labels."""
    from scipy.ndimage import binary_erosion

    plan = cohort.plan
    positive, folds = list(positive), list(folds)
    data = _Data(positive=positive, folds=folds, test={})
    donors = [k for k in range(len(subjects)) if positive[k]]
    marked_plan = _with_marker(plan, s.control_strength) if control else None
    for k, sub in enumerate(subjects):
        labels, image = sub.labels(), sub.image()
        lung = np.isin(labels, LUNG_LABELS)
        if positive[k]:
            lesions = sub.lesions()
            zs = _lesion_slices(lesions, s.slices_per_lesion)
            if not zs:
                data.notes.append(f"{sub.subject_id} is positive but its lesion mask is empty; left out")
                folds[k] = -1
                continue
        else:
            donor = params[donors[k % len(donors)]]
            zs = _virtual_lesion_slices(plan, params[k], donor, s.slices_per_lesion)
            if not zs:
                data.notes.append(f"{sub.subject_id}: no virtual lesion could be placed; evenly spaced slabs used")
                zs = _scan_slices(_lung_extent(labels), s.slices_per_lesion)
        data.test[k] = zs
        for z in zs:
            data.original[(k, z)] = _slab(image, z)
            data.lung[(k, z)] = binary_erosion(lung[z])
        scan_z = _scan_slices(_lung_extent(labels), s.scan_slices)
        free = image
        if positive[k]:
            if "lesion_mask" in tests:
                masked = _mask_lesions(image, lesions, labels, cohort.spacing, s.seed + sub.index)
                for z in zs:
                    data.masked[(k, z)] = _slab(masked, z)
            if "counterfactual" in tests:
                twin = _twin(plan, params[k])
                data.mismatch[sub.subject_id] = _mismatch(twin, image, lesions)
                for z in zs:
                    data.twin[(k, z)] = _slab(twin, z)
                free = twin
                if marked_plan is not None:
                    marked = _plant(marked_plan, params[k], twin)
                    data.scan_marked[k] = _stack(prep, marked, lung, scan_z)
        if "counterfactual" in tests:
            data.scan[k] = _stack(prep, free, lung, scan_z)
    if "artifact_swap" in tests:
        _noise_swap(data, cohort, subjects, params)
    if "scanner_swap" in tests:
        _scanner_swap(data, cohort, params)
    return data


def _twin(plan, params) -> np.ndarray:
    """The counterfactual twin of a positive subject, carrying the marker its original carries."""
    from synthspec.engine.subject import generate

    twin = generate(plan, params, with_pathology=False).image
    return _plant(plan, params, twin) if _planted(plan) else twin


def _mismatch(twin: np.ndarray, image: np.ndarray, lesions: np.ndarray) -> float:
    """Mean |twin - original| (HU) away from the lesions (lesion mask grown by 3 voxels in-plane and
    1 slice): ~0.1 HU when the twin is a true counterfactual, the noise level when it is not."""
    from scipy.ndimage import binary_dilation

    near = binary_dilation(lesions > 0, structure=np.ones((3, 7, 7), bool))
    far = ~near
    return round(float(np.abs(twin.astype(np.float32) - image.astype(np.float32))[far].mean()), 3) if far.any() else 0.0


def _stack(prep, volume: np.ndarray, lung: np.ndarray, zs: list[int]):
    """Twin-probe inputs (context channels only), half precision to keep whole scans in memory."""
    from scipy.ndimage import binary_erosion
    import torch

    return torch.stack([prep(_slab(volume, z), binary_erosion(lung[z]))[CONTEXT] for z in zs]).half()


def _virtual_lesion_slices(plan, params, donor, per_lesion: int) -> list[int]:
    """Slabs through lesions placed in `params`' anatomy with `donor`'s lesion requests."""
    from synthspec.engine.subject import generate

    virtual = params.model_copy(update={"lesions": donor.lesions, "positive": True})
    try:
        mask = generate(plan, virtual, noiseless=True).lesion_mask
    except Exception:  # noqa: BLE001 - a placement that cannot run falls back to mid-lung slabs
        return []
    return _lesion_slices(mask, per_lesion)


def _noise_swap(data: _Data, cohort, subjects, params) -> None:
    """Noiseless regeneration of each tested slab plus the noise residual of a subject of the
    other class at the same slices (positives and negatives paired in index order)."""
    from synthspec.engine.subject import generate

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
    from synthspec.engine.subject import generate

    plan = cohort.plan
    names = sorted(plan.scanners)
    if len(names) < 2:
        data.notes.append("scanner_swap: the plan has one scanner class; nothing to swap")
        return
    for k in sorted(data.test):
        own = params[k].scanner
        other = names[(names.index(own) + 1) % len(names)] if own in names else names[0]
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
# the probes


class _Inputs:
    """HU slab + eroded lung mask -> the five input channels at size x size (MONAI transforms)."""

    def __init__(self, size: int):
        from monai.transforms import Resize, ScaleIntensityRange

        self.size = size
        self.lung_window = ScaleIntensityRange(a_min=LUNG_WINDOW_HU[0], a_max=LUNG_WINDOW_HU[1], b_min=0.0,
                                               b_max=1.0, clip=True)
        self.low_window = ScaleIntensityRange(a_min=LOW_DENSITY_WINDOW_HU[0], a_max=LOW_DENSITY_WINDOW_HU[1],
                                              b_min=0.0, b_max=1.0, clip=True)
        self.resize = Resize((size, size), mode="area")

    def __call__(self, slab: np.ndarray, lung: np.ndarray):
        import torch

        hu = torch.as_tensor(slab, dtype=torch.float32)
        lung_w = torch.as_tensor(self.lung_window(hu), dtype=torch.float32)
        centre = lung_w[1:2]
        inside = torch.as_tensor(np.asarray(lung)[None], dtype=torch.bool)
        fill = centre[inside].median() if bool(inside.any()) else centre.new_tensor(0.33)
        lung_only = torch.where(inside, centre, fill)   # flat outside the lung: no edges to respond to
        channels = torch.cat([lung_w, lung_only, torch.as_tensor(self.low_window(hu[1:2]), dtype=torch.float32)])
        if tuple(channels.shape[1:]) != (self.size, self.size):
            channels = torch.as_tensor(self.resize(channels), dtype=torch.float32)
        return channels


def _stack_blocks(c_in: int, widths):
    import torch
    from monai.networks.blocks import Convolution

    layers = []
    for c in widths:
        layers += [Convolution(spatial_dims=2, in_channels=c_in, out_channels=c, kernel_size=3, act="RELU",
                               norm="BATCH"), torch.nn.MaxPool2d(2)]
        c_in = c
    return torch.nn.Sequential(*layers)


def probe_model(kind: str = "detector", lesion_channels=(16, 32, 64), context_channels=(8, 16, 16), grid: int = 4):
    """The probes, built from MONAI conv-batchnorm-ReLU blocks with max pooling; one logit out.

    detector: a lesion branch on the lung-only channel (global max and mean pooling: a small
    finding anywhere in the lungs) and a context branch on the other channels, max-pooled on a
    coarse grid x grid layout (position-aware: a marker, text or padding in a fixed place is as
    easy to learn as the finding).  twin: the context branch alone."""
    import torch

    class Detector(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lesion = _stack_blocks(1, lesion_channels)
            self.context = _stack_blocks(len(CONTEXT), context_channels)
            self.pool = torch.nn.AdaptiveMaxPool2d(grid)
            self.head = torch.nn.Linear(2 * lesion_channels[-1] + context_channels[-1] * grid * grid, 1)

        def forward(self, x):
            h = self.lesion(x[:, 3:4])
            c = self.pool(self.context(x[:, CONTEXT])).flatten(1)
            return self.head(torch.cat([h.amax(dim=(2, 3)), h.mean(dim=(2, 3)), c], dim=1))

    class Twin(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.context = _stack_blocks(len(CONTEXT), context_channels)
            self.pool = torch.nn.AdaptiveMaxPool2d(grid)
            self.head = torch.nn.Linear(context_channels[-1] * grid * grid, 1)

        def forward(self, x):
            return self.head(self.pool(self.context(x)).flatten(1))

    if kind not in ("detector", "twin"):
        raise ValueError(f"probe kind must be 'detector' or 'twin', got {kind!r}")
    return Detector() if kind == "detector" else Twin()


def _folds(positive: list[bool], n_folds: int) -> list[int]:
    """Fold of each subject: positives and negatives dealt round-robin in index order."""
    fold, counters = [0] * len(positive), {True: 0, False: 0}
    for k, p in enumerate(positive):
        fold[k] = counters[p] % n_folds
        counters[p] += 1
    return fold


def _train(kind: str, x, y, epochs: int, s: ShortcutSettings, seed: int):
    import torch

    torch.manual_seed(seed)
    model = probe_model(kind).to(s.device)
    opt = torch.optim.Adam(model.parameters(), lr=s.learning_rate, weight_decay=1e-4)
    pos = float(y.sum())
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor((len(y) - pos) / max(pos, 1.0), device=s.device))
    gen = torch.Generator().manual_seed(seed)
    x, y = x.to(s.device), y.to(s.device)
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(x), generator=gen)
        for start in range(0, len(x), s.batch_size):
            idx = order[start:start + s.batch_size]
            if len(idx) < 2:   # batch norm needs two
                continue
            opt.zero_grad()
            loss_fn(model(x[idx].float()).squeeze(1), y[idx]).backward()
            opt.step()
    model.eval()
    return model


def _predict(model, x, s: ShortcutSettings) -> np.ndarray:
    import torch

    with torch.no_grad():
        out = [torch.sigmoid(model(x[i:i + 64].to(s.device).float()).squeeze(1)).cpu() for i in range(0, len(x), 64)]
    return torch.cat(out).numpy().astype(np.float64)


def _detector(data: _Data, prep: _Inputs, s: ShortcutSettings) -> dict[str, dict]:
    """Out-of-fold detector probabilities {variant: {(subject, z): p}}."""
    import torch

    cache: dict = {}

    def x_of(name: str, images: dict, key):
        if (name, key) not in cache:
            cache[(name, key)] = prep(images[key], data.lung[key])
        return cache[(name, key)]

    variants = {"original": data.original, "twin": data.twin, "masked": data.masked,
                "noise_swap": data.noise_swap, "scanner_swap": data.scanner_swap}
    out: dict[str, dict] = {name: {} for name in variants}
    for f in range(max(data.folds) + 1):
        train = [(k, z) for k, zs in data.test.items() if data.folds[k] not in (f, -1) for z in zs]
        tested = [(k, z) for k, zs in data.test.items() if data.folds[k] == f for z in zs]
        x = torch.stack([x_of("original", data.original, key) for key in train])
        y = torch.tensor([float(data.positive[k]) for k, _ in train])
        model = _train("detector", x, y, s.epochs, s, seed=100 * s.seed + f)
        for name, images in variants.items():
            keys = [key for key in tested if key in images]
            if keys:
                out[name].update(zip(keys, _predict(model, torch.stack([x_of(name, images, key) for key in keys]), s)))
    return out


def _twin_probe(data: _Data, scans: dict, s: ShortcutSettings, tag: int) -> dict:
    """Held-out AUC of a probe trained on lesion-free scans (twins for positives) with scan labels."""
    import torch

    scores, labels = {}, {}
    for f in range(max(data.folds) + 1):
        train = [k for k in scans if data.folds[k] not in (f, -1)]
        x = torch.cat([scans[k] for k in train])
        y = torch.cat([torch.full((len(scans[k]),), float(data.positive[k])) for k in train])
        model = _train("twin", x, y, s.scan_epochs, s, seed=100 * s.seed + 10 + f + 50 * tag)
        for k in scans:
            if data.folds[k] == f:
                scores[k] = float(_predict(model, scans[k], s).mean())
                labels[k] = data.positive[k]
    keys = sorted(scores)
    p, y = np.array([scores[k] for k in keys]), np.array([labels[k] for k in keys])
    ci = bootstrap_auc_ci(p, y, s.bootstrap, s.seed + 1 + tag)
    return {"twin_probe_auc": _r(auc(p, y)), "twin_probe_auc_ci95": [_r(ci[0]), _r(ci[1])],
            "twin_probe_mean_p_twins": _r(p[y].mean()), "twin_probe_mean_p_negatives": _r(p[~y].mean())}


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
        "slab_auc": _r(auc(p, y)), "subject_auc": _r(auc(subj_p, subj_y)), "subject_auc_ci95": [_r(ci[0]), _r(ci[1])],
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
    for name in ("noise_swap", "scanner_swap"):
        if preds.get(name):
            sk = [key for key in keys if key in preds[name]]
            q = np.array([preds[name][key] for key in sk])
            sy = np.array([data.positive[k] for k, _ in sk])
            nb[f"{name}_auc"] = _r(auc(q, sy))
            nb[f"{name}_drop"] = _r(auc([orig[key] for key in sk], sy) - auc(q, sy))
            nb[f"{name}_accuracy"] = _r(np.mean((q >= thr) == sy))
    return nb


def _checks(nb: dict, tests, s: ShortcutSettings, data: _Data) -> list[CheckResult]:
    learnt = nb["slab_auc"] is not None and nb["slab_auc"] >= s.min_auc
    base = {k: nb[k] for k in ("slab_auc", "subject_auc", "subject_auc_ci95", "threshold", "mean_p_positive",
                               "mean_p_negative", "sensitivity", "false_positive_rate", "accuracy", "subjects")}
    out = [CheckResult(
        family="shortcut", name="shortcut_model", passed=learnt, value=nb["slab_auc"], threshold=s.min_auc,
        reason=(f"the detector probe learnt the finding: held-out slab AUC {nb['slab_auc']:.2f} (needs {s.min_auc:.2f}), "
                f"subject AUC {_fmt_auc(nb['subject_auc'], nb['subject_auc_ci95'])}") if learnt else (
                                 f"the detector probe reached a held-out AUC of only {nb['slab_auc']} (needs "
                                  f"{s.min_auc:.2f}), so the collapse and swap tests cannot judge it; "
                                  "raise `subjects`, "
                                  "enlarge the lesions or refine the grid"),
        details=dict(base))]
    inconclusive = "inconclusive: the detector probe did not learn the finding (see shortcut_model)"
    if data.mismatch:
        worst = max(data.mismatch.values())
        bad = {sid: v for sid, v in data.mismatch.items() if v > s.max_twin_mismatch_hu}
        out.append(CheckResult(
            family="shortcut", name="shortcut_twin_consistency", passed=not bad, value=worst,
            threshold=s.max_twin_mismatch_hu,
            reason=(f"{len(data.mismatch)} twins match their originals away from the lesions (at most {worst:.2f} HU "
                    f"mean difference, allowed {s.max_twin_mismatch_hu:g})") if not bad else (
                f"{len(bad)} of {len(data.mismatch)} twins differ from their originals away from the lesions "
                f"(up to {worst:.1f} HU mean): regenerating now does not reproduce the cohort (other synthspec "
                "code, or an anatomy re-sample that depends on the lesions), so the twin tests compare unlike "
                "images; regenerate the cohort (`synth verify` names the subjects that differ)"),
            details={"test": "counterfactual", "mean_abs_hu_off_lesion": data.mismatch}))
    for test, name, label in (("counterfactual", "twin", "counterfactual twins"),
                              ("lesion_mask", "masked", "lesion masking")):
        if test not in tests:
            continue
        ratio, still = nb.get(f"{name}_collapse_ratio"), nb.get(f"{name}_still_positive")
        details = {"test": test, **base, "collapse_ratio": ratio, "still_positive": still,
                   f"mean_p_{name}": nb.get(f"mean_p_{name}"), "max_collapse": s.max_collapse,
                   "max_still_positive_excess": s.max_still_positive}
        if ratio is None or not learnt:
            out.append(CheckResult(family="shortcut", name=f"shortcut_{test}", passed=False, value=ratio,
                                   threshold=s.max_collapse, reason=inconclusive, details=details))
            continue
        excess = still - nb["false_positive_rate"]
        passed = ratio <= s.max_collapse and excess <= s.max_still_positive
        reason = (f"{label}: the detector's predictions collapse; {100 * ratio:.0f} % of the positive-negative gap "
                  f"remains (allowed {100 * s.max_collapse:.0f} %), {100 * still:.0f} % still called positive "
                  f"(negatives {100 * nb['false_positive_rate']:.0f} %)") if passed else (
            f"{label}: the detector's predictions do not collapse without the lesion: "
            + "; ".join(
                ([f"{100 * ratio:.0f} % of the positive-negative gap remains (allowed {100 * s.max_collapse:.0f} %)"]
                 if ratio > s.max_collapse else []) +
                ([f"{100 * still:.0f} % are still called positive against the negatives' "
                  f"{100 * nb['false_positive_rate']:.0f} % (allowed {100 * s.max_still_positive:.0f} points more)"]
                 if excess > s.max_still_positive else []))
            + "; it keys on something that travels with the label")
        out.append(CheckResult(family="shortcut", name=f"shortcut_{test}", passed=passed, value=ratio,
                               threshold=s.max_collapse, reason=reason, details=details))
        if test == "counterfactual" and nb.get("twin_probe_auc") is not None:
            value = nb["twin_probe_auc"]
            ok = value <= s.max_probe_auc
            out.append(CheckResult(
                family="shortcut", name="shortcut_twin_probe", passed=ok, value=value, threshold=s.max_probe_auc,
                reason=(f"a probe trained on whole scans with every lesion removed (twins vs negatives) cannot tell "
                        f"the classes apart: held-out AUC {_fmt_auc(value, nb.get('twin_probe_auc_ci95'))} "
                        f"(allowed {s.max_probe_auc:.2f})") if ok else (
                    f"a probe trained on whole scans with every lesion removed (twins vs negatives) still tells "
                    f"the classes apart (held-out AUC {value:.2f}, allowed {s.max_probe_auc:.2f}): something besides "
                    "the lesion carries the label (a marker, scanner or noise, demographics, co-occurring "
                    "findings); the twins stay positive"),
                details={"test": "counterfactual"} | {k: nb.get(k) for k in (
                    "twin_probe_auc", "twin_probe_auc_ci95", "twin_probe_mean_p_twins", "twin_probe_mean_p_negatives")}
                | {"max_auc": s.max_probe_auc}))
    for test, name, label in (("artifact_swap", "noise_swap", "noise"), ("scanner_swap", "scanner_swap", "scanner")):
        if test not in tests:
            continue
        drop = nb.get(f"{name}_drop")
        details = {"test": test, **base, f"{name}_auc": nb.get(f"{name}_auc"),
                   f"{name}_accuracy": nb.get(f"{name}_accuracy"), "drop": drop, "max_drop": s.max_swap_drop}
        if drop is None:
            note = next((n for n in data.notes if n.startswith(test)), f"{test}: not run")
            out.append(CheckResult(family="shortcut", name=f"shortcut_{test}", passed=True, reason=f"skipped: {note}",
                                   details=details))
            continue
        passed = learnt and drop <= s.max_swap_drop
        reason = inconclusive if not learnt else (
            f"{label} swap: held-out AUC {nb.get(f'{name}_auc'):.2f} against {nb['slab_auc']:.2f} unswapped (drop {drop:+.2f}, "
            f"allowed {s.max_swap_drop:.2f})") if passed else (
            f"{label} swap: the held-out AUC drops by {drop:.2f} (allowed {s.max_swap_drop:.2f}) when only the "
            f"{label} changes: the model relies on it")
        out.append(CheckResult(family="shortcut", name=f"shortcut_{test}", passed=passed, value=drop,
                               threshold=s.max_swap_drop, reason=reason, details=details))
    return out


def _fmt_auc(value, ci) -> str:
    if value is None:
        return "n/a"
    return f"{value:.2f}" + (f" (95 % CI {ci[0]:.2f}-{ci[1]:.2f})" if ci and None not in ci else "")


def _control_result(nb: dict, s: ShortcutSettings) -> CheckResult:
    value = nb.get("twin_probe_auc")
    caught = value is not None and value > s.max_probe_auc
    details = {"test": "counterfactual"} | dict(nb) | {"marker_strength": s.control_strength,
                                                       "must_exceed": s.max_probe_auc}
    return CheckResult(
        family="shortcut", name="shortcut_planted_control", passed=caught, value=value, threshold=s.max_probe_auc,
        reason=(f"a corner marker planted in memory on the positives (strength {100 * s.control_strength:.0f} %) was "
                f"caught by the twin probe (AUC {value:.2f} > {s.max_probe_auc:.2f}): these tests can see a shortcut "
                "at this cohort size") if caught else (
            f"a corner marker planted in memory on the positives (strength {100 * s.control_strength:.0f} %) went "
            f"unnoticed by the twin probe (AUC {value}): at this cohort size the no-cheat tests are not sensitive "
            "enough to trust their pass; raise `subjects`"),
        details=details)
