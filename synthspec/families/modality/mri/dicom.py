"""MR Image Storage series (1.2.840.10008.5.1.4.1.1.4) through pydicom: one series per image channel, one file per slice.

`write_mr_series(folder, subject, plan, identity, version)` writes every image channel of an MR subject into
`folder/dicom/<channel>/IM000001.dcm ...` and returns "dicom/"; `write_mr_channel` writes one volume from
plain values (`MRSeriesInfo`), which is what the tests call.  What the files say (and why):

* Identity and marking as every synthspec series (`families.modality.synthetic_dicom`): synthetic PatientName/
  ID, empty PatientBirthDate, PatientIdentityRemoved YES, DeidentificationMethod, Manufacturer "synthspec
  (synthetic)", StudyDate/ContentDate 1900-01-01, times 00:00:00, ImageComments "SYNTHETIC IMAGE",
  "SYNTHETIC" at the start of every SeriesDescription and the StudyDescription, BurnedInAnnotation NO, and
  the private SYNTHSPEC block (model key, version, SYNTHETIC).  PatientWeight and PatientSize from the
  sampled height and BMI (the contrast volume depends on them).
* UIDs: one study and one frame of reference per subject (every sequence lies on the plan's grid); the first
  channel's SeriesInstanceUID is the subject's `identity.series_uid` (the one subject.json records), each
  other channel's is derived from it and the channel name; SOPInstanceUIDs derive from the series UID
  (`SyntheticIdentity.instance_uid`).  SeriesNumber is the channel's position + 1.  Nothing depends on the
  clock or a random source: the same inputs give byte-identical files.
* Pixels: unsigned 16-bit, MONOCHROME2, stored as delivered (the modality's `store()`: magnitude in a fixed
  per-sequence scale, ADC in 1e-6 mm^2/s); float input is rounded and clipped to 0..65535.  BitsStored 12
  when the volume fits 0..4095, else 16.  No Modality LUT (the MR Image IOD has none); the ADC map carries
  its units in a Real World Value Mapping (slope 1, intercept 0, UCUM um2/s = 1e-6 mm^2/s).
* Geometry: array [Z, Y, X] in LPS with identity direction, as the NIfTI: ImageOrientationPatient
  1\\0\\0\\0\\1\\0, PixelSpacing dy\\dx, ImagePositionPatient origin + (0, 0, k dz), SliceLocation its z,
  SpacingBetweenSlices dz, SliceThickness the sequence's (dz when not given).
* MR acquisition (MR Image module): ScanningSequence / SequenceVariant / MRAcquisitionType from the sequence
  type (`series.sequence_codes`), ScanOptions PFP when the phase direction is partially sampled (else empty),
  RepetitionTime, EchoTime, InversionTime (inversion sequences), FlipAngle, EchoTrainLength (empty when the
  plan does not state it), MagneticFieldStrength, ImagingFrequency = 42.577478 MHz/T x B0, ImagedNucleus 1H,
  SequenceName the sequence type, ProtocolName the spec's sequence name, InPlanePhaseEncodingDirection when
  the plan states it.
* Diffusion: DiffusionBValue (0018,9087) on the b0 and trace images (the ADC map has none: it is not an image
  at one b-value, and converters such as dcm2niix would otherwise give it a .bval as if it were a DWI volume;
  its b-values are in the sidecar), DiffusionDirectionality (0018,9075) NONE for the b0, ISOTROPIC for a trace
  image and the ADC map; ImageType DERIVED for the trace and ADC (`series.image_type`).  dcm2niix
  (v1.0.20220720) converts every series, with the b-value of each weighted image in its .bval.
* Contrast (Contrast/Bolus module, post-contrast series only): ContrastBolusAgent, ContrastBolusRoute IV,
  ContrastBolusIngredient GADOLINIUM, and when the formulation strength is known
  (`series.AGENT_CONCENTRATION_MMOL_PER_ML`) ContrastBolusVolume = ContrastBolusTotalDose in ml (dose x
  weight / concentration) and ContrastBolusIngredientConcentration in mg Gd per ml.
* VOI LUT: an "IMAGE" window over the volume's 0.5-99.5 % range of non-zero voxels (one window for all
  slices of a series) and "FULL RANGE" (0 .. 2^BitsStored - 1); the ADC map first gets an "ADC" preset, centre 1000 width 2000
  (0-2000 x 1e-6 mm^2/s, where brain parenchyma and restricted diffusion lie; CSF ~3000 is white).

dciodvfy (dicom3tools) reports no errors on these files (tests/test_mr_dicom.py lists the warnings it gives).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from synthspec.families.modality.mri.series import (GADOLINIUM_MG_PER_MMOL, GYROMAGNETIC_MHZ_PER_T, ChannelFacts,
                                                    ContrastFacts, channel_facts, contrast_facts, field_strength,
                                                    image_type, inversion, phase_direction, sequence_codes,
                                                    weight_kg)
from synthspec.families.modality.synthetic_dicom import series_identity as shared_series_identity
from synthspec.families.modality.synthetic_dicom import (add_axial_image, add_provenance, body_part_for, check_geometry, ds_value,
                                                         synthetic_dataset, trim, whole_numbers,
                                                         write_slices)
from synthspec.identity import SyntheticIdentity

MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"
ADC_WINDOW = ("ADC", 1000.0, 2000.0)
UINT16_TOP = 0xFFFF
DICOM_FOLDER = "dicom"
"""The subject's DICOM folder (the cohort layout's `dicom/`, as the CT writer names it)."""


@dataclass
class MRSeriesInfo:
    identity: SyntheticIdentity
    """The subject's identity with this series's SeriesInstanceUID (`series_identity`)."""
    facts: ChannelFacts
    field_strength_t: float
    age_y: float
    sex: str
    scanner: str
    model_key: str
    synthspec_version: str
    series_description: str
    series_number: int = 1
    weight_kg: float | None = None
    height_m: float | None = None
    contrast: ContrastFacts | None = None
    """The plan's contrast; written only when the channel's sequence is post-contrast."""
    slice_thickness_mm: float | None = None
    """None: the slice spacing."""
    body_part: str = "HEAD"
    partial_fourier: float | None = None
    """Fraction of the phase-encode lines acquired (< 1: ScanOptions PFP)."""
    phase_direction: str | None = None
    """InPlanePhaseEncodingDirection: ROW or COL; None leaves it out."""
    compression: str = "none"


def series_identity(identity: SyntheticIdentity, channel: str, first: bool) -> SyntheticIdentity:
    """The identity of one channel's series (synthetic_dicom.series_identity, salted "mr_channel")."""
    return shared_series_identity(identity, channel, first, "mr_channel")


def encode_mr(volume: np.ndarray) -> tuple[np.ndarray, int]:
    """[Z, Y, X] stored values -> (uint16, BitsStored 12 or 16); float is rounded, everything clipped to 0..65535."""
    stored = np.clip(whole_numbers(volume, "MR", "MR pixels"), 0, UINT16_TOP).astype(np.uint16)
    return stored, (12 if int(stored.max()) <= 0x0FFF else 16)


def windows(stored: np.ndarray, role: str, bits_stored: int = 16) -> list[tuple[str, float, float]]:
    """VOI presets (explanation, centre, width): see the module notes."""
    top = float(1 << int(bits_stored))
    signal = stored[stored > 0]
    if signal.size:
        lo, hi = (float(v) for v in np.percentile(signal, [0.5, 99.5]))
    else:
        lo, hi = 0.0, 1.0
    lo, hi = math.floor(lo), math.ceil(hi)
    width = max(hi - lo + 1.0, 2.0)
    out = [("IMAGE", lo + width / 2.0, width), ("FULL RANGE", top / 2.0, top)]
    return [ADC_WINDOW, *out] if role == "adc" else out


def _code(value: str, scheme: str, meaning: str):
    from pydicom.dataset import Dataset

    item = Dataset()
    item.CodeValue = value
    item.CodingSchemeDesignator = scheme
    item.CodeMeaning = meaning
    return item


def _adc_mapping(bits: int):
    from pydicom.dataset import Dataset

    item = Dataset()
    item.LUTExplanation = "ADC"
    item.LUTLabel = "ADC"
    item.MeasurementUnitsCodeSequence = [_code("um2/s", "UCUM", "um2/s")]
    item.RealWorldValueFirstValueMapped = 0
    item.RealWorldValueLastValueMapped = (1 << bits) - 1
    item.RealWorldValueIntercept = 0.0
    item.RealWorldValueSlope = 1.0
    return item


def _contrast(ds, contrast: ContrastFacts, weight_kg: float | None) -> None:
    ds.ContrastBolusAgent = trim(contrast.agent, 64)
    ds.ContrastBolusRoute = "IV"
    ds.ContrastBolusIngredient = "GADOLINIUM" if contrast.kind == "gadolinium" else trim(contrast.kind.upper(), 16)
    volume = contrast.volume_ml(weight_kg)
    if volume is not None:
        ds.ContrastBolusVolume = ds_value(round(volume, 2))
        ds.ContrastBolusTotalDose = ds_value(round(volume, 2))
    if contrast.concentration_mmol_ml is not None and contrast.kind == "gadolinium":
        ds.ContrastBolusIngredientConcentration = ds_value(round(contrast.concentration_mmol_ml
                                                                  * GADOLINIUM_MG_PER_MMOL, 3))


def mr_dataset(info: MRSeriesInfo, shape, spacing_zyx, bits_stored: int, stored: np.ndarray):
    """Every attribute of the series that is the same on each slice (no file meta, position or pixels)."""
    ident, facts = info.identity, info.facts
    seq = facts.sequence
    dz = float(spacing_zyx[0])
    version = str(info.synthspec_version)
    scanning, variant, dims = sequence_codes(seq)
    field = float(info.field_strength_t)
    ds = synthetic_dataset(MR_IMAGE_STORAGE, "MR", image_type(facts.role), ident, info.age_y, info.sex, info.scanner,
                           info.series_description)
    if info.height_m:
        ds.PatientSize = ds_value(round(float(info.height_m), 3))
    if info.weight_kg:
        ds.PatientWeight = ds_value(round(float(info.weight_kg), 1))
    if seq.post_contrast and info.contrast is not None:
        _contrast(ds, info.contrast, info.weight_kg)
    ds.BodyPartExamined = trim(info.body_part.upper(), 16) if info.body_part else ""
    # MR Image module
    ds.ScanningSequence = scanning
    ds.SequenceVariant = variant
    ds.ScanOptions = ["PFP"] if info.partial_fourier is not None and float(info.partial_fourier) < 1 else ""
    ds.MRAcquisitionType = dims
    ds.SequenceName = trim(seq.type, 16)
    ds.SliceThickness = ds_value(info.slice_thickness_mm or dz)
    ds.RepetitionTime = ds_value(seq.tr_ms) if seq.tr_ms is not None else ""
    ds.EchoTime = ds_value(seq.te_ms) if seq.te_ms is not None else ""
    if inversion(seq):
        ds.InversionTime = ds_value(seq.ti_ms) if seq.ti_ms is not None else ""
    ds.ImagingFrequency = ds_value(round(GYROMAGNETIC_MHZ_PER_T * field, 6))
    ds.ImagedNucleus = "1H"
    ds.EchoNumbers = "1"
    ds.MagneticFieldStrength = ds_value(field)
    ds.SpacingBetweenSlices = ds_value(dz)
    ds.EchoTrainLength = str(int(seq.echo_train_length)) if seq.echo_train_length is not None else ""
    ds.SoftwareVersions = trim(f"synthspec {version}", 64)
    ds.ProtocolName = trim(seq.name, 64)
    if info.phase_direction in ("ROW", "COL"):
        ds.InPlanePhaseEncodingDirection = info.phase_direction
    if seq.flip_deg is not None:
        ds.FlipAngle = ds_value(seq.flip_deg)
    ds.PatientPosition = "HFS"
    if facts.role != "structural":
        ds.DiffusionDirectionality = "NONE" if facts.role == "b0" and not facts.b_value else "ISOTROPIC"
    if facts.role in ("b0", "trace"):   # a weighted image; the ADC map is not an image at one b-value
        ds.DiffusionBValue = float(facts.b_value or 0.0)
    # identifiers, plane, frame of reference
    ds.StudyInstanceUID = ident.study_uid
    ds.SeriesInstanceUID = ident.series_uid
    ds.StudyID = trim(ident.patient_name.split("^")[-1], 16)
    ds.SeriesNumber = str(int(info.series_number))
    ds.AcquisitionNumber = "1"
    add_axial_image(ds, ident, shape, spacing_zyx, bits_stored, windows(stored, facts.role, bits_stored))
    if facts.role == "adc":
        ds.RealWorldValueMappingSequence = [_adc_mapping(bits_stored)]
    add_provenance(ds, info.model_key, version)
    return ds


def write_mr_channel(folder: Path, volume: np.ndarray, spacing_zyx, origin_xyz, info: MRSeriesInfo) -> list[Path]:
    """Write `volume` ([Z, Y, X] stored values) as IM000001.dcm ... into `folder`; returns the paths in slice order."""
    syntax = check_geometry(spacing_zyx, origin_xyz, info.compression)
    stored, bits = encode_mr(volume)
    ds = mr_dataset(info, stored.shape, spacing_zyx, bits, stored)
    return write_slices(folder, ds, stored, spacing_zyx, origin_xyz, info.identity, MR_IMAGE_STORAGE,
                        str(info.synthspec_version), syntax)


def series_infos(subject, plan, identity: SyntheticIdentity, version: str) -> list[tuple[str, MRSeriesInfo]]:
    """(channel, MRSeriesInfo) of every image channel of `subject`, in the subject's channel order."""
    settings = plan.stage("acquire").params.settings
    facts = channel_facts(settings)
    contrast = contrast_facts(settings)
    p = subject.params
    missing = [c for c in subject.channels if c not in facts]
    if missing:
        raise ValueError(f"channels {', '.join(missing)} of {p.subject_id} are not named by the plan's MR sequences "
                         f"({', '.join(facts)})")
    out = []
    for k, channel in enumerate(subject.channels):
        f = facts[channel]
        out.append((channel, MRSeriesInfo(
            identity=series_identity(identity, channel, k == 0), facts=f, field_strength_t=field_strength(settings),
            age_y=p.age_y, sex=p.sex, scanner=p.scanner, model_key=plan.seed_key, synthspec_version=version,
            series_description=f"SYNTHETIC {channel} {plan.cohort_name} {p.subject_id}",
            series_number=k + 1, weight_kg=weight_kg(p),
            height_m=(float(p.height_mm) / 1000.0 if getattr(p, "height_mm", None) else None),
            contrast=contrast, slice_thickness_mm=settings.get("slice_thickness_mm"),
            body_part=body_part_for(plan.anatomy) or "HEAD",
            partial_fourier=f.sequence.partial_fourier, phase_direction=phase_direction(settings.get("phase_direction")),
            compression=plan.writing.dicom_compression)))
    return out


def write_mr_series(folder: Path, subject, plan, identity: SyntheticIdentity, version: str, geometry=None) -> str:
    """Every image channel of an MR subject as its own series in `folder/dicom/<channel>/`; returns "dicom/".
    `geometry(plan, channel)` -> (spacing zyx, origin xyz) is the modality's `channel_geometry` (looked up
    in the registry when not given), the same the NIfTI is written with."""
    if geometry is None:
        from synthspec.families import registry

        geometry = registry.modality(plan.modality).channel_geometry
    root = Path(folder) / DICOM_FOLDER
    root.mkdir()
    for channel, info in series_infos(subject, plan, identity, version):
        spacing, origin = geometry(plan, channel)
        write_mr_channel(root / channel, subject.channels[channel], spacing, origin, info)
    return f"{DICOM_FOLDER}/"
