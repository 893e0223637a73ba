"""MR's memory, time and storage per subject: the cost model the planner asks the modality for.

Constants were measured on the 2-core reference CPU (shared with other jobs, so on the slow side) by
generating head-MRI subjects of both examples at 5 mm and 1 mm slices (`generate_subject` with stage
timings); they are estimates for choosing a batch size and refusing impossible requests early, not
promises.  Pure arithmetic: no numpy, no torch.
"""

from __future__ import annotations

ANATOMY_S_PER_VOXEL = 3.0e-6
"""The head family's build and acceptance checks on a warm process (templates cached): 1.8e-6 s/voxel measured
at 35 x 256 x 256 (5 mm), 4.4e-6 at 175 x 256 x 256 (1 mm), on the shared 2-core CPU."""
TRUTH_S_PER_VOXEL = 2.2e-7
"""Property maps: six maps painted through the partial-volume layers (2.5 s at 175 x 256 x 256)."""
IMAGE_S_PER_VOXEL = 2.8e-7
"""One k-space acquisition: the signal painted per compartment, FFT, noise draws, inverse FFT, magnitude
(0.2-0.6 s at 35 x 256 x 256, 1.3-4.2 s at 175 x 256 x 256 measured, per acquisition)."""
WRITE_S_PER_VOXEL = 1.0e-7
"""Per channel: uint16 NIfTI with gzip, and the masks (about 0.5 s for four channels at 35 x 256 x 256)."""
CUDA_SPEEDUP = 10.0
"""Assumed, not measured (no GPU was at hand): FFTs and painting are memory-bound; the noise is drawn on the CPU."""
SCENE_BYTES_PER_VOXEL = 40
TRUTH_BYTES_PER_VOXEL = 24
WORK_BYTES_PER_VOXEL = 40
"""Complex64 k-space chunks, the signal volume, noise draws and the float image of the sequence in flight."""


def images_per_subject(settings: dict) -> int:
    """Acquisitions (k-space passes) per subject: one per structural sequence, per diffusion sequence one b = 0
    plus three directions per nonzero b."""
    n = 0
    for s in settings["sequences"]:
        n += 1 + 3 * sum(1 for b in s["b_values"] if b > 0) if s["type"] == "diffusion" else 1
    return n



def bytes_per_subject(shape: tuple[int, int, int], images: int) -> int:
    z, y, x = shape
    voxels = z * y * x
    return int(voxels * (SCENE_BYTES_PER_VOXEL + TRUTH_BYTES_PER_VOXEL + WORK_BYTES_PER_VOXEL + 6 * images))


def seconds_per_subject(shape: tuple[int, int, int], images: int, device: str) -> dict[str, float]:
    z, y, x = shape
    voxels = z * y * x
    physics = TRUTH_S_PER_VOXEL * voxels + IMAGE_S_PER_VOXEL * voxels * images
    if device == "cuda":
        physics /= CUDA_SPEEDUP
    return {"build_anatomy": ANATOMY_S_PER_VOXEL * voxels, "acquire": physics,
            "write": WRITE_S_PER_VOXEL * voxels * images}


IMAGE_GZIP_RATIO = 0.6
"""<channel>.nii.gz over its uint16 voxels (2 bytes each): noise compresses badly, the background well."""
LABELS_BYTES_PER_VOXEL = 0.026
LESIONS_BYTES_PER_VOXEL = 0.002
DICOM_HEADER_BYTES = 2_000
RECORD_BYTES = 4_000
RECORD_BYTES_PER_FILE = 300


def bytes_on_disk_per_subject(shape: tuple[int, int, int], formats, channels: int, compression: str = "none") -> dict[
        str, int]:
    """Bytes one subject takes on disk, by part (`nifti`, `masks`, `dicom`, `record`); the CT figures per voxel
    for the masks, a NIfTI and a DICOM series per channel."""
    z, y, x = shape
    voxels = z * y * x
    formats = set(formats) or {"nifti", "masks"}
    ratio = 0.45 if compression == "jpeg_ls" else 1.0
    parts = {"nifti": int(channels * voxels * 2 * IMAGE_GZIP_RATIO) if "nifti" in formats else 0,
             "masks": int(voxels * (3 * LABELS_BYTES_PER_VOXEL + LESIONS_BYTES_PER_VOXEL)) if "masks" in formats else 0,
             "dicom": channels * z * (int(y * x * 2 * ratio) + DICOM_HEADER_BYTES) if "dicom" in formats else 0}
    files = channels * ("nifti" in formats) + 4 * ("masks" in formats) + channels * z * ("dicom" in formats) + 1
    parts["record"] = RECORD_BYTES + RECORD_BYTES_PER_FILE * files
    return parts
