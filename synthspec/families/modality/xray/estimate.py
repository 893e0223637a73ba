"""Radiography's memory, time and storage per subject: the cost model the planner asks the modality for.

Constants were measured on the 2-core reference CPU with the hand example
(`synth run examples/pediatric_hand_rickets.synth`, shared machine, so on the slow side); they
choose a batch size and refuse impossible requests early, they promise nothing.  Pure arithmetic.
"""

from __future__ import annotations

ANATOMY_S_PER_VOXEL = 2.0e-7
"""Building and checking the phantom, per voxel."""
RAY_S_PER_SAMPLE = 2.0e-9
"""Trilinear ray marching per (detector pixel x sample along the ray x material)."""
DETECTOR_S_PER_PIXEL = 4.0e-7
"""Spectrum, scatter, blur, noise and processing per detector pixel."""
WRITE_S_PER_PIXEL = 3.0e-7
WRITE_S_PER_VOXEL = 3.0e-8
CUDA_SPEEDUP = 40.0
SCENE_BYTES_PER_VOXEL = 40
DETECTOR_BYTES_PER_PIXEL = 4 * 24
"""float32 maps on the detector: areal densities, spectrum bins in flight, primary, scatter, noise, processing."""

IMAGE_GZIP_RATIO = 0.75
"""image.nii.gz over its uint16 pixels: 12-bit noisy radiographs compress little."""
LABELS_BYTES_PER_VOXEL = 0.02
MASK_BYTES_PER_PIXEL = 0.03
DICOM_HEADER_BYTES = 3_000
PNG_BYTES_PER_PIXEL = 0.8


def bytes_per_subject(shape: tuple[int, int, int], rows: int, cols: int, materials: int) -> int:
    z, y, x = shape
    voxels = z * y * x
    return int(voxels * (SCENE_BYTES_PER_VOXEL + 4 * (materials + 2)) + rows * cols * DETECTOR_BYTES_PER_PIXEL)


def seconds_per_subject(shape: tuple[int, int, int], rows: int, cols: int, materials: int,
                        device: str) -> dict[str, float]:
    z, y, x = shape
    voxels = z * y * x
    pixels = rows * cols
    physics = RAY_S_PER_SAMPLE * pixels * y * (materials + 2) + DETECTOR_S_PER_PIXEL * pixels
    if device == "cuda":
        physics /= CUDA_SPEEDUP
    return {"build_anatomy": ANATOMY_S_PER_VOXEL * voxels, "acquire": physics,
            "write": WRITE_S_PER_PIXEL * pixels + WRITE_S_PER_VOXEL * voxels}


def bytes_on_disk_per_subject(shape: tuple[int, int, int], rows: int, cols: int, formats) -> dict[str, int]:
    z, y, x = shape
    voxels, pixels = z * y * x, rows * cols
    formats = set(formats) or {"nifti", "masks"}
    out = {"records": 4_000}
    if "nifti" in formats:
        out["image"] = int(pixels * 2 * IMAGE_GZIP_RATIO)
    if "masks" in formats:
        out["masks"] = int(voxels * LABELS_BYTES_PER_VOXEL * 3 + pixels * MASK_BYTES_PER_PIXEL * 2)
    if "dicom" in formats:
        out["dicom"] = pixels * 2 + DICOM_HEADER_BYTES
    if "png" in formats:
        out["png"] = int(pixels * PNG_BYTES_PER_PIXEL)
    return out
