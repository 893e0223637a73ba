"""`synth transfer` from end to end: check the inputs, build the volumes, run the protocol, judge, write.

The job comes from the cohort's plan (segment, detect or classify); the working spacing is the cohort's grid
spacing unless one is given; the sites held out are those asked for (`held_out`), else the spec's transfer
block's, else every real site.  Every check of the arguments and the real data happens before any training.
`real` may be `builtin:chest-ct` or `builtin:brain-mri` (`synthspec.transfer.real`); without it, the spec's
`transfer { data: ... }` is used (a path relative to the spec's folder, or a built-in name).  The synthetic
image is the cohort's first channel and its label every lesion voxel, unless `channel` / `target` say otherwise;
with the built-in brain MRIs (post-contrast T1, enhancing lesion outlined) they default to the post-contrast
channel and the tumour core.  The result (protocol, gate, versions, timing) goes to transfer.json in the cohort
folder or to `out`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from synthspec.errors import Failure, InputError, UsageError

JOBS = ("segment", "detect", "classify")
DEFAULT_PATCH = (32, 64, 64)
BUILTIN = "builtin:chest-ct"
"""`--real builtin:chest-ct`: the three real chest CTs of `synthspec.transfer.real`, fetched on first use."""
BUILTIN_BRAIN = "builtin:brain-mri"
"""`--real builtin:brain-mri`: the two real post-contrast T1 brain MRIs of `synthspec.transfer.real`."""
BUILTINS = (BUILTIN, BUILTIN_BRAIN)


def _real_source(real, cohort, block: dict):
    """What --real names, else the spec's transfer.data (relative to the spec's folder): a built-in name or a Path."""
    if real is None:
        data = block.get("data")
        if not data:
            raise UsageError("give --real DATALIST (or builtin:chest-ct / builtin:brain-mri), or name the real data "
                             "in the spec: transfer { data: \"real/datalist.json\" }")
        if str(data) in BUILTINS:
            return str(data)
        path = Path(data)
        if not path.is_absolute():
            path = Path(cohort.plan.spec_file).parent / path
        if not path.exists():
            raise InputError(f"the spec's transfer.data {data!r} is not at {path} (paths are relative to the spec's "
                             "folder, as `synth run` was given it); run from that folder, or give --real DATALIST")
        return path
    return str(real) if str(real) in BUILTINS else Path(real)


def _post_contrast_channel(cohort) -> str | None:
    """The first image channel acquired after contrast (its name says so: `*_post`, `*post*`, `*_ce`), if any."""
    for name in cohort.subjects[0].channels if cohort.subjects else ():
        lowered = name.lower()
        if "post" in lowered or lowered.endswith("_ce") or "gad" in lowered:
            return name
    return None


def _patch(patch, job: str, grid) -> tuple[int, int, int]:
    from synthspec.transfer.models import min_patch_multiple

    if patch is None:
        multiple = min_patch_multiple(job)
        patch = tuple(max(multiple, min(p, (g // multiple) * multiple)) for p, g in zip(DEFAULT_PATCH, grid))
    patch = tuple(int(p) for p in patch)
    multiple = min_patch_multiple(job)
    if len(patch) != 3 or any(p < 4 or p % multiple for p in patch):
        raise UsageError(f"--patch {' '.join(map(str, patch))}: give three sides (z y x), each at least 4 and a "
                         f"multiple of {multiple}")
    return patch


def run_transfer(cohort_dir, real=None, *, steps: int = 200, batch_size: int = 2, seed: int = 0,
                 device: str = "auto", spacing=None, patch=None, held_out: list[str] | None = None,
                 label_values: set[int] | None = None, synthetic: int | None = None, channel: str | None = None,
                 target: str | None = None, out=None,
                 log: Callable[[str], None] = lambda m: None) -> tuple[dict, Path]:
    """Run the transfer test; returns (the result, the path of transfer.json)."""
    for name, value, low in (("steps", steps, 2), ("batch", batch_size, 2), ("seed", seed, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise UsageError(f"--{name} must be a whole number of at least {low}, not {value!r}")
    if synthetic is not None and (not isinstance(synthetic, int) or synthetic < 1):
        raise UsageError(f"--synthetic must be at least 1 (synthetic scans used), not {synthetic!r}")
    if spacing is not None and (len(spacing) != 3 or any(not s > 0 for s in spacing)):
        raise UsageError("--spacing takes three positive numbers in mm (z y x)")
    from synthspec.cohort.read import load

    started = time.perf_counter()
    cohort = load(Path(cohort_dir))
    summary = cohort.plan.summary
    job = (summary.task or {}).get("job")
    if job not in JOBS:
        raise Failure(f"{cohort.folder} is a {job or 'task-less'} cohort; `synth transfer` trains segment, detect and "
                      "classify jobs")
    block = dict(summary.transfer or {})
    working = tuple(float(s) for s in (spacing or cohort.spacing))
    patch = _patch(patch, job, cohort.plan.grid.shape)
    out_path = Path(out) if out is not None else cohort.folder
    if out is not None:
        from synthspec.cohort.folder import file_target_problem

        out_file = out_path / "transfer.json" if out_path.is_dir() else out_path
        problem = file_target_problem(out_file)
        if problem is None and not out_file.parent.is_dir():
            problem = "is in a folder that does not exist"
        if problem is not None:
            raise InputError(f"--out {out_file} {problem}; give a new file name in a folder you can write to, e.g. "
                             "--out transfer.json")

    from synthspec.transfer import data, gate, metrics, protocol, regions, result, train
    from synthspec.transfer.inputs import load_real

    real = _real_source(real, cohort, block)
    builtin_name = real if isinstance(real, str) else None
    channels = cohort.subjects[0].channels if cohort.subjects else ()
    if channel is None and builtin_name == BUILTIN_BRAIN:
        channel = _post_contrast_channel(cohort)
    if channel is not None and channel not in channels:
        raise UsageError(f"--channel {channel}: {cohort.folder} has no such image channel (its channels: "
                         f"{', '.join(channels)})")
    if target is None:
        has_core = bool(cohort.subjects) and "tumour_compartments" in (cohort.subjects[0].record.get("files") or {})
        target = "tumour_core" if builtin_name == BUILTIN_BRAIN and has_core else "lesions"
    if target not in data.TARGETS:
        raise UsageError(f"--target {target}: give one of {', '.join(data.TARGETS)}")
    if target == "tumour_core" and not (cohort.subjects and "tumour_compartments" in
                                        (cohort.subjects[0].record.get("files") or {})):
        raise UsageError(f"--target tumour_core: {cohort.folder} has no tumour_compartments mask (a tumour cohort "
                         "written with masks has one); use --target lesions")
    if builtin_name is not None:
        from synthspec.transfer.real import builtin

        real = builtin(builtin_name)
    cases = load_real(Path(real), job=job, label_values=label_values)
    wanted_sites = list(block.get("sites") or [])
    if wanted_sites:
        missing = sorted(set(wanted_sites) - {c.site for c in cases})
        if missing:
            raise InputError(f"{real} has no case from site(s) {', '.join(missing)} that the spec's transfer block "
                             "names; add them or correct `sites:`")
        cases = [c for c in cases if c.site in wanted_sites]
    sites = sorted({c.site for c in cases})
    if len(sites) < 2:
        raise InputError(f"{real}: the spec's transfer block keeps {len(sites)} site ({', '.join(sites)}); "
                         "leave-one-site-out needs at least 2, so name more in `sites:` or add scans")
    chosen = list(held_out or block.get("held_out") or sites)
    unknown = [s for s in chosen if s not in sites]
    if unknown:
        raise UsageError(f"held-out site(s) {', '.join(unknown)} are not in {real} (its sites: {', '.join(sites)})")
    if job == "classify":
        if len({c.klass for c in cases}) < 2:
            raise InputError(f"{real} holds scans of one class only; classify needs positives and negatives")
    device = train.resolve_device(device)
    metric = metrics.primary_metric(job, block.get("metric"))

    log(f"reading {len(cases)} real scans from {len(sites)} sites at {' x '.join(f'{s:g}' for s in working)} mm")
    modality = cohort.plan.modality
    region_kind = regions.kind_for(modality, cohort.plan.anatomy)
    real_volumes = [data.real_volume(c, working, modality, region_kind) for c in cases]
    synthetic_volumes = data.synthetic_volumes(cohort, working, job, limit=synthetic, channel=channel, target=target,
                                               modality=modality, region_kind=region_kind)
    outcome = protocol.run_protocol(job, real_volumes, synthetic_volumes, spacing=working, patch=patch, steps=steps,
                                    batch_size=batch_size, seed=seed, device=device, held_out=chosen,
                                    model=block.get("model"), metric=metric, log=log)
    outcome["gate"] = gate.judge(outcome, block)
    outcome.update({
        "format": result.FORMAT,
        "cohort": cohort.info.get("cohort"),
        "content_hash": cohort.info.get("content_hash"),
        "real_datalist": builtin_name or Path(real).name,
        "synthetic_channel": channel or (channels[0] if channels else None),
        "synthetic_target": target,
        "region": region_kind,
        "spec_transfer_block": block or None,
        "versions": result.versions(),
        "seconds": round(time.perf_counter() - started, 2),
    })
    return outcome, result.write_result(outcome, out_path)
