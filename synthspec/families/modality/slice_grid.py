"""The reconstructed volume of a tomographic modality (CT, MRI): a square matrix over the field of view in
plane and a stack of contiguous slices over the anatomy's cranio-caudal coverage.

Pure arithmetic on the spec's protocol fields; it imports nothing heavy (the planner and the lint path
may call it) and decides no default of its own: each modality passes its defaults.
"""

from __future__ import annotations

import math


def slice_stack(protocol, voxel_size: float | None, scan_length_mm: float, default_matrix: int,
                default_fov_mm: float, default_slice_mm: float) -> tuple[tuple[int, int, int], tuple[float, float, float]]:
    """(shape, spacing) in (z, y, x): `voxel_size` replaces the matrix's pixel (the matrix then covers the field)."""
    matrix = protocol.matrix or default_matrix
    fov = protocol.field_of_view or default_fov_mm
    pixel = fov / matrix
    if voxel_size:
        pixel = voxel_size
        matrix = int(math.ceil(fov / pixel))
    dz = protocol.slice_thickness or default_slice_mm
    z = int(math.ceil(scan_length_mm / dz))
    return (z, matrix, matrix), (dz, pixel, pixel)
