"""Digital X-Ray Image Storage - For Presentation (1.2.840.10008.5.1.4.1.1.1.1): one radiograph, one file.

The identity, synthetic marking, private block, fixed dates and deterministic UIDs are the CT
writers' (`synthspec.families.modality.synthetic_dicom`), whose helpers and constants this module imports.
What the file says (and why):

* Transfer syntax Explicit VR Little Endian, 128-byte preamble, file meta with our Implementation
  Class UID.  SOPInstanceUID is `identity.instance_uid(info.instance_number)` (1 by default), so
  the same inputs give byte-identical files: nothing depends on the clock or a random source.
* Pixels: the caller's unsigned integer image [rows, cols], stored as is (MONOCHROME2: higher
  values brighter, i.e. bone bright), BitsAllocated 16, BitsStored `info.bits_stored` (6-16, as
  the DX IOD allows), HighBit BitsStored-1.  A value that does not fit BitsStored, a float or a
  signed negative image is refused (quantising is the caller's choice, not this writer's).
  RescaleIntercept 0, RescaleSlope 1, RescaleType US (DX Image module), PresentationIntentType
  FOR PRESENTATION, PresentationLUTShape IDENTITY.  PixelIntensityRelationship LOG with sign -1:
  the simulator's presentation image is a (windowed) log of the detected intensity, higher
  values meaning less X-ray intensity (more attenuation); `info.pixel_intensity_relationship`
  says otherwise when it is not.
* VOI LUT (required for presentation): two LINEAR windows, the first `info.window` (center, width)
  or, when not given, the image's 0.5-99.5 % percentile range ("IMAGE"), the second the full
  BitsStored range ("FULL RANGE").
* Geometry (DX Detector and DX Positioning modules): ImagerPixelSpacing is the detector pitch
  (row spacing first); PixelSpacing is the spacing at the object plane, imager pitch /
  EstimatedRadiographicMagnificationFactor, with PixelSpacingCalibrationType GEOMETRY and a
  PixelSpacingCalibrationDescription saying so (the DX IOD's rule: PixelSpacing in a DX image is
  calibrated, ImagerPixelSpacing is at the detector front plane).  DistanceSourceToDetector is
  the SID, DistanceSourceToPatient `info.sod_mm`.  The magnification is the caller's and only
  checked to be >= 1; dciodvfy warns when it is not SID / DistanceSourceToPatient (DICOM defines
  the latter for DX as the distance to the table/support side nearest the subject, so a
  magnification at an object plane inside the subject differs from it): give sod_mm as the
  source-to-object-plane distance and magnification SID / sod_mm for a file without warnings.
* Patient orientation (type 1 in DX): `info.patient_orientation` when given, else the radiographic
  display convention, which the array is taken to follow: as if facing the patient, whatever the
  view (PA or AP), so rows run toward the patient's left (the patient's right on the viewer's
  left) and columns toward the feet for a chest ("L\\F"), or toward the head for a hand shown
  fingers up ("L\\H": in the anatomical position, palm forward, the fingers point to the feet;
  a PA hand seen from the detector side is that anterior view).  A projector whose array is
  seen from the source side (a PA image not flipped) must flip it or pass the orientation.
  ImageLaterality is `info.laterality` or U (unpaired) for a chest; Laterality (series, type 2C)
  is absent because ImageLaterality is sent.  BodyPartExamined HAND/CHEST, with the SNOMED CT code in
  AnatomicRegionSequence (HAND 85562004, CHEST 816094009, CID 4009), and the view in
  ViewCodeSequence (CID 4010: PA 272479007 postero-anterior, AP 399348003 antero-posterior).
* Exposure (X-Ray Generation / Acquisition Dose): KVP; ExposureInuAs holds the mAs to 0.001 mAs and
  Exposure its rounded value; no tube current or time is claimed (the simulator has only an
  mAs).  FocalSpots, DetectorType (SCINTILLATOR for a flat panel, STORAGE for CR),
  DetectorConfiguration AREA; X-Ray Grid: Grid FOCUSED with GridAspectRatio ratio\\1 and
  GridFocalDistance the SID, or Grid NONE.
* BurnedInAnnotation NO: DICOM asks whether the pixels hold annotation sufficient to identify
  the patient and the date (PS3.3 C.7.6.1.1.4).  The simulated lead laterality marker ("L"/"R")
  is part of the projected scene, as a real lead marker is: it identifies a side, not a patient,
  so the answer is NO; RecognizableVisualFeatures is NO (no face).  A reader that needs to know
  about the marker finds it in the image and in ImageLaterality.
* Identity and marking exactly as the CT series: PatientName/ID from the synthetic identity,
  PatientBirthDate empty, PatientAge/Sex, PatientIdentityRemoved YES, DeidentificationMethod,
  ImageComments "SYNTHETIC IMAGE", Manufacturer "synthspec (synthetic)", StudyDate/ContentDate
  1900-01-01 and times 00:00:00, and the private block (0011, "SYNTHSPEC"): model key (xx00),
  synthspec version (xx01), "SYNTHETIC" (xx02).

dciodvfy (dicom3tools) reports no errors on these files; see tests/test_xray_dicom.py for the
warnings it gives and why they stay.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

import numpy as np

from synthspec.families.modality.synthetic_dicom import add_provenance, file_meta, synthetic_dataset
from synthspec.families.modality.synthetic_dicom import ds_value as _ds, trim as _trim
from synthspec.identity import SyntheticIdentity

DX_FOR_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.1"
EXPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2.1"
BODY_PARTS = {"HAND": ("85562004", "Hand"), "CHEST": ("816094009", "Chest")}
"""BodyPartExamined -> SNOMED CT (SCT) code and meaning for AnatomicRegionSequence."""
VIEWS = {"PA": ("272479007", "postero-anterior"), "AP": ("399348003", "antero-posterior")}
"""ViewPosition -> SNOMED CT code and meaning for ViewCodeSequence (CID 4010)."""
DETECTOR_TYPES = ("SCINTILLATOR", "STORAGE", "DIRECT", "FILM")
DEFAULT_ORIENTATION = {"CHEST": ("L", "F"), "HAND": ("L", "H")}
CALIBRATION_DESCRIPTION = "ImagerPixelSpacing / EstimatedRadiographicMagnification"


@dataclass
class DXInfo:
    identity: SyntheticIdentity
    age_y: float
    sex: str
    scanner: str
    """The scanner class name (ManufacturerModelName)."""
    kvp: float
    mas: float
    sid_mm: float
    """Source to detector distance."""
    sod_mm: float
    """DistanceSourceToPatient, along the central ray (see the module notes on magnification)."""
    imager_pixel_mm: float | tuple[float, float]
    """Detector pitch: one number, or (row spacing, column spacing)."""
    magnification: float
    """EstimatedRadiographicMagnificationFactor (>= 1); PixelSpacing = imager pitch / magnification."""
    view_position: str
    """"PA" or "AP"."""
    laterality: str
    """"L", "R" or "" (unpaired: ImageLaterality U)."""
    body_part: str
    """"HAND" or "CHEST"."""
    grid: float
    """Grid ratio (e.g. 10 for 10:1), 0 for no grid."""
    focal_spot_mm: float
    model_key: str
    synthspec_version: str
    series_description: str
    bits_stored: int
    detector_type: str = "SCINTILLATOR"
    """"SCINTILLATOR" (indirect flat panel) or "STORAGE" (CR phosphor plate); also DIRECT, FILM."""
    window: tuple[float, float] | None = None
    """(center, width) of the first VOI window; None: the image's 0.5-99.5 % range."""
    patient_orientation: tuple[str, str] | None = None
    """PatientOrientation (row, column directions); None: DEFAULT_ORIENTATION of the body part."""
    pixel_intensity_relationship: str = "LOG"
    pixel_intensity_sign: int = -1
    instance_number: int = 1


def _pair(value) -> tuple[float, float]:
    if np.ndim(value) == 0:
        value = (value, value)
    out = tuple(float(v) for v in value)
    if len(out) != 2 or any(not math.isfinite(v) or v <= 0 for v in out):
        raise ValueError(f"imager pixel spacing must be one or two positive numbers, got {value!r}")
    return out  # type: ignore[return-value]


def _positive(name: str, value: float) -> float:
    value = float(value)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive number, got {value}")
    return value


def encode_pixels(image: np.ndarray, bits_stored: int) -> np.ndarray:
    """The image as little-endian uint16 [rows, cols], refusing what BitsStored cannot hold."""
    image = np.asarray(image)
    if image.ndim != 2 or 0 in image.shape:
        raise ValueError(f"expected a non-empty 2-D [rows, cols] image, got shape {image.shape}")
    if image.shape[0] > 0xFFFF or image.shape[1] > 0xFFFF:
        raise ValueError(f"image {image.shape} does not fit DICOM Rows/Columns (at most 65535)")
    if image.dtype.kind not in "ub" and not (image.dtype.kind == "i"):
        raise ValueError(f"expected an unsigned integer image (quantise it first), got {image.dtype}")
    if not 6 <= int(bits_stored) <= 16:
        raise ValueError(f"BitsStored must be 6-16 for a DX image, got {bits_stored}")
    top = (1 << int(bits_stored)) - 1
    low, high = int(image.min()), int(image.max())
    if low < 0 or high > top:
        raise ValueError(f"pixel values {low}..{high} do not fit BitsStored {bits_stored} (0..{top})")
    return np.ascontiguousarray(image, dtype="<u2")


def _windows(stored: np.ndarray, info: DXInfo) -> list[tuple[str, float, float]]:
    top = float((1 << int(info.bits_stored)) - 1)
    if info.window is not None:
        centre, width = (float(v) for v in info.window)
        first = ("PRESET", centre, _positive("window width", width))
    else:
        lo, hi = np.percentile(stored, [0.5, 99.5])
        lo, hi = float(np.floor(lo)), float(np.ceil(hi))
        width = max(hi - lo + 1.0, 2.0)
        first = ("IMAGE", lo + width / 2.0, width)
    return [first, ("FULL RANGE", (top + 1.0) / 2.0, top + 1.0)]


def _code(value: str, meaning: str):
    from pydicom.dataset import Dataset

    item = Dataset()
    item.CodeValue = value
    item.CodingSchemeDesignator = "SCT"
    item.CodeMeaning = meaning
    return item


def dx_dataset(stored: np.ndarray, info: DXInfo):
    """The DX dataset (with file meta) for already encoded pixels; `write_dx` writes it."""
    from pydicom.sequence import Sequence

    ident = info.identity
    body = str(info.body_part).upper()
    if body not in BODY_PARTS:
        raise ValueError(f"body part must be one of {', '.join(BODY_PARTS)}, got {info.body_part!r}")
    view = str(info.view_position).upper()
    if view not in ("PA", "AP"):
        raise ValueError(f"view position must be PA or AP, got {info.view_position!r}")
    side = str(info.laterality).upper()
    if side not in ("L", "R", ""):
        raise ValueError(f"laterality must be L, R or empty, got {info.laterality!r}")
    if body == "HAND" and not side:
        raise ValueError("a hand is a paired body part: give its laterality (L or R)")
    detector = str(info.detector_type).upper()
    if detector not in DETECTOR_TYPES:
        raise ValueError(f"detector type must be one of {', '.join(DETECTOR_TYPES)}, got {info.detector_type!r}")
    relation = str(info.pixel_intensity_relationship).upper()
    if relation not in ("LIN", "LOG", "OTHER") or int(info.pixel_intensity_sign) not in (1, -1):
        raise ValueError("pixel intensity relationship must be LIN, LOG or OTHER with sign 1 or -1")
    imager = _pair(info.imager_pixel_mm)
    magnification = _positive("magnification", info.magnification)
    if magnification < 1:
        raise ValueError(f"a radiographic magnification is at least 1, got {magnification}")
    sid = _positive("source-detector distance", info.sid_mm)
    sod = _positive("source-patient distance", info.sod_mm)
    if sod > sid:
        raise ValueError(f"the source-patient distance {sod} mm exceeds the source-detector distance {sid} mm")
    grid = float(info.grid)
    if not math.isfinite(grid) or grid < 0:
        raise ValueError(f"grid ratio must be 0 (no grid) or positive, got {info.grid}")
    orientation = tuple(info.patient_orientation or DEFAULT_ORIENTATION[body])
    rows, cols = stored.shape
    version = str(info.synthspec_version)
    number = int(info.instance_number)
    uid = ident.instance_uid(number)

    ds = synthetic_dataset(DX_FOR_PRESENTATION, "DX", ["ORIGINAL", "PRIMARY", ""], ident, info.age_y, info.sex,
                           info.scanner, info.series_description)
    ds.SOPInstanceUID = uid
    ds.PresentationIntentType = "FOR PRESENTATION"
    # DX Anatomy Imaged
    code, meaning = BODY_PARTS[body]
    ds.AnatomicRegionSequence = Sequence([_code(code, meaning)])
    # Acquisition: X-Ray Generation, Acquisition Dose, Grid, DX Detector, DX Positioning
    ds.BodyPartExamined = body
    ds.KVP = _ds(info.kvp)
    ds.SoftwareVersions = _trim(f"synthspec {version}", 64)
    ds.DistanceSourceToDetector = _ds(sid)
    ds.DistanceSourceToPatient = _ds(sod)
    ds.EstimatedRadiographicMagnificationFactor = _ds(magnification)
    ds.Exposure = str(int(round(float(info.mas))))
    ds.ExposureInuAs = str(int(round(float(info.mas) * 1000)))
    ds.FocalSpots = _ds(_positive("focal spot", info.focal_spot_mm))
    if grid > 0:
        ds.Grid = "FOCUSED"
        ds.GridAspectRatio = [str(int(round(grid))), "1"]
        ds.GridFocalDistance = _ds(sid)
    else:
        ds.Grid = "NONE"
    ds.ViewPosition = view
    ds.ViewCodeSequence = Sequence([_code(*VIEWS[view])])
    ds.PositionerType = ""  # type 2: a synthetic exposure has no positioner to name
    ds.DetectorType = detector
    ds.DetectorConfiguration = "AREA"
    ds.FieldOfViewShape = "RECTANGLE"
    ds.FieldOfViewDimensions = [str(int(round(rows * imager[0]))), str(int(round(cols * imager[1])))]
    ds.ImagerPixelSpacing = [_ds(imager[0]), _ds(imager[1])]
    ds.AcquisitionContextSequence = Sequence([])
    # Identifiers
    ds.StudyInstanceUID = ident.study_uid
    ds.SeriesInstanceUID = ident.series_uid
    ds.StudyID = _trim(ident.patient_name.split("^")[-1], 16)
    ds.SeriesNumber = "1"
    ds.AcquisitionNumber = "1"
    ds.InstanceNumber = str(number)
    ds.PatientOrientation = list(orientation)
    ds.ImageLaterality = side or "U"
    ds.ImageComments = "SYNTHETIC IMAGE"
    # Image Pixel / DX Image
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = rows
    ds.Columns = cols
    ds.PixelSpacing = [_ds(imager[0] / magnification), _ds(imager[1] / magnification)]
    ds.PixelSpacingCalibrationType = "GEOMETRY"
    ds.PixelSpacingCalibrationDescription = CALIBRATION_DESCRIPTION
    ds.BitsAllocated = 16
    ds.BitsStored = int(info.bits_stored)
    ds.HighBit = int(info.bits_stored) - 1
    ds.PixelRepresentation = 0
    ds.BurnedInAnnotation = "NO"
    ds.RecognizableVisualFeatures = "NO"
    ds.PixelIntensityRelationship = relation
    ds.PixelIntensityRelationshipSign = int(info.pixel_intensity_sign)
    windows = _windows(stored, info)
    ds.WindowCenter = [_ds(c) for _n, c, _w in windows]
    ds.WindowWidth = [_ds(w) for _n, _c, w in windows]
    ds.RescaleIntercept = "0"
    ds.RescaleSlope = "1"
    ds.RescaleType = "US"
    ds.WindowCenterWidthExplanation = [n for n, _c, _w in windows]
    ds.VOILUTFunction = "LINEAR"
    ds.LossyImageCompression = "00"
    ds.PresentationLUTShape = "IDENTITY"
    # Private block: provenance of the synthetic data (as the CT writer)
    add_provenance(ds, info.model_key, version)
    ds.PixelData = stored.tobytes()
    ds["PixelData"].VR = "OW"
    ds.file_meta = file_meta(DX_FOR_PRESENTATION, uid, version, EXPLICIT_VR_LITTLE_ENDIAN)
    return ds


def file_name(info: DXInfo) -> str:
    return f"DX{int(info.instance_number):06d}.dcm"


def write_dx(folder: Path, image: np.ndarray, info: DXInfo) -> str:
    """Write `image` (uint16 [rows, cols], bone bright) as one DX For Presentation file in `folder`;
    returns its file name (DX000001.dcm for instance 1).  The caller stages the folder."""
    from pydicom import dcmwrite

    if not 1 <= int(info.instance_number) <= 999_999:
        raise ValueError(f"instance number must be 1-999999, got {info.instance_number}")
    stored = encode_pixels(image, info.bits_stored)
    ds = dx_dataset(stored, info)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    buffer = BytesIO()
    dcmwrite(buffer, ds, enforce_file_format=True)
    name = file_name(info)
    with open(folder / name, "wb") as handle:
        handle.write(buffer.getvalue())
    return name
