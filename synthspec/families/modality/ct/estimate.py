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
JPEG_LS_RATIO = 0.45
"""JPEG-LS lossless pixel bytes over the uncompressed ones (`dicom_compression: jpeg_ls`): 0.389-0.398 measured on
three lung-example subjects at 23-43 mAs; rounded up because noisier (lower-dose) scans compress less."""
# seg.dcm (Explicit VR Little Endian, BINARY), measured with benchmarks/seg_write.py on the reference cohort
# (60 x 64 x 64) and the lung example (120 x 256 x 256): 17.0 kB (lesions, 3 frames) and 656 kB (all, 671 frames)
# at 64^2; 42.7-68.6 kB (lesions, 2-5 frames) and 12.0-12.8 MB (all, 1387-1479 frames) at 256^2.
SEG_HEADER_BYTES = 5_000
"""The modules, file meta and equipment of a SEG, whatever its size (about 4.6 kB measured)."""
SEG_BYTES_PER_SLICE = 200
"""Each CT slice is referenced twice (Referenced Series and Source Image Sequence): about 181 bytes measured."""
SEG_BYTES_PER_SEGMENT = 400
"""A segment description: label, codes, algorithm identification, colour (about 270-600 bytes)."""
SEG_FRAME_HEADER_BYTES = 450
"""The per-frame functional groups of one frame: derivation and source slice, position, segment (about 435)."""
SEG_LESION_FRAMES = 16
"""Frames per finding class: two lesions of up to 8 slices each (a 20 mm nodule at 2.5 mm); 2-5 measured."""
SEG_ANATOMY_SLICE_FRACTION = 0.7
"""Share of the slices an anatomy segment is on (the body wall: all; the trachea, a third): 0.61-0.65 measured."""
RECORD_BYTES = 4_000
RECORD_BYTES_PER_FILE = 300
"""subject.json and the subject's rows in manifest.csv / manifest.json: ~4 kB, plus a path and SHA-256 of every
file in each of the three (37.7 kB measured for the 123 files of a 120-slice subject; estimated 40.9 kB)."""


def seg_bytes(shape: tuple[int, int, int], findings: int, anatomy: int) -> int:
    """seg.dcm (`cohort.dicom_seg`) with `findings` finding-class and `anatomy` anatomy segments: the fixed
    header, every slice referenced, each segment described, and each frame bit-packed with its functional
    groups; SEG_LESION_FRAMES frames per finding class, SEG_ANATOMY_SLICE_FRACTION of the slices per anatomy
    segment.  0 without segments."""
    z, y, x = shape
    if findings + anatomy <= 0:
        return 0
    frame = math.ceil(y * x / 8) + SEG_FRAME_HEADER_BYTES
    frames = findings * min(z, SEG_LESION_FRAMES) + math.ceil(anatomy * z * SEG_ANATOMY_SLICE_FRACTION)
    return SEG_HEADER_BYTES + z * SEG_BYTES_PER_SLICE + (findings + anatomy) * SEG_BYTES_PER_SEGMENT + frames * frame


def bytes_on_disk_per_subject(shape: tuple[int, int, int], formats, seg: tuple[int, int] = (1, 0),
                              compression: str = "none") -> dict[str, int]:
    """Bytes one subject takes on disk, by part (`nifti`, `masks`, `dicom`, `seg`, `record`), for the output formats.

    No formats writes NIfTI and masks, as the cohort writer does.  `seg` is (finding classes, anatomy labels)
    of the DICOM SEG written with `dicom` ((0, 0): `dicom_seg: none`; the default is one finding class's
    lesion SEG).  Every subject is counted with its SEG, though a negative one with `lesions` writes none.
    `compression` is the series' `dicom_compression` (JPEG-LS: JPEG_LS_RATIO of the pixel bytes)."""
    z, y, x = shape
    voxels = z * y * x
    formats = set(formats) or {"nifti", "masks"}
    parts = {"nifti": int(voxels * 2 * IMAGE_GZIP_RATIO) if "nifti" in formats else 0,
             # labels, lesions and the semantic map (the labels with findings: sized as the labels)
             "masks": int(voxels * (2 * LABELS_BYTES_PER_VOXEL + LESIONS_BYTES_PER_VOXEL)) if "masks" in formats else 0,
             "dicom": z * (int(y * x * 2 * (JPEG_LS_RATIO if compression == "jpeg_ls" else 1)) + DICOM_HEADER_BYTES)
             if "dicom" in formats else 0,
             "seg": seg_bytes(shape, *seg) if "dicom" in formats else 0}
    files = ("nifti" in formats) + 3 * ("masks" in formats) + (z + (parts["seg"] > 0)) * ("dicom" in formats) + 1
    parts["record"] = RECORD_BYTES + RECORD_BYTES_PER_FILE * files
    return parts
