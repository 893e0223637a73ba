"""CT's memory, time and storage per subject: the cost model the planner asks the modality for.

Constants were measured on the 2-core reference CPU (benchmarks/stage_times.py) and on cohorts
of the lung example (storage); they are estimates for choosing a batch size and refusing
impossible requests early, not promises.  Pure arithmetic: no numpy, no torch.
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


# Bytes on disk, measured on `synth run examples/lung_nodules_ldct.synth --device cpu` cohorts (file sizes, as
# `du -sb` counts them): 8 subjects at 120 x 256 x 256 (all three scanner classes, and ct.budget_16 at 20 mAs,
# the noisiest) and 1 at 120 x 512 x 512.  Rounded up from the largest value seen.
IMAGE_GZIP_RATIO = 0.58
"""image.nii.gz over its int16 voxels (2 bytes each): 0.528-0.556 at 256^2, 0.567 at 512^2 (noise compresses badly)."""
LABELS_BYTES_PER_VOXEL = 0.026
"""labels.nii.gz (uint8) per voxel: 0.022-0.025 at 256^2, 0.014 at 512^2 (boundaries grow slower than volume)."""
LESIONS_BYTES_PER_VOXEL = 0.002
"""lesions.nii.gz (uint16, nearly all 0) per voxel: 0.0019-0.0020 at either matrix, with 0, 1 or 2 nodules."""
DICOM_HEADER_BYTES = 1_800
"""Per slice of the uncompressed DICOM series, besides its int16 pixels: 1,680-1,720 bytes measured."""
RECORD_BYTES = 4_000
RECORD_BYTES_PER_FILE = 300
"""subject.json and the subject's rows in manifest.csv / manifest.json: ~4 kB, plus a path and SHA-256 of every
file in each of the three (37.7 kB measured for the 123 files of a 120-slice subject; estimated 40.9 kB)."""


def bytes_on_disk_per_subject(shape: tuple[int, int, int], formats) -> dict[str, int]:
    """Bytes one subject takes on disk, by part (`nifti`, `masks`, `dicom`, `record`), for the output formats.

    No formats writes NIfTI and masks, as the cohort writer does."""
    z, y, x = shape
    voxels = z * y * x
    formats = set(formats) or {"nifti", "masks"}
    parts = {"nifti": int(voxels * 2 * IMAGE_GZIP_RATIO) if "nifti" in formats else 0,
             # labels, lesions and the semantic map (the labels with findings: sized as the labels)
             "masks": int(voxels * (2 * LABELS_BYTES_PER_VOXEL + LESIONS_BYTES_PER_VOXEL)) if "masks" in formats else 0,
             "dicom": z * (y * x * 2 + DICOM_HEADER_BYTES) if "dicom" in formats else 0}
    files = ("nifti" in formats) + 3 * ("masks" in formats) + z * ("dicom" in formats) + 1
    parts["record"] = RECORD_BYTES + RECORD_BYTES_PER_FILE * files
    return parts
