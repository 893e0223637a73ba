"""The device a plan runs on and the memory it can give; the cost per subject is the modality's.

Each modality says what one subject costs (families/modality/*/estimate.py); this module
knows only devices.
"""

from __future__ import annotations

import os

def available_memory(device: str) -> int:
    """Bytes the device can give now (RAM on CPU, free GPU memory on CUDA)."""
    if device == "cuda":
        import torch

        free, _total = torch.cuda.mem_get_info()
        return int(free)
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 4 * 2**30


def resolve_device(requested: str) -> str:
    """auto -> cuda when a GPU is usable, else cpu; cuda without a GPU is an error."""
    if requested == "cpu":
        return "cpu"
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except ImportError:
        has_cuda = False
    if requested == "cuda" and not has_cuda:
        raise RuntimeError("--device cuda was asked for, but no CUDA GPU is usable here; use --device cpu or auto")
    return "cuda" if has_cuda else "cpu"
