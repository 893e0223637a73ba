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
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

import numpy as np

from synthspec.identity import IMPLEMENTATION_CLASS_UID, SyntheticIdentity

MANUFACTURER = "synthspec (synthetic)"
DEIDENTIFICATION_METHOD = "synthspec synthetic data - no real patient"
PRIVATE_GROUP = 0x0011
PRIVATE_CREATOR = "SYNTHSPEC"
RESCALE_INTERCEPT = -1024
HU_FLOOR = RESCALE_INTERCEPT
HU_CEILING = RESCALE_INTERCEPT + 0xFFFF
WINDOWS = (("LUNG", -600, 1500), ("MEDIASTINUM", 40, 400))
NOMINAL_EXPOSURE_TIME_MS = 1000
SYNTHETIC_DATE = "19000101"
"""StudyDate/ContentDate of every synthetic series: fixed, and before any CT scanner existed (1971)."""
SYNTHETIC_TIME = "000000"
TRANSFER_SYNTAXES = {"none": "1.2.840.10008.1.2.1",       # Explicit VR Little Endian
                     "jpeg_ls": "1.2.840.10008.1.2.4.80"}  # JPEG-LS Lossless Image Compression


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


# Anatomy family prefix -> BodyPartExamined defined term, for unpaired body parts only
# (a paired part such as HAND would also need a Laterality value the plan does not have).
_BODY_PARTS = {"thorax": "CHEST", "chest": "CHEST", "head": "HEAD", "brain": "HEAD", "abdomen": "ABDOMEN",
               "pelvis": "PELVIS"}


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


def body_part_for(anatomy: str) -> str:
    """BodyPartExamined for an anatomy family name ("thorax_adult" -> "CHEST"); "" when not known/unpaired."""
    return _BODY_PARTS.get(str(anatomy).split("_")[0].split(".")[0].lower(), "")


def _ds(value: float) -> str:
    """A DS string (at most 16 characters) for a finite number; integers without a decimal point."""
    from pydicom.valuerep import format_number_as_ds

    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"cannot store {value} in a DICOM decimal string")
    if value == 0:
        return "0"
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return format_number_as_ds(value)


def _trim(text: str, limit: int) -> str:
    return str(text)[:limit]


def patient_age(age_y: float) -> str:
    """DICOM AS: '062Y'; under a year in months ('007M'), weeks or days."""
    age_y = float(age_y)
    if not math.isfinite(age_y) or age_y < 0:
        return ""
    if age_y >= 1:
        return f"{min(int(age_y), 999):03d}Y"
    if age_y * 12 >= 1:
        return f"{int(age_y * 12):03d}M"
    if age_y * 52 >= 1:
        return f"{int(age_y * 52):03d}W"
    return f"{int(age_y * 365.25):03d}D"


def patient_sex(sex: str) -> str:
    s = str(sex).strip().lower()
    if s in ("female", "f"):
        return "F"
    if s in ("male", "m"):
        return "M"
    if s in ("other", "o"):
        return "O"
    return ""


def encode_hu(hu: np.ndarray) -> tuple[np.ndarray, int]:
    """HU [Z, Y, X] -> (stored uint16 values = HU + 1024, clipped; BitsStored 12 or 16)."""
    hu = np.asarray(hu)
    if hu.ndim != 3 or 0 in hu.shape:
        raise ValueError(f"expected a non-empty 3-D [Z, Y, X] HU array, got shape {hu.shape}")
    if hu.dtype.kind == "f":
        if not np.isfinite(hu).all():
            raise ValueError("the HU volume holds NaN or infinite values")
        hu = np.rint(hu)
    elif hu.dtype.kind not in "iub":
        raise ValueError(f"cannot store a {hu.dtype} volume as CT numbers")
    stored = (np.clip(hu.astype(np.int64), HU_FLOOR, HU_CEILING) - RESCALE_INTERCEPT).astype(np.uint16)
    bits = 12 if int(stored.max()) <= 0x0FFF else 16
    return stored, bits


def _base_dataset(info: CTSeriesInfo, shape, spacing_zyx, bits_stored: int):
    from pydicom.dataset import Dataset
    from pydicom.uid import CTImageStorage

    ident = info.identity
    _nz, ny, nx = shape
    dz, dy, dx = (float(s) for s in spacing_zyx)
    version = str(info.synthspec_version)
    ds = Dataset()
    # SOP Common
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.SOPClassUID = CTImageStorage
    # General Study
    ds.StudyDate = SYNTHETIC_DATE      # fixed and clearly not a real study: PACS and DICOMDIR builders need one
    ds.StudyTime = SYNTHETIC_TIME
    ds.ContentDate = SYNTHETIC_DATE    # General Image, type 2C (temporally related images)
    ds.ContentTime = SYNTHETIC_TIME
    ds.AccessionNumber = ""
    ds.Modality = "CT"
    # General Equipment
    ds.Manufacturer = MANUFACTURER
    ds.ReferringPhysicianName = ""
    ds.StudyDescription = "SYNTHETIC CT"
    ds.SeriesDescription = _trim(info.series_description, 64)
    ds.ManufacturerModelName = _trim(info.scanner, 64)
    # Patient
    ds.PatientName = ident.patient_name
    ds.PatientID = ident.patient_id
    ds.PatientBirthDate = ""
    ds.PatientSex = patient_sex(info.sex)
    ds.PatientAge = patient_age(info.age_y)
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = DEIDENTIFICATION_METHOD
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
    ds.SeriesNumber = "1"
    if info.body_part:
        ds.BodyPartExamined = _trim(info.body_part.upper(), 16)  # unpaired: Laterality stays absent
    else:
        ds.Laterality = ""  # type 2C and the body part is unknown: present, empty (dciodvfy: a warning)
    ds.AcquisitionNumber = "1"
    # Image Plane / Frame of Reference
    ds.ImageOrientationPatient = ["1", "0", "0", "0", "1", "0"]
    ds.FrameOfReferenceUID = ident.frame_of_reference_uid
    ds.PositionReferenceIndicator = ""
    ds.ImageComments = "SYNTHETIC IMAGE"
    # Image Pixel
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = ny
    ds.Columns = nx
    ds.PixelSpacing = [_ds(dy), _ds(dx)]
    ds.BitsAllocated = 16
    ds.BitsStored = bits_stored
    ds.HighBit = bits_stored - 1
    ds.PixelRepresentation = 0
    ds.BurnedInAnnotation = "NO"
    ds.LossyImageCompression = "00"
    # VOI LUT: lung and mediastinum presets
    ds.WindowCenter = [_ds(c) for _n, c, _w in info.windows]
    ds.WindowWidth = [_ds(w) for _n, _c, w in info.windows]
    ds.RescaleIntercept = _ds(RESCALE_INTERCEPT)
    ds.RescaleSlope = "1"
    ds.RescaleType = "HU"
    ds.WindowCenterWidthExplanation = [n for n, _c, _w in info.windows]
    # Private block: provenance of the synthetic data
    block = ds.private_block(PRIVATE_GROUP, PRIVATE_CREATOR, create=True)
    block.add_new(0x00, "LO", _trim(info.model_key, 64))
    block.add_new(0x01, "LO", _trim(version, 64))
    block.add_new(0x02, "CS", "SYNTHETIC")
    return ds


def _file_meta(sop_instance_uid: str, version: str, transfer_syntax: str = TRANSFER_SYNTAXES["none"]):
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import CTImageStorage, UID

    meta = FileMetaDataset()
    meta.FileMetaInformationVersion = b"\x00\x01"
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = sop_instance_uid
    meta.TransferSyntaxUID = UID(transfer_syntax)
    meta.ImplementationClassUID = IMPLEMENTATION_CLASS_UID
    meta.ImplementationVersionName = _trim(f"SYNTHSPEC_{version}", 16)
    return meta


def _encoded(ds, pixels: np.ndarray, syntax: str):
    """`ds` ready for `syntax`: itself when uncompressed, else a copy with JPEG-LS encapsulated pixels (CharLS,
    lossless: decoding gives `pixels`)."""
    if syntax != TRANSFER_SYNTAXES["jpeg_ls"]:
        ds.file_meta.TransferSyntaxUID = syntax
        return ds
    from copy import copy

    from pydicom.uid import JPEGLSLossless

    out = copy(ds)
    out.file_meta = copy(ds.file_meta)
    out.compress(JPEGLSLossless, np.ascontiguousarray(pixels), encoding_plugin="pyjpegls", generate_instance_uid=False)
    return out


def write_ct_series(folder: Path, hu: np.ndarray, spacing_zyx, origin_xyz, info: CTSeriesInfo) -> list[Path]:
    """Write `hu` ([Z, Y, X] HU) as IM000001.dcm ... into `folder`; returns the paths in slice order."""
    from pydicom import dcmwrite

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if len(spacing_zyx) != 3 or any(not math.isfinite(float(s)) or float(s) <= 0 for s in spacing_zyx):
        raise ValueError(f"spacing must be three positive numbers, got {tuple(spacing_zyx)}")
    if len(origin_xyz) != 3:
        raise ValueError(f"origin must be three numbers, got {tuple(origin_xyz)}")
    if info.compression not in TRANSFER_SYNTAXES:
        raise ValueError(f"unknown DICOM compression {info.compression!r}; use one of {', '.join(TRANSFER_SYNTAXES)}")
    syntax = TRANSFER_SYNTAXES[info.compression]
    stored, bits = encode_hu(hu)
    nz = stored.shape[0]
    if nz > 999_999:
        raise ValueError(f"{nz} slices do not fit the IM000001.dcm naming")
    dz = float(spacing_zyx[0])
    ox, oy, oz = (float(o) for o in origin_xyz)
    ds = _base_dataset(info, stored.shape, spacing_zyx, bits)
    version = str(info.synthspec_version)
    paths = []
    for k in range(nz):
        n = k + 1
        uid = info.identity.instance_uid(n)
        z = oz + k * dz
        ds.file_meta = _file_meta(uid, version)
        ds.SOPInstanceUID = uid
        ds.InstanceNumber = str(n)
        ds.ImagePositionPatient = [_ds(ox), _ds(oy), _ds(z)]
        ds.SliceLocation = _ds(z)
        ds.PixelData = np.ascontiguousarray(stored[k]).astype("<u2", copy=False).tobytes()
        ds["PixelData"].VR = "OW"
        buffer = BytesIO()
        dcmwrite(buffer, _encoded(ds, stored[k], syntax), enforce_file_format=True)
        path = folder / f"IM{n:06d}.dcm"
        with open(path, "wb") as handle:
            handle.write(buffer.getvalue())
        paths.append(path)
    return paths
