"""BIDS-style file names and sidecars of an MR subject's NIfTI channels.

Role: the MR modality's answer to "what is channel X's file called" (`channel_file`, which the cohort writer
and readers call through `cohort.layout.channel_file(name, plan)`), and the files beside each NIfTI:
a JSON sidecar per channel, and FSL-format `.bval`/`.bvec` for every diffusion-weighted channel.

Names (BIDS 1.9 entities; labels are the spec's names with every character that is not a letter or digit
dropped, so `t1_post` -> `t1post`):

    structural `s`               acq-<s>[_ce-<agent>]_<suffix>.nii.gz   suffix T1w, T2w, PDw, T2starw, FLAIR
    diffusion `s`, b0 and traces acq-<s>_rec-b<b>_dwi.nii.gz (+ .bval, .bvec), one 3-D file per b-value
    diffusion `s`, ADC           acq-<s>_ADC.nii.gz

`ce-<agent>` marks a post-contrast sequence.  The suffix comes from the sequence type and timing: FLAIR for
`flair` (and an inversion recovery with TI >= 1500 ms, which nulls CSF); T1w for an inversion-prepared
gradient echo or an inversion recovery with 250 < TI < 1500 ms; T2w for a short-TI (STIR) inversion
recovery; spin echo T2w at TE >= 60 ms, T1w at TE < 30 ms and TR < 1500 ms, else PDw; gradient echo
T2starw at TE >= 15 ms, T1w at a flip angle >= 20 deg, else PDw.

Each diffusion channel is its own 3-D NIfTI (the cohort's channels are volumes on the plan's grid), so its
`.bval` holds one b-value and its `.bvec` one column, 0 0 0: a b0 has no direction and a trace image is the
mean of three orthogonal directions (the convention dcm2niix follows for scanner trace images).  The ADC map
is a scanner-derived map, which raw BIDS has no suffix for: `_ADC` is the name tools such as dcm2niix give
it; a BIDS validator run on an export should list it in `.bidsignore`.  Files carry no `sub-` entity: the
subject folder names the subject.

Sidecar fields (BIDS units: seconds, degrees, tesla, MHz): Manufacturer, ManufacturersModelName,
MagneticFieldStrength, ImagingFrequency, ScanningSequence, SequenceVariant, MRAcquisitionType, SequenceName,
PulseSequenceType, RepetitionTime, EchoTime, InversionTime (inversion sequences), FlipAngle, EchoTrainLength
(when known), SliceThickness, SpacingBetweenSlices, ImageType, SeriesDescription, ProtocolName,
ContrastBolusIngredient / ContrastBolusAgent / ContrastBolusDoseMmolPerKg / ContrastBolusTotalDose (ml;
post-contrast), Units (ADC), and
the synthetic marking (ImageComments, DeidentificationMethod, SyntheticData true).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from synthspec.families.modality.mri.series import (GYROMAGNETIC_MHZ_PER_T, ChannelFacts, channel_facts,
                                                    contrast_facts, field_strength, image_type, inversion,
                                                    sequence_codes, weight_kg)
from synthspec.families.modality.synthetic_dicom import DEIDENTIFICATION_METHOD, MANUFACTURER

NIFTI = ".nii.gz"
ADC_UNITS = "1e-6 mm^2/s"


def label(name: str) -> str:
    """A BIDS label: the letters and digits of `name`."""
    out = re.sub(r"[^A-Za-z0-9]", "", str(name))
    if not out:
        raise ValueError(f"{name!r} has no letter or digit to make a BIDS label of")
    return out


def suffix(facts: ChannelFacts) -> str:
    """The BIDS suffix of a channel (see the module notes)."""
    seq = facts.sequence
    if seq.diffusion:
        return "ADC" if facts.role == "adc" else "dwi"
    te, tr, ti = seq.te_ms or 0.0, seq.tr_ms or 0.0, seq.ti_ms
    if seq.type == "flair":
        return "FLAIR"
    if seq.type == "inversion_recovery":
        if ti is not None and ti >= 1500:
            return "FLAIR"
        return "T2w" if ti is not None and ti <= 250 else "T1w"
    if seq.type == "inversion_prepared_gradient_echo":
        return "T1w"
    if seq.type in ("spin_echo", "turbo_spin_echo"):
        if te >= 60:
            return "T2w"
        return "T1w" if te < 30 and tr < 1500 else "PDw"
    if seq.type == "gradient_echo":
        if te >= 15:
            return "T2starw"
        return "T1w" if (seq.flip_deg or 0) >= 20 else "PDw"
    raise ValueError(f"no BIDS suffix for MR sequence type {seq.type!r}")


def _stem(facts: ChannelFacts, agent: str | None) -> str:
    parts = [f"acq-{label(facts.sequence.name)}"]
    if facts.sequence.post_contrast and agent:
        parts.append(f"ce-{label(agent)}")
    if facts.role in ("b0", "trace"):
        parts.append(f"rec-b{int(round(facts.b_value or 0))}")
    parts.append(suffix(facts))
    return "_".join(parts)


def file_stems(settings: dict) -> dict[str, str]:
    """channel -> file name without extension, for every channel of the MR settings; two channels that
    would share a name (sequences `t1_post` and `t1post`) are refused."""
    contrast = contrast_facts(settings)
    agent = contrast.agent if contrast else None
    stems = {name: _stem(facts, agent) for name, facts in channel_facts(settings).items()}
    seen: dict[str, str] = {}
    for name, stem in stems.items():
        if stem.lower() in seen:
            raise ValueError(f"MR channels {seen[stem.lower()]!r} and {name!r} would both be written as {stem}"
                             f"{NIFTI}; give the sequences names that differ in their letters or digits")
        seen[stem.lower()] = name
    return stems


def _settings(plan) -> dict:
    return plan.stage("acquire").params.settings


def channel_file(channel: str, plan) -> str:
    """The NIfTI file name of an MR image channel of `plan`."""
    stems = file_stems(_settings(plan))
    if channel not in stems:
        raise ValueError(f"{channel!r} is not an image channel of this MR plan (its channels: {', '.join(stems)})")
    return stems[channel] + NIFTI


def _seconds(ms: float | None) -> float | None:
    return None if ms is None else round(float(ms) / 1000.0, 9)


def sidecar(facts: ChannelFacts, settings: dict, scanner: str, spacing_zyx, slice_thickness_mm: float | None,
            description: str, weight_kg: float | None = None) -> dict:
    """The JSON sidecar of one channel (BIDS field names and units)."""
    seq = facts.sequence
    field = field_strength(settings)
    scanning, variant, dims = sequence_codes(seq)
    out = {"Manufacturer": MANUFACTURER, "ManufacturersModelName": str(scanner), "MagneticFieldStrength": field,
           "ImagingFrequency": round(GYROMAGNETIC_MHZ_PER_T * field, 6), "ScanningSequence": "_".join(scanning),
           "SequenceVariant": "_".join(variant), "MRAcquisitionType": dims, "SequenceName": seq.type,
           "PulseSequenceType": seq.type.replace("_", " "), "ProtocolName": seq.name,
           "SeriesDescription": description, "ImageType": image_type(facts.role),
           "SliceThickness": float(slice_thickness_mm if slice_thickness_mm else spacing_zyx[0]),
           "SpacingBetweenSlices": float(spacing_zyx[0])}
    if seq.tr_ms is not None:
        out["RepetitionTime"] = _seconds(seq.tr_ms)
    if seq.te_ms is not None:
        out["EchoTime"] = _seconds(seq.te_ms)
    if inversion(seq) and seq.ti_ms is not None:
        out["InversionTime"] = _seconds(seq.ti_ms)
    if seq.flip_deg is not None:
        out["FlipAngle"] = float(seq.flip_deg)
    if seq.echo_train_length is not None:
        out["EchoTrainLength"] = int(seq.echo_train_length)
    if facts.role == "adc":
        out["Units"] = ADC_UNITS
        out["DiffusionBValues"] = [float(b) for b in seq.b_values]
    contrast = contrast_facts(settings)
    if seq.post_contrast and contrast:
        out["ContrastBolusIngredient"] = "GADOLINIUM" if contrast.kind == "gadolinium" else contrast.kind.upper()
        out["ContrastBolusAgent"] = contrast.agent
        if contrast.dose_mmol_kg is not None:
            out["ContrastBolusDoseMmolPerKg"] = float(contrast.dose_mmol_kg)
        volume = contrast.volume_ml(weight_kg)
        if volume is not None:
            out["ContrastBolusTotalDose"] = round(volume, 2)   # ml of the formulation, as DICOM (0018,1044)
    out.update({"ImageComments": "SYNTHETIC IMAGE", "DeidentificationMethod": DEIDENTIFICATION_METHOD,
                "SyntheticData": True})
    return out


def bval_bvec(facts: ChannelFacts) -> tuple[str, str] | None:
    """FSL .bval (one row: the b-value) and .bvec (three rows, one column: 0 0 0, no single direction) of a
    diffusion-weighted channel; None for other channels."""
    if facts.role not in ("b0", "trace"):
        return None
    b = float(facts.b_value or 0.0)
    return f"{int(b) if b.is_integer() else b}\n", "0\n0\n0\n"


def write_sidecars(folder: Path, subject, plan, geometry=None) -> dict[str, str]:
    """The sidecars of every image channel `subject` has, into the staged subject `folder` (the cohort writer
    stages it, so the files are written plainly); returns
    {file kind: name} (kinds `<channel>_json`, `<channel>_bval`, `<channel>_bvec`).  `geometry(plan, channel)`
    -> (spacing zyx, origin xyz) is the modality's `channel_geometry` (looked up when not given)."""
    if geometry is None:
        from synthspec.families import registry

        geometry = registry.modality(plan.modality).channel_geometry
    settings = _settings(plan)
    facts = channel_facts(settings)
    stems = file_stems(settings)
    thickness = settings.get("slice_thickness_mm") if isinstance(settings, dict) else None
    p = subject.params
    files: dict[str, str] = {}
    for channel in subject.channels:
        f = facts[channel]
        description = f"SYNTHETIC {channel} {plan.cohort_name} {p.subject_id}"
        data = sidecar(f, settings, p.scanner, geometry(plan, channel)[0], thickness, description, weight_kg(p))
        name = stems[channel] + ".json"
        (Path(folder) / name).write_bytes((json.dumps(data, indent=2, sort_keys=True) + "\n").encode("utf-8"))
        files[f"{channel}_json"] = name
        pair = bval_bvec(f)
        if pair:
            for ext, text in zip(("bval", "bvec"), pair):
                (Path(folder) / f"{stems[channel]}.{ext}").write_bytes(text.encode("ascii"))
                files[f"{channel}_{ext}"] = f"{stems[channel]}.{ext}"
    return files
