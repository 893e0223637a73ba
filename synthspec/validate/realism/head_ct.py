"""Realism of a synthetic head CT cohort against a held-out real head CT: brain, CSF, skull, noise.

    from synthspec.validate.realism.head_ct import head_ct_realism_checks, measure_head
    checks = head_ct_realism_checks(cohort)            # CheckResults, family "realism"
    figures = measure_head(hu_volume, (dz, dy, dx))    # the same measurements on any HU volume

The real side is Cranium.inv3 of Debian's invesalius-examples (`validate.reference.head_ct`), an
adult non-contrast head CT at 0.957 x 0.957 x 1.5 mm that shaped nothing in the generator.  The
synthetic side is each subject's DELIVERED image (the int16 HU volume the user gets).  Every
measurement uses CT numbers and geometry only, never the synthetic label map, so both sides are
measured by the same code; the one use of labels is to leave a synthetic subject's lesion voxels
(dilated by one voxel) out of the healthy-tissue figures, because the real scan has no lesion.

Method (`measure_head`):

* Skull and intracranial space, per axial slice: the body = the largest HU > -300 component with
  its holes filled (so a head rest is not the head); bone = HU > 300 inside the body; the real
  scan's calvarium has gaps of a few mm at 300 HU (thin temporal and frontal squama at 1.5 mm
  slices), so the cavity is taken inside the bone's convex hull: intracranial = hull minus the
  bone closed with a 2 mm disc, HU > -100 (no air), its largest connected component.  Only
  "supratentorial" slices are kept: intracranial area >= 50 % of the largest slice's and the
  intracranial region nearly convex (area >= 95 % of its convex hull's), which drops the skull
  base, the orbits and the sinuses (their cavities are ragged: 79-92 % of their hulls on the real
  scan, 96-98 % above).  The core = intracranial voxels >= 3 mm (in-plane) from bone (no bone
  partial volume).
* Brain parenchyma: core voxels whose in-plane Gaussian-smoothed HU (sigma 1.5 mm, to lift the
  grey/white pattern out of the noise) is 10..60 HU and that lie >= 2 mm (in-plane) from any
  voxel whose smoothed HU is under 10 (no CSF partial volume at sulci and ventricles), split into
  two classes at the Otsu threshold of the smoothed values; white matter = the raw HU mean of the
  lower class, grey matter = the raw mean of the upper class, contrast = their difference.  A two-Gaussian EM
  fit of the raw 10..60 HU values is kept in details ("raw_gmm") but not judged: on the real
  scan the raw and smoothed brain histograms are unimodal (noise SD ~5 HU against a GM-WM
  difference of ~8 HU) and the EM means drift with the iteration count, so its GM/WM are not
  identifiable there.  The split classes are operational GM/WM (they include partial volume
  and deep grey nuclei on the WM side where those are darker), the same on both sides.
* CSF: core voxels >= 15 mm from bone whose in-plane Gaussian-smoothed (sigma 1 voxel) HU is
  in -5..15; 3-D connected components; the largest whose in-plane centroid is within 25 % of the
  intracranial extent of the intracranial centroid (the lateral ventricles) -> median raw HU.
* Bone: median HU of the skull voxels (HU > 300 components that touch the intracranial space,
  so a head rest is not counted) in the kept slices.  Skull thickness: in up to 9 kept slices
  nearest the middle of the kept range, 72 rays from the intracranial centroid; along each, from
  where it leaves the intracranial space to where HU stays below 300 for more than 1.5 mm (a
  diploe dip is bridged); rays longer than 20 mm or hitting nothing are dropped; the median in
  mm.  Oblique rays overestimate the normal thickness alike on both sides.
* Noise: in core voxels >= 5 mm from bone whose 5 x 5 in-plane mean is 15..45 HU (brain, not
  CSF or bone), SD = 1.4826 MAD(image - 3 x 3 in-plane mean) / sqrt(8/9) (exact for white
  noise, low for correlated noise; identical on both sides; `noise.py`).  Also the median 5 x 5
  local SD.  Noise scales as 1/sqrt(slice thickness) at fixed dose: the check compares the
  synthetic SD rescaled to the reference's slice thickness, sd * sqrt(dz / dz_ref); raw in details.
* Intracranial histogram: core voxels in 0..100 HU, 1 HU bins; two sides compared by
  Wasserstein-1 (HU).

Tolerances (`HEAD_THRESHOLDS`), set from published variability before anything was measured,
not tuned to a result: GM and WM means and CSF within 5 HU of the real scan (inter-scanner and
inter-subject spread of non-contrast brain CT numbers is about +-3-5 HU); GM-WM contrast within
4 HU (real adult contrast is about 6-12 HU); noise ratio 0.67..1.5; histogram W1 <= 5 HU (a 5 HU
shift of the whole brain gives W1 = 5); skull median within 300 HU (skull CT numbers depend
strongly on reconstruction kernel and partial volume); skull thickness within 2 mm (adult
calvarial thickness varies by about 1.5 mm SD between people).  Haemorrhage: the real scan has
none, so a synthetic lesion's HU is reported (informational), not compared.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from synthspec.validate.results import CheckResult

FAMILY = "realism"
BONE_HU = 300.0
BODY_HU = -300.0
MIN_AREA_FRACTION = 0.5
MIN_SOLIDITY = 0.95
CORE_MM = 3.0
PARENCHYMA_HU = (10.0, 60.0)
SMOOTH_MM = 1.5
FROM_CSF_MM = 2.0
CSF_HU = (-5.0, 15.0)
CSF_FROM_BONE_MM = 15.0
NOISE_FROM_BONE_MM = 5.0
NOISE_WINDOW_MM = 9.0
"""Noise is the median SD in 9 mm square windows of brain (about 9 x 9 real pixels, 19 x 19 at 0.49 mm)."""
NOISE_BRAIN_HU = (15.0, 45.0)
HIST_HU = (0, 100)
MAX_SUBJECTS = 8

HEAD_THRESHOLDS: dict[str, float] = {
    "max_gm_difference_hu": 5.0,
    "max_wm_difference_hu": 5.0,
    "max_contrast_difference_hu": 4.0,
    "max_csf_difference_hu": 5.0,
    "max_head_noise_ratio": 1.5,         # synthetic/real within [1/1.5, 1.5] = 0.67 .. 1.5
    "max_head_wasserstein_hu": 5.0,
    "max_bone_difference_hu": 300.0,
    "max_thickness_difference_mm": 2.0,
}


# --------------------------------------------------------------------------- masks


def _disc(radius_px: float) -> np.ndarray:
    r = max(1, int(round(radius_px)))
    yy, xx = np.mgrid[-r:r + 1, -r:r + 1]
    return yy * yy + xx * xx <= r * r + 0.25


def intracranial_mask(image: np.ndarray, spacing) -> dict[str, Any]:
    """Per-slice intracranial space, skull and kept (supratentorial) slices of a HU volume (z, y, x)."""
    from scipy import ndimage as ndi

    from synthspec.validate.realism.hull import convex_hull_image

    image = np.asarray(image, np.float32)
    if image.ndim != 3 or min(image.shape[1:]) < 16:
        raise ValueError(f"expected a 3-D head CT (z, y, x) of at least 16 x 16 in-plane, got {image.shape}")
    dz, dy, dx = (float(s) for s in spacing)
    pixel = math.sqrt(dy * dx)
    disc = _disc(2.0 / pixel)
    pad = disc.shape[0]
    inside = np.zeros(image.shape, bool)
    skull = np.zeros(image.shape, bool)
    solidity = np.zeros(image.shape[0])
    for z in range(image.shape[0]):
        sl = image[z]
        body, nb = ndi.label(sl > BODY_HU)
        if nb == 0:
            continue
        body = ndi.binary_fill_holes(body == (int(np.argmax(np.bincount(body.ravel())[1:])) + 1))
        bone = (sl > BONE_HU) & body          # the head's bone: a head rest or table is not part of the body
        if bone.sum() < 20:
            continue
        hull = convex_hull_image(bone)
        closed = ndi.binary_closing(np.pad(bone, pad), structure=disc)[pad:-pad, pad:-pad] | bone
        cavity = hull & ~closed & (sl > -100.0)
        labels, n = ndi.label(cavity)
        if n == 0:
            continue
        sizes = np.bincount(labels.ravel())[1:]
        inside[z] = labels == (int(np.argmax(sizes)) + 1)
        solidity[z] = inside[z].sum() / max(int(convex_hull_image(inside[z]).sum()), 1)
        # the skull: bone components touching the intracranial space
        bl, _nb = ndi.label(bone, structure=np.ones((3, 3)))
        touching = np.unique(bl[ndi.binary_dilation(inside[z], iterations=2) & bone])
        skull[z] = np.isin(bl, touching[touching > 0])
    area = inside.sum(axis=(1, 2)).astype(float)
    kept = np.zeros(image.shape[0], bool)
    if area.max() > 0:
        kept = (area >= MIN_AREA_FRACTION * area.max()) & (solidity >= MIN_SOLIDITY)
    inside[~kept] = False
    skull[~kept] = False
    from_bone = np.full(image.shape, np.inf, np.float32)
    for z in np.flatnonzero(kept):
        from_bone[z] = ndi.distance_transform_edt(~(image[z] > BONE_HU), sampling=(dy, dx))
    return {"inside": inside, "skull": skull, "kept": kept, "from_bone_mm": from_bone,
            "area_mm2": area * dy * dx, "solidity": solidity}


# --------------------------------------------------------------------------- measurements


def gaussian_mixture_2(values: np.ndarray, iterations: int = 500, tol: float = 1e-9,
                       bin_hu: float = 0.1) -> dict[str, float] | None:
    """Two-component 1-D Gaussian mixture by EM: means, SDs and weights, the lower-mean component first.

    EM runs on the values' histogram in `bin_hu` bins (exact for integer HU, as delivered int16 volumes and
    the real scan are), so it costs the same for 10^4 or 10^7 voxels."""
    x = np.asarray(values, np.float64).ravel()
    if x.size < 200:
        return None
    lo = math.floor(x.min() / bin_hu) * bin_hu
    counts = np.bincount(np.round((x - lo) / bin_hu).astype(np.int64))
    centres = lo + np.arange(counts.size) * bin_hu
    keep = counts > 0
    c, n = centres[keep], counts[keep].astype(np.float64)
    total_n = n.sum()
    mu = np.percentile(x, [25.0, 75.0])
    sd = np.full(2, max(float(x.std()) / 2.0, 0.5))
    w = np.array([0.5, 0.5])
    previous = -np.inf
    for _ in range(iterations):
        logp = -0.5 * ((c[:, None] - mu) / sd) ** 2 - np.log(sd) + np.log(w)
        top = logp.max(axis=1, keepdims=True)
        p = np.exp(logp - top)
        total = p.sum(axis=1, keepdims=True)
        r = p / total * n[:, None]
        likelihood = float(((np.log(total) + top)[:, 0] * n).sum() / total_n)
        nk = r.sum(axis=0) + 1e-12
        w = nk / nk.sum()
        mu = (r * c[:, None]).sum(axis=0) / nk
        sd = np.sqrt(np.maximum((r * (c[:, None] - mu) ** 2).sum(axis=0) / nk, 0.25))
        if abs(likelihood - previous) < tol:
            break
        previous = likelihood
    order = np.argsort(mu)
    return {"low_mean": float(mu[order[0]]), "high_mean": float(mu[order[1]]), "low_sd": float(sd[order[0]]),
            "high_sd": float(sd[order[1]]), "low_weight": float(w[order[0]]), "high_weight": float(w[order[1]]),
            "n": int(x.size)}


def _parenchyma(image, core, spacing) -> dict[str, Any] | None:
    """Grey and white matter: Otsu split of the smoothed parenchyma, raw means on each side; a raw GMM for reference."""
    from scipy import ndimage as ndi
    from skimage.filters import threshold_otsu

    _dz, dy, dx = spacing
    smooth = ndi.gaussian_filter(image, sigma=(0, SMOOTH_MM / dy, SMOOTH_MM / dx), mode="nearest")
    away = np.zeros(image.shape, bool)   # >= 2 mm from anything darker than brain (CSF partial volume)
    for z in np.flatnonzero(core.any(axis=(1, 2))):
        away[z] = ndi.distance_transform_edt(smooth[z] >= PARENCHYMA_HU[0], sampling=(dy, dx)) >= FROM_CSF_MM
    brain = core & away & (smooth <= PARENCHYMA_HU[1])
    if brain.sum() < 200:
        return None
    s, raw = smooth[brain], image[brain]
    threshold = float(threshold_otsu(s)) if s.max() > s.min() else float(s.max())
    wm, gm = raw[s < threshold], raw[s >= threshold]
    if wm.size < 50 or gm.size < 50:
        return None
    raw_in = raw[(raw >= PARENCHYMA_HU[0]) & (raw <= PARENCHYMA_HU[1])]
    gmm = gaussian_mixture_2(raw_in)
    return {"wm_mean_hu": float(wm.mean()), "gm_mean_hu": float(gm.mean()), "contrast_hu": float(gm.mean() - wm.mean()),
            "wm_median_hu": float(np.median(wm)), "gm_median_hu": float(np.median(gm)),
            "split_hu": threshold, "gm_fraction": float(gm.size / raw.size), "voxels": int(raw.size),
            "median_hu": float(np.median(raw)),
            "raw_gmm": None if gmm is None else {k: (round(v, 2) if isinstance(v, float) else v)
                                                 for k, v in gmm.items()}}


def _csf(image, masks, spacing, exclude) -> dict[str, Any]:
    from scipy import ndimage as ndi

    dz, dy, dx = spacing
    kept = np.flatnonzero(masks["kept"])
    smooth = ndi.gaussian_filter(image, sigma=(0, 1, 1), mode="nearest")
    candidate = masks["inside"] & (masks["from_bone_mm"] >= CSF_FROM_BONE_MM) & \
        (smooth >= CSF_HU[0]) & (smooth <= CSF_HU[1])
    if exclude is not None:
        candidate &= ~exclude
    labels, n = ndi.label(candidate)
    if n == 0:
        return {"median_hu": None, "voxels": 0}
    zz, yy, xx = np.nonzero(masks["inside"])
    cy, cx = yy.mean(), xx.mean()
    extent = max(np.ptp(yy) * dy, np.ptp(xx) * dx)
    sizes = np.bincount(labels.ravel())[1:]
    centres = ndi.center_of_mass(candidate, labels, np.arange(1, n + 1))
    best = None
    for i in np.argsort(-sizes):
        if sizes[i] < 50:
            break
        _z, y, x = centres[i]
        if math.hypot((y - cy) * dy, (x - cx) * dx) <= 0.25 * extent:
            best = i + 1
            break
    if best is None:
        return {"median_hu": None, "voxels": 0, "kept_slices": int(kept.size)}
    values = image[labels == best]
    return {"median_hu": float(np.median(values)), "mean_hu": float(values.mean()), "voxels": int(values.size),
            "volume_ml": round(values.size * dz * dy * dx / 1000.0, 2)}


def _thickness(image, masks, spacing, n_rays: int = 72, n_slices: int = 9) -> dict[str, Any]:
    from scipy import ndimage as ndi

    _dz, dy, dx = spacing
    kept = np.flatnonzero(masks["kept"])
    if kept.size == 0:
        return {"median_mm": None, "n": 0}
    middle = 0.5 * (kept[0] + kept[-1])
    slices = kept[np.argsort(np.abs(kept - middle), kind="stable")[:n_slices]]
    step = 0.25 * min(dy, dx)   # mm between samples along a ray
    s = np.arange(0.0, 200.0, step)
    gap = int(math.ceil(1.5 / step))
    widths = []
    for z in sorted(slices):
        inside = masks["inside"][z]
        yy, xx = np.nonzero(inside)
        cy, cx = yy.mean(), xx.mean()
        for angle in np.arange(n_rays) * (2 * math.pi / n_rays):
            ys, xs = cy + s * math.sin(angle) / dy, cx + s * math.cos(angle) / dx
            ok = (ys >= 0) & (ys <= image.shape[1] - 1) & (xs >= 0) & (xs <= image.shape[2] - 1)
            ys, xs = ys[ok], xs[ok]
            hu = ndi.map_coordinates(image[z], [ys, xs], order=1, mode="nearest")
            ins = ndi.map_coordinates(inside.view(np.uint8), [ys, xs], order=0, mode="nearest") > 0
            outside = np.flatnonzero(~ins)
            if outside.size == 0:
                continue
            start = outside[0]
            above = np.flatnonzero(hu[start:] > BONE_HU)
            if above.size == 0:
                continue
            entry = start + above[0]
            if (entry - start) * step > 3.0:   # bone must start where the intracranial space ends
                continue
            exit_ = None
            run = 0
            for i in range(entry, hu.size):
                if hu[i] > BONE_HU:
                    run = 0
                    last = i
                else:
                    run += 1
                    if run > gap:
                        exit_ = last + 1
                        break
            if exit_ is None:
                continue
            width = (exit_ - entry) * step
            if 0 < width <= 20.0:
                widths.append(width)
    if not widths:
        return {"median_mm": None, "n": 0}
    w = np.asarray(widths)
    return {"median_mm": float(np.median(w)), "p25_mm": float(np.percentile(w, 25)),
            "p75_mm": float(np.percentile(w, 75)), "n": int(w.size), "slices": [int(z) for z in sorted(slices)]}


def _noise(image, masks, spacing, exclude) -> dict[str, Any]:
    from scipy import ndimage as ndi

    from synthspec.validate.realism.noise import noise_sigma, residual

    mean5 = ndi.uniform_filter(image, size=(1, 5, 5), mode="nearest")
    sq5 = ndi.uniform_filter(image * image, size=(1, 5, 5), mode="nearest")
    where = masks["inside"] & (masks["from_bone_mm"] >= NOISE_FROM_BONE_MM) & \
        (mean5 >= NOISE_BRAIN_HU[0]) & (mean5 <= NOISE_BRAIN_HU[1])
    if exclude is not None:
        where &= ~exclude
    if where.sum() < 200:
        return {"sd_hu": None, "local_sd_hu": None, "voxels": int(where.sum())}
    pixel_residual_sd = noise_sigma(residual(image)[where])
    local = np.sqrt(np.maximum(sq5 - mean5 * mean5, 0.0))[where] * math.sqrt(25.0 / 24.0)
    # the judged figure: SD in windows of a fixed size in mm, so a scan with finer pixels (whose noise is
    # correlated over more pixels) is measured at the same scale as the real one
    n = max(3, int(round(NOISE_WINDOW_MM / float(spacing[1]))) | 1)
    mean_w = ndi.uniform_filter(image, size=(1, n, n), mode="nearest")
    sq_w = ndi.uniform_filter(image * image, size=(1, n, n), mode="nearest")
    window = np.sqrt(np.maximum(sq_w - mean_w * mean_w, 0.0))[where] * math.sqrt(n * n / (n * n - 1.0))
    sd = float(np.median(window))
    return {"sd_hu": sd, "pixel_residual_sd_hu": pixel_residual_sd, "window_mm": n * float(spacing[1]),
            "local_sd_hu": float(np.median(local)), "voxels": int(where.sum()),
            "slice_thickness_mm": float(spacing[0])}


def measure_head(image: np.ndarray, spacing, exclude: np.ndarray | None = None) -> dict[str, Any]:
    """Every head CT figure of one HU volume (z, y, x) with spacing (dz, dy, dx) mm; `exclude`: voxels left out
    of the tissue figures (a synthetic lesion)."""
    from scipy import ndimage as ndi

    image = np.asarray(image, np.float32)
    spacing = tuple(float(s) for s in spacing)
    masks = intracranial_mask(image, spacing)
    if exclude is not None:
        exclude = ndi.binary_dilation(np.asarray(exclude) > 0) if np.any(exclude) else None
    kept = int(masks["kept"].sum())
    core = masks["inside"] & (masks["from_bone_mm"] >= CORE_MM)
    if exclude is not None:
        core &= ~exclude
    out: dict[str, Any] = {"spacing_mm": [round(s, 4) for s in spacing], "kept_slices": kept,
                           "intracranial_ml": round(float(masks["inside"].sum()) * np.prod(spacing) / 1000.0, 1)}
    values = image[core]
    out["parenchyma"] = _parenchyma(image, core, spacing)
    out["csf"] = _csf(image, masks, spacing, exclude)
    skull = image[masks["skull"] & (image > BONE_HU)]
    out["bone"] = {"median_hu": float(np.median(skull)) if skull.size else None, "voxels": int(skull.size)}
    out["thickness"] = _thickness(image, masks, spacing)
    out["noise"] = _noise(image, masks, spacing, exclude)
    hist_values = values[(values >= HIST_HU[0]) & (values <= HIST_HU[1])]
    counts, _edges = np.histogram(hist_values, bins=HIST_HU[1] - HIST_HU[0] + 1,
                                  range=(HIST_HU[0] - 0.5, HIST_HU[1] + 0.5))
    out["histogram"] = counts.astype(np.int64)
    return out


def histogram_w1(a: np.ndarray, b: np.ndarray) -> float | None:
    """Wasserstein-1 distance (HU) between two 1 HU-bin histogram count vectors over the same range."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.sum() <= 0 or b.sum() <= 0:
        return None
    return float(np.abs(np.cumsum(a / a.sum()) - np.cumsum(b / b.sum())).sum())


def summary(measured: dict[str, Any]) -> dict[str, Any]:
    """The figures without the histogram, rounded (for details and reports)."""
    def rounded(x):
        if isinstance(x, dict):
            return {k: rounded(v) for k, v in x.items()}
        if isinstance(x, float):
            return round(x, 2)
        return x
    return rounded({k: v for k, v in measured.items() if k != "histogram"})


_REAL_CACHE: dict[str, dict] = {}


def measure_reference(path=None) -> dict[str, Any]:
    """The figures of the real head CT (Cranium.inv3, fetched on first use; or the .inv3 at `path`)."""
    from synthspec.validate.reference.head_ct import load_head_ct

    key = str(path or "")
    if key not in _REAL_CACHE:
        ct = load_head_ct(path=path)
        out = measure_head(ct.image, ct.spacing)
        out["reference"] = ct.summary()
        _REAL_CACHE[key] = out
    return _REAL_CACHE[key]


# --------------------------------------------------------------------------- routing and checks


def uses_head_ct(plan) -> bool:
    """Whether the plan's anatomy family asks to be judged against the real head CT."""
    from synthspec.families import registry

    name = None
    try:
        name = plan.stage("build_anatomy").params.family
    except Exception:  # noqa: BLE001 - a plan without that stage: fall back to the anatomy name
        name = getattr(plan, "anatomy", None)
    try:
        family = registry.anatomy(str(name))
    except Exception:  # noqa: BLE001 - an unknown family routes nowhere special
        return False
    return getattr(family, "realism_reference", None) == "head_ct"


def _result(name, value, threshold, passed, reason, details) -> CheckResult:
    return CheckResult(family=FAMILY, name=name, passed=bool(passed),
                       value=None if value is None else round(float(value), 4),
                       threshold=None if threshold is None else round(float(threshold), 4), reason=reason,
                       details=details)


def _skip(name, reason, threshold, details) -> CheckResult:
    return CheckResult(family=FAMILY, name=name, passed=True, value=None, threshold=threshold,
                       reason=f"not measured: {reason}", details={"skipped": True, **details})


def _median(values):
    values = [v for v in values if v is not None]
    return float(np.median(values)) if values else None


def _pool(per_subject: list[dict]) -> dict[str, Any]:
    """Cohort figures: the median over subjects of each figure; histograms summed."""
    def get(m, *keys):
        for k in keys:
            m = m.get(k) if isinstance(m, dict) else None
        return m
    pooled = {"gm": _median([get(m, "parenchyma", "gm_mean_hu") for m in per_subject]),
              "wm": _median([get(m, "parenchyma", "wm_mean_hu") for m in per_subject]),
              "contrast": _median([get(m, "parenchyma", "contrast_hu") for m in per_subject]),
              "csf": _median([get(m, "csf", "median_hu") for m in per_subject]),
              "bone": _median([get(m, "bone", "median_hu") for m in per_subject]),
              "thickness": _median([get(m, "thickness", "median_mm") for m in per_subject]),
              "noise": _median([get(m, "noise", "sd_hu") for m in per_subject]),
              "local_sd": _median([get(m, "noise", "local_sd_hu") for m in per_subject])}
    pooled["histogram"] = np.sum([m["histogram"] for m in per_subject], axis=0)
    return pooled


def _difference_check(name, what, unit, syn, real, limit, common, fix) -> CheckResult:
    if syn is None or real is None:
        side = "the cohort" if syn is None else "the real head CT"
        return _skip(name, f"{what} could not be measured in {side}", limit, common)
    diff = syn - real
    ok = abs(diff) <= limit
    word = "higher" if diff > 0 else "lower"
    return _result(name, abs(diff), limit, ok,
                   f"{what}: synthetic {syn:.1f} {unit} vs real {real:.1f} {unit} ({abs(diff):.1f} {unit} {word}; "
                   f"allowed {limit:g}){'' if ok else '; ' + fix}", common | {"synthetic": syn, "real": real,
                                                                            "difference": round(diff, 3)})


def head_ct_realism_checks(cohort, reference=None, thresholds: dict[str, float] | None = None,
                           max_subjects: int | None = MAX_SUBJECTS) -> list[CheckResult]:
    """GM, WM, contrast, CSF, bone, skull thickness, noise and histogram checks of a head CT cohort against the
    held-out real head CT (`reference`: None / "head_ct" for Cranium.inv3, or a path to another .inv3)."""
    from synthspec.cohort.read import CohortError
    from synthspec.validate.reference.model import ReferenceError

    limits = dict(HEAD_THRESHOLDS)
    limits.update({k: float(v) for k, v in (thresholds or {}).items() if v is not None and k in HEAD_THRESHOLDS})
    path = None
    if reference is not None and str(reference) not in ("head_ct", "invesalius", "invesalius-examples"):
        if not str(reference).lower().endswith(".inv3"):
            return [_result("realism", None, None, False,
                            f"a head CT cohort is judged against a real head CT: give an InVesalius .inv3 project "
                            f"or leave --reference out (the Debian invesalius-examples head CT), not {reference}", {})]
        path = reference
    try:
        real = measure_reference(path)
    except ReferenceError:
        raise
    except ValueError as error:
        raise ReferenceError(f"the real head CT cannot be measured ({error})") from None
    subjects = cohort.subjects[:max_subjects] if max_subjects else cohort.subjects
    spacing = tuple(float(s) for s in cohort.spacing)
    per_subject, lesions = [], []
    for subject in subjects:
        image = subject.image().astype(np.float32)
        try:
            lesion = subject.lesions()
        except CohortError:
            lesion = None
        exclude = None
        if lesion is not None and lesion.shape == image.shape and np.any(lesion > 0):
            exclude = lesion > 0
            values = image[exclude]
            lesions.append({"subject": subject.subject_id, "median_hu": round(float(np.median(values)), 1),
                            "p5_hu": round(float(np.percentile(values, 5)), 1),
                            "p95_hu": round(float(np.percentile(values, 95)), 1), "voxels": int(values.size)})
        try:
            m = measure_head(image, spacing, exclude)
        except ValueError as error:
            return [_result("realism", None, None, False, f"subject {subject.subject_id}: the head CT cannot be "
                            f"measured ({error})", {})]
        m["subject"] = subject.subject_id
        per_subject.append(m)
    if not per_subject:
        return [_skip("realism", "the cohort has no subjects", None, {})]
    syn = _pool(per_subject)
    rp = real["parenchyma"] or {}
    real_fig = {"gm": rp.get("gm_mean_hu"), "wm": rp.get("wm_mean_hu"), "contrast": rp.get("contrast_hu"),
                "csf": real["csf"].get("median_hu"), "bone": real["bone"].get("median_hu"),
                "thickness": real["thickness"].get("median_mm"), "noise": real["noise"].get("sd_hu")}
    common = {"reference": real["reference"], "held_out": True, "subjects": len(per_subject),
              "synthetic_spacing_mm": [round(s, 4) for s in spacing]}
    out = [
        _difference_check("head_gm_mean", "grey matter mean (2-Gaussian fit of intracranial 10-60 HU)", "HU",
                          syn["gm"], real_fig["gm"], limits["max_gm_difference_hu"], common,
                          "the grey matter CT number (PHYSICS.md) is off"),
        _difference_check("head_wm_mean", "white matter mean (2-Gaussian fit of intracranial 10-60 HU)", "HU",
                          syn["wm"], real_fig["wm"], limits["max_wm_difference_hu"], common,
                          "the white matter CT number is off"),
        _difference_check("head_gm_wm_contrast", "grey-white matter contrast", "HU", syn["contrast"],
                          real_fig["contrast"], limits["max_contrast_difference_hu"], common,
                          "grey and white matter are too alike or too different"),
        _difference_check("head_csf", "ventricular CSF median", "HU", syn["csf"], real_fig["csf"],
                          limits["max_csf_difference_hu"], common, "the CSF CT number is off"),
        _difference_check("head_bone", "skull median (HU > 300)", "HU", syn["bone"], real_fig["bone"],
                          limits["max_bone_difference_hu"], common, "the skull is too dense or too light"),
        _difference_check("head_skull_thickness", "skull thickness (rays from the intracranial centroid)", "mm",
                          syn["thickness"], real_fig["thickness"], limits["max_thickness_difference_mm"], common,
                          "the calvarium is too thick or too thin"),
    ]
    # noise, rescaled to the reference's slice thickness
    limit = limits["max_head_noise_ratio"]
    ref_dz = float(real["spacing_mm"][0])
    if syn["noise"] is None or not real_fig["noise"]:
        out.append(_skip("head_noise", "no homogeneous brain region on a side", limit, common))
    else:
        scaled = syn["noise"] * math.sqrt(spacing[0] / ref_dz)
        ratio = scaled / real_fig["noise"]
        ok = 1.0 / limit <= ratio <= limit
        out.append(_result(
            "head_noise", ratio, limit, ok,
            f"brain noise SD {syn['noise']:.1f} HU at {spacing[0]:g} mm slices = {scaled:.1f} HU at the real "
            f"scan's {ref_dz:g} mm vs real {real_fig['noise']:.1f} HU: ratio {ratio:.2f} (allowed "
            f"{1 / limit:.2f} .. {limit:g}; {'noisier' if ratio > 1 else 'smoother'})",
            common | {"synthetic_sd_hu": round(syn["noise"], 2), "synthetic_sd_at_reference_thickness_hu":
                      round(scaled, 2), "real_sd_hu": round(real_fig["noise"], 2),
                      "synthetic_local_5x5_sd_hu": syn["local_sd"], "real_local_5x5_sd_hu":
                      real["noise"].get("local_sd_hu"), "synthetic_slice_mm": spacing[0], "real_slice_mm": ref_dz,
                      "raw_ratio": round(syn["noise"] / real_fig["noise"], 3),
                      "method": "1.4826*MAD of (image - in-plane 3x3 mean)/sqrt(8/9) in brain voxels >= 5 mm "
                                "from bone with 5x5 mean 15-45 HU; scaled by sqrt(dz/dz_real)"}))
    limit = limits["max_head_wasserstein_hu"]
    w1 = histogram_w1(syn["histogram"], real["histogram"])
    if w1 is None:
        out.append(_skip("head_histogram", "no intracranial voxels in 0-100 HU on a side", limit, common))
    else:
        centres = np.arange(HIST_HU[0], HIST_HU[1] + 1)
        def med(h):
            c = np.cumsum(h) / h.sum()
            return float(centres[int(np.searchsorted(c, 0.5))])
        ok = w1 <= limit
        out.append(_result(
            "head_histogram", w1, limit, ok,
            f"intracranial 0-100 HU histogram: Wasserstein-1 {w1:.1f} HU {'<=' if ok else '>'} {limit:g} "
            f"(median synthetic {med(syn['histogram']):.0f} vs real {med(real['histogram']):.0f} HU)",
            common | {"synthetic_median_hu": med(syn["histogram"]), "real_median_hu": med(real["histogram"])}))
    lesion_reason = ("informational: the real head CT has no haemorrhage, so lesion CT numbers are not compared; "
                     + (f"synthetic lesion median {_median([x['median_hu'] for x in lesions]):.0f} HU over "
                        f"{len(lesions)} subject(s) (from the lesion masks)" if lesions else
                        "no subject has lesion voxels"))
    out.append(CheckResult(family=FAMILY, name="head_lesion_hu", passed=True,
                           value=None if not lesions else round(_median([x["median_hu"] for x in lesions]), 1),
                           threshold=None, reason=lesion_reason,
                           details=common | {"informational": True, "lesions": lesions}))
    out[0].details["figures"] = {"real": summary(real | {"reference": None}),
                                 "synthetic": [summary(m) for m in per_subject]}
    return out
