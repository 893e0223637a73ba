"""`synth plan` output: what will run, on what, how big and how long — then one summary line."""

from __future__ import annotations

from synthspec.plan.model import Plan


def _bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} TiB"


def _seconds(s: float) -> str:
    if s < 90:
        return f"{s:.1f} s"
    if s < 5400:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.1f} h"


def render(plan: Plan) -> str:
    z, y, x = plan.grid.shape
    dz, dy, dx = plan.grid.spacing
    lines = [
        f"Plan for cohort {plan.cohort_name} ({plan.spec_file})",
        f"  spec hash  {plan.spec_hash[:16]}   seed key {plan.seed_key[:16]}   plan hash {plan.hash()[:16]}",
        f"  subjects   {plan.subjects}  (seed {plan.cohort_seed}; subject k is seeded by seed key, seed, k and stage)",
        f"  device     {plan.device}   batch {plan.batch_size}   workers {plan.workers}   shards {len(plan.shards)}",
        f"  grid       {z} x {y} x {x} voxels at {dz:g} x {dy:.3g} x {dx:.3g} mm (z, y, x; LPS)",
        "",
        "Stages (+ = will run):",
    ]
    for s in plan.stages:
        outs = ", ".join(f"{t.name} {t.dtype}[{'x'.join(map(str, t.shape))}]" for t in s.outputs)
        timing = f"  ~{_seconds(s.seconds_per_subject)}/subject" if s.seconds_per_subject else ""
        after = f"  after {', '.join(s.after)}" if s.after else ""
        lines.append(f"  + {s.id:<10} {s.kind:<18} on {s.device}{after}{timing}")
        if s.doc:
            lines.append(f"      {s.doc}")
        if outs:
            lines.append(f"      -> {outs}")
    lines += [
        "",
        f"Memory: ~{_bytes(plan.memory['per_subject_bytes'])} per subject; budget {_bytes(plan.memory['budget_bytes'])} "
        f"of {_bytes(plan.memory['available_bytes'])} available on {plan.device}",
        f"Scanners: {', '.join(plan.scanners)}",
    ]
    for note in plan.notes:
        lines.append(f"Note: {note}")
    lines += ["", f"Plan: {plan.subjects} subjects to generate, ~{_seconds(plan.estimates['seconds_per_subject'])} each, "
                  f"~{_seconds(plan.estimates['total_seconds'])} in all on {plan.device}."]
    return "\n".join(lines) + "\n"
