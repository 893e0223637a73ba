"""CT's memory and time per subject: the cost model the planner asks the modality for.

Constants were measured on the 2-core reference CPU (benchmarks/stage_times.py); they are
estimates for choosing a batch size and refusing impossible requests early, not promises.
Pure arithmetic: no numpy, no torch.
"""

from __future__ import annotations

import math

# Measured with benchmarks/stage_times.py on the 2-core reference CPU (256^3, shared with other jobs, so
# on the slow side); a quiet machine is up to ~3x faster in the physics stage.
ANATOMY_S_PER_VOXEL = 2.0e-7
PROJECT_S_PER_SAMPLE = 1.0e-9          # per (slice x view x pixel) for projection, the same for back-projection
WRITE_S_PER_VOXEL = 1.5e-7
VALIDATE_S_PER_VOXEL = 2.0e-7          # per-subject anatomy checks (connected components, distances)
CUDA_SPEEDUP = 40.0
SCENE_BYTES_PER_VOXEL = 40
"""The tissue scene: labels (twice), four partial-volume layers, two texture fields, the cortex, the lung region."""


def bytes_per_subject(shape: tuple[int, int, int], views: int) -> int:
    z, y, x = shape
    voxels = z * y * x
    detector = math.ceil(math.hypot(y, x)) + 2
    sinogram = views * detector * z * 4
    # scene, HU (float32), reconstruction, lesions, distance maps, int16 output, working copies
    return int(voxels * (SCENE_BYTES_PER_VOXEL + 24) + sinogram * 4)


def seconds_per_subject(shape: tuple[int, int, int], views: int, device: str) -> dict[str, float]:
    """Seconds per stage kind for one subject."""
    z, y, x = shape
    voxels = z * y * x
    physics = 2 * PROJECT_S_PER_SAMPLE * z * views * y * x
    if device == "cuda":
        physics /= CUDA_SPEEDUP
    return {"build_anatomy": ANATOMY_S_PER_VOXEL * voxels + VALIDATE_S_PER_VOXEL * voxels, "acquire": physics,
            "write": WRITE_S_PER_VOXEL * voxels}
