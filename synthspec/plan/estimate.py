"""Memory and time estimates per subject, and the memory a device can give.

Constants were measured on the 2-core CPU machine (see benchmarks/); they are
estimates for choosing a batch size and refusing impossible requests early,
not promises.
"""

from __future__ import annotations

import math
import os

# Measured with benchmarks/stage_times.py on the 2-core reference CPU (256^3, shared with other jobs, so
# on the slow side); a quiet machine is up to ~3x faster in the physics stage.
PHANTOM_S_PER_VOXEL = 2.0e-7
PROJECT_S_PER_SAMPLE = 1.0e-9          # per (slice x view x pixel) for projection, the same for back-projection
WRITE_S_PER_VOXEL = 1.5e-7
VALIDATE_S_PER_VOXEL = 2.0e-7          # per-subject anatomy checks (connected components, distances)
CUDA_SPEEDUP = 40.0


def bytes_per_subject(shape: tuple[int, int, int], views: int) -> int:
    z, y, x = shape
    voxels = z * y * x
    detector = math.ceil(math.hypot(y, x)) + 2
    sinogram = views * detector * z * 4
    # hu, texture, reconstruction (float32), labels, lesions, distance maps, int16 output, working copies
    return int(voxels * 44 + sinogram * 4)


def seconds_per_subject(shape: tuple[int, int, int], views: int, device: str) -> dict[str, float]:
    z, y, x = shape
    voxels = z * y * x
    physics = 2 * PROJECT_S_PER_SAMPLE * z * views * y * x
    if device == "cuda":
        physics /= CUDA_SPEEDUP
    return {"build_phantom": PHANTOM_S_PER_VOXEL * voxels, "simulate_physics": physics,
            "write": WRITE_S_PER_VOXEL * voxels, "validate_anatomy": VALIDATE_S_PER_VOXEL * voxels}


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
