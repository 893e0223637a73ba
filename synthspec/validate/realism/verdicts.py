"""Turning the two sides' measurements into realism CheckResults, one builder per check.

Each builder compares what `sampling.py` gathered (via the metrics, noise and texture modules),
applies its threshold and writes a one-line reason a person can act on, with the numbers in
details.  Gathering the measurements and resolving thresholds are `checks.py`'s job.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from synthspec.seeds import analysis_rng
from synthspec.validate.realism.discriminator import discriminator_auc
from synthspec.validate.realism.metrics import describe, frechet_distance, ks_statistic, wasserstein, zscore
from synthspec.validate.realism.noise import nps_2d, nps_edges, nps_shape_distance, radial_nps
from synthspec.validate.realism.sampling import NOISE_REGIONS, Side
from synthspec.validate.realism.texture import FEATURES, GREY_LEVELS, LUNG_WINDOW
from synthspec.validate.reference import Reference
from synthspec.validate.results import CheckResult

FAMILY = "realism"
COMPARED = ("lung", "fat", "muscle_soft", "bone")


def _r(x: float | None, digits: int = 3) -> float | None:
    return None if x is None or not np.isfinite(x) else round(float(x), digits)


def skipped(name: str, reason: str, threshold: float | None = None, **details) -> CheckResult:
    """A check that could not be measured: passes, says why, and is marked skipped in details."""
    return CheckResult(family=FAMILY, name=name, passed=True, value=None, threshold=threshold,
                       reason=f"not measured: {reason}", details={"skipped": True, **details})


def _direction(syn: float, real: float) -> str:
    diff = syn - real
    if abs(diff) < 1.0:
        return "medians agree"
    return f"synthetic median {abs(diff):.0f} HU {'higher (denser)' if diff > 0 else 'lower (less dense)'} than real"


def _real_vs_real(sides: list[Side], measure) -> float | None:
    """`measure(a, b)` between the first two reference scans (the spread between real scans), else None."""
    if len(sides) < 2:
        return None
    return measure(sides[0], sides[1])


def intensity_checks(real: Side, synth: Side, references: list[Reference], limits, context,
                     sides: list[Side] | None = None) -> list[CheckResult]:
    out = []
    sides = sides or [real]
    notes = [n for r in references for n in r.notes]
    tissue_notes = {"fat": sorted({n for n in notes if n.startswith("fat derived")}),
                    "muscle_soft": sorted({n for n in notes if n.startswith("muscle")})}
    contrast = any(r.contrast_enhanced for r in references)
    for tissue in COMPARED + ("blood",):
        name = f"wasserstein_{tissue}" if tissue != "blood" else "intensity_blood"
        threshold = limits.get(f"max_wasserstein_{tissue}", limits["max_wasserstein"])
        a, b = synth.values(tissue), real.values(tissue)
        if a.size < 50 or b.size < 50:
            missing = "the cohort" if a.size < 50 else "the reference"
            out.append(skipped(name, f"{missing} has no {tissue} voxels", threshold if tissue != "blood" else None))
            continue
        w1, ks = wasserstein(a, b), ks_statistic(a, b)
        da, db = describe(a), describe(b)
        per_scan = {side.name: _r(wasserstein(a, side.values(tissue)), 2) for side in sides
                    if side.values(tissue).size >= 50}
        spread = _real_vs_real(sides, lambda x, y: wasserstein(x.values(tissue), y.values(tissue))
                               if min(x.values(tissue).size, y.values(tissue).size) >= 50 else float("nan"))
        details = {"tissue": tissue, "synthetic": da, "reference": db, "ks_statistic": round(ks, 4),
                   "wasserstein_hu": round(w1, 2), "median_difference_hu": round(da["median"] - db["median"], 1),
                   "reference_labels": sorted({x for r in references for x in r.labels_found.get(tissue, [])}),
                   "derived_from_hu": any(tissue in r.derived for r in references),
                   "notes": tissue_notes.get(tissue, [])}
        if len(sides) > 1:
            details["wasserstein_per_reference_hu"] = per_scan
            details["real_vs_real_hu"] = _r(spread, 2)
        summary = (f"synthetic median {da['median']:.0f} HU (p5 {da['p5']:.0f}, p95 {da['p95']:.0f}) vs real "
                   f"{db['median']:.0f} HU ({db['p5']:.0f}, {db['p95']:.0f}); {_direction(da['median'], db['median'])}")
        if _r(spread) is not None:
            summary += f"; real vs real {spread:.0f} HU"
        if tissue == "blood":
            syn_contrast = da["median"] > 150
            if contrast and not syn_contrast:
                out.append(CheckResult(family=FAMILY, name=name, passed=True, value=round(w1, 2), threshold=None,
                                       reason=f"informational: the reference is contrast-enhanced, the cohort is not "
                                              f"(blood median {da['median']:.0f} vs {db['median']:.0f} HU)",
                                       details={**details, "informational": True}))
                continue
        passed = w1 <= threshold
        out.append(CheckResult(family=FAMILY, name=name, passed=passed, value=round(w1, 2), threshold=threshold,
                               reason=f"{tissue}: W1 {w1:.0f} HU {'<=' if passed else '>'} {threshold:g} HU; {summary}",
                               details=details))
    return out


def noise_check(real: Side, synth: Side, references: list[Reference], limits,
                sides: list[Side] | None = None) -> CheckResult:
    limit = limits["max_noise_ratio"]
    sides = sides or [real]
    per_region, ratios = {}, []
    for region in NOISE_REGIONS:
        s, r = synth.noise(region), real.noise(region)
        sn, rn = synth.noise(region, native=True), real.noise(region, native=True)
        per_region[region] = {"synthetic_sd_hu": _r(s, 1), "reference_sd_hu": _r(r, 1),
                              "synthetic_native_sd_hu": _r(sn, 1), "reference_native_sd_hu": _r(rn, 1)}
        if s is not None and r:
            ratios.append(max(s, 1e-3) / r)
            per_region[region]["ratio"] = round(s / r, 3)
    details = {"regions": per_region, "method": "1.4826*MAD of (image - in-plane 3x3 mean) / sqrt(8/9) inside "
               "homogeneous regions eroded by one voxel, on the common grid; native values for information",
               "reference_blood_region": "aorta" if any("aorta" in n for r in references
                                                        for n in r.labels_found.get("blood", []))
               else "blood labels", "synthetic_blood_region": "heart and aorta"}
    if len(sides) > 1:
        details["reference_sd_hu_per_scan"] = {side.name: {region: _r(side.noise(region), 1) for region in NOISE_REGIONS
                                                           if side.noise(region) is not None} for side in sides}
    if not ratios:
        return skipped("noise_level", "no homogeneous region (muscle, fat, blood pool) on both sides", limit, **details)
    ratio = float(np.exp(np.mean(np.log(ratios))))
    passed = 1.0 / limit <= ratio <= limit
    word = "noisier" if ratio > 1 else "smoother"
    text = ", ".join(f"{k} {v['synthetic_sd_hu']:.0f} vs {v['reference_sd_hu']:.0f}" for k, v in per_region.items()
                     if v.get("ratio") is not None)
    return CheckResult(family=FAMILY, name="noise_level", passed=passed, value=round(ratio, 3), threshold=limit,
                       reason=f"synthetic noise is {ratio:.2f}x the real ({word}; allowed 1/{limit:g} .. {limit:g}); "
                              f"SD HU synthetic vs real: {text}", details=details)


NPS_METHOD = "slice_difference"


MIN_ROIS = 16


GOOD_ROIS = 64


def _unit(curve: np.ndarray) -> list[float]:
    return [round(float(v), 4) for v in np.asarray(curve) / np.sum(curve)]


def _nps_for(reals: list[Side], synth: Side, kind: str, key: int, length: float) -> dict[str, Any] | None:
    """Radial NPS shapes of both sides on shared bins; several reference scans (each on its own pixel grid)
    are averaged as unit-sum curves weighted by their ROI counts."""
    used = [(side, side.rois.get((kind, key), [])) for side in reals]
    used = [(side, rois) for side, rois in used if rois]
    rois_syn = synth.rois.get((kind, key), [])
    if sum(len(rois) for _, rois in used) < MIN_ROIS or len(rois_syn) < MIN_ROIS:
        return None
    sp_syn = synth.roi_spacing[key]
    nyquist = min([0.5 / max(sp_syn)] + [0.5 / max(side.roi_spacing[key]) for side, _ in used])
    width = 1.0 / length
    edges = nps_edges(width, nyquist)
    centres = 0.5 * (edges[:-1] + edges[1:])
    spectra = [(side.name, nps_2d(np.stack(rois), side.roi_spacing[key]), side.roi_spacing[key], len(rois))
               for side, rois in used]
    nps_syn = nps_2d(np.stack(rois_syn), sp_syn)
    rad_syn = radial_nps(nps_syn, sp_syn, edges)
    shapes = [(radial_nps(nps, sp, edges), n) for _, nps, sp, n in spectra]
    rad_ref = sum(n * curve / np.sum(curve) for curve, n in shapes) / sum(n for _, n in shapes)
    cmp = nps_shape_distance(centres, rad_syn, rad_ref)
    full = {}  # each side over its own band (the reference reaches higher frequencies)
    labelled = [("synthetic", nps_syn, sp_syn)] + [(name if len(spectra) > 1 else "reference", nps, sp)
                                                   for name, nps, sp, _ in spectra]
    for label, nps, sp in labelled:
        e = nps_edges(width, 0.5 / max(sp))
        c = 0.5 * (e[:-1] + e[1:])
        rad = radial_nps(nps, sp, e)
        full[label] = {"peak_per_mm": round(float(c[int(np.nanargmax(rad))]), 3),
                       "nyquist_per_mm": round(0.5 / max(sp), 3),
                       "sd_from_nps_hu": round(float(math.sqrt(nps.sum() / (nps.size * sp[0] * sp[1]))), 1)}
    out = {"value": cmp["w1_per_mm"], "cmp": cmp, "edges": edges, "centres": centres, "rad_ref": rad_ref,
           "rad_syn": rad_syn, "full": full,
           "n": {"reference": sum(n for *_, n in spectra), "synthetic": len(rois_syn)}}
    if len(shapes) > 1:   # the spread between real scans, on the same bins
        out["real_vs_real"] = nps_shape_distance(centres, shapes[0][0], shapes[1][0])["w1_per_mm"]
    return out


def nps_check(reals: list[Side], synth: Side, roi_sizes, limits) -> CheckResult:
    limit = limits["max_nps_shift"]
    method = ("square ROIs of equal physical size L wholly inside homogeneous regions eroded by one voxel (muscle, "
              "fat, blood pool), at each side's native spacing; ROI = (slice z - slice z+1)/sqrt(2) to cancel anatomy "
              "(method 'slice_difference'; 'single' = slice z alone, in details); least-squares plane removed per ROI; "
              "NPS = |DFT|^2 dx dy / N^2 averaged over ROIs; radial bins of width 1/L (DC excluded) up to the "
              "smaller Nyquist frequency; normalised to unit sum (shape only); distance = Wasserstein-1 between "
              "the normalised curves over frequency")

    def enough(k, count):
        return min(sum(len(side.rois.get((NPS_METHOD, k), [])) for side in reals),
                   len(synth.rois.get((NPS_METHOD, k), []))) >= count

    # the largest ROI with plenty of ROIs on both sides, else the largest with a usable few
    chosen = next((k for k in roi_sizes if enough(k, GOOD_ROIS)), None) or \
        next((k for k in roi_sizes if enough(k, MIN_ROIS)), None)
    if chosen is None:
        return skipped("nps_shape", f"fewer than {MIN_ROIS} homogeneous ROIs on a side for a noise power spectrum",
                       limit, method=method,
                       rois={"reference": {f"{k[0]}:{k[1]}": sum(len(side.rois.get(k, [])) for side in reals)
                                           for k in {k for side in reals for k in side.rois}},
                             "synthetic": {f"{k[0]}:{k[1]}": len(v) for k, v in synth.rois.items()}})
    n_ref, n_syn, length = roi_sizes[chosen]
    main = _nps_for(reals, synth, NPS_METHOD, chosen, length)
    other = _nps_for(reals, synth, "single", chosen, length)
    cmp, width, band = main["cmp"], 1.0 / length, main["centres"]
    value = main["value"]
    passed = value <= limit
    details = {"method": method, "roi_mm": round(length, 1),
               "roi_voxels": {"reference": n_ref[0] if len(n_ref) == 1 else n_ref, "synthetic": n_syn},
               "rois": main["n"], "band_per_mm": [round(float(band[0]), 3), round(float(band[-1]), 3)],
               "peak_per_mm": {"synthetic": round(cmp["peak_a"], 3), "reference": round(cmp["peak_b"], 3)},
               "mean_frequency_per_mm": {"synthetic": round(cmp["mean_a"], 3), "reference": round(cmp["mean_b"], 3)},
               "total_variation": round(cmp["total_variation"], 3), "full_band": main["full"],
               "frequencies_per_mm": [round(float(f), 4) for f in main["centres"]],
               "nps_normalised": {"synthetic": _unit(main["rad_syn"]), "reference": _unit(main["rad_ref"])},
               "low_frequency_caveat": f"bins below about {width:.3f} mm^-1 depend on the detrending method; "
                                       "in-vivo ROIs keep some anatomical texture at low frequency"}
    spread = ""
    if "real_vs_real" in main:
        details["real_vs_real_per_mm"] = round(main["real_vs_real"], 4)
        spread = f"; real vs real {main['real_vs_real']:.3f}"
    if other is not None:
        details["single_slice"] = {"w1_per_mm": round(other["value"], 4),
                                   "peak_per_mm": {"synthetic": round(other["cmp"]["peak_a"], 3),
                                                   "reference": round(other["cmp"]["peak_b"], 3)},
                                   "nps_normalised": {"synthetic": _unit(other["rad_syn"]),
                                                      "reference": _unit(other["rad_ref"])}}
    return CheckResult(family=FAMILY, name="nps_shape", passed=passed, value=round(value, 4), threshold=limit,
                       reason=f"NPS shape shift {value:.3f} mm^-1 {'<=' if passed else '>'} {limit:g}{spread}; peak synthetic "
                              f"{cmp['peak_a']:.2f} vs real {cmp['peak_b']:.2f} mm^-1 (band {band[0]:.2f}-"
                              f"{band[-1]:.2f} mm^-1, {length:.0f} mm ROIs, adjacent-slice differences)", details=details)


def texture_checks(real: Side, synth: Side, limits, patch: int, common, seed: int,
                   sides: list[Side] | None = None) -> list[CheckResult]:
    fa, fb = synth.features(), real.features()
    scans = [side for side in (sides or []) if len(side.features()) >= 10]
    pair = scans[:2] if len(scans) >= 2 else None   # two real scans: their own distance is the yardstick
    setup = {"patch_voxels": patch, "patch_mm": round(patch * common[2], 1), "window_hu": list(LUNG_WINDOW),
             "grey_levels": GREY_LEVELS, "features": list(FEATURES), "patches": {"synthetic": len(fa), "reference": len(fb)}}
    if len(fa) < 10 or len(fb) < 10:
        why = f"too few lung patches (synthetic {len(fa)}, reference {len(fb)}; 10 needed)"
        return [skipped("texture_frechet", why, limits["max_frechet"], **setup),
                skipped("discriminator_auc", why, limits["max_discriminator_auc"], **setup)]
    fd = frechet_distance(fa, fb)
    if pair:
        baseline = frechet_distance(pair[0].features(), pair[1].features())
        baseline_name = f"real vs real: {pair[0].name} vs {pair[1].name}"
    else:
        rng = analysis_rng("realism", seed, "frechet-baseline")
        half = rng.permutation(len(fb))
        baseline = frechet_distance(fb[half[: len(fb) // 2]], fb[half[len(fb) // 2:]]) if len(fb) >= 20 else None
        baseline_name = "real-vs-real halves"
    pooled = np.concatenate([fa, fb])
    mean, std = pooled.mean(axis=0), pooled.std(axis=0)
    smd = (zscore(fa, mean, std).mean(axis=0) - zscore(fb, mean, std).mean(axis=0))
    order = np.argsort(-np.abs(smd))
    per_feature = {FEATURES[i]: {"synthetic_mean": round(float(fa[:, i].mean()), 4),
                                 "reference_mean": round(float(fb[:, i].mean()), 4),
                                 "standardised_difference": round(float(smd[i]), 3)} for i in range(len(FEATURES))}
    top = ", ".join(f"{FEATURES[i]} {smd[i]:+.2f}" for i in order[:3])
    limit = limits["max_frechet"]
    passed = fd <= limit
    frechet = CheckResult(family=FAMILY, name="texture_frechet", passed=passed, value=round(fd, 3), threshold=limit,
                          reason=f"texture Frechet distance {fd:.2f} {'<=' if passed else '>'} {limit:g} "
                                 f"({'real vs real' if pair else 'real-vs-real halves'} {baseline:.2f}); largest "
                                 f"standardised differences: {top}" if baseline is not None
                          else f"texture Frechet distance {fd:.2f}; largest standardised differences: {top}",
                          details={**setup, ("real_vs_real" if pair else "real_halves_baseline"): _r(baseline),
                                   "baseline": baseline_name, "features_compared": per_feature})
    result = discriminator_auc(fb, fa, analysis_rng("realism", seed, "discriminator"))
    auc, (lo, hi) = result["auc"], result["ci95"]
    limit = limits["max_discriminator_auc"]
    passed = auc <= limit
    weights = {FEATURES[i]: round(float(w), 3) for i, w in enumerate(result["mean_weights"])}
    yardstick, spread = {}, ""
    if pair:   # the same classifier on one real scan against the other: how far apart real scans are
        between = discriminator_auc(pair[0].features(), pair[1].features(),
                                    analysis_rng("realism", seed, "discriminator-real-vs-real"))
        yardstick = {"real_vs_real": {"scans": [pair[0].name, pair[1].name], "auc": round(between["auc"], 4),
                                      "ci95": [round(v, 4) for v in between["ci95"]]}}
        spread = f"; real vs real {between['auc']:.2f}"
    disc = CheckResult(family=FAMILY, name="discriminator_auc", passed=passed, value=round(auc, 4), threshold=limit,
                       reason=f"real-vs-synthetic patch classifier AUC {auc:.2f} (95 % CI {lo:.2f}-{hi:.2f}) "
                              f"{'<=' if passed else '>'} {limit:g}{spread}" + ("" if passed else "; patches are separable"),
                       details={**setup, "ci95": [round(lo, 4), round(hi, 4)], "folds": result["folds"],
                                "model": "L2 logistic regression on standardised texture features, stratified 5-fold",
                                "ci_method": "stratified bootstrap of out-of-fold scores, 1000 resamples",
                                "mean_weights": weights,
                                "caveat": "patches of one scan are correlated: the CI is optimistic", **yardstick})
    return [frechet, disc]
