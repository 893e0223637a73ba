"""CT Image Storage series through pydicom: one file per slice, synthetic identity only.

What the files say (and why):

* Transfer syntax Explicit VR Little Endian by default, with a 128-byte
  preamble and file meta; our own deterministic Implementation Class UID.
  `output { dicom_compression: jpeg_ls }` stores each slice JPEG-LS lossless
  (1.2.840.10008.1.2.4.80, CharLS through pydicom's pyjpegls plugin: about a
  half the bytes for CT, the same HU after decoding), so
  LossyImageCompression stays 00.  Deflated Explicit VR Little Endian is not
  offered: dcm2niix and dicom3tools' dciodvfy cannot read it (checked with
  dcm2niix v1.0.20260724), and JPEG-LS compresses CT further.
* Pixels: unsigned 16-bit words, RescaleIntercept -1024, RescaleSlope 1,
  RescaleType HU, so stored = HU + 1024.  HU below -1024 (below air; only noise
  gets there) is clipped to -1024.  BitsStored is 12 (HighBit 11) when the
  whole volume fits -1024..3071 HU, which is what the CT modality stores, else
  16 (up to 64511 HU).  Float input is rounded to the nearest HU.
* Geometry: array [Z, Y, X] in LPS with identity direction, so
  ImageOrientationPatient is 1\\0\\0\\0\\1\\0, PixelSpacing is dy\\dx (row
  spacing first), ImagePositionPatient of slice k is origin + (0, 0, k*dz),
  SliceLocation its z, SpacingBetweenSlices dz, InstanceNumber k+1, and
  SOPInstanceUID identity.instance_uid(k+1).
* Exposure: the simulator has an mAs, not a tube current and a time, so
  ExposureInuAs holds the mAs to 0.001 mAs, Exposure its rounded value, and the
  tube current is stated for a nominal 1 s exposure (ExposureTime 1000 ms,
  XRayTubeCurrent = round(mAs)).
* Body part: BodyPartExamined from `info.body_part` (use body_part_for(plan
  anatomy)); Laterality (type 2C) is then absent, as DICOM asks for an
  unpaired part.  Without a body part Laterality is written empty, which
  dciodvfy accepts with a warning.
* Identity: PatientName/PatientID from the synthetic identity, PatientBirthDate
  empty, PatientAge from the sampled age, PatientSex F/M/O.
* Dates and times: StudyDate and ContentDate are the fixed SYNTHETIC_DATE
  (1900-01-01) and StudyTime and ContentTime SYNTHETIC_TIME (00:00:00): a
  date no real CT study has, the same for every subject, so PACS and DICOMDIR
  builders that need one stop warning and nothing depends on the clock.
  SeriesDate/SeriesTime and InstanceCreationDate/Time are absent (type 3).
* Marked synthetic: PatientIdentityRemoved YES, DeidentificationMethod
  "synthspec synthetic data - no real patient", BurnedInAnnotation NO,
  ImageComments "SYNTHETIC IMAGE", Manufacturer "synthspec (synthetic)", and a
  private block (group 0x0011, creator "SYNTHSPEC") holding the plan's model key
  (0011,xx00), the synthspec version (0011,xx01) and a "SYNTHETIC" flag (0011,xx02).

Nothing in a file depends on the clock or a random source: the same inputs
give byte-identical files.  The caller stages the folder (`staged_dir`).
The identity, marking, private block, file meta and slice writing are shared
with the DX and MR writers (`families.modality.synthetic_dicom`); the names
this module re-exports from there keep their old import path.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from synthspec.families.modality.synthetic_dicom import (  # noqa: F401 - re-exported for the other writers
    DEIDENTIFICATION_METHOD, MANUFACTURER, PRIVATE_CREATOR, PRIVATE_GROUP, SYNTHETIC_DATE, SYNTHETIC_TIME,
    TRANSFER_SYNTAXES, add_provenance, body_part_for, check_geometry, encoded as _encoded, file_meta, mark_patient,
    patient_age, patient_sex, synthetic_dataset, write_slices)
from synthspec.families.modality.synthetic_dicom import add_axial_image, whole_numbers
from synthspec.families.modality.synthetic_dicom import ds_value as _ds, trim as _trim
from synthspec.identity import SyntheticIdentity

RESCALE_INTERCEPT = -1024
HU_FLOOR = RESCALE_INTERCEPT
HU_CEILING = RESCALE_INTERCEPT + 0xFFFF
WINDOWS = (("LUNG", -600, 1500), ("MEDIASTINUM", 40, 400))
NOMINAL_EXPOSURE_TIME_MS = 1000


@dataclass
class CTSeriesInfo:
    identity: SyntheticIdentity
    age_y: float
    sex: str
    scanner: str
    kv: float
    mas: float
    kernel: str
    slice_thickness_mm: float
    model_key: str
    """The plan's seed key (a hash of the checked model): not the spec's text, so formatting keeps the bytes."""
    synthspec_version: str
    series_description: str
    body_part: str = ""
    """DICOM BodyPartExamined (e.g. "CHEST"; see body_part_for); empty when unknown."""
    compression: str = "none"
    """`none` or `jpeg_ls` (the spec's `output.dicom_compression`; see TRANSFER_SYNTAXES)."""
    windows: tuple[tuple[str, float, float], ...] = WINDOWS
    """(explanation, centre, width) VOI presets; the anatomy's `ct_windows` when it declares them."""
    series_number: int = 1


def display_windows(anatomy: str | None) -> tuple[tuple[str, float, float], ...]:
    """VOI presets (explanation, centre, width) for an anatomy family: its `ct_windows` (Window tuples) when it
    declares them, else WINDOWS (lung, mediastinum)."""
    if not anatomy:
        return WINDOWS
    from synthspec.families import registry

    try:
        family = registry.anatomy(anatomy)
    except Exception:  # noqa: BLE001 - an unknown family keeps the modality's presets
        return WINDOWS
    windows = getattr(family, "ct_windows", None)
    if not windows:
        return WINDOWS
    return tuple((w.name.upper(), w.level, w.width) for w in windows)


def encode_hu(hu: np.ndarray) -> tuple[np.ndarray, int]:
    """HU [Z, Y, X] -> (stored uint16 values = HU + 1024, clipped; BitsStored 12 or 16)."""
    stored = (np.clip(whole_numbers(hu, "HU", "CT numbers"), HU_FLOOR, HU_CEILING) - RESCALE_INTERCEPT).astype(np.uint16)
    bits = 12 if int(stored.max()) <= 0x0FFF else 16
    return stored, bits


def _base_dataset(info: CTSeriesInfo, shape, spacing_zyx, bits_stored: int):
    from pydicom.uid import CTImageStorage

    ident = info.identity
    _nz, ny, nx = shape
    dz, dy, dx = (float(s) for s in spacing_zyx)
    version = str(info.synthspec_version)
    ds = synthetic_dataset(CTImageStorage, "CT", ["ORIGINAL", "PRIMARY", "AXIAL"], ident, info.age_y, info.sex,
                           info.scanner, info.series_description)
    # CT Image / acquisition
    ds.ScanOptions = "HELICAL MODE"
    ds.SliceThickness = _ds(info.slice_thickness_mm)
    ds.KVP = _ds(info.kv)
    ds.SpacingBetweenSlices = _ds(dz)
    ds.DataCollectionDiameter = _ds(max(nx * dx, ny * dy))
    ds.SoftwareVersions = _trim(f"synthspec {version}", 64)
    ds.ReconstructionDiameter = _ds(max(nx * dx, ny * dy))
    ds.GantryDetectorTilt = "0"
    ds.ExposureTime = str(NOMINAL_EXPOSURE_TIME_MS)
    ds.XRayTubeCurrent = str(int(round(float(info.mas) * 1000 / NOMINAL_EXPOSURE_TIME_MS)))
    ds.Exposure = str(int(round(float(info.mas))))
    ds.ConvolutionKernel = _trim(info.kernel, 16)
    ds.PatientPosition = "HFS"
    ds.ExposureInuAs = str(int(round(float(info.mas) * 1000)))
    # General Series / Study identifiers
    ds.StudyInstanceUID = ident.study_uid
    ds.SeriesInstanceUID = ident.series_uid
    ds.StudyID = _trim(ident.patient_name.split("^")[-1], 16)
    ds.SeriesNumber = str(int(info.series_number))
    if info.body_part:
        ds.BodyPartExamined = _trim(info.body_part.upper(), 16)  # unpaired: Laterality stays absent
    else:
        ds.Laterality = ""  # type 2C and the body part is unknown: present, empty (dciodvfy: a warning)
    ds.AcquisitionNumber = "1"
    # Image Plane / Frame of Reference, Image Pixel, VOI LUT (lung and mediastinum presets)
    add_axial_image(ds, ident, shape, spacing_zyx, bits_stored, info.windows)
    ds.RescaleIntercept = _ds(RESCALE_INTERCEPT)
    ds.RescaleSlope = "1"
    ds.RescaleType = "HU"
    # Private block: provenance of the synthetic data
    add_provenance(ds, info.model_key, version)
    return ds


def write_ct_series(folder: Path, hu: np.ndarray, spacing_zyx, origin_xyz, info: CTSeriesInfo) -> list[Path]:
    """Write `hu` ([Z, Y, X] HU) as IM000001.dcm ... into `folder`; returns the paths in slice order."""
    from pydicom.uid import CTImageStorage

    syntax = check_geometry(spacing_zyx, origin_xyz, info.compression)
    stored, bits = encode_hu(hu)
    ds = _base_dataset(info, stored.shape, spacing_zyx, bits)
    return write_slices(folder, ds, stored, spacing_zyx, origin_xyz, info.identity, CTImageStorage,
                        str(info.synthspec_version), syntax)
