"""The device a plan runs on and the memory it has; the cost per subject is the modality's.

Each modality says what one subject costs (families/modality/*/estimate.py); this module
knows only devices.  The planner sizes batches from `device_memory`, a fixed fact of the
machine (physical RAM, total GPU memory), never from what happens to be free at that
moment: two plans of the same spec with the same options on the same machine are the same
bytes.  `available_memory` (free now) is for a check when a run starts, not for plans.
"""

from __future__ import annotations

import os

MEMORY_FRACTION = {"cpu": 0.5, "cuda": 0.8}
"""Share of the device's memory a plan may fill: on a CPU the system, other processes and the page
cache live in the same RAM; a GPU keeps the rest for the CUDA context and allocator fragmentation."""
FALLBACK_BYTES = 4 * 2**30
"""Assumed RAM where the system does not say (neither /proc/meminfo nor sysconf)."""
_CGROUP_LIMITS = ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes")


def _meminfo(field: str) -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _sysconf(pages: str) -> int | None:
    try:
        value = os.sysconf(pages) * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None
    return value if value > 0 else None


def _cgroup_limit() -> int | None:
    """The container's memory limit (cgroup v2, then v1), when one is set."""
    for path in _CGROUP_LIMITS:
        try:
            with open(path, encoding="ascii") as f:
                text = f.read().strip()
        except OSError:
            continue
        if text.isdigit():
            return int(text)
    return None


def device_memory(device: str) -> int:
    """Bytes of memory the device has (physical RAM, or the container's limit if lower, on CPU; the
    GPU's total memory on CUDA): a fixed fact of the machine, the same whenever it is asked."""
    if device == "cuda":
        import torch

        return int(torch.cuda.get_device_properties(torch.cuda.current_device()).total_memory)
    total = _meminfo("MemTotal") or _sysconf("SC_PHYS_PAGES") or FALLBACK_BYTES
    limit = _cgroup_limit()
    return min(total, limit) if limit else total


def memory_budget(device: str) -> int:
    """Bytes a plan's batch may take on the device: MEMORY_FRACTION of `device_memory`."""
    return int(device_memory(device) * MEMORY_FRACTION[device])


def cuda_usable() -> bool:
    """Whether torch sees a CUDA GPU here (False when torch is missing)."""
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def available_memory(device: str) -> int:
    """Bytes the device can give now (available RAM on CPU, free GPU memory on CUDA).

    Changes from one moment to the next, so no plan holds it; an executor may compare it with the
    plan's batch (`plan.memory`) when a run starts."""
    if device == "cuda":
        import torch

        free, _total = torch.cuda.mem_get_info()
        return int(free)
    return _meminfo("MemAvailable") or _sysconf("SC_AVPHYS_PAGES") or FALLBACK_BYTES


def resolve_device(requested: str, gpu_memory: int | None = None) -> str:
    """auto -> cuda when a GPU is usable, else cpu; cuda without a GPU is an error unless `gpu_memory` says which
    GPU the plan is for (planning on a laptop for a GPU node)."""
    if requested == "cpu":
        return "cpu"
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except ImportError:
        has_cuda = False
    if requested == "cuda" and not has_cuda:
        if gpu_memory is not None:
            return "cuda"
        raise RuntimeError("--device cuda was asked for, but no CUDA GPU is usable here; use --device cpu or auto, "
                           "or plan for a GPU elsewhere with --gpu-memory SIZE (e.g. 80GiB)")
    return "cuda" if has_cuda else "cpu"
