"""What every synthspec DICOM instance shares, whatever its modality: the synthetic marking and value helpers.

The CT, radiograph (DX), MR and SEG writers all say the same things about where a file came from:

* Manufacturer "synthspec (synthetic)", PatientIdentityRemoved YES and DeidentificationMethod
  "synthspec synthetic data - no real patient" (`mark_patient`, with the synthetic PatientName/ID,
  an empty PatientBirthDate, PatientAge and PatientSex from the sampled values);
* StudyDate/ContentDate 1900-01-01 and StudyTime/ContentTime 00:00:00 (SYNTHETIC_DATE/TIME): fixed, the
  same for every subject, a date no real study has, so nothing depends on the clock;
* a private block (group 0x0011, creator "SYNTHSPEC"): the plan's model key (xx00), the synthspec version
  (xx01) and a "SYNTHETIC" flag (xx02) (`add_provenance`);
* file meta with synthspec's own Implementation Class UID (`file_meta`), and the optional JPEG-LS lossless
  encoding of a slice (`encoded`);
* for a volume (CT, MR): one file per axial slice, IM000001.dcm ..., with ImagePositionPatient origin +
  (0, 0, k dz), SliceLocation its z, InstanceNumber k + 1 and SOPInstanceUID `identity.instance_uid(k + 1)`
  (`check_geometry`, `write_slices`).

This module builds no whole dataset (each modality's writer does); it loads neither numpy nor pydicom until a
helper that needs them is called.
"""

from __future__ import annotations

import math

from synthspec.identity import IMPLEMENTATION_CLASS_UID, derived_uid

MANUFACTURER = "synthspec (synthetic)"
DEIDENTIFICATION_METHOD = "synthspec synthetic data - no real patient"
PRIVATE_GROUP = 0x0011
PRIVATE_CREATOR = "SYNTHSPEC"
SYNTHETIC_DATE = "19000101"
"""StudyDate/ContentDate of every synthetic series: fixed, and before any CT or MR scanner existed."""
SYNTHETIC_TIME = "000000"
TRANSFER_SYNTAXES = {"none": "1.2.840.10008.1.2.1",       # Explicit VR Little Endian
                     "jpeg_ls": "1.2.840.10008.1.2.4.80"}  # JPEG-LS Lossless Image Compression
# Anatomy family prefix -> BodyPartExamined defined term, for unpaired body parts only
# (a paired part such as HAND would also need a Laterality value the plan does not have).
_BODY_PARTS = {"thorax": "CHEST", "chest": "CHEST", "head": "HEAD", "brain": "HEAD", "abdomen": "ABDOMEN",
               "pelvis": "PELVIS"}


def series_identity(identity, series: str, first: bool, salt: str):
    """The identity of one of a subject's several series: the subject's series UID for the first, else one
    derived from it, `salt` and the series name (study, patient and frame of reference are the subject's)."""
    from dataclasses import replace

    if first:
        return identity
    return replace(identity, series_uid=derived_uid(identity.series_uid, salt, series))


def body_part_for(anatomy: str) -> str:
    """BodyPartExamined for an anatomy family name ("thorax_adult" -> "CHEST"); "" when not known/unpaired."""
    return _BODY_PARTS.get(str(anatomy).split("_")[0].split(".")[0].lower(), "")


def ds_value(value: float) -> str:
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


def trim(text: str, limit: int) -> str:
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


def mark_patient(ds, identity, age_y: float, sex: str) -> None:
    """The Patient module of a synthetic subject, marked as having no real patient behind it."""
    ds.PatientName = identity.patient_name
    ds.PatientID = identity.patient_id
    ds.PatientBirthDate = ""
    ds.PatientSex = patient_sex(sex)
    ds.PatientAge = patient_age(age_y)
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = DEIDENTIFICATION_METHOD


def synthetic_dataset(sop_class_uid: str, modality: str, image_type, identity, age_y: float, sex: str, scanner: str,
                      series_description: str):
    """A new dataset with what every synthetic image says first: SOP class, ImageType, the fixed study and content
    date and time, Modality, Manufacturer, "SYNTHETIC <modality>" as StudyDescription, the series description,
    the scanner class as ManufacturerModelName, and the marked Patient module (`mark_patient`)."""
    from pydicom.dataset import Dataset
    from pydicom.uid import UID

    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.ImageType = list(image_type)
    ds.SOPClassUID = UID(sop_class_uid)
    ds.StudyDate = SYNTHETIC_DATE      # fixed and clearly not a real study: PACS and DICOMDIR builders need one
    ds.StudyTime = SYNTHETIC_TIME
    ds.ContentDate = SYNTHETIC_DATE    # General Image, type 2C (temporally related images)
    ds.ContentTime = SYNTHETIC_TIME
    ds.AccessionNumber = ""
    ds.Modality = modality
    ds.Manufacturer = MANUFACTURER
    ds.ReferringPhysicianName = ""
    ds.StudyDescription = f"SYNTHETIC {modality}"
    ds.SeriesDescription = trim(series_description, 64)
    ds.ManufacturerModelName = trim(scanner, 64)
    mark_patient(ds, identity, age_y, sex)
    return ds


def add_axial_image(ds, identity, shape, spacing_zyx, bits_stored: int, windows) -> None:
    """Image Plane (identity direction: ImageOrientationPatient 1\\0\\0\\0\\1\\0, PixelSpacing dy\\dx), the
    subject's frame of reference, "SYNTHETIC IMAGE" comments, the Image Pixel module of unsigned 16-bit
    MONOCHROME2 slices, BurnedInAnnotation NO, LossyImageCompression 00 and the VOI presets `windows`
    ((explanation, centre, width), ...) of a slice stack; the per-slice position is `write_slices`'."""
    _nz, ny, nx = shape
    _dz, dy, dx = (float(v) for v in spacing_zyx)
    ds.ImageOrientationPatient = ["1", "0", "0", "0", "1", "0"]
    ds.FrameOfReferenceUID = identity.frame_of_reference_uid
    ds.PositionReferenceIndicator = ""
    ds.ImageComments = "SYNTHETIC IMAGE"
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = ny
    ds.Columns = nx
    ds.PixelSpacing = [ds_value(dy), ds_value(dx)]
    ds.BitsAllocated = 16
    ds.BitsStored = bits_stored
    ds.HighBit = bits_stored - 1
    ds.PixelRepresentation = 0
    ds.BurnedInAnnotation = "NO"
    ds.LossyImageCompression = "00"
    ds.WindowCenter = [ds_value(c) for _n, c, _w in windows]
    ds.WindowWidth = [ds_value(w) for _n, _c, w in windows]
    ds.WindowCenterWidthExplanation = [n for n, _c, _w in windows]


def add_provenance(ds, model_key: str, version: str) -> None:
    """The private SYNTHSPEC block: model key (xx00), synthspec version (xx01), SYNTHETIC (xx02)."""
    block = ds.private_block(PRIVATE_GROUP, PRIVATE_CREATOR, create=True)
    block.add_new(0x00, "LO", trim(model_key, 64))
    block.add_new(0x01, "LO", trim(version, 64))
    block.add_new(0x02, "CS", "SYNTHETIC")


def file_meta(sop_class_uid: str, sop_instance_uid: str, version: str,
              transfer_syntax: str = TRANSFER_SYNTAXES["none"]):
    """PS3.10 file meta of one instance, with synthspec's Implementation Class UID and version name."""
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import UID

    meta = FileMetaDataset()
    meta.FileMetaInformationVersion = b"\x00\x01"
    meta.MediaStorageSOPClassUID = UID(sop_class_uid)
    meta.MediaStorageSOPInstanceUID = sop_instance_uid
    meta.TransferSyntaxUID = UID(transfer_syntax)
    meta.ImplementationClassUID = IMPLEMENTATION_CLASS_UID
    meta.ImplementationVersionName = trim(f"SYNTHSPEC_{version}", 16)
    return meta


def encoded(ds, pixels, syntax: str):
    """`ds` ready for `syntax`: itself when uncompressed, else a copy with JPEG-LS encapsulated pixels (CharLS,
    lossless: decoding gives `pixels`)."""
    if syntax != TRANSFER_SYNTAXES["jpeg_ls"]:
        ds.file_meta.TransferSyntaxUID = syntax
        return ds
    from copy import copy

    import numpy as np
    from pydicom.uid import JPEGLSLossless

    out = copy(ds)
    out.file_meta = copy(ds.file_meta)
    out.compress(JPEGLSLossless, np.ascontiguousarray(pixels), encoding_plugin="pyjpegls", generate_instance_uid=False)
    return out


def whole_numbers(volume, what: str, units: str):
    """A non-empty [Z, Y, X] volume as int64, float rounded to the nearest integer; refuses NaN, infinity and
    non-numeric arrays (`what` names the volume, `units` what its values become, in the messages)."""
    import numpy as np

    volume = np.asarray(volume)
    if volume.ndim != 3 or 0 in volume.shape:
        raise ValueError(f"expected a non-empty 3-D [Z, Y, X] {what} array, got shape {volume.shape}")
    if volume.dtype.kind == "f":
        if not np.isfinite(volume).all():
            raise ValueError(f"the {what} volume holds NaN or infinite values")
        volume = np.rint(volume)
    elif volume.dtype.kind not in "iub":
        raise ValueError(f"cannot store a {volume.dtype} volume as {units}")
    return volume.astype(np.int64)


def check_geometry(spacing_zyx, origin_xyz, compression: str) -> str:
    """The transfer syntax of `compression`, after checking the spacing (three positive numbers) and origin."""
    if len(spacing_zyx) != 3 or any(not math.isfinite(float(s)) or float(s) <= 0 for s in spacing_zyx):
        raise ValueError(f"spacing must be three positive numbers, got {tuple(spacing_zyx)}")
    if len(origin_xyz) != 3:
        raise ValueError(f"origin must be three numbers, got {tuple(origin_xyz)}")
    if compression not in TRANSFER_SYNTAXES:
        raise ValueError(f"unknown DICOM compression {compression!r}; use one of {', '.join(TRANSFER_SYNTAXES)}")
    return TRANSFER_SYNTAXES[compression]


def write_slices(folder, ds, stored, spacing_zyx, origin_xyz, identity, sop_class_uid: str, version: str,
                 syntax: str) -> list:
    """Write `stored` (uint16 [Z, Y, X]) slice by slice with the series dataset `ds` into `folder`; returns the
    paths in slice order.  `ds` holds everything that is the same on every slice."""
    from io import BytesIO
    from pathlib import Path

    import numpy as np
    from pydicom import dcmwrite

    nz = stored.shape[0]
    if nz > 999_999:
        raise ValueError(f"{nz} slices do not fit the IM000001.dcm naming")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    dz = float(spacing_zyx[0])
    ox, oy, oz = (float(o) for o in origin_xyz)
    paths = []
    for k in range(nz):
        n = k + 1
        uid = identity.instance_uid(n)
        z = oz + k * dz
        ds.file_meta = file_meta(sop_class_uid, uid, version)
        ds.SOPInstanceUID = uid
        ds.InstanceNumber = str(n)
        ds.ImagePositionPatient = [ds_value(ox), ds_value(oy), ds_value(z)]
        ds.SliceLocation = ds_value(z)
        ds.PixelData = np.ascontiguousarray(stored[k]).astype("<u2", copy=False).tobytes()
        ds["PixelData"].VR = "OW"
        buffer = BytesIO()
        dcmwrite(buffer, encoded(ds, stored[k], syntax), enforce_file_format=True)
        path = folder / f"IM{n:06d}.dcm"
        with open(path, "wb") as handle:
            handle.write(buffer.getvalue())
        paths.append(path)
    return paths
