"""The governance gate of the transfer test: what the spec's `transfer` block says must hold.

The rule: on every held-out site, metric(mixed) - metric(real_only) >= min_gain (min_gain may be negative:
"not worse than real only by more than this margin"; absent, it is 0), judged as a non-inferiority test: the
lower bound of the paired bootstrap's 95 % interval of the difference must reach min_gain, not only the
point estimate.  So a site with one scan (no interval) cannot pass, nor can a site whose scans leave the
difference too uncertain: a gate that unlocks claims must rest on evidence, and two useless models that
tie at 0 are not evidence.  The sites judged are the block's `held_out` where it names them, else every
real site of the run (so holding out only a favourable site with `--held-out` cannot pass); a named site the run did not hold out, or a difference that cannot be computed,
fails the gate.  A spec
without a `transfer` block asks for no gate: the outcome is "not asked".  Pure: judges a result dict.
"""

from __future__ import annotations

import math

PASSED, FAILED, NOT_ASKED = "passed", "failed", "not asked"
GATE_ARM = "mixed"


def judge(result: dict, block: dict | None) -> dict:
    """The gate's outcome for a protocol `result` under the spec's transfer `block` (None or {}: not asked)."""
    if not block:
        return {"status": NOT_ASKED, "reason": "the spec has no transfer block, so no gate was asked for",
                "sites": []}
    min_gain = float(block.get("min_gain") or 0.0)
    metric = result["metric"]
    by_site = {s["site"]: s for s in result["held_out"]}
    # without a named list every real site must have been held out: `--held-out` cannot pick a favourable one
    named = list(block.get("held_out") or []) or sorted(result.get("real_cases") or by_site)
    sites = []
    for site in named:
        if site not in by_site:
            sites.append({"site": site, "passed": False,
                          "reason": f"{site} was not held out in this run (the gate judges "
                                    f"{'the sites the spec names' if block.get('held_out') else 'every real site'})"})
            continue
        comparison = by_site[site]["arms"][GATE_ARM]["versus_real_only"]
        gain = comparison["difference"]
        if gain is None or not math.isfinite(gain):
            sites.append({"site": site, "passed": False, "gain": None,
                          "reason": f"{metric} cannot be computed on {site}'s scans"})
            continue
        low = (comparison.get("ci95") or [None, None])[0]
        if low is None or not math.isfinite(low):
            sites.append({"site": site, "passed": False, "gain": gain, "ci95": comparison.get("ci95"),
                          "reason": f"{metric} mixed - real_only = {gain:+.3f} on {site}, but with no interval "
                                    "(one scan, or too few to resample), so non-inferiority cannot be shown"})
            continue
        ok = low >= min_gain
        sites.append({"site": site, "passed": ok, "gain": gain, "ci95": comparison["ci95"],
                      "reason": f"{metric} mixed - real_only = {gain:+.3f}, 95% interval from {low:+.3f}: "
                                f"{'>=' if ok else '<'} {min_gain:+.3f}"})
    passed = bool(sites) and all(s["passed"] for s in sites)
    failing = [s["site"] for s in sites if not s["passed"]]
    return {
        "status": PASSED if passed else FAILED,
        "rule": f"on every held-out site, the 95% interval of {metric}(mixed) - {metric}(real_only) lies at or "
                f"above {min_gain:+.3f}",
        "metric": metric, "min_gain": min_gain, "arm": GATE_ARM,
        "reason": ("holds on every held-out site" if passed
                   else f"does not hold on {', '.join(failing) or 'any site (none was held out)'}"),
        "sites": sites,
    }
