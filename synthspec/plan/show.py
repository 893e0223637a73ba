"""`synth plan` output: what will run, on what, how big and how long — then one summary line."""

from __future__ import annotations

from synthspec.plan.model import Plan


def _bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} TiB"


def disk_bytes(n: float) -> str:
    """Storage in decimal units, as disks are sold and budgets are stated (25.3 MB, 10 TB)."""
    units = ("B", "kB", "MB", "GB", "TB", "PB")
    for unit in units:
        if n < 999.5 or unit == units[-1]:  # 999.7 MB would print as 1e+03 MB
            break
        n /= 1000
    return f"{int(n)} B" if unit == "B" else f"{n:.3g} {unit}"


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
    memory, estimates = plan.memory, plan.estimates
    device_bytes = f" of the {_bytes(memory['device_bytes'])} {plan.device} has" if memory.get("device_bytes") else ""
    lines += [
        "",
        f"Memory: ~{_bytes(memory['per_subject_bytes'])} per subject; batch budget {_bytes(memory['budget_bytes'])}"
        f"{device_bytes}",
    ]
    if "bytes_on_disk_per_subject" in estimates:
        parts = ", ".join(f"{k[len('disk_'):-len('_bytes')]} {disk_bytes(v)}" for k, v in estimates.items()
                          if k.startswith("disk_") and k.endswith("_bytes") and v)
        lines.append(f"Storage: ~{disk_bytes(estimates['bytes_on_disk_per_subject'])} per subject ({parts}); "
                     f"~{disk_bytes(estimates['bytes_on_disk'])} in all")
    if "max_seconds" in estimates:
        lines.append(f"Budgets: {estimates['max_seconds'] / 3600:g} h of compute (--max-hours), "
                     f"{disk_bytes(estimates['max_bytes_on_disk'])} on disk (--max-storage); over either is refused")
    lines.append(f"Scanners: {', '.join(plan.scanners)}")
    for note in plan.notes:
        lines.append(f"Note: {note}")
    disk = f", ~{disk_bytes(estimates['bytes_on_disk'])} on disk" if "bytes_on_disk" in estimates else ""
    lines += ["", f"Plan: {plan.subjects} subjects to generate, ~{_seconds(estimates['seconds_per_subject'])} each, "
                  f"~{_seconds(estimates['total_seconds'])} in all on {plan.device}{disk}."]
    return "\n".join(lines) + "\n"
