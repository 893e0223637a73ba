"""The transfer protocol: leave-one-site-out over the real sites, four arms, one model, budget and seed.

For each held-out real site the arms are

    real_only          `steps` steps on patches from the other real sites
    synthetic_only     `steps` steps on patches from the synthetic cohort
    mixed              `steps` steps on batches that are `real_share` real (default half) and the rest synthetic
    pretrain_finetune  `pretrain_share` of the steps (default half) on synthetic, then the rest on the other
                       real sites with a fresh optimiser, so the total equals the other arms'

Every arm starts from the same initial weights (one seed) and uses the same optimiser, batch size and
patch size.  synthetic_only and the pre-training stage see no real scan, so they are trained once and
reused for every held-out site.  Probability maps are set to zero outside each scan's region (`regions`)
before anything is counted.  Each arm is evaluated on every scan of the held-out site: the job's
metrics per case, per site with a bootstrap interval, and paired against real_only.  This module returns
the result as a dict; `result` writes it and `gate` judges it.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable

import numpy as np

from synthspec.seeds import analysis_rng
from synthspec.transfer import data, metrics, models, train

ARMS = ("real_only", "synthetic_only", "mixed", "pretrain_finetune")
REFERENCE_ARM = "real_only"


def _evaluate(net, volumes, job, patch, spacing, device) -> list[dict]:
    outputs = train.predict(net, volumes, job, patch, device)
    cases = []
    for volume, out in zip(volumes, outputs):
        if job == "classify":
            cases.append({"case": volume.case_id, "prob": out, "class": volume.klass})
            continue
        if volume.region is not None:  # lesions are counted inside the region only (the lungs, the head)
            out = np.where(volume.region, out, np.float32(0.0))
        case = {"case": volume.case_id, "dice": metrics.dice(out, volume.mask)}
        if job == "detect":
            case.update(metrics.lesion_candidates(out, volume.mask, spacing))
        cases.append(case)
    return cases


def _compact(job: str, case: dict) -> dict:
    """What transfer.json keeps of a case (the candidate list is summarised at the 0.5 threshold)."""
    if job != "detect":
        return dict(case)
    hits = {hit for p, hit in case["candidates"] if hit >= 0 and p >= metrics.THRESHOLD}
    top = case["candidates"][0][0] if case["candidates"] else None
    return {"case": case["case"], "dice": case["dice"], "lesions": case["lesions"], "detected": len(hits),
            "false_positives": sum(1 for p, hit in case["candidates"] if hit < 0 and p >= metrics.THRESHOLD),
            "first_hit_rank": next((i + 1 for i, (_, hit) in enumerate(case["candidates"]) if hit >= 0), None),
            "top_score": top}


def run_protocol(job: str, real: list, synthetic: list, *, spacing, patch, steps: int, batch_size: int, seed: int,
                 device: str, held_out: list[str], model: str | None, metric: str, real_share: float = 0.5,
                 pretrain_share: float = 0.5, log: Callable[[str], None] = lambda m: None) -> dict:
    """Run every arm for every held-out site; `real` and `synthetic` are `data.Volume`s on the working grid."""
    started = time.perf_counter()
    if job == "detect":
        data.add_heatmaps(list(real) + list(synthetic), spacing)
    init_seed = int(analysis_rng("transfer", seed, "init").integers(2**31 - 1))
    initial = models.build(job, init_seed, model)
    pre_steps = int(round(steps * pretrain_share))

    def fresh():
        return copy.deepcopy(initial)

    def source(volumes, *key):
        return train.Source.of(volumes, job, patch, seed, *key)

    log(f"synthetic_only: {steps} steps on {len(synthetic)} synthetic scans")
    synthetic_net = fresh()
    train.fit(synthetic_net, steps, batch_size, device, source(synthetic, "synthetic_only"))
    log(f"pre-training: {pre_steps} steps on synthetic scans")
    pretrained = fresh()
    train.fit(pretrained, pre_steps, batch_size, device, source(synthetic, "pretrain"))

    sites = []
    for site in held_out:
        test = [v for v in real if v.site == site]
        training = [v for v in real if v.site != site]
        train_sites = sorted({v.site for v in training})
        log(f"held-out site {site}: {len(test)} scans; training on {', '.join(train_sites)} ({len(training)} scans)")
        nets = {"synthetic_only": synthetic_net}
        nets["real_only"] = fresh()
        train.fit(nets["real_only"], steps, batch_size, device, source(training, site, "real_only"))
        nets["mixed"] = fresh()
        train.fit(nets["mixed"], steps, batch_size, device, source(training, site, "mixed", "real"),
                  source(synthetic, site, "mixed", "synthetic"), real_share=real_share)
        nets["pretrain_finetune"] = copy.deepcopy(pretrained)
        train.fit(nets["pretrain_finetune"], steps - pre_steps, batch_size, device,
                  source(training, site, "finetune"))
        per_case = {arm: _evaluate(nets[arm], test, job, patch, spacing, device) for arm in ARMS}
        arms = {}
        for arm in ARMS:
            arms[arm] = {"metrics": metrics.summarise(job, per_case[arm], seed, site, arm),
                         "cases": [_compact(job, c) for c in per_case[arm]]}
            if arm != REFERENCE_ARM:
                arms[arm]["versus_real_only"] = metrics.paired(job, metric, per_case[arm], per_case[REFERENCE_ARM],
                                                               seed, site, arm, "paired")
        sites.append({"site": site, "cases": len(test), "train_sites": train_sites, "train_cases": len(training),
                      "arms": arms})
    return {
        "job": job,
        "metric": metric,
        "metrics_reported": list(metrics.metric_names(job)),
        "arms": list(ARMS),
        "reference_arm": REFERENCE_ARM,
        "protocol": {
            "design": "leave-one-site-out over the real sites",
            "steps": steps, "batch_size": batch_size, "optimiser": f"Adam, lr {train.LEARNING_RATE}",
            "mixed_real_share": real_share, "pretrain_steps": pre_steps, "finetune_steps": steps - pre_steps,
            "finetune_optimiser": "fresh Adam",
            "initial_weights": "one initialisation, shared by every arm",
            "shared": "synthetic_only and the pre-training stage see no real scan: trained once, reused per site",
            "patch_voxels_zyx": list(patch),
            "positive_patch_fraction": 0.5 if job != "classify" else None,
            "classify_input_zyx": list(train.classify_size(patch)) if job == "classify" else None,
            "threshold": metrics.THRESHOLD,
            "fp_per_scan": list(metrics.FP_RATES) if job == "detect" else None,
            "bootstrap_resamples": metrics.RESAMPLES,
        },
        "model": models.describe(job, model),
        "seed": seed,
        "init_seed": init_seed,
        "device": device,
        "spacing_mm_zyx": [float(s) for s in spacing],
        "synthetic_cases": len(synthetic),
        "real_cases": {s: sum(1 for v in real if v.site == s) for s in sorted({v.site for v in real})},
        "held_out": sites,
        "train_seconds": round(time.perf_counter() - started, 2),
    }
