"""NIfTI volumes through SimpleITK, with the orientation stated and checked.

Array convention (the whole runtime): numpy [Z, Y, X]; x runs patient right -> LEFT,
y anterior -> POSTERIOR, z inferior -> SUPERIOR, i.e. DICOM LPS with the
identity direction.  `origin_xyz` is the LPS position (mm) of the centre of voxel
[0, 0, 0].  ITK works in LPS and its NIfTI writer stores the equivalent RAS
affine (qform and sform, code 1 "scanner"): diag(-dx, -dy, dz) with offset
(-ox, -oy, oz).  Reading the file back with SimpleITK gives the same spacing,
origin and direction; nibabel gives that RAS affine.

The file is written under a `.tmp-*.nii.gz` name in the same folder (SimpleITK
chooses the format from the extension), fsynced, then renamed into place.
gzip output from ITK carries no timestamp, so equal arrays give equal bytes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from synthspec.cohort.atomic import replace_atomic, temp_name

_SUFFIXES = (".nii.gz", ".nii")


def _suffix(path: Path) -> str:
    for suffix in _SUFFIXES:
        if path.name.endswith(suffix):
            return suffix
    raise ValueError(f"{path}: a NIfTI file name must end in .nii.gz or .nii")


def to_sitk(array: np.ndarray, spacing_zyx, origin_xyz):
    """numpy [Z, Y, X] -> SimpleITK image in LPS with identity direction."""
    import SimpleITK as sitk

    array = np.asarray(array)
    if array.ndim != 3:
        raise ValueError(f"expected a 3-D [Z, Y, X] array, got shape {array.shape}")
    if array.dtype == np.bool_:
        array = array.astype(np.uint8)
    if len(spacing_zyx) != 3 or len(origin_xyz) != 3:
        raise ValueError("spacing_zyx and origin_xyz need three values each")
    if any(not np.isfinite(s) or s <= 0 for s in spacing_zyx):
        raise ValueError(f"spacing must be positive and finite, got {tuple(spacing_zyx)}")
    image = sitk.GetImageFromArray(np.ascontiguousarray(array))
    dz, dy, dx = (float(s) for s in spacing_zyx)
    image.SetSpacing((dx, dy, dz))
    image.SetOrigin(tuple(float(o) for o in origin_xyz))
    image.SetDirection((1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0))
    return image


def write_nifti(path: Path, array: np.ndarray, spacing_zyx: tuple[float, float, float],
                origin_xyz: tuple[float, float, float]) -> None:
    """Write `array` ([Z, Y, X]; bool is stored as uint8, other dtypes as they are) atomically."""
    import SimpleITK as sitk

    path = Path(path)
    image = to_sitk(array, spacing_zyx, origin_xyz)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_name(path, _suffix(path))
    try:
        sitk.WriteImage(image, str(tmp), useCompression=path.name.endswith(".gz"))
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    replace_atomic(tmp, path)


def read_nifti(path: Path) -> tuple[np.ndarray, tuple[float, float, float], tuple[float, float, float]]:
    """Inverse of write_nifti: (array [Z, Y, X], spacing_zyx, origin_xyz); the direction must be identity."""
    import SimpleITK as sitk

    image = sitk.ReadImage(str(path))
    direction = np.asarray(image.GetDirection()).reshape(3, 3)
    if not np.allclose(direction, np.eye(3), atol=1e-6):
        raise ValueError(f"{path}: direction {direction.tolist()} is not the identity (LPS) this runtime writes")
    dx, dy, dz = image.GetSpacing()
    return sitk.GetArrayFromImage(image), (dz, dy, dx), tuple(image.GetOrigin())
