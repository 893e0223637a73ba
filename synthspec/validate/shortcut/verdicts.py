"""From out-of-fold predictions to the shortcut CheckResults: the numbers, the thresholds, the reasons.

    counterfactual   the detector's predictions on twins must collapse to the negatives' level,
                     and the twin probe must not tell twins from negatives
    lesion_mask      the detector's predictions on masked positives must collapse
    artifact_swap    the detector's AUC must hold when each subject's noise is another class's
    scanner_swap     the detector's AUC must hold through another scanner class

Every AUC is `synthspec.validate.stats.auc`, every interval its stratified bootstrap over
subjects.  This module trains nothing and builds no variant.
"""

from __future__ import annotations

import numpy as np

from synthspec.seeds import analysis_rng
from synthspec.validate.results import CheckResult
from synthspec.validate.shortcut.crossval import rounded as _r
from synthspec.validate.shortcut.settings import ShortcutSettings
from synthspec.validate.shortcut.slabs import Data
from synthspec.validate.stats import auc, bootstrap_auc_ci


def _youden(scores, labels) -> float:
    """The score threshold that maximises sensitivity - false-positive rate."""
    scores, labels = np.asarray(scores, float), np.asarray(labels, bool)
    best, thr = -1.0, 0.5
    for t in np.unique(scores):
        j = np.mean(scores[labels] >= t) - np.mean(scores[~labels] >= t)
        if j > best:
            best, thr = j, float(t)
    return thr


def numbers_of(data: Data, preds: dict, s: ShortcutSettings) -> dict:
    """The detector's held-out AUCs, operating point, collapse ratios and swap drops."""
    orig = preds["original"]
    keys = sorted(orig)
    y = np.array([data.positive[k] for k, _ in keys])
    p = np.array([orig[key] for key in keys])
    subjects = sorted({k for k, _ in keys})
    subj_p = np.array([np.mean([orig[key] for key in keys if key[0] == k]) for k in subjects])
    subj_y = np.array([data.positive[k] for k in subjects])
    thr = _youden(p, y)
    ci = bootstrap_auc_ci(subj_p, subj_y, analysis_rng("bootstrap", "shortcut", s.seed, "subject_auc"),
                          n_boot=s.bootstrap)
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


def checks_of(nb: dict, tests, s: ShortcutSettings, data: Data) -> list[CheckResult]:
    """One CheckResult per test (plus the model and twin-consistency checks), thresholds from `s`."""
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
            reason=(f"{len(data.mismatch)} twins match their originals away from the lesions (at most {worst:.2f} "
                    f"{data.unit} mean difference, allowed {s.max_twin_mismatch_hu:g})") if not bad else (
                f"{len(bad)} of {len(data.mismatch)} twins differ from their originals away from the lesions "
                f"(up to {worst:.1f} {data.unit} mean): regenerating now does not reproduce the cohort (other synthspec "
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
            out.append(_twin_probe_result(nb, s))
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


def _twin_probe_result(nb: dict, s) -> CheckResult:
    """The twin probe's verdict: at or under max_probe_auc passes; above it, the permuted-label null decides
    (`crossval.twin_probe_null`): the label leaks only when chance alone does not reach the observed AUC
    (p <= probe_alpha)."""
    value = nb["twin_probe_auc"]
    shown = _fmt_auc(value, nb.get("twin_probe_auc_ci95"))
    null = nb.get("twin_probe_null_aucs")
    details = {"test": "counterfactual"} | {k: nb.get(k) for k in (
        "twin_probe_auc", "twin_probe_auc_ci95", "twin_probe_mean_p_twins", "twin_probe_mean_p_negatives",
        "twin_probe_null_aucs", "twin_probe_p", "twin_probe_p_at_least")} | {"max_auc": s.max_probe_auc,
                                                                              "alpha": s.probe_alpha}
    head = "a probe trained on whole scans with every lesion removed (twins vs negatives)"
    if value <= s.max_probe_auc:
        return CheckResult(family="shortcut", name="shortcut_twin_probe", passed=True, value=value,
                           threshold=s.max_probe_auc, details=details,
                           reason=f"{head} cannot tell the classes apart: held-out AUC {shown} (allowed {s.max_probe_auc:.2f})")
    chance = null is not None and nb.get("twin_probe_p_at_least", 0.0) > s.probe_alpha
    if chance:
        reached = sum(a is not None and a >= value for a in null)
        return CheckResult(
            family="shortcut", name="shortcut_twin_probe", passed=True, value=value, threshold=s.max_probe_auc,
            details=details,
            reason=(f"{head} reaches held-out AUC {shown}, above {s.max_probe_auc:.2f}, but chance reaches it too: "
                    f"{reached} of {len(null)} runs with the classes permuted among the subjects scored "
                    f"{max(a for a in null if a is not None):.2f} or more (p >= {nb['twin_probe_p_at_least']:.2f}, more than {s.probe_alpha:g}); "
                    "at this size the subjects' own differences (head size, age) separate any split this well, "
                    "so the test cannot name a shortcut; a larger cohort narrows the chance level"))
    p_text = f", p = {nb['twin_probe_p']:.2f} against {len(null)} permuted-label runs" if null else ""
    return CheckResult(
        family="shortcut", name="shortcut_twin_probe", passed=False, value=value, threshold=s.max_probe_auc,
        details=details,
        reason=(f"{head} still tells the classes apart (held-out AUC {value:.2f}, allowed {s.max_probe_auc:.2f}"
                f"{p_text}): something besides the lesion carries the label (a marker, scanner or noise, "
                "demographics, co-occurring findings); the twins stay positive"))
